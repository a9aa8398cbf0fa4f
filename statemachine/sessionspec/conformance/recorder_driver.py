"""The recorder driver: a session recorder, through the protocol, in lock step with the model.

:class:`ProtocolRecorder` is one recorder of the implementation reached through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``recorder.*`` commands of
``spec/PROTOCOL.md``): events go in as phi-core's JSON events, sessions and loop records
come out as phi-core's session JSON (REC-060). :class:`RecorderDriver` applies every
operation to it and to the reference model (:mod:`sessionspec.reference.recorder`) and
charges every difference to the requirement it breaks (CONF-060, CONF-142): the outcome of an
event (recorded, dropped and why, duplicate refused, malformed refused: REC-030, REC-014,
REC-002), each field of each session and loop record (segments REC-013, order REC-022,
links REC-023, statuses REC-020, sequences REC-031, turns REC-035, spawns REC-032/REC-033,
parallel groups REC-034), the lifecycle operations (REC-050..REC-052) and, for a journaled
recorder, what a reopen after a crash shows (REC-071). The typed form of a refusal
(``duplicate_loop``, ``invalid_event``) is CONF-141.

A rule whose effect a generic field comparison would also see is checked where the effect
is made, before the invariants compare the fields: the order in which ``flush`` completed
the open sessions (REC-050; the invariant's list of (id, segment) would name REC-013), and a
``RevertApplied`` as the last event of its loop (REC-041; the event count is REC-031's).

The Hypothesis machine (:mod:`sessionspec.conformance.recorder_machine`) draws the
operations; nothing here needs Hypothesis.
"""

from __future__ import annotations

import random
from typing import Any

from sessionspec.conformance import recorder_events as build
from sessionspec.conformance.adapters import Connection, Reply
from sessionspec.conformance.checks import require
from sessionspec.conformance.protocol import Capability
from sessionspec.reference import recorder as ref

__all__ = [
    "ProtocolRecorder",
    "RecorderDriver",
    "from_wire",
    "journal_possible",
    "loop_view",
    "model_loop_view",
    "model_session_view",
    "run_steps",
    "session_view",
    "to_wire",
]


def journal_possible(connection: Connection) -> bool:
    """A journaled recorder can be tested: declared, and the harness can die (REC-071)."""
    return connection.has(str(Capability.RECORDER_DURABLE)) and (
        connection.has(str(Capability.STORAGE_SIMULATED))
        or connection.has(str(Capability.CRASH_KILL))
    )


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


#: What each field of :func:`loop_view` is governed by, in its order.
LOOP_FIELDS = (
    ("loop_id", "REC-022"),
    ("status", "REC-020"),
    ("parent_loop_id", "REC-023"),
    ("occurrence", "REC-014"),
    ("events", "REC-031"),
    ("turns", "REC-035"),
    ("children_loop_ids", "REC-023"),
    ("child_loop_refs", "REC-032"),
    ("parallel_group", "REC-034"),
)


def compare_loop(where: str, shown: tuple[Any, ...], model: tuple[Any, ...]) -> None:
    """One loop record against the model, each field charged to its rule."""
    for (name, requirement), got, want in zip(LOOP_FIELDS, shown, model, strict=True):
        require(requirement, got == want, f"{where} {model[0]}: {name} {got!r}, model {want!r}")


def compare_sessions(
    where: str, shown: list[dict[str, Any]], model: list[ref.SessionModel]
) -> None:
    """Sessions against the model: segments (REC-013), spawns (REC-033), the order of the
    closed loops (REC-022), then every loop field by field."""
    views = [session_view(s) for s in shown]
    wanted = [model_session_view(s) for s in model]
    heads = [v[:2] for v in views]
    require(
        "REC-013",
        heads == [w[:2] for w in wanted],
        f"{where}: sessions (id, segment) {heads!r}, model {[w[:2] for w in wanted]!r}",
    )
    for view, want in zip(views, wanted, strict=False):  # a count mismatch is REC-013
        label = f"{where} session {want[0]}#{want[1]}"
        require(
            "REC-033",
            view[2] == want[2],
            f"{label}: parent_spawn_ref {view[2]!r}, model {want[2]!r}",
        )
        got_ids = [loop[0] for loop in view[3]]
        want_ids = [loop[0] for loop in want[3]]
        require(
            "REC-022",
            got_ids == want_ids,
            f"{label}: loops {got_ids!r}, model (by start) {want_ids!r}",
        )
        for got_loop, want_loop in zip(view[3], want[3], strict=False):  # REC-022 above
            compare_loop(label, got_loop, want_loop)


def check_links(session: dict[str, Any]) -> None:
    """REC-023: parent and child links agree in both directions within a session."""
    loops = session["loops"]
    for record in loops:
        for child in record["children_loop_ids"]:
            require(
                "REC-023",
                any(
                    x["loop_id"] == child and x["parent_loop_id"] == record["loop_id"]
                    for x in loops
                ),
                f"{record['loop_id']} lists child {child} that does not name it as parent",
            )
    for record in loops:
        parent = record["parent_loop_id"]
        if parent is None or parent == record["loop_id"]:
            continue
        for other in loops:
            if other["loop_id"] == parent:
                require(
                    "REC-023",
                    record["loop_id"] in other["children_loop_ids"],
                    f"{record['loop_id']} names {parent} as parent but is not its child",
                )


def check_sequences(loop: dict[str, Any]) -> None:
    """REC-031: sequence numbers are 0, 1, 2, ... with no gap, from the AgentStart."""
    sequences = [e["sequence"] for e in loop["events"]]
    require(
        "REC-031",
        sequences == list(range(len(sequences))),
        f"{loop['loop_id']}: sequences {sequences}",
    )
    require(
        "REC-031",
        bool(loop["events"]) and loop["events"][0]["event"]["type"] == "AgentStart",
        f"{loop['loop_id']}: the first recorded event is not its AgentStart",
    )


def outcome_requirement(expected: str, observed: str) -> str:
    """The rule an event's outcome breaks when it differs from the model's."""
    for outcome, requirement in (("duplicate", "REC-014"), ("invalid", "REC-002")):
        if outcome in (expected, observed):
            return requirement
    if expected.startswith("dropped") or observed.startswith("dropped"):
        return "REC-030"
    return "REC-031"


class ProtocolRecorder:
    """One recorder of the implementation, reached through the protocol."""

    def __init__(
        self, connection: Connection, durable: bool, *, config: dict[str, Any] | None = None
    ) -> None:
        """``config`` (REC-017; a hand-written case's, CONF-074) needs ``recorder.config``."""
        self.conn = connection
        self.durable = durable and journal_possible(connection)
        self.handle = "rec"
        self.journal = f"recorder-{connection.serial('journal')}"  # CONF-032, CONF-064
        self.crashes = 0
        extra = {} if config is None else {"config": config}
        reply = connection.call(
            "recorder.new",
            handle=self.handle,
            durable=self.durable,
            journal=self.journal,
            **extra,
        )
        require("CONF-030", reply.ok, f"recorder.new: {reply.describe()}")

    def _ok(self, cmd: str, reply: Reply) -> dict[str, Any]:
        require("CONF-030", reply.ok, f"{cmd}: {reply.describe()}")
        return reply.result

    def on_event(self, event: dict[str, Any]) -> str:
        """``recorded``, ``dropped:<reason>``, ``duplicate`` (REC-014) or ``invalid``
        (REC-002); a refusal of another type fails CONF-141."""
        reply = self.conn.call("recorder.on_event", handle=self.handle, event=event)
        if reply.status == "rejected":
            kind = reply.error_type
            named = {"duplicate_loop": "duplicate", "invalid_event": "invalid"}
            require(
                "CONF-141",
                kind in named,
                f"{event.get('type')}: rejected {kind!r}, which is no recorder refusal",
            )
            return named[str(kind)]
        result = self._ok("recorder.on_event", reply)
        if result.get("recorded"):
            return "recorded"
        return f"dropped:{result.get('reason')}"

    def flush(self) -> None:
        self._ok("recorder.flush", self.conn.call("recorder.flush", handle=self.handle))

    def checkpoint(self) -> int:
        result = self._ok(
            "recorder.checkpoint", self.conn.call("recorder.checkpoint", handle=self.handle)
        )
        return int(result.get("completed", -1))

    def drain(self) -> list[dict[str, Any]]:
        result = self._ok(
            "recorder.drain_completed",
            self.conn.call("recorder.drain_completed", handle=self.handle),
        )
        return list(result.get("sessions") or [])

    def sessions(self) -> list[dict[str, Any]]:
        result = self._ok(
            "recorder.sessions", self.conn.call("recorder.sessions", handle=self.handle)
        )
        return list(result.get("sessions") or [])

    def current_loop(self, loop_id: str) -> dict[str, Any] | None:
        result = self._ok(
            "recorder.current_loop",
            self.conn.call("recorder.current_loop", handle=self.handle, loop_id=loop_id),
        )
        loop = result.get("loop")
        return dict(loop) if isinstance(loop, dict) else None

    def task_calls(self) -> list[str]:
        """The ``before_task`` and ``after_task`` calls so far (``recorder.config``)."""
        result = self._ok(
            "recorder.task_calls", self.conn.call("recorder.task_calls", handle=self.handle)
        )
        return [str(c) for c in result.get("calls") or []]

    def restart(self) -> None:
        """A crash between events (a power cut or SIGKILL), then a reopen (REC-071)."""
        self.crashes += 1
        if self.conn.has(str(Capability.STORAGE_SIMULATED)):
            self.conn.call("sim.power_cut", seed=self.crashes)
        else:
            self.conn.kill_during(
                "recorder.sessions", {"handle": self.handle}, random.Random(self.crashes)
            )
        reply = self.conn.call("recorder.open", handle=self.handle, journal=self.journal)
        require("REC-071", reply.ok, f"recorder.open after a crash: {reply.describe()}")

    def close(self) -> None:
        self.conn.call("recorder.close", handle=self.handle)


class RecorderDriver:
    """One recorder in lock step with the reference model; every check names its rule."""

    def __init__(self, connection: Connection, durable: bool, trace: list[dict[str, Any]]):
        self.subject = ProtocolRecorder(connection, durable)
        self.trace = trace
        self.model = ref.RecorderModel()
        self.clock = 0
        #: Starts the model accepted, and records handed over by drains so far (REC-050).
        self.started = 0
        self.drained_records = 0

    def apply(self, op: ref.RecEvent) -> None:
        self.clock += 1
        wire = to_wire(op, self.clock)
        self.trace.append({"op": "event", "event": wire})
        expected_model, expected = ref.step(self.model, op)
        observed = self.subject.on_event(wire)
        require(
            outcome_requirement(expected, observed),
            observed == expected,
            f"{type(op).__name__} {wire.get('loop_id')}: the recorder said {observed!r}, "
            f"the model {expected!r}",
        )
        self.model = expected_model
        if isinstance(op, ref.Start) and expected == "recorded":
            self.started += 1
        if isinstance(op, ref.Record) and op.kind == "RevertApplied" and expected == "recorded":
            self._check_revert_recorded(op.loop_id)

    def _check_revert_recorded(self, loop_id: str) -> None:
        """REC-041: a ``RevertApplied`` the recorder accepted is now the last event of its
        loop's stream. Checked here, as the event is applied, because an outcome cannot show
        it (phi-core's drop is silent) and the loop's event count, seen later, is REC-031's.
        A loop the recorder does not show running is REC-052's, checked by the invariant."""
        shown = self.subject.current_loop(loop_id)
        if shown is None:
            return
        events = shown["events"]
        last = events[-1]["event"].get("type") if events else None
        require(
            "REC-041",
            last == "RevertApplied",
            f"RevertApplied {loop_id}: answered recorded, but the loop's last event is {last!r}",
        )

    def malformed(self, event: dict[str, Any]) -> None:
        self.trace.append({"op": "malformed", "event": event})
        loop_id = event.get("loop_id")
        running = any(loop.loop_id == loop_id for loop in self.model.running)
        shown_before = running and self.subject.current_loop(str(loop_id)) is not None
        observed = self.subject.on_event(dict(event))
        require(
            "REC-002",
            observed == "invalid",
            f"a malformed {event.get('type')!r} event: {observed!r}, not refused",
        )
        if shown_before:
            self._check_untouched_by_malformed(event)

    def _check_untouched_by_malformed(self, event: dict[str, Any]) -> None:
        """A refused event changes nothing (REC-002): the running loop it names, shown just
        before, is still shown. Checked here, at the cause, because the invariant sees only
        a record gone (REC-052). A malformed ``AgentStart`` that removed the running record
        is REC-014's (the running record is never replaced)."""
        loop_id = event.get("loop_id")
        gone = self.subject.current_loop(str(loop_id)) is None
        require(
            "REC-014" if event.get("type") == "AgentStart" else "REC-002",
            not gone,
            f"a malformed {event.get('type')!r} event for running loop {loop_id} was "
            "refused, but the loop's record is gone",
        )

    def flush(self) -> None:
        """REC-050: no record lost, and the open sessions completed in the order they
        opened. The order is checked here, where ``flush`` set it; only when the recorder
        completed the same segments as the model (which segments exist is REC-013's,
        compared by the invariant)."""
        self.trace.append({"op": "flush"})
        self.subject.flush()
        flushed = [(s.session_id, s.segment) for s in self.model.open]
        self.model, _ = ref.step(self.model, ref.Flush())
        shown = self.subject.sessions()
        held = sum(len(s["loops"]) for s in shown)
        require(
            "REC-050",
            held + self.drained_records == self.started,
            f"after flush: {held} held + {self.drained_records} drained records for "
            f"{self.started} started loops",
        )
        completed = [(s["session_id"], s.get("segment", 0)) for s in shown][-len(flushed) :]
        if flushed and sorted(completed) == sorted(flushed):
            require(
                "REC-050",
                completed == flushed,
                f"flush completed {completed!r}; they opened in the order {flushed!r}",
            )

    def checkpoint(self) -> None:
        self.trace.append({"op": "checkpoint"})
        self.model, outcome = ref.step(self.model, ref.Checkpoint())
        completed = self.subject.checkpoint()
        require(
            "REC-051",
            f"checkpoint:{completed}" == outcome,
            f"checkpoint completed {completed}, the model {outcome}",
        )

    def drain(self) -> None:
        self.trace.append({"op": "drain"})
        drained = self.subject.drain()
        compare_sessions("drain_completed", drained, list(self.model.completed))
        self.drained_records += sum(len(s["loops"]) for s in drained)
        self.model, _ = ref.step(self.model, ref.Drain())

    def restart(self) -> None:
        """A crash and a reopen: the recorder shows what it showed before (REC-071)."""
        self.trace.append({"op": "restart"})
        before = self.subject.sessions()
        self.subject.restart()
        after = self.subject.sessions()
        require(
            "REC-071",
            [session_view(s) for s in after] == [session_view(s) for s in before],
            f"the reopened recorder shows {len(after)} sessions, "
            f"{sum(len(s['loops']) for s in after)} closed loops; before the crash "
            f"{len(before)} and {sum(len(s['loops']) for s in before)}",
        )
        for loop in self.model.running:
            shown = self.subject.current_loop(loop.loop_id)
            require(
                "REC-071",
                shown is not None and loop_view(shown) == model_loop_view(loop),
                f"{loop.loop_id} was running before the crash; after the reopen: "
                f"{None if shown is None else loop_view(shown)!r:.200}",
            )

    def check(self) -> None:
        """The invariants: sessions, links, sequences and the running loops."""
        shown = self.subject.sessions()
        compare_sessions("sessions()", shown, [*self.model.completed, *self.model.open])
        for session in shown:
            check_links(session)
            for loop in session["loops"]:
                check_sequences(loop)

    def check_running(self, loop_ids: tuple[str, ...]) -> None:
        for loop_id in loop_ids:
            model = next((x for x in self.model.running if x.loop_id == loop_id), None)
            shown = self.subject.current_loop(loop_id)
            if model is None:
                require(
                    "REC-052",
                    shown is None,
                    f"current_loop({loop_id}) shows a record; the model has it closed",
                )
                continue
            require(
                "REC-052",
                shown is not None,
                f"current_loop({loop_id}) is null; the loop runs in the model",
            )
            if shown is None:  # masked: the run goes on (CONF-061)
                continue
            compare_loop(f"current_loop({loop_id})", loop_view(shown), model_loop_view(model))
            check_sequences(shown)


def run_steps(
    connection: Connection, steps: list[dict[str, Any]] | tuple[dict[str, Any], ...]
) -> RecorderDriver:
    """Replay a recorder trace (the ``op`` steps :class:`RecorderDriver` records), checking
    the sessions and the running loops after each step, as the machine's invariants do."""
    start = steps[0]
    driver = RecorderDriver(connection, bool(start.get("durable")), [dict(start)])
    loops: set[str] = set()
    try:
        for step in steps[1:]:
            op = step["op"]
            if op == "event":
                event = from_wire(dict(step["event"]))
                loops.add(str(step["event"].get("loop_id", "")))
                driver.apply(event)
            elif op == "malformed":
                driver.malformed(dict(step["event"]))
            elif op == "flush":
                driver.flush()
            elif op == "checkpoint":
                driver.checkpoint()
            elif op == "drain":
                driver.drain()
            elif op == "restart":
                driver.restart()
            else:
                raise ValueError(f"unknown recorder step {op!r}")
            driver.check()
            driver.check_running(tuple(sorted(loops - {""})))
    finally:
        driver.subject.close()
    return driver
