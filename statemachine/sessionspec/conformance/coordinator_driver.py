"""The coordinator driver: one implementation, through the protocol, in lock step with the model.

The :class:`Driver` is what :class:`~sessionspec.conformance.coordinator_machine.CoordinatorMachine`
and the case runner share. It reaches the implementation only through a
:class:`~sessionspec.conformance.adapters.Connection` (``spec/PROTOCOL.md``) and judges what
the implementation shows through its API (CONF-001..CONF-007): the context it would send next,
the ids, the active tip, usage and turns, the lifecycle state, typed rejections, what a reopen
shows, what a crash leaves. Checks that need more are gated by the capabilities the harness
declared (CONF-020): the file compared entry for entry with the model's log
(``coordinator.format``), exact ids (``coordinator.ids``), the watermark and next id
(``coordinator.figures``), power cuts and injected I/O errors (``storage.simulated``), real
process death (``crash.kill``, ``crash.points``), foreign and damaged entries
(``coordinator.inject``), a resumed twin (``coordinator.copy``).

Every check names its requirement (:func:`sessionspec.conformance.checks.require`). A
mismatch found after a step is charged to the step's own requirement when the step has one
(a reopen: COORD-020; a crash: CONF-010; an injection: COORD-021/022/023; a fault:
COORD-011/012; an empty turn: COORD-014), otherwise to the observation that differs
(CONF-001..CONF-005). Where what is observed shows the rule broken, the mismatch is charged
to it (CONF-060): a cut elsewhere than the model's to the cut policy (COORD-104/105), a clean
write failure whose write stayed in the file to COORD-011 (COORD-012 when the cut-back was
made to fail), a fork whose leaves carry figures to COORD-051, a file holding part of an
operation's batch to the operation's rule (COORD-010 for a turn). And whatever step notices
it: memory showing the effect of an operation whose append failed to COORD-002, ids that
differ only in their numbers to COORD-004, usage truncated to 32 bits to COORD-061, figures
alone after any reopen to COORD-020 (before another writer's message is injected, whose
additions are COORD-023's, the driver reopens once without it, so a resume that loses the
figures is named first by COORD-020). Once a run has reported and masked COORD-004, its
later examples compare ids up to one consistent renaming, as without ``coordinator.ids``,
the file read back in the model's ids (CONF-161). What the driver sees and those judgements
live in :mod:`sessionspec.conformance.coordinator_view` and
:mod:`sessionspec.conformance.coordinator_charges`; replaying saved runs in
:mod:`sessionspec.conformance.coordinator_replay`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessionspec.compaction import CompactionConfig
from sessionspec.conformance.adapters import Connection, Reply
from sessionspec.conformance.checks import require
from sessionspec.conformance.coordinator_charges import (
    another_cut,
    fork_requirement,
    part_of_batch,
)
from sessionspec.conformance.coordinator_model import (
    MODEL,
    TIMESTAMP,
    Compact,
    Entry,
    Expected,
    Fork,
    Log,
    MoveLeaf,
    Operation,
    SetExtensionState,
    Turn,
    config_of,
    expect,
    model_observation,
    operation_to_json,
    pair_closed,
    settings_batch,
)
from sessionspec.conformance.coordinator_view import DriverView
from sessionspec.conformance.protocol import Capability

__all__ = ["Driver", "settings_of"]

#: The requirement an operation's own outcome is judged by.
OP_REQUIREMENT: dict[type, str] = {
    Turn: "COORD-010",
    Compact: "COORD-031",
    MoveLeaf: "COORD-040",
    SetExtensionState: "COORD-043",
    Fork: "COORD-050",
}
#: The requirement of each observed field when no step requirement applies (CONF-001..005).
FIELD_REQUIREMENT = {
    "context": "CONF-001",
    "ids": "CONF-002",
    "tip": "CONF-003",
    "usage": "CONF-004",
    "turns": "CONF-004",
    "watermark": "CONF-004",
    "next_seq": "CONF-002",
    "state": "CONF-005",
    "cost": "COORD-062",
}
#: What the model's own refusals look like on the wire (CONF-006).
CALLER_REJECTIONS = ("caller_error", "unknown_entry")


def settings_of(threshold: int, policy: str, trigger: str = "cumulative") -> Entry:
    """The protocol's ``config`` for a machine's compaction settings (see ``config_of``)."""
    settings: Entry = {"enabled": True, "threshold_tokens": threshold, "policy": policy}
    if policy == "token_budget":
        settings["keep_tokens"] = 6
    if trigger != "cumulative":  # absent means cumulative: older harnesses stay valid
        settings["trigger"] = trigger
    return settings


def _latest_user(context: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    found: Mapping[str, Any] | None = None
    for item in reversed(context):
        if item.get("role") == "user":
            found = item
            break
    return found


@dataclass
class Driver(DriverView):
    """Drives one implementation and the model; every disagreement names a requirement."""

    conn: Connection
    config: CompactionConfig
    settings: Entry
    seed: int = 0
    session_id: str = "s1"
    log: Log = ()
    failed: bool = False
    closed: bool = False
    #: While failed: the log after the operation whose cut-back failed.
    pending_after: Log | None = None
    #: While failed: the requirement of the operation whose batch is pending (COORD-010 for
    #: a turn), charged when the file holds only part of that batch.
    pending_requirement: str | None = None
    #: The cut policy's rule when the pending operation is a compaction (COORD-104/105).
    pending_cut_rule: str | None = None
    twin: str | None = None
    forks: dict[str, Log] = field(default_factory=dict)
    trace: list[Entry] = field(default_factory=list)
    #: Without exact ids: model id -> implementation id, learned (CONF-002, CONF-161).
    id_map: dict[str, str] = field(default_factory=dict)
    #: COORD-004 masked when the example began: ids up to a renaming (CONF-161).
    renumbering_masked: bool = field(default=False, init=False)
    #: The requirement a mismatch found by the next check is charged to.
    cause: str | None = None
    #: Whether the step reopened the main coordinator: figures that differ after it are the
    #: resume's (COORD-020).
    resumed: bool = False
    #: The latest user message the model's context holds (CONF-007).
    twins: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.renumbering_masked = self.renumbering_is_masked()
        reply = self.conn.call(
            "coordinator.new", handle="main", session_id=self.session_id,
            config=self.settings, model=MODEL,
        )
        require("CONF-030", reply.ok, f"coordinator.new: {reply.describe()}")

    # -- talking to the implementation -------------------------------------------------------

    def _command(self, op: Operation, handle: str) -> tuple[str, Entry]:
        if isinstance(op, Turn):
            return "coordinator.turn_end", {
                "handle": handle, "messages": list(op.messages), "usage": dict(op.usage)
            }
        if isinstance(op, Compact):
            return "coordinator.compact", {"handle": handle, "reason": op.reason}
        if isinstance(op, MoveLeaf):
            return "coordinator.append_leaf", {
                "handle": handle, "entry_id": self._impl_id(op.target)
            }
        if isinstance(op, SetExtensionState):
            return "coordinator.append_extension_state", {"handle": handle, "value": op.value}
        fork_id = op.session_id if handle == "main" else f"{op.session_id}-{handle}"
        return "coordinator.fork", {"handle": handle, "session_id": fork_id}

    def _send(self, op: Operation, handle: str = "main") -> Reply:
        cmd, args = self._command(op, handle)
        return self.conn.call(cmd, **args)

    def _result(self, op: Operation, reply: Reply) -> Any:
        """The value comparable with :attr:`Expected.result`."""
        if isinstance(op, Turn):
            return reply.result.get("compaction_due")
        if isinstance(op, Compact):
            found = reply.result.get("compaction")
            if not isinstance(found, Mapping):
                return None
            return (
                found.get("summary"),
                found.get("first_kept_entry_id"),
                found.get("tokens_before"),
                found.get("tokens_after"),
            )
        if isinstance(op, SetExtensionState):
            # Without coordinator.ids the id is the implementation's own: not compared.
            return reply.result.get("entry_id") if self.exact_ids else None
        return None

    def _expected_result(self, op: Operation, expected: Expected) -> Any:
        if isinstance(op, Compact) and expected.result is not None and not self.exact_ids:
            summary, first_kept, before, after = expected.result
            return (summary, self._impl_id(first_kept), before, after)
        if isinstance(op, SetExtensionState) and not self.exact_ids:
            return None
        return expected.result

    # -- checks ------------------------------------------------------------------------------

    def check(self) -> None:
        """After every step: the file, the observation and the twin agree with the model."""
        cause, self.cause = self.cause, None
        resumed, self.resumed = self.resumed, False
        if self.has(Capability.COORDINATOR_FORMAT):
            pending = (self.pending_after,) if self.pending_after is not None else ()
            durable = self.in_model_ids(self.read_log(self.session_id), self.log, *pending)
            if self.failed:
                assert self.pending_after is not None
                partial = part_of_batch(durable, self.log, self.pending_after)
                other_cut = self.pending_cut_rule is not None and another_cut(
                    durable, self.log, self.pending_after)
                charged = (cause or (self.pending_requirement if partial else None)
                           or (self.pending_cut_rule if other_cut else None) or "COORD-012")
                require(self._ids(charged, durable, self.log, self.pending_after),
                        durable in (self.log, self.pending_after),
                        "failed: the file is neither the log before nor after the operation"
                        + (": it holds part of the operation's batch" if partial else ""))
            else:
                require(self._ids(cause or "CONF-013", durable, self.log), durable == self.log,
                        "the durable log differs from the model's log")
        if self.closed:
            return
        seen = self.observe()
        if seen is None:
            return
        expected = self.model_view(self.log)
        if self.failed:
            seen["state"] = expected["state"]
        if not self.exact_ids:
            seen_cmp = {**seen, "context": self._summaryless(seen["context"])}
            expected_cmp = {**expected, "context": self._summaryless(expected["context"])}
        else:
            seen_cmp, expected_cmp = seen, expected
        differing = self.differences(seen_cmp, expected_cmp)
        shown = self._shown(differing, seen_cmp, expected_cmp, resumed=resumed, cause=cause)
        for name in differing:
            require(
                shown or cause or FIELD_REQUIREMENT[name],
                False,
                f"observed {name} differs from the model: {seen[name]!r:.400} != "
                f"{expected[name]!r:.400}",
            )
        require("CONF-007", pair_closed(seen["context"]),
                "the context holds a tool result without its call (COORD-032)")
        latest = _latest_user(expected["context"])
        require(
            "CONF-007",
            latest is None or _latest_user(seen["context"]) == latest,
            "the latest user message is missing from the context (COORD-032)",
        )
        if self.twin is not None:
            twin = self.observe(self.twin)
            require(self._resumed_requirement("COORD-020", twin, seen),
                    twin is not None and self._same(twin, seen),
                    "the resumed twin diverged from the coordinator that kept running")

    # -- modes -------------------------------------------------------------------------------

    def normal(self, op: Operation) -> None:
        self.trace.append({"mode": "normal", **operation_to_json(op)})
        if self.failed or self.closed:
            self._refused(op)
            return
        expected = expect(op, self.log, self.config)
        requirement = OP_REQUIREMENT[type(op)]
        reply = self._send(op)
        if not self._answered(op, reply):
            return
        if not expected.accepted:
            # The model refuses only a leaf: at an id that is no content entry (COORD-040),
            # or onto a tool call whose results are not on the branch (COORD-044).
            refusal = self._leaf_refusal(op) if isinstance(op, MoveLeaf) else "CONF-006"
            require(refusal, reply.status == "rejected"
                    and reply.error_type in CALLER_REJECTIONS,
                    f"{_name(op)} must be refused as a caller error ({refusal}); got "
                    f"{reply.describe()}")
            self._twin(op, expected)
            return
        require(requirement, reply.ok, f"{_name(op)}: {reply.describe()}")
        if not reply.ok:
            return
        got = self._result(op, reply)
        want = self._expected_result(op, expected)
        require(self._result_requirement(op, got, want), got == want,
                f"{_name(op)} returned {got!r}, model {want!r}")
        self._accepted(op, expected)
        self._twin(op, expected)

    def crash(self, op: Operation, nth: int, resume_crash: int | None,
              point: str | None = None, outcomes: Sequence[str] | None = None) -> None:
        """A crash inside ``op``: the state after reopening is before or after (CONF-010)."""
        step: Entry = {"mode": "crash", "nth": nth, "resume_crash": resume_crash,
                       **operation_to_json(op)}
        if point is not None:
            step["point"] = point
        if outcomes is not None:
            step["outcomes"] = list(outcomes)
        self.trace.append(step)
        if self.failed or self.closed:
            self._refused(op)
            return
        expected = expect(op, self.log, self.config)
        self.twin = None
        if self.has(Capability.STORAGE_SIMULATED):
            reply: Reply | None = self._simulated_crash(op, nth, resume_crash)
            if reply is not None:
                # The operation ended before the armed crash: an ordinary outcome.
                if reply.ok:
                    require(OP_REQUIREMENT[type(op)], expected.accepted,
                            f"{_name(op)} accepted; the model refuses it")
                    self._accepted(op, expected)
                else:
                    require("CONF-006", reply.status == "rejected" and not expected.accepted,
                            f"{_name(op)}: {reply.describe()}")
                return
        elif self.has(Capability.CRASH_KILL):
            cmd, args = self._command(op, "main")
            points = self.conn.crash_points
            chosen = point if point in points else (
                points[nth % len(points)] if points and nth % 3 else None
            )
            reply = self.conn.kill_during(cmd, args, self.rng, chosen)
        else:
            self.normal(op)
            return
        acknowledged = reply is not None and reply.ok
        opened = self.conn.call("coordinator.open", handle="main", session_id=self.session_id,
                                config=self.settings, model=MODEL)
        require("CONF-010", opened.ok, f"reopening after a crash: {opened.describe()}")
        self._settle(expected.after, "CONF-010", acknowledged=acknowledged, outcomes=outcomes,
                     batch_requirement=OP_REQUIREMENT[type(op)], cut_rule=self._cut_rule(op))
        if expected.fork_entries is not None:
            self._check_fork(op, expected.fork_entries, must_exist=acknowledged)

    def _simulated_crash(self, op: Operation, nth: int, resume_crash: int | None) -> Reply | None:
        self.conn.call("sim.arm_crash", nth=nth)
        reply = self._send(op)
        if reply.status != "crashed":
            self.conn.call("sim.disarm")
            return reply
        self.conn.call("sim.power_cut", seed=self.rng.randrange(2**32))
        if resume_crash is not None:
            self.conn.call("sim.arm_crash", nth=resume_crash)
            opened = self.conn.call("coordinator.open", handle="main",
                                    session_id=self.session_id, config=self.settings,
                                    model=MODEL)
            if opened.status == "crashed":
                self.conn.call("sim.power_cut", seed=self.rng.randrange(2**32))
            else:
                self.conn.call("sim.disarm")
                self.conn.call("coordinator.close", handle="main")
        return None

    def fault(self, op: Operation, faults: Sequence[tuple[str, int, float | None]]) -> None:
        """Injected I/O errors (``storage.simulated``): COORD-011, COORD-012."""
        self.trace.append(
            {"mode": "fault", "faults": [list(f) for f in faults], **operation_to_json(op)}
        )
        if self.failed or self.closed:
            self._refused(op)
            return
        if not self.has(Capability.STORAGE_SIMULATED):
            self.normal(op)
            return
        expected = expect(op, self.log, self.config)
        self.twin = None
        before = self.observe()
        for operation, nth, partial in faults:
            self.conn.call("sim.arm_fault", operation=operation, nth=nth, partial=partial)
        try:
            reply = self._send(op)
        finally:
            self.conn.call("sim.disarm")
        if not self._answered(op, reply):
            return
        kind = reply.error_type
        if reply.status == "rejected" and kind == "append_failed":
            if self.has(Capability.COORDINATOR_FORMAT):
                # A clean failure promises the file as before (COORD-011). With a failing
                # cut-back armed, a file that still holds the write is a log that could not
                # undo it, which must leave the coordinator failed (COORD-012).
                # A file holding part of the operation's batch: it was not one batch.
                undo_failed = any(operation == "truncate" for operation, _, _ in faults)
                durable = self.in_model_ids(self.read_log(self.session_id), self.log,
                                            expected.after)
                cut_rule = self._cut_rule(op)
                charged = (
                    OP_REQUIREMENT[type(op)]
                    if part_of_batch(durable, self.log, expected.after)
                    else cut_rule
                    if cut_rule and another_cut(durable, self.log, expected.after)
                    else "COORD-012" if undo_failed else "COORD-011"
                )
                require(self._ids(charged, durable, self.log, expected.after),
                        durable == self.log,
                        "a clean write failure (append_failed) left the write in the file"
                        + (", and its cut-back had failed" if undo_failed else ""))
            after = self.observe()
            require(self._memory_requirement("COORD-011", before, after, expected),
                    after == before, "a clean write failure changed memory")
        elif reply.status == "rejected" and kind == "log_failed":
            after = self.observe()
            unchanged = (
                after is not None and before is not None
                and {**after, "state": before["state"]} == before
            )
            require(self._memory_requirement("COORD-012", before, after, expected), unchanged,
                    "a failed cut-back changed memory")
            require("COORD-012", after is not None and after["state"] == "failed",
                    "log_failed must leave the coordinator failed")
            self.failed = True
            self.pending_after = expected.after
            self.pending_requirement = OP_REQUIREMENT[type(op)]
            self.pending_cut_rule = self._cut_rule(op)
        elif reply.status == "rejected" and kind in ("fork_failed", "storage_error"):
            require("COORD-050", isinstance(op, Fork), f"{_name(op)}: unexpected {kind}")
            require("COORD-050", self.observe() == before, "a failed fork changed the source")
            if isinstance(op, Fork) and self.has(Capability.COORDINATOR_FORMAT):
                require("COORD-050", self.read_log(op.session_id) is None,
                        "a failed fork left a fork visible")
        elif reply.status == "rejected" and kind in CALLER_REJECTIONS:
            require("CONF-006", not expected.accepted, f"{_name(op)} refused: {reply.describe()}")
        else:
            require(OP_REQUIREMENT[type(op)], reply.ok and expected.accepted,
                    f"{_name(op)} under faults: {reply.describe()}")
            if reply.ok:
                got, want = self._result(op, reply), self._expected_result(op, expected)
                require(self._result_requirement(op, got, want), got == want,
                        f"{_name(op)} returned {got!r}, model {want!r}")
                self._accepted(op, expected)

    def reopen(self, with_settings: bool = True) -> None:
        """Close and open again: a clean resume (COORD-020) or recovery from failed (COORD-012).
        ``with_settings=False`` (``coordinator.settings``) passes no model and no compaction
        config: the settings persisted in the session must make the same decisions
        (COORD-027)."""
        with_settings = with_settings or not self.has(Capability.COORDINATOR_SETTINGS)
        self.trace.append({"mode": "reopen", "settings": with_settings})
        self.twin = None
        was_failed = self.failed
        before = None if (self.failed or self.closed) else self.observe()
        self.conn.call("coordinator.close", handle="main")
        if with_settings:
            opened = self.conn.call("coordinator.open", handle="main",
                                    session_id=self.session_id, config=self.settings,
                                    model=MODEL)
        else:
            opened = self.conn.call("coordinator.open", handle="main",
                                    session_id=self.session_id)
        requirement = "COORD-020" if with_settings else "COORD-027"
        require(requirement, opened.ok, f"reopening: {opened.describe()}")
        self.closed = False
        if was_failed:
            assert self.pending_after is not None
            self._settle(self.pending_after, "COORD-012",
                         batch_requirement=self.pending_requirement,
                         cut_rule=self.pending_cut_rule)
            return
        if before is not None:
            self._compare_resumed(before, requirement)
        # Also after a close: what the next check finds wrong is the reopen's.
        self.cause = requirement
        self.resumed = True

    def _compare_resumed(self, before: Entry, requirement: str) -> None:
        """The reopened coordinator shows what the one that kept running showed (COORD-020;
        COORD-027 without settings arguments)."""
        seen = self.observe()
        require(self._resumed_requirement(requirement, seen, before),
                seen is not None and self._same(seen, before),
                "the reopened coordinator differs from the one that kept running")

    def change_settings(self, threshold: int, policy: str, trigger: str) -> None:
        """Reopen with other compaction settings (``coordinator.settings``): when they differ
        from the session's, the coordinator records them as a settings leaf before deciding
        with them (COORD-028)."""
        self.trace.append(
            {"mode": "settings", "threshold": threshold, "policy": policy, "trigger": trigger}
        )
        if self.failed or self.closed or not self.has(Capability.COORDINATOR_SETTINGS):
            return
        self.twin = None
        config = config_of(threshold, policy, trigger)
        self.log = self.log + settings_batch(self.log, self.config, config)
        self.conn.call("coordinator.close", handle="main")
        self.config, self.settings = config, settings_of(threshold, policy, trigger)
        opened = self.conn.call("coordinator.open", handle="main", session_id=self.session_id,
                                config=self.settings, model=MODEL)
        require("COORD-028", opened.ok, f"reopening with new settings: {opened.describe()}")
        self.cause = "COORD-028"
        self.resumed = True

    def close(self) -> None:
        self.trace.append({"mode": "close"})
        self.conn.call("coordinator.close", handle="main")
        self.closed = True
        self.failed = False
        self.twin = None

    def spawn_twin(self) -> None:
        """A second coordinator opened from a copy of the session (``coordinator.copy``)."""
        self.trace.append({"mode": "twin"})
        if self.failed or self.closed or not self.has(Capability.COORDINATOR_COPY):
            return
        self.twins += 1
        copy_id = f"{self.session_id}-twin{self.twins}"
        copied = self.conn.call("coordinator.copy", session_id=self.session_id,
                                to_session_id=copy_id)
        require("CONF-030", copied.ok, f"coordinator.copy: {copied.describe()}")
        opened = self.conn.call("coordinator.open", handle="twin", session_id=copy_id,
                                config=self.settings, model=MODEL)
        require("COORD-020", opened.ok, f"opening the twin: {opened.describe()}")
        self.twin = "twin" if opened.ok else None

    def inject(self, kind: str) -> None:
        """Foreign or damaged entries written between reopens (CONF-012)."""
        self.trace.append({"mode": "inject", "kind": kind})
        if self.failed or self.closed or not self.has(Capability.COORDINATOR_INJECT):
            return
        entries, requirement = self._foreign(kind)
        self.twin = None
        if requirement == "COORD-023":
            # Another writer's message adds to the figures (COORD-023): what a plain resume
            # shows is judged first, by resume equivalence (COORD-020), so a resume that
            # restores other figures is not charged to the foreign entries.
            before = self.observe()
            self.conn.call("coordinator.close", handle="main")
            plain = self.conn.call("coordinator.open", handle="main",
                                   session_id=self.session_id, config=self.settings,
                                   model=MODEL)
            require("COORD-020", plain.ok, f"reopening: {plain.describe()}")
            if before is not None:
                self._compare_resumed(before, "COORD-020")
        self.conn.call("coordinator.close", handle="main")
        # The harness gets the parent in its own id space (CONF-002); the model keeps ours.
        sent = [
            {**e, "parent_id": self._impl_id(e["parent_id"])} if e.get("parent_id") else e
            for e in entries
        ]
        injected = self.conn.call("coordinator.inject", session_id=self.session_id,
                                  entries=sent)
        require("CONF-012", injected.ok, f"coordinator.inject: {injected.describe()}")
        if injected.ok:
            self.log = self.log + tuple(entries)
        opened = self.conn.call("coordinator.open", handle="main", session_id=self.session_id,
                                config=self.settings, model=MODEL)
        require(requirement, opened.ok, f"opening after {kind}: {opened.describe()}")
        self.cause = requirement
        self.resumed = True

    def _foreign(self, kind: str) -> tuple[list[Entry], str]:
        """Entries another writer (or damage) could leave; ids beyond the model's counter."""
        state_seq = 1 + max([_suffix(e.get("id")) for e in self.log] or [0])
        tip = model_observation(self.log, self.config)["tip"]
        base = f"x-{state_seq + 40}"
        if kind == "dangling_leaf":
            return [{"type": "leaf", "id": base, "parent_id": tip, "timestamp": TIMESTAMP,
                     "entry_id": f"gone-{state_seq}"}], "COORD-021"
        if kind == "missing_first_kept":
            compaction = f"x-{state_seq + 41}"
            return [
                {"type": "compaction", "id": compaction, "parent_id": tip,
                 "timestamp": TIMESTAMP, "summary": "summary by another writer",
                 "first_kept_entry_id": f"gone-{state_seq}", "tokens_before": 7},
                {"type": "leaf", "id": base, "parent_id": compaction, "timestamp": TIMESTAMP,
                 "entry_id": compaction},
            ], "COORD-022"
        message = f"x-{state_seq + 41}"
        return [
            {"type": "message", "id": message, "parent_id": tip, "timestamp": TIMESTAMP,
             "message": {"role": "user", "content": [{"type": "text", "text": "from elsewhere"}],
                         "timestamp_ms": 9}},
            {"type": "leaf", "id": base, "parent_id": message, "timestamp": TIMESTAMP,
             "entry_id": message},
        ], "COORD-023"

    # -- helpers -------------------------------------------------------------------------------

    def _cut_rule(self, op: Operation) -> str | None:
        """The cut policy's rule for a compaction (COORD-104 count tail, COORD-105 token
        budget), None for any other operation."""
        if not isinstance(op, Compact):
            return None
        return "COORD-104" if self.settings.get("policy") == "count_tail" else "COORD-105"

    def _result_requirement(self, op: Operation, got: Any, want: Any) -> str:
        """The rule an operation's result is judged by: its own (COORD-010, COORD-031, ...),
        except a compaction that cut where the model does not (another first kept entry, or
        a cut where the policy finds no valid one), which breaks the cut policy's rule
        (COORD-104 count tail, COORD-105 token budget), and ids that differ only in their
        numbers (COORD-004)."""
        if self._ids("", got, want):
            return "COORD-004"
        if isinstance(op, Compact) and isinstance(got, tuple) and (
            want is None or (isinstance(want, tuple) and got[1] != want[1])
        ):
            return self._cut_rule(op) or OP_REQUIREMENT[type(op)]
        return OP_REQUIREMENT[type(op)]

    def _accepted(self, op: Operation, expected: Expected) -> None:
        """An acknowledged operation, however it was sent (normal, or a crash or fault that
        did not strike): the model moves on, and a fork must be there."""
        self.log = expected.after
        if isinstance(op, Turn) and not op.messages:
            # What the next check finds wrong is about the empty turn (COORD-014).
            self.cause = self.cause or "COORD-014"
        if expected.fork_entries is not None:
            self._check_fork(op, expected.fork_entries, must_exist=True)

    def _leaf_refusal(self, op: MoveLeaf) -> str:
        """COORD-044 for a content entry the model refuses (an unanswered tool call on the
        branch), COORD-040 for an id that is no content entry."""
        content = any(
            e.get("id") == op.target and e.get("type") in ("message", "compaction")
            for e in self.log
        )
        return "COORD-044" if content else "COORD-040"

    def _answered(self, op: Operation, reply: Reply) -> bool:
        """An answer the protocol allows for a declared command (CONF-030): not ``errored``,
        not ``skipped``."""
        require("CONF-030", reply.status not in ("errored", "skipped"),
                f"{_name(op)}: the harness answered {reply.describe()}"
                + (f" {reply.context}" if reply.context else ""))
        return reply.status not in ("errored", "skipped")

    def _settle(
        self, after: Log, requirement: str, *, acknowledged: bool = False,
        outcomes: Sequence[str] | None = None, batch_requirement: str | None = None,
        cut_rule: str | None = None,
    ) -> None:
        """After a crash or a failed cut-back: the state is the log before or after (the
        acceptable outcomes, README rule 4: both, unless acknowledged or a case narrows).
        A file holding part of the operation's batch is charged to the operation's own rule
        (``batch_requirement``: COORD-010 for a turn): its batch was not atomic. A file that
        is the compaction's outcome but for its cut is the cut policy's (``cut_rule``)."""
        allowed = set(outcomes or ("before", "after"))
        seen = self.observe()
        before_ok = "before" in allowed and not acknowledged and self.matches(seen, self.log)
        after_ok = "after" in allowed and self.matches(seen, after)
        durable: Log | None = None
        if self.has(Capability.COORDINATOR_FORMAT):
            durable = self.in_model_ids(self.read_log(self.session_id), self.log, after)
            before_ok = before_ok and durable == self.log
            after_ok = after_ok and durable == after
        if batch_requirement is not None and part_of_batch(durable, self.log, after):
            requirement = batch_requirement
        elif cut_rule is not None and another_cut(durable, self.log, after):
            requirement = cut_rule
        elif not (before_ok or after_ok):
            candidates = [self.log] if "before" in allowed and not acknowledged else []
            candidates += [after] if "after" in allowed else []
            requirement = self._unsettled(requirement, seen, durable, candidates)
        require(
            requirement,
            before_ok or after_ok,
            "after the crash the session is neither the state before nor the state after"
            + (" (the operation was acknowledged)" if acknowledged else ""),
        )
        self.log = after if after_ok else self.log
        self.failed = False
        self.pending_after = None
        self.pending_requirement = None
        self.pending_cut_rule = None
        self.cause = requirement
        self.resumed = True

    def _refused(self, op: Operation) -> None:
        before = self.read_log(self.session_id) if self.has(Capability.COORDINATOR_FORMAT) else None
        reply = self._send(op)
        require("COORD-001", reply.status == "rejected"
                and reply.error_type == "illegal_transition",
                f"{_name(op)} must be refused in a failed or closed coordinator; got "
                f"{reply.describe()}")
        if before is not None:
            require("COORD-001", self.read_log(self.session_id) == before,
                    "a refused operation wrote")

    def _twin(self, op: Operation, expected: Expected) -> None:
        """The twin gets the same operation and must decide the same (COORD-020)."""
        if self.twin is None:
            return
        reply = self._send(op, self.twin)
        if not expected.accepted:
            require("COORD-020", reply.status == "rejected",
                    "the twin accepted what the coordinator refused")
            return
        got = self._result(op, reply) if reply.ok else None
        want = self._expected_result(op, expected)
        # The twin's ids are its own: without exact ids, up to a renumbering (CONF-161).
        require(self._ids("COORD-020", got, want), reply.ok and self.same_up_to_ids(got, want),
                f"the twin decided differently: {reply.describe()}")

    def _check_fork(self, op: Operation, entries: Log, *, must_exist: bool) -> None:
        assert isinstance(op, Fork)
        if self.has(Capability.COORDINATOR_FORMAT):
            reply = self.conn.call("coordinator.read_log", session_id=op.session_id)
            if reply.error_type == "not_found":
                require("COORD-050", not must_exist, "an acknowledged fork is missing")
                return
            require("COORD-050", reply.ok and reply.result.get("clean", True),
                    f"a visible fork is damaged: {reply.describe()}")
            require("COORD-050", reply.result.get("parent_session") == self.session_id,
                    "the fork does not name its parent session")
            found = self.in_model_ids(tuple(reply.result.get("entries") or ()), entries,
                                      session=op.session_id) or ()
            require(fork_requirement(found, entries), found == entries,
                    "the fork's content differs from the model")
            self.forks[op.session_id] = entries
            return
        opened = self.conn.call("coordinator.open", handle="fork", session_id=op.session_id,
                                config=self.settings, model=MODEL)
        if opened.error_type == "not_found":
            require("COORD-050", not must_exist, "an acknowledged fork is missing")
            return
        require("COORD-050", opened.ok, f"opening the fork: {opened.describe()}")
        seen = self.observe("fork")
        if seen is not None:
            model = self.model_view(entries)
            require("COORD-050", self._summaryless(seen["context"])
                    == self._summaryless(model["context"]),
                    "the fork's context differs from the source's active branch")
            require("COORD-051", seen["usage"] == model["usage"],
                    "the fork counts usage its parent already counted")
        self.conn.call("coordinator.close", handle="fork")
        self.forks[op.session_id] = entries



def _name(op: Operation) -> str:
    return str(operation_to_json(op)["op"])


def _suffix(entry_id: Any) -> int:
    text = str(entry_id)
    _, _, tail = text.partition("-")
    digits = tail.split("/")[0]
    return int(digits) if digits.isdigit() else 0
