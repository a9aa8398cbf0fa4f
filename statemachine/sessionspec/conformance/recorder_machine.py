"""The recorder's conformance machine: any implementation vs the reference model.

The machine is bound to an implementation only through a factory returning a
:class:`RecorderSubject` (DESIGN §4), which speaks JSON: events in phi-core's form in,
sessions and loop records in phi-core's session JSON out (REC-060). ``tests/recorder/
rec_factories.py`` binds it to the runtime, in memory and on a journal in a simulated file
system, and to deliberately broken variants that it must catch.

Every step applies one operation to the subject and to the reference model
(:func:`sessionspec.reference.recorder.step`) and checks that they agree on the outcome
(recorded, dropped and why, duplicate refused; REC-014, REC-030). The invariants compare
what the subject shows (its sessions and its running loops) with the model, and check the
rules that hold of any recording: sequences are dense (REC-031), parent and child links agree
(REC-023), and after ``flush`` every started loop has exactly one record, none lost
(REC-050).

Streams are random and interleaved: several sessions and loops, loop ids reused, parents in
the same and in other sessions, parallel groups, child loops spawned by tool calls, events
before a loop's start and after its end, malformed events, and ``flush``, ``checkpoint``,
``drain_completed`` and (for a journaled subject) a crash and resume at any point (REC-071).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sessionspec.conformance import recorder_events as build
from sessionspec.reference import recorder as ref
from sessionspec.reference.recorder_ids import session_id_from_loop_id

__all__ = [
    "LOOPS",
    "RecorderMachine",
    "RecorderSubject",
    "SubjectFactory",
    "from_wire",
    "to_wire",
]


class RecorderSubject(Protocol):
    """An implementation under test, seen through JSON."""

    #: Whether :meth:`restart` (crash and resume from durable storage) is supported.
    durable: bool

    def on_event(self, event: dict[str, Any]) -> str:
        """``"recorded"``, ``"dropped:<reason>"``, ``"duplicate"`` (REC-014) or
        ``"invalid"`` (REC-002)."""
        ...

    def flush(self) -> None: ...

    def checkpoint(self) -> int: ...

    def drain(self) -> list[dict[str, Any]]: ...

    def sessions(self) -> list[dict[str, Any]]: ...

    def current_loop(self, loop_id: str) -> dict[str, Any] | None: ...

    def restart(self) -> None: ...


SubjectFactory = Callable[[], RecorderSubject]

#: The loop ids a stream draws from: three sessions, loop ids of two configurations.
LOOPS = ("s1.a.1", "s1.a.2", "s1.b.1", "s2.a.1", "s2.a.2", "k.a.1", "kid.a.1", "nodots")
SESSIONS = ("s1", "s2", "k", "nodots")
PARENTS = (None, *LOOPS, "other.a.1")
CALLS = ("c1", "c2")
KINDS = (*ref.PLAIN_KINDS, *ref.TURN_KINDS)


def to_wire(op: ref.RecEvent, at: int) -> dict[str, Any]:
    """A reference event as phi-core's JSON event."""
    if isinstance(op, ref.Start):
        return build.agent_start(op.loop_id, op.session_id, at=at, parent=op.parent)
    if isinstance(op, ref.End):
        return build.agent_end(op.loop_id, at=at, rejection="refused" if op.rejected else None)
    if isinstance(op, ref.ToolEnd):
        return build.tool_end(op.loop_id, op.call_id, child_loop_id=op.child_loop_id)
    if isinstance(op, ref.ParallelStart):
        return build.parallel_start("s1", list(op.loop_ids), at=at)
    if isinstance(op, ref.ParallelEnd):
        return build.parallel_end("s1", op.selected, op.index, at=at)
    if isinstance(op, ref.Update):
        return {
            "type": "MessageUpdate",
            "loop_id": op.loop_id,
            "message": build.assistant("par"),
            "delta": {"Text": {"delta": "par"}},
        }
    kind = op.kind
    if kind == "TurnStart":
        return build.turn_start(op.loop_id, at=at)
    if kind == "TurnEnd":
        return build.turn_end(op.loop_id, build.assistant("done"), at=at)
    if kind == "MessageEnd":
        return build.message_end(op.loop_id, build.user("hello"))
    if kind == "ToolExecutionStart":
        return {
            "type": "ToolExecutionStart",
            "loop_id": op.loop_id,
            "tool_call_id": "c1",
            "tool_name": "read",
            "args": {"path": "a"},
        }
    if kind == "RevertApplied":
        return {"type": "RevertApplied", "loop_id": op.loop_id, "timestamp": build.stamp(at)}
    return {
        "type": "CompactionStarted",
        "loop_id": op.loop_id,
        "estimated_tokens": 100,
        "message_count": 3,
        "timestamp": build.stamp(at),
    }


def from_wire(event: dict[str, Any]) -> ref.RecEvent:
    """phi-core's JSON event as a reference event (the inverse of :func:`to_wire` on what
    the reference model tracks)."""
    kind = event["type"]
    if kind == "AgentStart":
        return ref.Start(event["loop_id"], event["session_id"], event.get("parent_loop_id"))
    if kind == "AgentEnd":
        return ref.End(event["loop_id"], event.get("rejection") is not None)
    if kind == "ToolExecutionEnd":
        child = (event.get("result") or {}).get("child_loop_id") or event.get("child_loop_id")
        return ref.ToolEnd(event["loop_id"], event["tool_call_id"], child)
    if kind == "ParallelLoopStart":
        return ref.ParallelStart(tuple(event["loop_ids"]))
    if kind == "ParallelLoopEnd":
        return ref.ParallelEnd(event["selected_loop_id"], event["selected_config_index"])
    if kind == "MessageUpdate":
        return ref.Update(event["loop_id"])
    return ref.Record(event["loop_id"], kind)


def _group(data: Any) -> ref.Group | None:
    if data is None:
        return None
    return (
        tuple(data["all_loop_ids"]),
        data["selected_loop_id"],
        int(data["selected_config_index"]),
        bool(data["is_selected"]),
    )


def loop_view(data: dict[str, Any]) -> tuple[Any, ...]:
    """What the machine compares of one loop record (JSON, REC-060)."""
    return (
        data["loop_id"],
        data["status"].lower(),
        data["parent_loop_id"],
        data.get("occurrence", 1),
        len(data["events"]),
        len(data["turns"]),
        tuple(sorted(data["children_loop_ids"])),
        tuple(
            (r["tool_call_id"], r["child_loop_id"], r["child_session_id"])
            for r in data["child_loop_refs"]
        ),
        _group(data["parallel_group"]),
    )


def model_loop_view(loop: ref.LoopModel) -> tuple[Any, ...]:
    return (
        loop.loop_id,
        loop.status,
        loop.parent,
        loop.occurrence,
        loop.events,
        loop.turns,
        tuple(sorted(loop.children)),
        loop.child_refs,
        loop.group,
    )


def session_view(data: dict[str, Any]) -> tuple[Any, ...]:
    spawn = data["parent_spawn_ref"]
    return (
        data["session_id"],
        data.get("segment", 0),
        None
        if spawn is None
        else (spawn["parent_session_id"], spawn["parent_loop_id"], spawn["tool_call_id"]),
        tuple(loop_view(loop) for loop in data["loops"]),
    )


def model_session_view(session: ref.SessionModel) -> tuple[Any, ...]:
    return (
        session.session_id,
        session.segment,
        session.spawn,
        tuple(model_loop_view(loop) for loop in session.loops),
    )


def check_links(session: dict[str, Any]) -> None:
    """REC-023: parent and child links agree in both directions within a session."""
    loops = session["loops"]
    for record in loops:
        for child in record["children_loop_ids"]:
            assert any(
                x["loop_id"] == child and x["parent_loop_id"] == record["loop_id"] for x in loops
            ), f"{record['loop_id']} lists child {child} that does not name it as parent"
    for record in loops:
        parent = record["parent_loop_id"]
        if parent is None or parent == record["loop_id"]:
            continue
        for other in loops:
            if other["loop_id"] == parent:
                assert record["loop_id"] in other["children_loop_ids"], (
                    f"{record['loop_id']} names {parent} as parent but is not its child"
                )


def check_sequences(loop: dict[str, Any]) -> None:
    """REC-031: sequence numbers are 0, 1, 2, ... with no gap."""
    sequences = [e["sequence"] for e in loop["events"]]
    assert sequences == list(range(len(sequences))), f"{loop['loop_id']}: {sequences}"
    assert loop["events"][0]["event"]["type"] == "AgentStart"


class RecorderMachine(RuleBasedStateMachine):
    """Drives a subject and the reference model in lock step."""

    def __init__(self, factory: SubjectFactory) -> None:
        super().__init__()
        self.subject = factory()
        self.model = ref.RecorderModel()
        self.clock = 0
        #: Starts the model accepted, and records handed over by drains so far (REC-050).
        self.started = 0
        self.drained_records = 0

    # -- helpers -------------------------------------------------------------------------

    def apply(self, op: ref.RecEvent) -> None:
        self.clock += 1
        expected_model, expected = ref.step(self.model, op)
        observed = self.subject.on_event(to_wire(op, self.clock))
        assert observed == expected, f"{op}: subject said {observed!r}, model {expected!r}"
        self.model = expected_model
        if isinstance(op, ref.Start) and expected == "recorded":
            self.started += 1

    # -- rules ---------------------------------------------------------------------------

    @rule(
        loop=st.sampled_from(LOOPS),
        other_session=st.one_of(st.none(), st.sampled_from(SESSIONS)),
        parent=st.sampled_from(PARENTS),
    )
    def start(self, loop: str, other_session: str | None, parent: str | None) -> None:
        session = other_session or session_id_from_loop_id(loop)
        self.apply(ref.Start(loop, session, parent))

    @rule(loop=st.sampled_from(LOOPS), kind=st.sampled_from(KINDS))
    def record(self, loop: str, kind: str) -> None:
        self.apply(ref.Record(loop, kind))

    @precondition(lambda self: bool(self.model.running))
    @rule(data=st.data(), kind=st.sampled_from(KINDS))
    def record_running(self, data: st.DataObject, kind: str) -> None:
        loop = data.draw(st.sampled_from([x.loop_id for x in self.model.running]))
        self.apply(ref.Record(loop, kind))

    @rule(loop=st.sampled_from(LOOPS))
    def streaming_update(self, loop: str) -> None:
        self.apply(ref.Update(loop))

    @rule(loop=st.sampled_from(LOOPS), rejected=st.booleans())
    def end(self, loop: str, rejected: bool) -> None:
        self.apply(ref.End(loop, rejected))

    @precondition(lambda self: bool(self.model.running))
    @rule(data=st.data(), rejected=st.booleans())
    def end_running(self, data: st.DataObject, rejected: bool) -> None:
        loop = data.draw(st.sampled_from([x.loop_id for x in self.model.running]))
        self.apply(ref.End(loop, rejected))

    @rule(
        loop=st.sampled_from(LOOPS),
        call=st.sampled_from(CALLS),
        child=st.one_of(st.none(), st.sampled_from(LOOPS)),
    )
    def tool_end(self, loop: str, call: str, child: str | None) -> None:
        self.apply(ref.ToolEnd(loop, call, child))

    @precondition(lambda self: bool(self.model.running))
    @rule(data=st.data(), call=st.sampled_from(CALLS), child=st.sampled_from(LOOPS))
    def spawn_child(self, data: st.DataObject, call: str, child: str) -> None:
        loop = data.draw(st.sampled_from([x.loop_id for x in self.model.running]))
        self.apply(ref.ToolEnd(loop, call, child))

    @precondition(lambda self: bool(self.model.running))
    @rule(data=st.data(), call=st.sampled_from(CALLS), child=st.sampled_from(("kid.a.1", "k.a.1")))
    def spawn_then_start_child(self, data: st.DataObject, call: str, child: str) -> None:
        """A tool reports its sub-agent before the sub-agent starts (REC-033)."""
        loop = data.draw(st.sampled_from([x.loop_id for x in self.model.running]))
        self.apply(ref.ToolEnd(loop, call, child))
        self.apply(ref.Start(child, session_id_from_loop_id(child), loop))

    @rule(child=st.sampled_from(LOOPS), parent=st.sampled_from(LOOPS), ends=st.booleans())
    def child_before_parent(self, child: str, parent: str, ends: bool) -> None:
        """A child that starts (and maybe ends) before its parent starts (REC-023)."""
        session = session_id_from_loop_id(parent)
        self.apply(ref.Start(child, session, parent))
        if ends:
            self.apply(ref.End(child, False))
        self.apply(ref.Start(parent, session, None))

    @rule(members=st.lists(st.sampled_from(LOOPS), min_size=1, max_size=3, unique=True))
    def parallel_start(self, members: list[str]) -> None:
        self.apply(ref.ParallelStart(tuple(members)))

    @rule(selected=st.sampled_from(LOOPS), index=st.integers(0, 2))
    def parallel_end(self, selected: str, index: int) -> None:
        self.apply(ref.ParallelEnd(selected, index))

    @rule(
        event=st.sampled_from(
            (
                {"type": "AgentStart", "loop_id": "s1.a.1"},
                {"type": "Nope", "loop_id": "s1.a.1"},
                {"type": "TurnStart", "loop_id": "s1.a.1", "turn_index": -1},
                {"type": "AgentEnd", "loop_id": "s1.a.1", "usage": {}, "timestamp": "now"},
            )
        )
    )
    def malformed(self, event: dict[str, Any]) -> None:
        assert self.subject.on_event(dict(event)) == "invalid"

    @rule()
    def flush(self) -> None:
        self.subject.flush()
        self.model, _ = ref.step(self.model, ref.Flush())
        assert not self.model.running and not self.model.open
        held = sum(len(s["loops"]) for s in self.subject.sessions())
        assert held + self.drained_records == self.started, (
            f"after flush: {held} held + {self.drained_records} drained records for "
            f"{self.started} started loops"
        )

    @rule()
    def checkpoint(self) -> None:
        self.model, outcome = ref.step(self.model, ref.Checkpoint())
        assert f"checkpoint:{self.subject.checkpoint()}" == outcome

    @rule()
    def drain(self) -> None:
        expected = [model_session_view(s) for s in self.model.completed]
        drained = self.subject.drain()
        assert [session_view(s) for s in drained] == expected
        self.drained_records += sum(len(s["loops"]) for s in drained)
        self.model, _ = ref.step(self.model, ref.Drain())

    @precondition(lambda self: self.subject.durable)
    @rule()
    def crash_and_resume(self) -> None:
        self.subject.restart()

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def sessions_agree(self) -> None:
        shown = self.subject.sessions()
        expected = [model_session_view(s) for s in (*self.model.completed, *self.model.open)]
        assert [session_view(s) for s in shown] == expected
        for session in shown:
            check_links(session)
            for loop in session["loops"]:
                check_sequences(loop)

    @invariant()
    def running_loops_agree(self) -> None:
        for loop_id in LOOPS:
            model = next((x for x in self.model.running if x.loop_id == loop_id), None)
            shown = self.subject.current_loop(loop_id)
            if model is None:
                assert shown is None, f"{loop_id} shown running, model has it closed"
            else:
                assert shown is not None, f"{loop_id} running in the model, not shown"
                assert loop_view(shown) == model_loop_view(model)
                check_sequences(shown)
