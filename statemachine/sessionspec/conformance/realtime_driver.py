"""The realtime driver: one transcript, through the protocol, in lock step with the model.

:class:`ProtocolSubject` is one transcript of the implementation reached through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``realtime.*`` commands of
``spec/PROTOCOL.md``). :class:`RealtimeDriver` applies events to it and to
:mod:`sessionspec.reference.realtime` and checks, by requirement id, that they agree; the
Hypothesis machine (:mod:`sessionspec.conformance.realtime_machine`) and the case runner share
it. Nothing here needs Hypothesis.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

from sessionspec.conformance.adapters import Connection, Reply
from sessionspec.conformance.checks import require
from sessionspec.conformance.protocol import Capability
from sessionspec.reference import realtime as ref

__all__ = [
    "Observed",
    "ProtocolSubject",
    "RealtimeDriver",
    "durable_possible",
    "normalized",
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

    def unattached_usage(self) -> dict[str, ref.RefUsage] | None:
        """The usage of responses without a message (RT-027), or ``None`` if not observed."""
        found = self._observe().get("unattached_usage")
        if found is None:
            return None
        return {
            str(rid): ref.RefUsage(
                u["input_tokens"],
                u["output_tokens"],
                u["cache_write_tokens"],
                u["cache_read_tokens"],
            )
            for rid, u in found.items()
        }

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
        codes = tuple(d.code.value for d in verdict.diagnostics)
        status_requirement, codes_requirement = verdict_requirements(
            codes, observed.codes, observed.status == verdict.status.value
        )
        require(status_requirement, observed.status == verdict.status.value,
                f"{name}: status {observed.status!r}, model {verdict.status.value!r}")
        require(codes_requirement, observed.codes == codes,
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
        unattached = self.subject.unattached_usage()
        if unattached is not None:
            expected = ref.unattached_usage_of(self.history)
            require("RT-027", unattached == expected,
                    f"usage without a message {unattached!r}, model {expected!r}")
        in_flight = tuple(self.subject.in_flight())
        require("RT-034", in_flight == ref.in_flight_response_ids(self.history),
                f"in-flight responses {in_flight!r}, model "
                f"{ref.in_flight_response_ids(self.history)!r}")


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


#: The rule behind each diagnostic code (RT-005): a verdict that should carry the code, or
#: that carries it wrongly, is charged to that rule rather than to RT-004/RT-011 in general,
#: so a run names the rule an implementation breaks (CONF-060; the seed profiles, CONF-050).
CODE_REQUIREMENT: dict[str, str] = {
    "invalid_id": "RT-003",
    "conflicting_replay": "RT-011",
    "role_conflict": "RT-012",
    "response_conflict": "RT-012",
    "predecessor_conflict": "RT-012",
    "predecessor_cycle": "RT-012",
    "lane_conflict": "RT-013",
    "late_content": "RT-026",
    "item_skipped": "RT-016",
    "skip_refused": "RT-017",
    "already_terminal": "RT-025",
}


def verdict_requirements(
    model_codes: tuple[str, ...], seen_codes: tuple[str, ...], same_status: bool
) -> tuple[str, str]:
    """The requirements a status mismatch and a diagnostics mismatch are charged to.

    The model refuses with a code: a different status breaks the rule behind the code; the
    same status without that code breaks RT-005 (every refusal is a typed diagnostic). The
    model has no code but the implementation refuses with one: the rule behind that code was
    applied where it does not hold. Otherwise RT-004 (status) and RT-011 (diagnostics).
    """
    for code in model_codes:
        if code in CODE_REQUIREMENT:
            rule = CODE_REQUIREMENT[code]
            return rule, rule if not same_status else "RT-005"
    for code in seen_codes:
        if code in CODE_REQUIREMENT:
            return CODE_REQUIREMENT[code], CODE_REQUIREMENT[code]
    return "RT-004", "RT-011"
