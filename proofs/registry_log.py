"""Proofs of the log's pure functions: framing, checksum and recovery classification."""

from __future__ import annotations

from proofs.registry import Proof

PROOFS: list[Proof] = [
    Proof(
        target="sessionspec.storage.framing.crc_hex",
        requirements=("LOG-002",),
        effort=10,
        claim="a checksum is always 8 lower-case hex digits",
    ),
    Proof(
        target="sessionspec.storage.framing.frame_line",
        requirements=("LOG-002", "LOG-007"),
        effort=20,
        claim="a framed line is one newline-terminated line whose checksum verifies",
    ),
    Proof(
        target="sessionspec.storage.framing.check_frame",
        requirements=("LOG-007",),
        effort=20,
        claim="a line is judged unframed exactly when it lacks the checksum suffix",
    ),
    Proof(
        target="sessionspec.storage.framing.classify_lines",
        requirements=("LOG-003", "LOG-007", "LOG-008"),
        effort=30,
        claim=(
            "bad lines are corrupt, records commit, only batch lines can be uncommitted, "
            "the uncommitted tail is a suffix, and a batch line commits only before a "
            "commit record"
        ),
    ),
]
