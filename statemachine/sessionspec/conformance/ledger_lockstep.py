"""The token ledger's lock step: any ledger vs the reference model (spec §7.3).

The Hypothesis machine (:mod:`.ledger_machine`) draws the operations; everything it checks is
here, with no Hypothesis, so a saved trace replays without it (:func:`run_steps`, CONF-073).
The machine reaches an implementation only through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``ledger.*`` commands of
``spec/PROTOCOL.md``; CONF-125): each ledger is a
:class:`~sessionspec.conformance.conversation_driver.ProtocolLedger`. It keeps a pool of
ledgers, each paired with its :class:`~sessionspec.reference.ledger.RefLedger`: records reuse
a small pool of request ids (so duplicates and conflicts happen), ledgers are copied (a fork)
and merged (a report across forks), and after each merge ``diff(a, merge(a, b))`` is compared
with the model's; ``diff`` is also taken between any two ledgers, where the model may refuse
it.

Checks (each names its requirement, CONF-060). A record must count, or not, as the model does
and be refused with ``ledger_conflict`` exactly when the model sees a conflict: STATE-033
for a record with a request id, STATE-030 without one. A merge is STATE-031 (STATE-033 when
the two ledgers share a request, or the model refuses the merge); a diff STATE-032. After
every step every ledger's totals by ``(source, model)`` must be the model's, charged to the
step's rule (a copy to STATE-031: it is a merge into the empty ledger). A ledger that
differs from its model once (the failure recorded and masked, CONF-061) leaves the pool, so
one defect is reported under its own requirement, not under everything that follows from it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.conformance import checks
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.checks import holds, require
from sessionspec.conformance.conversation_driver import LedgerRefusal, ProtocolLedger
from sessionspec.reference import ledger as ref

__all__ = ["CONFLICT", "DECREASE", "MAX_LEDGERS", "LedgerLockstep", "run_steps"]

MAX_LEDGERS = 5
CONFLICT = "LedgerConflictError"
DECREASE = "LedgerDecreaseError"


def _model_totals(model: ref.RefLedger) -> dict[tuple[str, str], tuple[int, ...]]:
    return {(s, m): c for s, m, c in ref.ref_totals(model)}


class LedgerLockstep:
    """Token ledgers of the implementation and their models, in lock step (no Hypothesis:
    :class:`~.ledger_machine.LedgerMachine` draws the operations, :func:`run_steps` replays
    a recorded trace)."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        self.pool: list[tuple[ProtocolLedger, ref.RefLedger]] = []
        #: Ledgers made by ``diff`` are checked once and dropped (they join no merge).
        self.made: list[ProtocolLedger] = []
        self.step_requirement = "STATE-030"
        self.trace: list[dict[str, Any]] = [{"op": "start"}]
        checks.current().trace = self.trace

    def _step(self, requirement: str, **step: Any) -> None:
        self.step_requirement = requirement
        self.trace.append(step)

    def start(self) -> None:
        self.pool.append((ProtocolLedger.new(self.conn), ref.RefLedger()))

    def record(
        self, index: int, source: str, model: str, counts: ref.Counters, request: str | None
    ) -> None:
        slot = index % len(self.pool)
        subject, value = self.pool[slot]
        requirement = "STATE-030" if request is None else "STATE-033"
        self._step(
            requirement,
            op="record",
            on=slot,
            source=source,
            model=model,
            counts=list(counts),
            request=request,
        )
        verdict = ref.ref_record(value, source, model, counts, request)
        try:
            counted = subject.record(source, model, counts, request)
        except LedgerRefusal as refusal:
            require(
                requirement,
                verdict == "conflict" and refusal.error_class == CONFLICT,
                f"record of {request} refused with {refusal.error_class}, the model "
                f"{'refuses with ' + CONFLICT if verdict == 'conflict' else 'accepts it'}",
            )
            return
        if not holds(
            requirement,
            verdict != "conflict",
            f"request {request} counted twice with different usage",
        ):
            self._retire(slot)
        elif isinstance(verdict, ref.RefLedger):
            expected = verdict != value
            self.pool[slot] = (subject, verdict)
            if not holds(
                requirement,
                counted is expected,
                f"record answered counted={counted}, the model {expected}",
            ):
                self._retire(slot)
        elif not holds(requirement, counted is False, f"a duplicate request {request} was counted"):
            self._retire(slot)

    def fork(self, index: int) -> None:
        slot = index % len(self.pool)
        subject, value = self.pool[slot]
        self._step("STATE-031", op="copy", on=slot)
        try:
            copy = subject.copy()
        except LedgerRefusal as refusal:
            require("STATE-031", False, f"copy refused with {refusal.error_class}")
            return
        self.pool.append((copy, value))

    def merge(self, first: int, second: int) -> None:
        a, ra = self.pool[first % len(self.pool)]
        b, rb = self.pool[second % len(self.pool)]
        shared = {r for r, _ in ra.requests} & {r for r, _ in rb.requests}
        requirement = "STATE-033" if shared else "STATE-031"
        self._step(
            requirement, op="merge", on=first % len(self.pool), other=second % len(self.pool)
        )
        merged = ref.ref_merge(ra, rb)
        try:
            result = a.merge(b)
        except LedgerRefusal as refusal:
            require(
                "STATE-033",
                merged is None and refusal.error_class == CONFLICT,
                f"merge refused with {refusal.error_class}, the model "
                f"{'refuses with ' + CONFLICT if merged is None else 'merges'}",
            )
            return
        self.made.append(result)
        require("STATE-033", merged is not None, "merged two ledgers that disagree on a request")
        if merged is None:  # the check is masked (CONF-061): nothing to compare with
            return
        got = result.totals()
        if not holds(
            requirement,
            got == _model_totals(merged),
            f"merge totals {got}, the model {_model_totals(merged)}",
        ):
            return
        delta = ref.ref_diff(ra, merged)
        assert delta is not None  # a merge always extends its first ledger
        self._diff(a, result, delta)
        if len(self.pool) < MAX_LEDGERS:
            self.made.remove(result)
            self.pool.append((result, merged))

    def diff(self, first: int, second: int) -> None:
        before, rb = self.pool[first % len(self.pool)]
        after, ra = self.pool[second % len(self.pool)]
        self._step(
            "STATE-032", op="diff", before=first % len(self.pool), after=second % len(self.pool)
        )
        self._diff(before, after, ref.ref_diff(rb, ra))

    def _diff(
        self, before: ProtocolLedger, after: ProtocolLedger, delta: ref.RefLedger | None
    ) -> None:
        try:
            result = before.diff(after)
        except LedgerRefusal as refusal:
            require(
                "STATE-032",
                delta is None and refusal.error_class == DECREASE,
                f"diff refused with {refusal.error_class}, the model "
                f"{'refuses with ' + DECREASE if delta is None else 'accepts it'}",
            )
            return
        self.made.append(result)
        require(
            "STATE-032",
            delta is not None,
            "diff(before, after) answered although after does not extend before",
        )
        if delta is not None:
            got = result.totals()
            require(
                "STATE-032",
                got == _model_totals(delta),
                f"diff totals {got}, the model {_model_totals(delta)}",
            )

    def totals_agree(self) -> None:
        diverged = [
            slot
            for slot, (subject, value) in enumerate(self.pool)
            if not holds(
                self.step_requirement,
                subject.totals() == _model_totals(value),
                f"ledger {slot}: totals {subject.totals()}, the model {_model_totals(value)}",
            )
        ]
        for slot in reversed(diverged):
            self._retire(slot)

    def _retire(self, slot: int) -> None:
        """Leave a ledger that no longer matches its model (its failure is recorded and
        masked, CONF-061): every later check on it would fail in consequence."""
        subject, _ = self.pool.pop(slot)
        self.made.append(subject)
        if not self.pool:
            self.pool.append((ProtocolLedger.new(self.conn), ref.RefLedger()))

    def teardown(self) -> None:
        for subject in [s for s, _ in self.pool] + self.made:
            with contextlib.suppress(Exception):  # a broken harness is reported elsewhere
                subject.drop()


def run_steps(connection: Connection, steps: Sequence[Mapping[str, Any]]) -> None:
    """Replay a trace the machine recorded (a saved case, CONF-062), checking every step.

    Each step names its ledgers by their slots in the pool, so the rules are called with
    those slots as their indexes.
    """
    machine = LedgerLockstep(connection)
    try:
        machine.start()
        machine.totals_agree()
        for step in steps[1:]:
            op = step["op"]
            if op == "record":
                inputs, outputs, cache_read, cache_write, reasoning = map(int, step["counts"])
                machine.record(
                    index=int(step["on"]),
                    source=str(step["source"]),
                    model=str(step["model"]),
                    counts=(inputs, outputs, cache_read, cache_write, reasoning),
                    request=step.get("request"),
                )
            elif op == "copy":
                machine.fork(index=int(step["on"]))
            elif op == "merge":
                machine.merge(first=int(step["on"]), second=int(step["other"]))
            elif op == "diff":
                machine.diff(first=int(step["before"]), second=int(step["after"]))
            else:
                raise ValueError(f"unknown ledger step {op!r}")
            machine.totals_agree()
    finally:
        machine.teardown()
