"""Factories that bind the conformance machine to the runtime, and three planted bugs.

The planted bugs are the defects the stateful test must find within the CI budget:
opi's pair-blind count cut, usage counted before the write, and the tip moved before the
write (opi's ``append_leaf``); and, from issue 7, memory that keeps unredacted originals,
leaf moves onto unanswered tool calls, settings forgotten on reopen, and cost at the
session's one model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.compaction import (
    CompactionConfig,
    CompactionPlan,
    CompactionReason,
    core_summary,
    estimate_tokens,
)
from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.coordinator_model import TIMESTAMP
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.pricing import PricingTable, attributed_usage, cost_of_rows
from sessionspec.reference.coordinator import leaf_entry
from sessionspec.runtime.coordinator import (
    SessionCoordinator,
    UnknownEntryError,
    _normalize_message,
    _normalize_usage,
    _replay,
)
from sessionspec.storage.jsonl import read_log
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
        return self._commit_turn(memory)


class TipBeforeWriteCoordinator(SessionCoordinator):
    """Planted bug: ``append_leaf`` moves the tip before writing (opi's order)."""

    def append_leaf(self, entry_id: str) -> None:
        self._lifecycle.check(CoordinatorEvent.LEAF_MOVE)
        batch, memory = self._plan_leaf_move(entry_id)
        self._memory = dataclasses.replace(self._memory, tip=memory.tip)  # planted
        self._persist(batch)
        self._memory = memory
        self._lifecycle.commit(CoordinatorEvent.LEAF_MOVE)


class OriginalInMemoryCoordinator(SessionCoordinator):
    """Planted bug (opi's rule, COORD-017 before issue 7): the file gets the redacted form
    and memory keeps the original, so the running context differs from the resumed one."""

    def _plan_turn(
        self, messages: Sequence[dict[str, Any]], counters: Mapping[str, int]
    ) -> tuple[list[dict[str, Any]], Any]:
        batch, memory = super()._plan_turn(messages, counters)
        originals = iter(messages)
        for index in range(memory.length - len(messages), memory.length):
            item = memory.store[index]
            memory.store[index] = dataclasses.replace(item, message=next(originals))
        return batch, memory


class UnpairedLeafCoordinator(SessionCoordinator):
    """Planted bug (opi's append_leaf, COORD-044): a leaf move onto a tool call whose
    results are not on the branch is accepted."""

    def _plan_leaf_move(self, entry_id: str) -> tuple[list[dict[str, Any]], Any]:
        memory = self._memory
        leaf = leaf_entry(memory.next_seq, entry_id, memory.figures, TIMESTAMP)
        leaf["parent_id"] = entry_id
        entries = [r.entry for r in read_log(self.session_path, fs=self._fs).records]
        if not any(e.get("id") == entry_id and e.get("type") != "leaf" for e in entries):
            raise UnknownEntryError(entry_id)
        replayed = _replay([*entries, leaf], None).memory  # planted: no COORD-044 check
        return [leaf], replayed.moved(replayed.tip, memory.figures, memory.next_seq + 1)


class ForgetfulSettingsCoordinator(SessionCoordinator):
    """Planted bug (COORD-027 before issue 7): a reopen without arguments takes the
    defaults instead of the settings in the file."""

    @classmethod
    def open_existing(
        cls, path: Any, compaction_config: CompactionConfig | None = None,
        model: str | None = None, **kwargs: Any,
    ) -> SessionCoordinator:
        return super().open_existing(
            path, compaction_config or CompactionConfig(), model or "", **kwargs
        )


class SessionModelCostCoordinator(SessionCoordinator):
    """Planted bug (opi's cost, COORD-062): every token priced at the session's one model."""

    def cost_summary(self) -> Any:
        table = self._pricing or PricingTable.default()
        return cost_of_rows(
            attributed_usage(
                (
                    self.figures.input_tokens,
                    self.figures.output_tokens,
                    self.figures.cache_read_tokens,
                    self.figures.cache_write_tokens,
                ),
                (),
                self.model,
            ),
            table,
            self.model,
        )
