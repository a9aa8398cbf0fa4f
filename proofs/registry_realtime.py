"""Proofs of the realtime transcript's pure helpers (reference model, RT section).

Bounds: sequences carry ``pre: len(...) <= 4`` or ``<= 5`` as CrossHair's search bound
(small-scope checking); the permutation and stateful tests in tests/realtime check the same
rules on whole conversations.
"""

from __future__ import annotations

from proofs.registry import Proof

PROOFS: list[Proof] = [
    Proof(
        target="sessionspec.reference.realtime.segment_text",
        requirements=("RT-014",),
        effort=20,
        claim="a content part's text is its truncation, else its final text, else its deltas",
    ),
    Proof(
        target="sessionspec.reference.realtime.merge_segments",
        requirements=("RT-014", "RT-035"),
        effort=20,
        claim="an item's text is its parts in content-index order, whatever their arrival order",
    ),
    Proof(
        target="sessionspec.reference.realtime.promote_lane",
        requirements=("RT-013",),
        effort=20,
        claim="the first lane-bearing event fixes the lane; the other lane is a conflict",
    ),
    Proof(
        target="sessionspec.reference.realtime.fold_lanes",
        requirements=("RT-013", "RT-035"),
        effort=20,
        claim="without conflicts, an item's lane does not depend on the order of its events",
    ),
    Proof(
        target="sessionspec.reference.realtime.causal_order",
        requirements=("RT-030", "RT-033"),
        effort=20,
        claim="every item follows its predecessor, none twice, and adding an item never "
        "reorders the items placed before it (append-only)",
    ),
]
