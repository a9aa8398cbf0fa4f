"""Proofs of the coordinator's reference model: ids and accounting figures (COORD-004, -005,
-016, -030).

These are the integer rules a resume must reproduce exactly: the next id after the highest
in the file, the derived summary-slot id, and the figures a turn and a compaction produce.
Bounds: ``pre: len(...)`` lines keep the search small; the stateful machine
(sessionspec.conformance.coordinator_machine) checks the same rules on whole sessions.
"""

from __future__ import annotations

from proofs.registry import Proof

PROOFS: list[Proof] = [
    Proof(
        target="sessionspec.reference.coordinator.seq_of",
        requirements=("COORD-004",),
        effort=20,
        claim="an id's number is never negative, and positive only after a dash",
    ),
    Proof(
        target="sessionspec.reference.coordinator.next_seq_of",
        requirements=("COORD-004",),
        effort=20,
        claim="the next id number is above every id number in the file",
    ),
    Proof(
        target="sessionspec.reference.coordinator.summary_slot_id",
        requirements=("COORD-005",),
        effort=20,
        claim="a summary slot's id is derived from its compaction id and differs from it",
    ),
    Proof(
        target="sessionspec.reference.coordinator.Figures.since_watermark",
        requirements=("COORD-030",),
        effort=20,
        claim="usage since the watermark is never negative",
    ),
    Proof(
        target="sessionspec.reference.coordinator.Figures.after_turn",
        requirements=("COORD-014", "COORD-016"),
        effort=20,
        claim="a turn adds one turn, never lowers the total, and keeps the watermark",
    ),
    Proof(
        target="sessionspec.reference.coordinator.Figures.after_compaction",
        requirements=("COORD-016", "COORD-031"),
        effort=20,
        claim="after a compaction nothing is counted since the watermark",
    ),
]

PROOFS.append(
    Proof(
        target="sessionspec.pricing.attributed_usage",
        requirements=("COORD-062",),
        effort=20,
        claim="per counter, the priced rows hold the larger of the session's count and the "
        "messages' own usage: nothing priced twice, nothing counted left unpriced",
    )
)
