"""The realtime transcript's conformance machine: any implementation vs the reference model.

The machine reaches an implementation only through a
:class:`~sessionspec.conformance.adapters.Connection` (``spec/PROTOCOL.md``, the
``realtime.*`` commands; DESIGN §4). :class:`ProtocolSubject` is the transcript behind it: in
memory, or on a durable journal when the harness declares ``realtime.durable`` and a way to
die (``storage.simulated`` power cuts or ``crash.kill`` process death).

Every step applies one event to the subject and to the reference model
(:func:`sessionspec.reference.realtime.step`) and checks that they agree on the status, the
diagnostic codes and the discarded fragments (RT-004, RT-011, RT-023); the invariants check
that the subject's transcript equals the reference transcript of the accepted history
(RT-031), that it only ever grows (RT-033), and that the in-flight responses agree (RT-034).
Every check names its requirement (:mod:`sessionspec.conformance.checks`).

Delivery is adversarial: a drawn conversation (some responses split around a user item)
arrives in a causally equivalent order (RT-035), and at any point the machine may replay any
event seen, replay everything (a reconnect, RT-010), barge in or cancel an in-flight response
(RT-023, RT-024), send late content or a late final text for an ended response (RT-026),
send a conflicting variant of an event already seen (RT-011), send an arbitrary event from a
small universe of ids including blank ones (RT-003, RT-011), or crash a durable subject
between events or inside one, reopen it, and replay everything it was sent (RT-041, CONF-010).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sessionspec.conformance import checks
from sessionspec.conformance.adapters import Connection, Reply
from sessionspec.conformance.checks import require
from sessionspec.conformance.protocol import Capability
from sessionspec.conformance.realtime_scripts import WORDS, conversation, delivery
from sessionspec.reference import realtime as ref

__all__ = [
    "Observed",
    "ProtocolSubject",
    "RealtimeDriver",
    "RealtimeMachine",
    "durable_possible",
    "run_steps",
]


@dataclass(frozen=True)
class Observed:
    status: str
    codes: tuple[str, ...]
    discarded: tuple[tuple[str, str | None, str, str, str], ...]


_TRANSCRIPTS = itertools.count(1)


def durable_possible(connection: Connection) -> bool:
    """A durable journal can be tested: declared, and the harness can die (RT-040)."""
    return connection.has(str(Capability.REALTIME_DURABLE)) and (
        connection.has(str(Capability.STORAGE_SIMULATED))
        or connection.has(str(Capability.CRASH_KILL))
    )


class ProtocolSubject:
    """One transcript of the implementation, reached through the protocol."""

    def __init__(self, connection: Connection, durable: bool) -> None:
        self.conn = connection
        self.durable = durable and durable_possible(connection)
        self.handle = "rt"
        self.journal = f"journal-{next(_TRANSCRIPTS)}"
        self.crashes = 0
        reply = connection.call(
            "realtime.new", handle=self.handle, durable=self.durable, journal=self.journal
        )
        require("CONF-030", reply.ok, f"realtime.new: {reply.describe()}")

    def _observed(self, reply: Reply) -> Observed:
        require("CONF-030", reply.ok, f"realtime.apply: {reply.describe()}")
        r = reply.result
        return Observed(
            str(r.get("status")),
            tuple(str(c) for c in r.get("codes") or ()),
            tuple(tuple(f) for f in r.get("discarded") or ()),
        )

    def apply(self, event: dict[str, Any]) -> Observed:
        return self._observed(self.conn.call("realtime.apply", handle=self.handle, event=event))

    def _observe(self) -> dict[str, Any]:
        reply = self.conn.call("realtime.observe", handle=self.handle)
        require("CONF-030", reply.ok, f"realtime.observe: {reply.describe()}")
        return reply.result

    def messages(self) -> list[dict[str, Any]]:
        return list(self._observe().get("messages") or [])

    def in_flight(self) -> list[str]:
        return [str(r) for r in self._observe().get("in_flight") or []]

    def _reopen(self) -> None:
        reply = self.conn.call(
            "realtime.open", handle=self.handle, durable=True, journal=self.journal
        )
        require("RT-041", reply.ok, f"realtime.open after a crash: {reply.describe()}")

    def restart(self) -> None:
        """A crash between events, then a reopen from the journal."""
        self.crashes += 1
        if self.conn.has(str(Capability.STORAGE_SIMULATED)):
            self.conn.call("sim.power_cut", seed=self.crashes)
        else:
            self.conn.kill_during(
                "realtime.observe", {"handle": self.handle}, random.Random(self.crashes)
            )
        self._reopen()

    def crash_during(self, event: dict[str, Any], nth: int) -> Observed | None:
        """A crash inside ``apply``; the outcome if it was acknowledged, then a reopen."""
        self.crashes += 1
        if self.conn.has(str(Capability.STORAGE_SIMULATED)):
            self.conn.call("sim.arm_crash", nth=nth)
            reply = self.conn.call("realtime.apply", handle=self.handle, event=event)
            self.conn.call("sim.disarm")
            if reply.status != "crashed":
                return self._observed(reply)
            self.conn.call("sim.power_cut", seed=self.crashes)
            self._reopen()
            return None
        found = self.conn.kill_during(
            "realtime.apply", {"handle": self.handle, "event": event},
            random.Random(self.crashes),
        )
        self._reopen()
        return None if found is None or not found.ok else self._observed(found)

    def close(self) -> None:
        self.conn.call("realtime.close", handle=self.handle)


ITEMS = ("u0", "u1", "a0_0", "a0_1", "a1_0", "t0_0", "x", " ")
RESPONSES = ("r0", "r1", "rx", "")
DELTA_IDS = ("d1", "d2", "d3", "zz", "")
STOPS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "content_filter", "cancelled")

_prev = st.sampled_from((None, *ITEMS[:5]))
_text = st.sampled_from(WORDS)
_index = st.integers(0, 1)

ARBITRARY_EVENT: st.SearchStrategy[ref.RtEvent] = st.one_of(
    st.builds(
        ref.ItemObserved,
        st.sampled_from(ITEMS),
        _prev,
        st.sampled_from(ref.Role),
        st.sampled_from((None, *RESPONSES)),
    ),
    st.builds(ref.ItemSkipped, st.sampled_from(ITEMS), _prev),
    st.builds(ref.UserFinal, st.sampled_from(ITEMS), _prev, _index, _text),
    st.builds(
        ref.Delta,
        st.sampled_from(ref.Lane),
        st.sampled_from(RESPONSES),
        st.sampled_from(DELTA_IDS),
        st.sampled_from(ITEMS),
        _prev,
        _index,
        _text,
    ),
    st.builds(ref.Truncated, st.sampled_from(RESPONSES), st.sampled_from(ITEMS), _index, _text),
    st.builds(ref.FinalText, st.sampled_from(RESPONSES), st.sampled_from(ITEMS), _index, _text),
    st.builds(
        ref.Completed,
        st.sampled_from(RESPONSES),
        st.sampled_from(STOPS),
        st.builds(ref.RefUsage, st.integers(0, 9), st.integers(0, 9)),
    ),
    st.builds(ref.Interrupted, st.sampled_from(RESPONSES)),
)


def normalized(event: ref.RtEvent) -> ref.RtEvent:
    """The event as the implementation sees it after trimming ids (RT-003)."""
    return ref.event_from_wire(ref.event_to_wire(event))


class RealtimeDriver:
    """One subject in lock step with the reference model; shared by the machine and cases."""

    def __init__(self, connection: Connection, durable: bool, trace: list[dict[str, Any]]):
        self.subject = ProtocolSubject(connection, durable)
        self.trace = trace
        self.history: tuple[ref.RtEvent, ...] = ()
        #: Every distinct event sent so far, in first-sent order (what a reconnect replays).
        self.delivered: list[ref.RtEvent] = []
        self.sent: set[ref.RtEvent] = set()
        self.seen_messages: list[dict[str, Any]] = []

    def _remember(self, event: ref.RtEvent) -> None:
        if event not in self.sent:
            self.sent.add(event)
            self.delivered.append(event)

    def both(self, event: ref.RtEvent, *, record: bool = True) -> Observed:
        wire = ref.event_to_wire(event)
        if record:
            self.trace.append({"op": "apply", "event": wire})
        verdict, self.history = ref.step(self.history, normalized(event))
        observed = self.subject.apply(wire)
        self._remember(event)
        self._judge(event, observed, verdict)
        return observed

    def _judge(self, event: ref.RtEvent, observed: Observed, verdict: ref.Verdict) -> None:
        name = type(event).__name__
        require("RT-004", observed.status == verdict.status.value,
                f"{name}: status {observed.status!r}, model {verdict.status.value!r}")
        codes = tuple(d.code.value for d in verdict.diagnostics)
        require("RT-011", observed.codes == codes,
                f"{name}: diagnostics {observed.codes!r}, model {codes!r}")
        fragments = tuple(
            (f.item_id, f.response_id, f.lane.value, f.text, f.reason) for f in verdict.discarded
        )
        require("RT-023", observed.discarded == fragments,
                f"{name}: discarded {observed.discarded!r}, model {fragments!r}")

    def replay_all(self, requirement: str = "RT-010") -> None:
        """Every event seen, again (a reconnect): inert, the transcript unchanged."""
        self.trace.append({"op": "replay_all"})
        before = self.subject.messages()
        for event in list(self.delivered):
            observed = self.both(event, record=False)
            require(requirement, observed.status != "accepted",
                    f"a replayed {type(event).__name__} was accepted again")
        require(requirement, self.subject.messages() == before,
                "replaying what was seen changed the transcript")

    def restart(self) -> None:
        """A crash between events, a reopen, then the provider's replay (RT-041)."""
        self.trace.append({"op": "restart"})
        before = self.subject.messages()
        self.subject.restart()
        require("RT-041", self.subject.messages() == before,
                "the reopened transcript differs from the one that crashed")
        history = self.history
        self.replay_all("RT-041")
        require("RT-041", self.history == history, "the replay after a restart changed history")

    def crash_apply(self, event: ref.RtEvent, nth: int) -> None:
        """A crash inside ``apply``: acknowledged means kept; the replay restores the rest."""
        wire = ref.event_to_wire(event)
        self.trace.append({"op": "crash_apply", "event": wire, "nth": nth})
        verdict, after = ref.step(self.history, normalized(event))
        observed = self.subject.crash_during(wire, nth)
        if observed is not None:
            self._judge(event, observed, verdict)
        self.history = after
        self._remember(event)
        # The provider replays everything after a reconnect: the result is the run without
        # the crash (RT-041), whatever the crash took.
        for replayed in list(self.delivered):
            reply = self.subject.apply(ref.event_to_wire(replayed))
            require("CONF-010", reply.status in ("duplicate", "rejected", "accepted"),
                    f"replay after a crash: {reply.status}")
        messages = self.subject.messages()
        got = tuple(ref.message_from_wire(m) for m in messages)
        require("CONF-010", got == ref.transcript_of(self.history),
                "after a crash inside apply and the replay, the transcript is not the one "
                "the run without the crash has")

    def check(self) -> None:
        messages = self.subject.messages()
        got = tuple(ref.message_from_wire(m) for m in messages)
        require("RT-031", got == ref.transcript_of(self.history),
                f"the transcript differs from the reference: {got!r:.400}")
        require("RT-033", messages[: len(self.seen_messages)] == self.seen_messages,
                "the transcript changed a message it had already materialized")
        self.seen_messages = messages
        in_flight = tuple(self.subject.in_flight())
        require("RT-034", in_flight == ref.in_flight_response_ids(self.history),
                f"in-flight responses {in_flight!r}, model "
                f"{ref.in_flight_response_ids(self.history)!r}")


class RealtimeMachine(RuleBasedStateMachine):
    """Lock-step conformance of a realtime transcript, through the protocol."""

    def __init__(self, connection: Connection, durable: bool = False) -> None:
        super().__init__()
        self.conn = connection
        trace: list[dict[str, Any]] = [{"op": "start", "durable": durable}]
        checks.current().trace = trace
        self.d = RealtimeDriver(connection, durable, trace)
        self.plan: list[ref.RtEvent] = []

    @property
    def history(self) -> tuple[ref.RtEvent, ...]:
        return self.d.history

    def both(self, event: ref.RtEvent) -> Observed:
        return self.d.both(event)

    # -- rules ----------------------------------------------------------------------------

    @initialize(data=st.data())
    def draw_conversation(self, data: st.DataObject) -> None:
        script = data.draw(conversation())
        self.plan = data.draw(delivery(script))

    @precondition(lambda self: bool(self.plan))
    @rule()
    def deliver_next(self) -> None:
        self.both(self.plan.pop(0))

    @precondition(lambda self: bool(self.plan))
    @rule(count=st.integers(2, 8))
    def deliver_several(self, count: int) -> None:
        for _ in range(min(count, len(self.plan))):
            self.both(self.plan.pop(0))

    @precondition(lambda self: bool(self.d.delivered))
    @rule(data=st.data())
    def replay_one(self, data: st.DataObject) -> None:
        self.both(data.draw(st.sampled_from(self.d.delivered)))

    @precondition(lambda self: bool(self.d.delivered))
    @rule()
    def reconnect_replay(self) -> None:
        self.d.replay_all()

    @precondition(lambda self: bool(ref.in_flight_response_ids(self.history)))
    @rule(data=st.data())
    def barge_in(self, data: st.DataObject) -> None:
        response_id = data.draw(st.sampled_from(ref.in_flight_response_ids(self.history)))
        self.both(ref.Interrupted(response_id))

    @precondition(lambda self: bool(ref.in_flight_response_ids(self.history)))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        response_id = data.draw(st.sampled_from(ref.in_flight_response_ids(self.history)))
        self.both(ref.Completed(response_id, "cancelled"))

    @precondition(lambda self: bool(self._ended_responses()))
    @rule(data=st.data(), text=_text, new_item=st.booleans())
    def late_content(self, data: st.DataObject, text: str, new_item: bool) -> None:
        response_id = data.draw(st.sampled_from(self._ended_responses()))
        facts = ref.facts_of(self.history)
        own = [i for i, item in facts.items.items() if item.response_id == response_id]
        n = len(self.d.delivered)
        item_id = f"late{n}" if new_item or not own else data.draw(st.sampled_from(own))
        kind = data.draw(st.sampled_from(("delta", "final", "truncated")))
        if kind == "final" and own:
            self.both(ref.FinalText(response_id, item_id, 0, text))
        elif kind == "truncated" and own:
            self.both(ref.Truncated(response_id, item_id, 0, text))
        else:
            self.both(
                ref.Delta(
                    data.draw(st.sampled_from(ref.Lane)), response_id, f"late-d{n}", item_id,
                    None, 0, text,
                )
            )

    @precondition(lambda self: bool(self._ended_responses()))
    @rule(
        data=st.data(),
        stop=st.sampled_from(STOPS),
        usage=st.builds(ref.RefUsage, st.integers(0, 99), st.integers(0, 99)),
    )
    def second_terminal(self, data: st.DataObject, stop: str, usage: ref.RefUsage) -> None:
        """A different terminal event for an ended response: the first one wins (RT-025)."""
        response_id = data.draw(st.sampled_from(self._ended_responses()))
        if data.draw(st.booleans()):
            self.both(ref.Interrupted(response_id))
        else:
            self.both(ref.Completed(response_id, stop, usage))

    @precondition(lambda self: bool(self.d.delivered))
    @rule(data=st.data(), text=_text)
    def conflicting_event(self, data: st.DataObject, text: str) -> None:
        """A variant of an event already seen: same identity, different facts (RT-011)."""
        event = data.draw(st.sampled_from(self.d.delivered))
        variant = _conflicting(event, text, data.draw(st.sampled_from((None, *ITEMS[:5]))))
        if variant is not None:
            self.both(variant)

    @rule(event=ARBITRARY_EVENT)
    def arbitrary_event(self, event: ref.RtEvent) -> None:
        self.both(event)

    @precondition(lambda self: self.d.subject.durable and bool(self.d.delivered))
    @rule()
    def crash_and_restart(self) -> None:
        self.d.restart()

    @precondition(lambda self: self.d.subject.durable and bool(self.plan))
    @rule(nth=st.integers(0, 3))
    def crash_inside_apply(self, nth: int) -> None:
        self.d.crash_apply(self.plan.pop(0), nth)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def agrees_with_the_reference(self) -> None:
        self.d.check()

    def teardown(self) -> None:
        self.d.subject.close()

    def _ended_responses(self) -> list[str]:
        facts = ref.facts_of(self.history)
        return sorted(
            rid
            for rid, response in facts.responses.items()
            if response.state in ("completed", "interrupted", "cancelled")
        )


def _conflicting(event: ref.RtEvent, text: str, other: str | None) -> ref.RtEvent | None:
    """The same identity with different content, role, response or predecessor."""
    if isinstance(event, ref.Delta):
        return dataclasses.replace(event, delta=event.delta + (text or "x"))
    if isinstance(event, ref.UserFinal):
        return dataclasses.replace(event, text=event.text + (text or "x"))
    if isinstance(event, ref.ItemObserved):
        if event.role is ref.Role.USER:
            return dataclasses.replace(event, role=ref.Role.ASSISTANT, response_id="r9")
        return dataclasses.replace(event, response_id=(event.response_id or "") + "z")
    if isinstance(event, ref.ItemSkipped) and other != event.previous_item_id:
        return dataclasses.replace(event, previous_item_id=other)
    if isinstance(event, ref.FinalText):
        return dataclasses.replace(event, text=event.text + (text or "x"))
    return None


def run_steps(
    connection: Connection, steps: list[dict[str, Any]] | tuple[dict[str, Any], ...]
) -> RealtimeDriver:
    """Replay a realtime trace (``op`` steps recorded by :class:`RealtimeDriver`)."""
    start = steps[0]
    trace: list[dict[str, Any]] = [dict(start)]
    driver = RealtimeDriver(connection, bool(start.get("durable")), trace)
    try:
        for step in steps[1:]:
            op = step["op"]
            if op == "apply":
                driver.both(ref.event_from_wire(step["event"]))
            elif op == "replay_all":
                driver.replay_all()
            elif op == "restart":
                driver.restart()
            elif op == "crash_apply":
                driver.crash_apply(ref.event_from_wire(step["event"]), int(step["nth"]))
            else:
                raise ValueError(f"unknown realtime step {op!r}")
            driver.check()
    finally:
        driver.subject.close()
    return driver
