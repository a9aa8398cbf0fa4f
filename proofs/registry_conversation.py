"""Proofs of the conversation's pure functions: canonical arrays and tool shape (§6)."""

from __future__ import annotations

from proofs.registry import Proof

PROOFS: list[Proof] = [
    Proof(
        target="sessionspec.reference.conversation.canonical_array",
        requirements=("CONV-020", "CONV-021"),
        effort=20,
        claim=(
            "the canonical array of canonical elements is bracketed, comma-separated with no "
            "white space, and empty exactly when it has no elements"
        ),
    ),
    Proof(
        target="sessionspec.reference.conversation.tool_shape_violation",
        requirements=("CONV-034",),
        effort=30,
        claim=(
            "the single-pass walk refuses a transcript exactly when the declarative rule "
            "(results follow their assistant, unique ids, equal sets) fails"
        ),
    ),
]
