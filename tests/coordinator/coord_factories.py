"""Factories that bind the conformance machine to the runtime, and three planted bugs.

The planted bugs are the defects the stateful test must find within the CI budget:
opi's pair-blind count cut, usage counted before the write, and the tip moved before the
write (opi's ``append_leaf``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.compaction import (
    CompactionPlan,
    CompactionReason,
    core_summary,
    estimate_tokens,
)
from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.runtime.coordinator import (
    SessionCoordinator,
    _normalize_message,
    _normalize_usage,
)
from sessionspec.tables.coordinator import CoordinatorEvent


def runtime_connection(
    cls: type[SessionCoordinator] = SessionCoordinator,
) -> InProcessConnection:
    """The runtime (or a planted bug) behind the protocol, in process, on a simulated fs."""
    return InProcessConnection(
        PythonHarness(runtime_implementation(coordinator_cls=cls), storage="sim")
    )


class SplitPairCoordinator(SessionCoordinator):
    """Planted bug: opi's cut, keep the last max(1, n // 4) items, blind to tool pairs."""

    def _plan(self, reason: CompactionReason) -> CompactionPlan | None:
        items = self.compaction_entries()
        n = len(items)
        if n < 2:
            return None
        k = n - max(1, n // 4)
        if items[k].message is None:
            return super()._plan(reason)
        return CompactionPlan(
            reason=reason,
            summary=core_summary(items[:k]),
            summary_source="core",
            first_kept_index=k,
            first_kept_entry_id=items[k].id,
            tokens_before=sum(estimate_tokens(i) for i in items),
            tokens_after=sum(estimate_tokens(i) for i in items[k:]),
        )


class UsageBeforeWriteCoordinator(SessionCoordinator):
    """Planted bug: the turn's usage is counted before the append (opi's order)."""

    def on_turn_end(
        self, new_messages: Sequence[Any], usage: Mapping[str, Any] | Any = None
    ) -> CompactionReason | None:
        self._lifecycle.check(CoordinatorEvent.TURN_END)
        messages = [_normalize_message(m) for m in new_messages]
        batch, memory = self._plan_turn(messages, _normalize_usage(usage))
        self._memory = dataclasses.replace(self._memory, figures=memory.figures)  # planted
        self._persist(batch)
        self._memory = memory
        return self._commit_turn(memory.figures)


class TipBeforeWriteCoordinator(SessionCoordinator):
    """Planted bug: ``append_leaf`` moves the tip before writing (opi's order)."""

    def append_leaf(self, entry_id: str) -> None:
        self._lifecycle.check(CoordinatorEvent.LEAF_MOVE)
        batch, memory = self._plan_leaf_move(entry_id)
        self._memory = dataclasses.replace(self._memory, tip=memory.tip)  # planted
        self._persist(batch)
        self._memory = memory
        self._lifecycle.commit(CoordinatorEvent.LEAF_MOVE)
