"""The suite against the phi-core recorder and meerkat conversation seed profiles.

Each single-quirk profile (sessionspec.conformance.profiles.phi, .meerkat_conversation) is
our runtime with one documented seed behaviour put back (spec/SPEC.md §9). The recorder and
conversation machines must name, first hand (tests/conformance/peers/first_hand.py), the
requirement of that behaviour and nothing else. Two profiles are named by the rule whose
check sees the effect, not by their §9 row; :data:`NAMED` pins what is measured so that a
change of attribution shows here and in spec/reports/seeds.md, where both are explained.

Budget: 20 examples x 20 steps, seed 0, no shrinking (the first failing example is enough
to know which requirement it broke first; shrinking took up to two minutes a profile).
"""

from __future__ import annotations

import pytest
from tests.conformance.peers.first_hand import first_hand_in_a_fresh_process

from sessionspec.conformance.profiles import PROFILES

#: What the suite names for each profile, where that is not its §9 row.
NAMED: dict[str, frozenset[str]] = {
    # Sessions are compared as one ordered list of (id, segment): the order flush completed
    # them in is seen there (REC-013) before anything checks REC-050's order itself.
    "phi_flush_in_hash_order": frozenset({"REC-013"}),
    # phi-core drops RevertApplied silently: the caller is told "recorded", and the missing
    # event shows as the loop's event count (REC-031).
    "phi_revert_not_recorded": frozenset({"REC-031"}),
    # The combined profile: every row of its single quirks, with the two above in their place.
    "phi": frozenset({"REC-013", "REC-014", "REC-022", "REC-023", "REC-030", "REC-031", "REC-033"}),
}
NEW = sorted(
    name for name, profile in PROFILES.items() if profile.machine in ("recorder", "conversation")
)


@pytest.mark.req("CONF-100")
def test_every_new_profile_is_measured() -> None:
    assert "phi" in NEW and "meerkat_field_order_revision_ids" in NEW
    assert {p.seed for name in NEW for p in [PROFILES[name]]} == {"phi-core", "meerkat"}


@pytest.mark.req("CONF-100")
@pytest.mark.parametrize("name", NEW)
def test_a_seed_behaviour_is_named_by_its_requirement(name: str) -> None:
    profile = PROFILES[name]
    # In a fresh interpreter: after other machines ran in the same process the combined
    # profile once missed REC-013 (see first_hand_in_a_fresh_process).
    found = first_hand_in_a_fresh_process(
        profile.adapter, profile.machine, examples=20, steps=20, shrink=False
    )
    assert frozenset(found) == NAMED.get(name, profile.documented), found
