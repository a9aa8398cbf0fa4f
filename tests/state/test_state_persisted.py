"""The persisted session state and its graph (spec §7.1, STATE-013)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conversation.conv_helpers import assistant, dumped, user

from sessionspec import (
    FileStateStore,
    HeadRevisionConflict,
    MemoryStateStore,
    PersistedSessionState,
    SessionGraph,
)
from sessionspec.errors import CallerError


def state_with_turn() -> PersistedSessionState:
    state = PersistedSessionState("s1")
    state.append_active_messages(
        [user("hi"), assistant("yo")], ["n1", "n2"], "2026-01-01T00:00:00Z"
    )
    state.turn_index = 1
    state.token_usage.accumulate({"input_tokens": 10, "output_tokens": 5})
    state.token_ledger.record("turn", "anthropic:claude-sonnet-4", {"input_tokens": 10}, "req-1")
    state.blob_refs.append("sha256:" + "0" * 64)
    return state


@pytest.mark.req("STATE-001")
def test_json_round_trip_leaves_runtime_fields_out() -> None:
    state = state_with_turn()
    state.head_revision = 7
    state.mark_graph_rewritten()
    data = state.to_json()
    assert "head_revision" not in data and "graph_replace_required" not in data
    again = PersistedSessionState.from_json(data)
    assert again.to_json() == data
    assert again.head_revision == 0 and again.graph_replace_required is False
    with pytest.raises(CallerError):
        PersistedSessionState.from_json({"session_id": "s", "turn_index": -1})


@pytest.mark.req("STATE-002")
def test_graph_active_path_and_branches() -> None:
    state = state_with_turn()
    graph = state.session_graph
    graph.append({"node_id": "e1", "parent_node_id": "n1", "kind": "event",
                  "timestamp": "t", "payload": {"what": "branch"}})
    graph.append({"node_id": "n3", "parent_node_id": "e1", "kind": "message",
                  "timestamp": "t", "payload": user("other")})
    assert [n.node_id for n in graph.active_path()] == ["n1", "e1", "n3"]
    assert dumped(graph.active_messages()) == [user("hi"), user("other")]
    with pytest.raises(CallerError, match="already"):
        graph.append({"node_id": "n1", "parent_node_id": None, "kind": "event",
                      "timestamp": "t", "payload": {}})
    with pytest.raises(CallerError, match="unknown parent"):
        graph.append({"node_id": "x", "parent_node_id": "nope", "kind": "event",
                      "timestamp": "t", "payload": {}})
    with pytest.raises(CallerError):
        graph.append({"node_id": "y", "parent_node_id": None, "kind": "message",
                      "timestamp": "t", "payload": {"role": "robot"}})
    before = state.session_graph.to_json()
    with pytest.raises(CallerError):
        state.append_active_messages([user("a"), {"role": "bad"}], ["m1", "m2"], "t")
    assert state.session_graph.to_json() == before


@pytest.mark.req("STATE-003")
def test_heal_orphaned_leaf_falls_back_to_the_last_message_node() -> None:
    graph = SessionGraph.from_json({
        "nodes": [
            {"node_id": "n1", "parent_node_id": None, "kind": "message", "timestamp": "t",
             "payload": user("a")},
            {"node_id": "e1", "parent_node_id": "n1", "kind": "event", "timestamp": "t",
             "payload": {}},
        ],
        "leaf_node_id": "gone",
    })
    assert graph.active_path() == []
    assert graph.heal_orphaned_leaf() is True and graph.leaf_node_id == "n1"
    assert graph.heal_orphaned_leaf() is False
    empty = SessionGraph.from_json({"nodes": [], "leaf_node_id": "gone"})
    assert empty.heal_orphaned_leaf() is True and empty.leaf_node_id is None


@pytest.mark.req("STATE-003", "STATE-013")
def test_load_normalizes_and_the_next_commit_clears_the_flag(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    state = state_with_turn()
    assert state.needs_commit
    assert state.commit(store) == 1 and not state.needs_commit
    data = state.to_json()
    data["session_graph"]["leaf_node_id"] = "missing"
    store.commit("s1", data, 1)
    loaded = PersistedSessionState.load(store, "s1")
    assert loaded is not None and loaded.head_revision == 2
    assert loaded.graph_replace_required and loaded.needs_commit
    assert loaded.session_graph.leaf_node_id == "n2"
    assert loaded.commit(store) == 3
    assert not loaded.graph_replace_required and not loaded.needs_commit
    assert PersistedSessionState.load(store, "nobody") is None


@pytest.mark.req("STATE-013", "STATE-012")
def test_a_stale_state_commit_changes_nothing() -> None:
    store = MemoryStateStore()
    first = state_with_turn()
    first.commit(store)
    second = PersistedSessionState.load(store, "s1")
    assert second is not None
    first.turn_index = 2
    first.commit(store)
    second.turn_index = 5
    second.mark_graph_rewritten()
    with pytest.raises(HeadRevisionConflict):
        second.commit(store)
    assert second.head_revision == 1 and second.graph_replace_required
    stored = store.load("s1")
    assert stored is not None and stored.state["turn_index"] == 2


@pytest.mark.req("STATE-015", "GEN-003")
def test_lifecycle_table_pairs() -> None:
    from sessionspec.errors import IllegalTransitionError
    from sessionspec.tables.state import STATE_TABLE, PersistedStateEvent, PersistedStatePhase

    for phase, event in STATE_TABLE.pairs():
        outcome = STATE_TABLE.decide(phase, event)
        refused = event is PersistedStateEvent.LOAD and phase is not PersistedStatePhase.UNPERSISTED
        assert (not isinstance(outcome, PersistedStatePhase)) == refused, (phase, event)
    state = PersistedSessionState("s")
    assert state.phase.value == "unpersisted" and state.needs_commit
    state.commit(MemoryStateStore())
    assert state.phase.value == "clean" and not state.needs_commit
    with pytest.raises(IllegalTransitionError):
        state.lifecycle.commit(PersistedStateEvent.LOAD)
    state.mark_graph_rewritten()
    assert state.graph_replace_required and state.needs_commit
