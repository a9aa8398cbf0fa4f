"""The token ledger's conformance machine: Hypothesis draws what the lock step checks.

:class:`LedgerMachine` draws records (a small pool of request ids, so duplicates and
conflicts happen), copies, merges and diffs over a pool of ledgers; every operation, its
checks and the trace it records are :class:`~.ledger_lockstep.LedgerLockstep`'s (spec §7.3,
CONF-125; the header there states the checks). A recorded trace replays through
:func:`~.ledger_lockstep.run_steps`, which needs no Hypothesis (CONF-073).
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.ledger_lockstep import MAX_LEDGERS, LedgerLockstep, run_steps
from sessionspec.reference import ledger as ref

__all__ = ["LedgerMachine", "run_steps"]

_COUNTS = st.tuples(*(st.integers(0, 20) for _ in range(5)))


class LedgerMachine(LedgerLockstep, RuleBasedStateMachine):
    """Lock-step conformance of token ledgers, through the protocol."""

    def __init__(self, connection: Connection) -> None:
        RuleBasedStateMachine.__init__(self)
        LedgerLockstep.__init__(self, connection)

    @initialize()
    def start(self) -> None:
        super().start()

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
        super().record(index, source, model, counts, request)

    @precondition(lambda self: len(self.pool) < MAX_LEDGERS)
    @rule(index=st.integers(0, 99))
    def fork(self, index: int) -> None:
        super().fork(index)

    @rule(first=st.integers(0, 99), second=st.integers(0, 99))
    def merge(self, first: int, second: int) -> None:
        super().merge(first, second)

    @rule(first=st.integers(0, 99), second=st.integers(0, 99))
    def diff(self, first: int, second: int) -> None:
        super().diff(first, second)

    @invariant()
    def totals_agree(self) -> None:
        super().totals_agree()
