"""The suite against the phi-core recorder and meerkat conversation seed profiles.

Each single-quirk profile (sessionspec.conformance.profiles.phi, .meerkat_conversation) is
our runtime with one documented seed behaviour put back (spec/SPEC.md §9). The recorder and
conversation machines must name, first hand (tests/conformance/peers/first_hand.py), the
requirement of that behaviour and nothing else; the combined ``phi`` profile exactly the
rows of its quirks. Two rules whose effects a generic field comparison also sees are checked
by the step that makes the effect (flush order REC-050, a recorded revert REC-041), so every
profile is named by its own row (spec/reports/seeds.md).

Budget: 20 examples x 20 steps, seed 0, no shrinking (the first failing example is enough
to know which requirement it broke first; shrinking took up to two minutes a profile). In
this process: a seed replays the same run whatever ran before it (CONF-064).
"""

from __future__ import annotations

import pytest
from tests.conformance.peers.first_hand import first_hand_failures

from sessionspec.conformance.adapters import connect
from sessionspec.conformance.profiles import PROFILES

NEW = sorted(
    name for name, profile in PROFILES.items() if profile.machine in ("recorder", "conversation")
)


@pytest.mark.req("CONF-100")
def test_every_new_profile_is_measured() -> None:
    assert "phi" in NEW and "meerkat_field_order_revision_ids" in NEW
    assert {p.seed for name in NEW for p in [PROFILES[name]]} == {"phi-core", "meerkat"}
    # The combined profile's rows are exactly the union of its single quirks' rows.
    singles = [p for p in PROFILES.values() if p.seed == "phi-core" and p.name != "phi"]
    assert PROFILES["phi"].documented == frozenset().union(*(p.documented for p in singles))
    assert len(PROFILES["phi"].documented) == len(singles) == 8


@pytest.mark.req("CONF-100")
@pytest.mark.parametrize("name", NEW)
def test_a_seed_behaviour_is_named_by_its_requirement(name: str) -> None:
    profile = PROFILES[name]
    found = first_hand_failures(
        connect(profile.adapter), profile.machine, examples=20, steps=20, shrink=False
    )
    assert frozenset(found) == profile.documented, found
