"""Proofs of the recorder's pure helpers (REC section).

Bounds: the effort bound only; strings and tuples are whatever CrossHair draws. The
conformance machine in tests/recorder checks the same rules on whole event streams.
"""

from __future__ import annotations

from proofs.registry import Proof

PROOFS: list[Proof] = [
    Proof(
        target="sessionspec.reference.recorder_ids.session_id_from_loop_id",
        requirements=("REC-015",),
        effort=20,
        claim="a loop's session is its id before the first dot, or the whole id without one",
    ),
    Proof(
        target="sessionspec.reference.recorder_ids.config_segment_from_loop_id",
        requirements=("REC-015",),
        effort=20,
        claim="the configuration segment lies between the first and the last dot; none "
        "with fewer than two dots",
    ),
    Proof(
        target="sessionspec.reference.recorder_ids.start_position",
        requirements=("REC-022",),
        effort=20,
        claim="a closed loop is placed after every loop that started before it and before "
        "every one that started after it",
    ),
    Proof(
        target="sessionspec.reference.recorder_ids.loop_chain",
        requirements=("REC-024",),
        effort=20,
        claim="a parent chain ends at the target, holds no loop twice and only the "
        "session's loops, and always terminates (cycles are reported, not followed)",
    ),
]
