"""The recorder's rules, one test (at least) per requirement and per phi-core quirk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sessionspec import (
    DuplicateLoopError,
    InvalidAgentEventError,
    LoopCycleError,
    RecordedSession,
    RecorderConfig,
    SessionRecorder,
    SessionRotator,
)
from sessionspec.conformance.recorder_events import (
    agent_end,
    agent_start,
    assistant,
    message_end,
    parallel_end,
    parallel_start,
    stamp,
    tool_end,
    tool_result,
    turn_end,
    turn_start,
    user,
)
from sessionspec.errors import CallerError
from sessionspec.runtime.recorder import BEFORE_TASK_REJECTION, Formation, LoopRecord
from sessionspec.tables.recorder import LoopState, SessionState
from sessionspec.wire.agent_events import AgentStart, PhiUsage, RevertApplied
from sessionspec.wire.messages import AssistantMessage, ToolResultMessage, UserMessage

L1 = "s1.anthropic.1"
L2 = "s1.anthropic.2"


def feed(recorder: SessionRecorder, *events: dict[str, Any]) -> None:
    for event in events:
        recorder.on_event(event)


def single_loop(loop_id: str = L1, session: str = "s1", at: int = 0) -> list[dict[str, Any]]:
    return [
        agent_start(loop_id, session, at=at),
        turn_start(loop_id, at=at),
        message_end(loop_id, user("hi")),
        message_end(loop_id, assistant("hello")),
        turn_end(loop_id, assistant("hello"), at=at + 1),
        agent_end(loop_id, at=at + 2, messages=[user("hi"), assistant("hello")], tokens=(10, 5)),
    ]


def completed_sessions(recorder: SessionRecorder) -> list[RecordedSession]:
    recorder.flush()
    return recorder.drain_completed()


# -- REC-001..REC-004: events --------------------------------------------------------------


@pytest.mark.req("REC-001", "REC-020")
def test_single_loop_models_and_dicts_alike() -> None:
    as_dicts = SessionRecorder()
    feed(as_dicts, *single_loop())
    as_models = SessionRecorder()
    for event in single_loop():
        if event["type"] == "AgentStart":
            as_models.on_event(AgentStart.model_validate(event))
        else:
            as_models.on_event(event)
    (one,) = completed_sessions(as_dicts)
    (two,) = completed_sessions(as_models)
    assert one.to_json() == two.to_json()
    (loop,) = one.loops
    assert loop.status is LoopState.COMPLETED
    assert isinstance(loop.messages[-1], AssistantMessage)
    assert loop.usage.input_tokens == 10 and loop.ended_at == stamp(2)


@pytest.mark.req("REC-002")
@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"type": "Bogus", "loop_id": "x"}, "unknown agent event type"),
        ("AgentStart", "mapping"),
        ({**agent_start(L1, "s1"), "extra": 1}, "extra"),
        ({k: v for k, v in agent_start(L1, "s1").items() if k != "loop_id"}, "loop_id"),
        ({**agent_start(L1, "s1"), "timestamp": "2025-01-01"}, "timestamp"),
        ({**agent_start(L1, "s1"), "timestamp": "2025-01-01T00:00:00"}, "offset"),
        ({**turn_start(L1), "turn_index": -1}, "turn_index"),
        ({**turn_start(L1), "triggered_by": "Robot"}, "triggered_by"),
        (message_end(L1, {"role": "system", "content": []}), "message"),
    ],
)
def test_malformed_events_are_typed_errors_and_change_nothing(event: Any, fragment: str) -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start("s9.x.1", "s9"))
    before = [s.to_json() for s in recorder.sessions()]
    with pytest.raises(InvalidAgentEventError, match=fragment):
        recorder.on_event(event)
    assert [s.to_json() for s in recorder.sessions()] == before
    assert recorder.current_loop("s9.x.1") is not None


@pytest.mark.req("REC-003", "REC-035")
def test_followup_trigger_reads_as_continuation_and_turns_materialize() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        agent_start(L1, "s1"),
        turn_start(L1, 0, at=1),
        message_end(L1, user("read a")),
        turn_end(L1, assistant("", tool_calls=("c1",)), at=2, tool_results=[tool_result("c1")]),
        turn_start(L1, 1, at=3, trigger="FollowUp"),
        turn_end(L1, assistant("done"), at=4),
        agent_end(L1, at=5),
    )
    (session,) = completed_sessions(recorder)
    first, second = session.loops[0].turns
    assert (first.turn_index, first.triggered_by, first.has_tool_calls) == (0, "User", True)
    assert (second.turn_index, second.triggered_by, second.has_tool_calls) == (
        1,
        "Continuation",
        False,
    )
    assert isinstance(first.input_messages[0], UserMessage)
    assert first.output_message.role == "assistant"
    assert first.started_at <= first.ended_at
    data = session.to_json()["loops"][0]["turns"]
    assert data[1]["triggered_by"] == "Continuation"
    assert data[0]["tool_results"][0]["turnId"] == {"loopId": L1, "turnIndex": 0}
    assert data[0]["turn_id"] == {"loopId": L1, "turnIndex": 0}


@pytest.mark.req("REC-035", "REC-017")
def test_turn_requests_are_captured_only_when_enabled() -> None:
    assert RecorderConfig().capture_turn_requests is False
    for capture in (False, True):
        recorder = SessionRecorder(RecorderConfig(capture_turn_requests=capture))
        feed(
            recorder,
            agent_start(L1, "s1"),
            turn_start(L1),
            {"type": "TurnRequest", "loop_id": L1, "payload": {"model": "m"}},
            turn_end(L1, assistant("x")),
        )
        loop = recorder.current_loop(L1)
        assert loop is not None
        assert loop.turns[0].request_payload == ({"model": "m"} if capture else None)
        assert [e.event["type"] for e in loop.events][2] == "TurnRequest"


# -- REC-010..REC-017: sessions and loops --------------------------------------------------


@pytest.mark.req("REC-010", "REC-011")
def test_continuation_links_parent_and_child() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        *single_loop(),
        agent_start(L2, "s1", at=10, parent=L1, kind="Default"),
        agent_end(L2, at=11),
    )
    (session,) = completed_sessions(recorder)
    parent, child = session.loops
    assert parent.children_loop_ids == [L2]
    assert child.continuation_kind == "Default" and parent.continuation_kind == "Initial"
    assert [loop.loop_id for loop in session.loops if loop.parent_loop_id is None] == [L1]
    assert session.last_active_at == stamp(10) and session.created_at == stamp(0)
    assert session.formation == Formation("FirstLoop", stamp(0))


@pytest.mark.req("REC-010")
def test_continuation_kinds_round_trip() -> None:
    recorder = SessionRecorder()
    kinds = ["Default", {"Rerun": {"tag": "t"}}, {"Branch": {"tag": "b"}}, "Compaction"]
    for number, kind in enumerate(kinds, start=2):
        loop_id = f"s1.c.{number}"
        feed(recorder, agent_start(loop_id, "s1", parent=L1, kind=kind), agent_end(loop_id))
    (session,) = completed_sessions(recorder)
    assert [loop.continuation_kind for loop in session.loops] == kinds
    again = RecordedSession.from_json(session.to_json())
    assert [loop.continuation_kind for loop in again.loops] == kinds


@pytest.mark.req("REC-012", "REC-017")
def test_before_task_false_refuses_the_session_visibly() -> None:
    asked: list[str] = []

    def before(session: RecordedSession) -> bool:
        asked.append(session.session_id)
        return session.session_id != "blocked"

    recorder = SessionRecorder(RecorderConfig(before_task=before))
    outcome = recorder.on_event(agent_start("blocked.c.1", "blocked"))
    assert outcome.recorded
    assert recorder.current_loop("blocked.c.1") is None
    dropped = recorder.on_event(turn_start("blocked.c.1"))
    assert dropped.reason == "loop_not_running"
    feed(recorder, agent_start("blocked.c.2", "blocked"), *single_loop())
    sessions = {s.session_id: s for s in completed_sessions(recorder)}
    blocked = sessions["blocked"]
    assert blocked.rejection == BEFORE_TASK_REJECTION
    assert [(x.status, x.rejection) for x in blocked.loops] == [
        (LoopState.REJECTED, BEFORE_TASK_REJECTION)
    ] * 2
    assert sessions["s1"].rejection is None
    assert asked == ["blocked", "s1"]  # once per session id


@pytest.mark.req("REC-012", "REC-053")
def test_callbacks_fire_once_per_session_and_after_task_on_completion() -> None:
    events: list[str] = []

    def before(session: RecordedSession) -> bool:
        events.append(f"before {session.session_id}")
        return True

    def after(session: RecordedSession) -> None:
        events.append(f"after {session.session_id}/{session.segment}")

    config = RecorderConfig(before_task=before, after_task=after)
    recorder = SessionRecorder(config)
    feed(recorder, *single_loop(), *single_loop(L2, at=10))
    assert events == ["before s1"]
    assert recorder.checkpoint() == 1
    assert events == ["before s1", "after s1/0"]
    feed(recorder, *single_loop("s1.anthropic.3", at=20), agent_start("s2.x.1", "s2"))
    recorder.flush()
    assert events == ["before s1", "after s1/0", "before s2", "after s1/1", "after s2/0"]
    recorder.flush()
    assert len(events) == 5


@pytest.mark.req("REC-013")
def test_a_session_reopened_after_checkpoint_is_a_new_segment() -> None:
    recorder = SessionRecorder()
    feed(recorder, *single_loop())
    assert recorder.checkpoint() == 1
    feed(recorder, agent_start(L2, "s1", at=10, parent=L1))
    newest = recorder.get_session("s1")
    assert newest is not None and newest.segment == 1 and newest.state is SessionState.OPEN
    feed(recorder, agent_end(L2, at=11))
    recorder.flush()
    first, second = recorder.drain_completed()
    assert (first.segment, second.segment) == (0, 1)
    assert (first.storage_key, second.storage_key) == ("s1", "s1~1")
    assert first.loops[0].children_loop_ids == []  # no link across segments
    assert second.formation == Formation("FirstLoop", stamp(10))


@pytest.mark.req("REC-014")
def test_a_running_loop_id_cannot_start_again() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start(L1, "s1"), turn_start(L1))
    with pytest.raises(DuplicateLoopError, match=L1):
        recorder.on_event(agent_start(L1, "s1", at=5))
    loop = recorder.current_loop(L1)
    assert loop is not None and len(loop.events) == 2 and loop.started_at == stamp(0)


@pytest.mark.req("REC-014", "REC-023", "REC-024")
def test_a_closed_loop_id_run_again_is_an_explicit_second_record() -> None:
    # phi-core's compaction pass reuses the last loop id and names it as its own parent.
    recorder = SessionRecorder()
    feed(
        recorder,
        *single_loop(),
        agent_start(L1, "s1", at=10, parent=L1, kind="Compaction"),
        {
            "type": "CompactionStarted",
            "loop_id": L1,
            "estimated_tokens": 900,
            "message_count": 4,
            "timestamp": stamp(10),
        },
        agent_end(L1, at=11),
    )
    (session,) = completed_sessions(recorder)
    first, second = session.loops
    assert (first.occurrence, second.occurrence) == (1, 2)
    assert first.children_loop_ids == [] and second.children_loop_ids == []
    assert [x.loop_id for x in session.loop_chain_to(L1)] == [L1]


@pytest.mark.req("REC-015")
def test_malformed_loop_ids() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        agent_start("nodots", "nodots"),
        tool_end("nodots", "call-1", child_loop_id="child-nodots"),
        turn_start("nodots"),
        turn_end("nodots", assistant("x")),
        agent_start("one.dot", "one"),
        turn_start("one.dot"),
        turn_end("one.dot", assistant("y")),
    )
    nodots = recorder.current_loop("nodots")
    assert nodots is not None
    assert nodots.config == {"model": "claude-sonnet-4", "provider": "anthropic", "config_id": None}
    assert nodots.child_loop_refs[0].child_session_id == "child-nodots"
    one = recorder.current_loop("one.dot")
    assert one is not None and one.config is not None and one.config["config_id"] is None


# -- REC-020..REC-024: ends, order and links -------------------------------------------------


@pytest.mark.req("REC-020", "REC-021")
def test_rejected_end_and_final_ends() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start(L1, "s1"), agent_end(L1, at=1, rejection="PII detected"))
    assert recorder.on_event(agent_end(L1, at=2)).reason == "loop_not_running"
    (session,) = completed_sessions(recorder)
    (loop,) = session.loops
    assert (loop.status, loop.rejection, loop.ended_at) == (
        LoopState.REJECTED,
        "PII detected",
        stamp(1),
    )


@pytest.mark.req("REC-020")
def test_agent_end_without_turn_end_discards_the_partial_turn() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start(L1, "s1"), turn_start(L1), agent_end(L1))
    (session,) = completed_sessions(recorder)
    assert session.loops[0].turns == []


@pytest.mark.req("REC-022")
def test_loops_are_ordered_by_start_not_by_end() -> None:
    recorder = SessionRecorder()
    ids = [f"s1.c.{n}" for n in range(4)]
    feed(recorder, *(agent_start(i, "s1", at=n) for n, i in enumerate(ids)))
    feed(recorder, agent_end(ids[2], at=9), agent_end(ids[0], at=10))
    recorder.flush()  # ids[1] and ids[3] are aborted
    (session,) = recorder.drain_completed()
    assert [loop.loop_id for loop in session.loops] == ids
    assert [loop.status for loop in session.loops] == [
        LoopState.COMPLETED,
        LoopState.ABORTED,
        LoopState.COMPLETED,
        LoopState.ABORTED,
    ]


@pytest.mark.req("REC-023")
def test_links_agree_whatever_the_order() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        agent_start("s1.c.child", "s1", parent="s1.c.root"),
        agent_end("s1.c.child"),
        agent_start("s1.c.root", "s1"),
        agent_start("s1.c.late", "s1", parent="s1.c.root"),
    )
    recorder.flush()  # the root and the late child are aborted, and linked
    (session,) = recorder.drain_completed()
    root = session.loop("s1.c.root")
    assert root is not None and root.children_loop_ids == ["s1.c.child", "s1.c.late"]


@pytest.mark.req("REC-024")
def test_loop_chain_has_a_cycle_guard_and_stops_at_foreign_parents() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        agent_start("s1.c.a", "s1", parent="other.c.1"),
        agent_end("s1.c.a"),
        agent_start("s1.c.b", "s1", parent="s1.c.a"),
        agent_end("s1.c.b"),
        agent_start("s1.c.x", "s1", parent="s1.c.y"),
        agent_end("s1.c.x"),
        agent_start("s1.c.y", "s1", parent="s1.c.x"),
        agent_end("s1.c.y"),
    )
    (session,) = completed_sessions(recorder)
    assert [x.loop_id for x in session.loop_chain_to("s1.c.b")] == ["s1.c.a", "s1.c.b"]
    with pytest.raises(LoopCycleError) as caught:
        session.loop_chain_to("s1.c.y")
    assert caught.value.cycle == ("s1.c.y", "s1.c.x", "s1.c.y")
    assert session.loop_chain_to("s1.c.missing") == []


# -- REC-030..REC-043: what a loop records ---------------------------------------------------


@pytest.mark.req("REC-030")
def test_events_for_loops_not_running_are_dropped_with_a_reason() -> None:
    recorder = SessionRecorder()
    assert recorder.on_event(turn_start(L1)).reason == "loop_not_running"
    feed(recorder, *single_loop())
    assert recorder.on_event(message_end(L1, user("late"))).reason == "loop_not_running"
    no_loop = {"type": "InputRejected", "loop_id": "", "reason": "x"}
    assert recorder.on_event(no_loop).reason == "no_loop"
    (session,) = completed_sessions(recorder)
    assert len(session.loops[0].events) == 6


@pytest.mark.req("REC-031", "REC-017")
def test_streaming_events_only_when_enabled_and_sequences_dense() -> None:
    update = {
        "type": "MessageUpdate",
        "loop_id": L1,
        "message": assistant("he"),
        "delta": {"Text": {"delta": "he"}},
    }
    for streaming in (False, True):
        recorder = SessionRecorder(RecorderConfig(include_streaming_events=streaming))
        feed(recorder, agent_start(L1, "s1"), turn_start(L1))
        outcome = recorder.on_event(update)
        assert outcome.recorded is streaming
        feed(recorder, turn_end(L1, assistant("hello")), agent_end(L1))
        (session,) = completed_sessions(recorder)
        events = session.loops[0].events
        assert [e.sequence for e in events] == list(range(len(events)))
        assert ("MessageUpdate" in [e.event["type"] for e in events]) is streaming


@pytest.mark.req("REC-032", "REC-033")
@pytest.mark.parametrize("tool_end_first", [True, False])
def test_child_loop_refs_and_spawn_refs(tool_end_first: bool) -> None:
    parent, child = "p.c.1", "k.c.1"
    recorder = SessionRecorder()
    feed(recorder, agent_start(parent, "p"), agent_start(child, "k", parent=parent))
    ending = [tool_end(parent, "call-7", child_loop_id=child), agent_end(child)]
    feed(recorder, *(ending if tool_end_first else reversed(ending)), agent_end(parent))
    sessions = {s.session_id: s for s in completed_sessions(recorder)}
    (ref,) = sessions["p"].loops[0].child_loop_refs
    assert (ref.tool_call_id, ref.tool_name, ref.child_loop_id, ref.child_session_id) == (
        "call-7",
        "spawn",
        child,
        "k",
    )
    assert sessions["p"].loops[0].children_loop_ids == []  # cross-session: no id link
    spawn = sessions["k"].parent_spawn_ref
    assert spawn is not None
    assert (spawn.parent_session_id, spawn.parent_loop_id, spawn.tool_call_id) == (
        "p",
        parent,
        "call-7",
    )


@pytest.mark.req("REC-033")
def test_spawn_ref_enrichment_after_checkpoint_and_before_the_child_starts() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start("p.c.1", "p"), agent_start("k.c.1", "k", parent="p.c.1"))
    feed(recorder, agent_end("k.c.1"))
    assert recorder.checkpoint() == 1  # the child session completes first
    feed(recorder, tool_end("p.c.1", "call-1", child_loop_id="k.c.1"))
    # a tool that reports its child before the child started
    feed(recorder, tool_end("p.c.1", "call-2", child_loop_id="later.c.1"))
    feed(recorder, agent_start("later.c.1", "later"), agent_end("p.c.1"))
    sessions = {s.session_id: s for s in completed_sessions(recorder)}
    for key, call in (("k", "call-1"), ("later", "call-2")):
        spawn = sessions[key].parent_spawn_ref
        assert spawn is not None and spawn.tool_call_id == call and spawn.parent_loop_id == "p.c.1"


@pytest.mark.req("REC-034", "REC-042")
def test_parallel_group_wired_retroactively() -> None:
    a, b = "s1.a.1", "s1.b.1"
    recorder = SessionRecorder()
    feed(recorder, parallel_start("s1", [a, b]), agent_start(a, "s1"), agent_start(b, "s1"))
    feed(recorder, agent_end(a, at=1))
    feed(recorder, parallel_end("s1", b, 1, at=2), agent_end(b, at=3))
    (session,) = completed_sessions(recorder)
    groups = [loop.parallel_group for loop in session.loops]
    assert all(g is not None and g.all_loop_ids == [a, b] for g in groups)
    assert [g.is_selected for g in groups if g is not None] == [False, True]
    assert all(loop.status is not LoopState.RUNNING for loop in session.loops)
    assert all(len(loop.events) == 2 for loop in session.loops)  # markers are in no stream


@pytest.mark.req("REC-036")
def test_tool_results_are_not_input_messages() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        agent_start(L1, "s1"),
        turn_start(L1),
        message_end(L1, user("go")),
        message_end(L1, assistant("", tool_calls=("c1",))),
        message_end(L1, tool_result("c1")),
        turn_end(L1, assistant("", tool_calls=("c1",)), tool_results=[tool_result("c1")]),
    )
    loop = recorder.current_loop(L1)
    assert loop is not None
    (turn,) = loop.turns
    assert [m.role for m in turn.input_messages] == ["user"]
    assert [type(m) for m in turn.tool_results] == [ToolResultMessage]
    assert [m.role for m in turn.all_messages()] == ["user", "assistant", "tool_result"]


@pytest.mark.req("REC-040", "REC-043")
def test_rotation_reason_is_recorded() -> None:
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    ids = iter(["first", "second", "third"])
    recorder = SessionRecorder()
    rotator = SessionRotator(recorder, clock=lambda: now[0], new_id=lambda: next(ids))
    assert rotator.check_and_rotate(timedelta(0)) is None  # never prompted
    rotator.mark_active()
    loop = rotator.next_loop_id("anthropic.claude")
    assert loop == "first.anthropic.claude.1"
    feed(recorder, agent_start(loop, rotator.session_id), agent_end(loop))
    now[0] += timedelta(seconds=50)
    assert rotator.check_and_rotate(timedelta(seconds=100)) is None
    now[0] += timedelta(seconds=51)
    assert rotator.check_and_rotate(timedelta(seconds=100)) == "second"
    assert rotator.check_and_rotate(timedelta(0)) is None  # cleared by the rotation
    rotator.mark_active()
    loop = rotator.next_loop_id("anthropic.claude")
    assert loop == "second.anthropic.claude.1"
    feed(recorder, agent_start(loop, "second", at=101), agent_end(loop, at=102))
    first, second = completed_sessions(recorder)
    assert first.formation.kind == "FirstLoop"
    assert second.formation == Formation("InactivityTimeout", stamp(101), 100, "first")
    assert RecordedSession.from_json(second.to_json()).formation == second.formation


@pytest.mark.req("REC-043")
def test_rotation_with_zero_threshold_and_a_clock_gone_back() -> None:
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    rotator = SessionRotator(clock=lambda: now[0])
    rotator.mark_active()
    assert rotator.check_and_rotate(timedelta(0)) is None  # no time passed: not strictly >
    now[0] -= timedelta(seconds=5)
    assert rotator.check_and_rotate(timedelta(0)) is None
    now[0] += timedelta(milliseconds=5001)
    first = rotator.session_id
    second = rotator.check_and_rotate(timedelta(0))
    assert second is not None and second != first and second == rotator.session_id
    third = rotator.new_session()
    assert third == rotator.session_id and third not in (first, second)
    assert rotator.last_active_at is None


@pytest.mark.req("REC-041")
def test_revert_applied_is_recorded() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start(L1, "s1"))
    revert = RevertApplied(loop_id=L1, timestamp=stamp(1), details={"to": 3})
    assert recorder.on_event(revert).recorded
    loop = recorder.current_loop(L1)
    assert loop is not None and loop.events[-1].event["type"] == "RevertApplied"


# -- REC-050..REC-053: lifecycle operations ----------------------------------------------------


@pytest.mark.req("REC-050")
def test_flush_aborts_open_loops_and_discards_partial_turns() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start(L1, "s1"), turn_start(L1))
    recorder.flush()
    (session,) = recorder.drain_completed()
    (loop,) = session.loops
    assert (loop.status, loop.ended_at, loop.turns, loop.messages) == (
        LoopState.ABORTED,
        None,
        [],
        [],
    )
    assert session.state is SessionState.COMPLETED
    recorder.flush()
    assert recorder.drain_completed() == []


@pytest.mark.req("REC-051")
def test_checkpoint_promotes_only_idle_sessions() -> None:
    recorder = SessionRecorder()
    feed(recorder, *single_loop(), agent_start("s2.c.1", "s2"))
    assert recorder.checkpoint() == 1
    assert [s.session_id for s in recorder.drain_completed()] == ["s1"]
    assert recorder.current_loop("s2.c.1") is not None
    assert recorder.checkpoint() == 0


@pytest.mark.req("REC-052")
def test_lookups_return_copies() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start(L1, "s1"))
    loop = recorder.current_loop(L1)
    assert isinstance(loop, LoopRecord)
    loop.events.clear()
    session = recorder.get_session("s1")
    assert session is not None
    session.loops.append(loop)
    fresh = recorder.current_loop(L1)
    assert fresh is not None and len(fresh.events) == 1
    again = recorder.get_session("s1")
    assert again is not None and again.loops == []
    feed(recorder, agent_end(L1))
    assert recorder.current_loop(L1) is None
    assert [s.session_id for s in recorder.sessions()] == ["s1"]
    assert recorder.get_session("nope") is None


@pytest.mark.req("REC-016")
def test_the_recording_is_a_function_of_the_events_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as time_module

    events = [
        *single_loop(),
        agent_start(L2, "s1", at=30, parent=L1),
        turn_start(L2, at=31),
        turn_end(L2, assistant("x"), at=32),
    ]

    def recording() -> list[dict[str, Any]]:
        recorder = SessionRecorder()
        feed(recorder, *events)
        recorder.flush()
        return [s.to_json() for s in recorder.drain_completed()]

    first = recording()
    monkeypatch.setattr(time_module, "time", lambda: 4_000_000_000.0)
    monkeypatch.setattr(time_module, "time_ns", lambda: 4_000_000_000 * 10**9)
    assert recording() == first
    stamps = {e["timestamp"] for e in events if "timestamp" in e}
    text = repr(first)
    found = {stamp(n) for n in range(0, 40) if stamp(n) in text}
    assert found and found <= stamps  # every time in the recording came from an event


@pytest.mark.req("REC-017", "REC-030")
def test_streaming_events_are_off_by_default() -> None:
    recorder = SessionRecorder()
    feed(recorder, agent_start(L1, "s1"))
    update = {"type": "MessageUpdate", "loop_id": L1, "message": assistant("h"), "delta": None}
    assert recorder.on_event(update).reason == "streaming_disabled"


@pytest.mark.req("REC-002")
def test_a_model_that_is_not_an_agent_event_is_refused() -> None:
    recorder = SessionRecorder()
    with pytest.raises(InvalidAgentEventError, match="UserMessage"):
        recorder.on_event(UserMessage(content=[], timestamp_ms=1))  # type: ignore[arg-type]
    with pytest.raises(InvalidAgentEventError, match="PhiUsage"):
        recorder.on_event(PhiUsage(input=1, output=2))  # type: ignore[arg-type]
    with pytest.raises(InvalidAgentEventError, match="mapping"):
        recorder.on_event(42)  # type: ignore[arg-type]


@pytest.mark.req("REC-011", "REC-033")
def test_the_first_spawn_reference_stays_and_is_not_erased() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        agent_start("k.c.1", "k", parent="p.c.1"),
        agent_start("k.c.2", "k", parent="q.c.1"),  # another foreign parent: no change
    )
    recorder.flush()
    (session,) = recorder.drain_completed()
    spawn = session.parent_spawn_ref
    assert spawn is not None
    assert (spawn.parent_session_id, spawn.parent_loop_id, spawn.tool_call_id) == ("p", "p.c.1", "")


@pytest.mark.req("REC-040")
def test_rotation_notes_take_a_zero_threshold_and_refuse_booleans() -> None:
    recorder = SessionRecorder()
    recorder.note_rotation("s2", previous_session_id="s1", threshold_secs=0)
    feed(recorder, agent_start("s2.c.1", "s2"))
    session = recorder.get_session("s2")
    assert session is not None
    assert session.formation == Formation("InactivityTimeout", stamp(0), 0, "s1")
    with pytest.raises(CallerError, match="integer"):
        recorder.note_rotation("s3", previous_session_id=None, threshold_secs=True)


@pytest.mark.req("REC-040", "REC-013")
def test_a_rotation_note_applies_to_one_segment_only() -> None:
    recorder = SessionRecorder()
    recorder.note_rotation("s2", previous_session_id="s1", threshold_secs=60)
    feed(recorder, agent_start("s2.c.1", "s2"), agent_end("s2.c.1"))
    assert recorder.checkpoint() == 1
    feed(recorder, agent_start("s2.c.2", "s2", at=5))
    first, second = [*recorder.drain_completed(), recorder.get_session("s2")]
    assert first is not None and first.formation.kind == "InactivityTimeout"
    assert second is not None and second.formation == Formation("FirstLoop", stamp(5))


@pytest.mark.req("REC-033")
def test_a_pending_spawn_completes_the_reference_of_a_child_with_a_foreign_parent() -> None:
    recorder = SessionRecorder()
    feed(
        recorder,
        agent_start("p.c.1", "p"),
        tool_end("p.c.1", "call-3", child_loop_id="k.c.1"),
        agent_start("k.c.1", "k", parent="p.c.1"),
    )
    session = recorder.get_session("k")
    assert session is not None and session.parent_spawn_ref is not None
    assert session.parent_spawn_ref.tool_call_id == "call-3"


@pytest.mark.req("REC-017")
def test_the_configuration_cannot_change_under_a_recorder() -> None:
    import dataclasses

    recorder = SessionRecorder(RecorderConfig())
    with pytest.raises(dataclasses.FrozenInstanceError):
        recorder.config.include_streaming_events = True  # type: ignore[misc]
