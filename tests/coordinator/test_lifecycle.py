"""The coordinator's lifecycle table: every (state, event) pair, and the runtime obeys it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionspec.errors import IllegalTransitionError
from sessionspec.lifecycle import Lifecycle
from sessionspec.tables.base import Rejected
from sessionspec.tables.coordinator import (
    COORDINATOR_TABLE,
    CoordinatorEvent,
    CoordinatorState,
)
from sessionspec.tables.registry import TABLES

S = CoordinatorState
E = CoordinatorEvent
WRITES = [e for e in E if e is not E.CLOSE]

pytestmark = pytest.mark.req("COORD-001", "GEN-003", "GEN-004")


def test_the_table_is_registered_and_drawn() -> None:
    assert COORDINATOR_TABLE in TABLES
    diagram = COORDINATOR_TABLE.mermaid()
    assert "ready --> compaction_due : threshold_reached (COORD-030)" in diagram
    assert "failed --> closed : close (COORD-012)" in diagram


def test_every_pair_is_a_transition_or_a_typed_rejection() -> None:
    for state, event in COORDINATOR_TABLE.pairs():
        outcome = COORDINATOR_TABLE.decide(state, event)
        if state is S.CLOSED:
            assert outcome == Rejected("closed", state.value, event.value)
        elif state is S.FAILED and event is not E.CLOSE:
            assert outcome == Rejected("failed", state.value, event.value)
        else:
            assert isinstance(outcome, CoordinatorState)


def test_writes_keep_a_writable_coordinator_writable() -> None:
    for state in (S.READY, S.COMPACTION_DUE):
        for event in (E.LEAF_MOVE, E.EXTENSION_STATE, E.FORK):
            assert COORDINATOR_TABLE.decide(state, event) is state
        assert COORDINATOR_TABLE.decide(state, E.COMPACTION) is S.READY
        assert COORDINATOR_TABLE.decide(state, E.THRESHOLD_REACHED) is S.COMPACTION_DUE
        assert COORDINATOR_TABLE.decide(state, E.WRITE_FAILURE) is S.FAILED
        assert COORDINATOR_TABLE.decide(state, E.CLOSE) is S.CLOSED
    # Usage since the watermark never decreases: a turn keeps a compaction due.
    assert COORDINATOR_TABLE.decide(S.COMPACTION_DUE, E.TURN_END) is S.COMPACTION_DUE
    assert COORDINATOR_TABLE.decide(S.READY, E.TURN_END) is S.READY


def _reach(state: CoordinatorState) -> Lifecycle[CoordinatorState, CoordinatorEvent]:
    lifecycle: Lifecycle[CoordinatorState, CoordinatorEvent] = Lifecycle(COORDINATOR_TABLE)
    path = {
        S.READY: [],
        S.COMPACTION_DUE: [E.THRESHOLD_REACHED],
        S.FAILED: [E.WRITE_FAILURE],
        S.CLOSED: [E.CLOSE],
    }[state]
    for event in path:
        lifecycle.commit(event)
    assert lifecycle.state is state
    return lifecycle


@given(st.sampled_from(list(S)), st.sampled_from(list(E)))
def test_the_transitions_machine_agrees_with_the_table(
    state: CoordinatorState, event: CoordinatorEvent
) -> None:
    lifecycle = _reach(state)
    outcome = COORDINATOR_TABLE.decide(state, event)
    if isinstance(outcome, Rejected):
        with pytest.raises(IllegalTransitionError) as refused:
            lifecycle.check(event)
        assert (refused.value.state, refused.value.event) == (state.value, event.value)
        with pytest.raises(IllegalTransitionError):
            lifecycle.commit(event)
        assert lifecycle.state is state  # a refused event changes nothing
    else:
        assert lifecycle.check(event) is outcome
        assert lifecycle.state is state  # check decides, never moves
        assert lifecycle.commit(event) is outcome


def test_event_names_do_not_collide_with_the_lifecycle_object() -> None:
    lifecycle = Lifecycle(COORDINATOR_TABLE)
    reserved = {"state", "check", "commit", "table", "machine", "state_name"}
    assert not reserved & {e.value for e in E}
    for event in E:
        assert callable(getattr(lifecycle, event.value))
