"""The recorder's conformance machine: any implementation vs the reference model (CONF-142).

The machine reaches an implementation only through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``recorder.*`` commands of
``spec/PROTOCOL.md``; DESIGN §4): events in phi-core's JSON form in, sessions and loop
records in phi-core's session JSON out (REC-060). In memory, or on a journal when the
harness declares ``recorder.durable`` and a way to die (``storage.simulated`` power cuts or
``crash.kill`` process death; CONF-143).

Every step applies one operation to the recorder and to the reference model
(:func:`sessionspec.reference.recorder.step`) through
:class:`~sessionspec.conformance.recorder_driver.RecorderDriver`, which checks that they
agree on the outcome (recorded, dropped and why, duplicate refused; REC-014, REC-030). The
invariants compare what the recorder shows (its sessions and its running loops) with the
model field by field, and check the rules that hold of any recording: sequences are dense
(REC-031), parent and child links agree (REC-023), and after ``flush`` every started loop has
exactly one record, none lost (REC-050). Two rules are checked by the step that can break
them, before the invariants compare fields: ``flush`` completes the open sessions in the
order they opened (REC-050), and an accepted ``RevertApplied`` is its loop's last event
(REC-041). Every check names its requirement.

Streams are random and interleaved: several sessions and loops, loop ids reused, parents in
the same and in other sessions, parallel groups, child loops spawned by tool calls, events
before a loop's start and after its end, malformed events, and ``flush``, ``checkpoint``,
``drain_completed`` and (for a journaled recorder) a crash and reopen at any point (REC-071).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sessionspec.conformance import checks
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.recorder_driver import (
    ProtocolRecorder,
    RecorderDriver,
    from_wire,
    journal_possible,
    to_wire,
)
from sessionspec.reference import recorder as ref
from sessionspec.reference.recorder_ids import session_id_from_loop_id

__all__ = [
    "LOOPS",
    "ProtocolRecorder",
    "RecorderDriver",
    "RecorderMachine",
    "from_wire",
    "journal_possible",
    "to_wire",
]

#: The loop ids a stream draws from: three sessions, loop ids of two configurations.
LOOPS = ("s1.a.1", "s1.a.2", "s1.b.1", "s2.a.1", "s2.a.2", "k.a.1", "kid.a.1", "nodots")
SESSIONS = ("s1", "s2", "k", "nodots")
PARENTS = (None, *LOOPS, "other.a.1")
CALLS = ("c1", "c2")
KINDS = (*ref.PLAIN_KINDS, *ref.TURN_KINDS)


class RecorderMachine(RuleBasedStateMachine):
    """Drives a recorder, through the protocol, and the reference model in lock step."""

    def __init__(self, connection: Connection, durable: bool = False) -> None:
        super().__init__()
        trace: list[dict[str, Any]] = [{"op": "start", "durable": durable}]
        checks.current().trace = trace
        self.d = RecorderDriver(connection, durable, trace)

    @property
    def model(self) -> ref.RecorderModel:
        return self.d.model

    def apply(self, op: ref.RecEvent) -> None:
        self.d.apply(op)

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

    @precondition(lambda self: bool(self.model.running))
    @rule(data=st.data())
    def revert_running(self, data: st.DataObject) -> None:
        """A running loop's context is reverted: recorded like any loop event (REC-041)."""
        loop = data.draw(st.sampled_from([x.loop_id for x in self.model.running]))
        self.apply(ref.Record(loop, "RevertApplied"))

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

    @rule(session=st.sampled_from(("s1", "s2")), rejected=st.booleans())
    def ends_out_of_order(self, session: str, rejected: bool) -> None:
        """Two loops of one session end in the reverse of their start order (REC-022)."""
        first, second = [x for x in LOOPS if session_id_from_loop_id(x) == session][:2]
        self.apply(ref.Start(first, session, None))
        self.apply(ref.Start(second, session, None))
        self.apply(ref.End(second, rejected))
        self.apply(ref.End(first, False))

    def _idle_loops(self, session: str) -> list[str]:
        running = {x.loop_id for x in self.model.running}
        return [x for x in LOOPS if session_id_from_loop_id(x) == session and x not in running]

    @rule(sessions=st.lists(st.sampled_from(SESSIONS), min_size=2, max_size=3, unique=True))
    def sessions_open_then_flush(self, sessions: list[str]) -> None:
        """A loop starts in each of several sessions, then ``flush`` completes them in the
        order they opened (REC-050)."""
        for session in sessions:
            idle = self._idle_loops(session)
            if idle:
                self.apply(ref.Start(idle[0], session, None))
        self.d.flush()

    @rule(session=st.sampled_from(("s1", "s2")), flush=st.booleans())
    def session_again_after_completion(self, session: str, flush: bool) -> None:
        """A session completed by ``checkpoint`` or ``flush``, then a loop starts in it
        again: a new segment of the same id (REC-013)."""
        idle = self._idle_loops(session)
        if not idle:
            return
        self.apply(ref.Start(idle[0], session, None))
        self.apply(ref.End(idle[0], False))
        if flush:
            self.d.flush()
        else:
            self.d.checkpoint()
        self.apply(ref.Start(idle[-1], session, None))

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
        self.d.malformed(event)

    @rule()
    def flush(self) -> None:
        self.d.flush()

    @rule()
    def checkpoint(self) -> None:
        self.d.checkpoint()

    @rule()
    def drain(self) -> None:
        self.d.drain()

    @precondition(lambda self: self.d.subject.durable)
    @rule()
    def crash_and_resume(self) -> None:
        self.d.restart()

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def sessions_agree(self) -> None:
        self.d.check()

    @invariant()
    def running_loops_agree(self) -> None:
        self.d.check_running(LOOPS)

    def teardown(self) -> None:
        self.d.subject.close()
