"""Proofs of the token ledger's pure functions: merge and diff laws (§7.3)."""

from __future__ import annotations

from proofs.registry import Proof

PROOFS: list[Proof] = [
    Proof(
        target="sessionspec.reference.ledger.merge_counters",
        requirements=("STATE-031",),
        effort=20,
        claim="merging counters is commutative, monotone, and zero only for two zeros",
    ),
    Proof(
        target="sessionspec.reference.ledger.diff_counters",
        requirements=("STATE-032",),
        effort=20,
        claim="diff refuses exactly a decrease, and merge(before, diff) == after otherwise",
    ),
    Proof(
        target="sessionspec.reference.ledger.merge_rows",
        requirements=("STATE-030", "STATE-031"),
        effort=20,
        claim="merged rows are commutative, keyed uniquely, and keep every key of both sides",
    ),
    Proof(
        target="sessionspec.reference.ledger.diff_rows",
        requirements=("STATE-032",),
        effort=20,
        claim="when diff succeeds, merging it back onto the earlier rows gives the later rows",
    ),
]
