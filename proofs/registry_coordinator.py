"""Proofs of the coordinator's pure parts: compaction decision and cut, summary, branch.

Bounds: functions over buffers or logs carry ``pre: len(...) <= 4`` as CrossHair's search
bound (small-scope checking); the Hypothesis properties in tests/coordinator/test_pure_*.py
check the same rules on larger inputs. Efforts were chosen so each target finishes well
under 20 s on a loaded 2-core machine.
"""

from __future__ import annotations

from proofs.registry import Proof

PROOFS: list[Proof] = [
    Proof(
        target="sessionspec.compaction.compaction_decision",
        requirements=("COORD-101",),
        effort=20,
        claim="manual always compacts; overflow iff enabled; threshold iff enabled and reached",
    ),
    Proof(
        target="sessionspec.compaction.utf8_length",
        requirements=("COORD-102",),
        effort=20,
        claim="a text's UTF-8 length lies between 1 and 4 bytes per character",
    ),
    Proof(
        target="sessionspec.compaction.estimate_text_tokens",
        requirements=("COORD-102",),
        effort=20,
        claim="the estimate is UTF-8 bytes // 4: non-negative and monotone under appending",
    ),
    Proof(
        target="sessionspec.compaction.valid_cuts",
        requirements=("COORD-103",),
        effort=20,
        claim="the linear cut finder returns exactly the cuts the definition calls valid",
    ),
    Proof(
        target="sessionspec.compaction.nearest_cut",
        requirements=("COORD-104",),
        effort=20,
        claim="the chosen cut is a candidate, none is nearer, a tie goes to the smaller",
    ),
    Proof(
        target="sessionspec.compaction.pair_safe_cut",
        requirements=("COORD-103", "COORD-104", "COORD-107"),
        effort=20,
        claim="a moved cut never splits a tool call from its results, keeps the latest user "
        "message, never keeps a summary slot first, and lies in 1..n-1",
    ),
    Proof(
        target="sessionspec.compaction.count_tail_first_kept",
        requirements=("COORD-103", "COORD-104"),
        effort=10,
        claim="opi's count rule, moved, always yields a valid cut or nothing",
    ),
    Proof(
        target="sessionspec.compaction.budget_cut",
        requirements=("COORD-105",),
        effort=20,
        claim="the budget cut is the largest candidate whose tail holds the budget",
    ),
    Proof(
        target="sessionspec.compaction.token_budget_first_kept",
        requirements=("COORD-103", "COORD-105"),
        effort=20,
        claim="the token-budget policy always yields a valid cut or nothing",
    ),
    Proof(
        target="sessionspec.compaction.utf8_prefix",
        requirements=("COORD-108",),
        effort=20,
        claim="the longest prefix within the byte bound, cut on a character boundary",
    ),
    Proof(
        target="sessionspec.compaction.bounded_body",
        requirements=("COORD-108",),
        effort=20,
        claim="the summary body is valid UTF-8 within its byte limit and a prefix of the text",
    ),
    Proof(
        target="sessionspec.reference.branch.select_branch",
        requirements=("COORD-120", "COORD-121", "COORD-122", "COORD-123", "COORD-124"),
        effort=10,
        claim="branch selection terminates on cycles; the chain is parent-linked, maximal and "
        "ends at the tip; the last valid leaf wins; a tip exists iff the log has content",
    ),
]
