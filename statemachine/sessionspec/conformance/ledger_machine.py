"""The token ledger's conformance machine: any ledger vs the reference model (spec §7.3).

Bound to an implementation through a factory returning an empty ledger object with
``record(source, model, usage, request_id)``, ``merge(other)``, ``copy()``,
``totals_by_key()`` and the static ``diff(before, after)`` (the interface of
:class:`~sessionspec.TokenLedger`). The machine keeps a pool of ledgers, each paired with
its :class:`~sessionspec.reference.ledger.RefLedger`: records reuse a small pool of request
ids (so duplicates and conflicts happen), ledgers are copied (a fork) and merged (a
report across forks), and after each merge ``diff(a, merge(a, b))`` is compared with the
model's. A refusal must be the model's: ``LedgerConflictError`` for a request id with two
usages, ``LedgerDecreaseError`` never after a merge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sessionspec.errors import LedgerConflictError
from sessionspec.reference import ledger as ref

__all__ = ["LedgerFactory", "LedgerMachine"]

LedgerFactory = Callable[[], Any]
MAX_LEDGERS = 5
_COUNTS = st.tuples(*(st.integers(0, 20) for _ in range(5)))


def _totals(subject: Any) -> dict[tuple[str, str], tuple[int, ...]]:
    return {key: counts.as_tuple() for key, counts in subject.totals_by_key().items()}


def _model_totals(model: ref.RefLedger) -> dict[tuple[str, str], tuple[int, ...]]:
    return {(s, m): c for s, m, c in ref.ref_totals(model)}


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, factory: LedgerFactory) -> None:
        super().__init__()
        self.factory = factory
        self.pool: list[tuple[Any, ref.RefLedger]] = []

    @initialize()
    def start(self) -> None:
        self.pool.append((self.factory(), ref.RefLedger()))

    @rule(
        index=st.integers(0, 99),
        source=st.sampled_from(("turn", "compaction")),
        model=st.sampled_from(("anthropic:claude-sonnet-4", "openai:gpt-4o")),
        counts=_COUNTS,
        request=st.sampled_from((None, None, "r1", "r2", "r3")),
    )
    def record(
        self, index: int, source: str, model: str, counts: ref.Counters, request: str | None
    ) -> None:
        slot = index % len(self.pool)
        subject, value = self.pool[slot]
        outcome = ref.ref_record(value, source, model, counts, request)
        usage = dict(zip(ref.COUNTERS, counts, strict=True))
        if outcome == "conflict":
            try:
                subject.record(source, model, usage, request)
            except LedgerConflictError:
                return
            raise AssertionError(f"request {request} counted twice with different usage")
        counted = subject.record(source, model, usage, request)
        if isinstance(outcome, ref.RefLedger):
            assert counted == (outcome != value), (counted, outcome, value)
            self.pool[slot] = (subject, outcome)
        else:
            assert counted is False, "a duplicate request was counted"

    @precondition(lambda self: len(self.pool) < MAX_LEDGERS)
    @rule(index=st.integers(0, 99))
    def fork(self, index: int) -> None:
        subject, value = self.pool[index % len(self.pool)]
        self.pool.append((subject.copy(), value))

    @rule(first=st.integers(0, 99), second=st.integers(0, 99))
    def merge(self, first: int, second: int) -> None:
        a, ra = self.pool[first % len(self.pool)]
        b, rb = self.pool[second % len(self.pool)]
        merged = ref.ref_merge(ra, rb)
        if merged is None:
            try:
                a.merge(b)
            except LedgerConflictError:
                return
            raise AssertionError("merged two ledgers that disagree on a request")
        result = a.merge(b)
        assert _totals(result) == _model_totals(merged)
        delta = ref.ref_diff(ra, merged)
        assert delta is not None
        assert _totals(type(a).diff(a, result)) == _model_totals(delta)
        if len(self.pool) < MAX_LEDGERS:
            self.pool.append((result, merged))

    @invariant()
    def totals_agree(self) -> None:
        for subject, value in self.pool:
            assert _totals(subject) == _model_totals(value)
