"""An implementation that behaves as opi's ``SessionCoordinator`` does (research/seeds.md §1).

:class:`OpiCoordinator` is sessionspec's runtime coordinator with some of opi's documented
behaviours put back, each one a :class:`OpiQuirk` that names the requirement of
spec/SPEC.md §9 it departs from. A profile with every quirk behaves as opi; a profile with one
quirk is a single-defect implementation, which the suite must catch by exactly that
requirement id and nothing else (CONF-050). Nothing here is used by the runtime: these are
test subjects, shipped so that anyone can see what the suite reports against a seed.

Each quirk reproduces the seed's order of effects, not its code:

* ``TIP_BEFORE_WRITE`` (COORD-002): ``append_leaf`` moves the tip, then writes.
* ``USAGE_BEFORE_WRITE`` (COORD-002): ``on_turn_end`` counts the usage, then writes.
* ``ENTRY_PER_WRITE`` (COORD-010): one append per message and one for the leaf, so a failure
  or a crash in the middle leaves the first messages of the turn in the file.
* ``NO_FAILED_STATE`` (COORD-012): a write that could not be undone is reported as an ordinary
  failed write; the coordinator reopens its file and goes on.
* ``PROCESS_GLOBAL_IDS`` (COORD-004): one id counter for the whole process.
* ``EMPTY_TURN_NOT_WRITTEN`` (COORD-014): a turn without messages writes nothing (its usage
  lives in memory only).
* ``RESUME_RECONSTRUCTS_FIGURES`` (COORD-020): on resume the figures are rebuilt from the
  active branch (usage of its assistant messages, one turn per user message, the watermark at
  the total), ignoring the accounting records.
* ``DANGLING_LEAF_EMPTIES_CONTEXT`` (COORD-021): a last leaf whose target is missing selects
  an empty branch.
* ``MISSING_FIRST_KEPT_DROPS_BUFFER`` (COORD-022): a compaction whose first kept entry is
  missing keeps nothing behind its summary.
* ``LEAF_WITHOUT_CHECK`` (COORD-040): ``append_leaf`` writes a leaf to any id.
* ``FORK_KEEPS_PARENT_USAGE`` (COORD-051): a fork counts the parent's usage again.
* ``U32_TOTALS`` (COORD-061): the usage totals it reports wrap at 2^32.
* ``PAIR_BLIND_CUT`` (COORD-104): the count cut keeps the last ``max(1, n // 4)`` items
  wherever that falls, across a tool call and its results.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from sessionspec.compaction import (
    CompactionConfig,
    CompactionPlan,
    CompactionReason,
    CountTailPolicy,
    Summarizer,
    core_summary,
    estimate_tokens,
)
from sessionspec.errors import AppendFailedError, LogFailedError, StorageError
from sessionspec.pricing import PricingTable
from sessionspec.redaction import RedactionPolicy
from sessionspec.reference.coordinator import (
    ACCOUNTING_FIELD,
    NO_TIP,
    Figures,
    leaf_entry,
    seq_of,
    summary_slot_id,
)
from sessionspec.runtime.coordinator import (
    ForkResult,
    SessionCoordinator,
    _Memory,
    _normalize_message,
    _normalize_usage,
    _replay,
    _select_active_branch,
    iso_timestamp,
)
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog, read_log
from sessionspec.storage.log import Durability
from sessionspec.tables.coordinator import CoordinatorEvent
from sessionspec.wire.messages import Usage, WireModel

__all__ = ["QUIRK_REQUIREMENTS", "OpiCoordinator", "OpiQuirk", "opi_coordinator_class"]

_U32 = 2**32


class OpiQuirk(enum.Enum):
    """One documented opi behaviour (research/seeds.md §1)."""

    TIP_BEFORE_WRITE = "tip_before_write"
    USAGE_BEFORE_WRITE = "usage_before_write"
    ENTRY_PER_WRITE = "entry_per_write"
    NO_FAILED_STATE = "no_failed_state"
    PROCESS_GLOBAL_IDS = "process_global_ids"
    EMPTY_TURN_NOT_WRITTEN = "empty_turn_not_written"
    RESUME_RECONSTRUCTS_FIGURES = "resume_reconstructs_figures"
    DANGLING_LEAF_EMPTIES_CONTEXT = "dangling_leaf_empties_context"
    MISSING_FIRST_KEPT_DROPS_BUFFER = "missing_first_kept_drops_buffer"
    LEAF_WITHOUT_CHECK = "leaf_without_check"
    FORK_KEEPS_PARENT_USAGE = "fork_keeps_parent_usage"
    U32_TOTALS = "u32_totals"
    PAIR_BLIND_CUT = "pair_blind_cut"

    @property
    def requirement(self) -> str:
        """The requirement id of spec/SPEC.md §9 this behaviour departs from."""
        return QUIRK_REQUIREMENTS[self]


QUIRK_REQUIREMENTS: dict[OpiQuirk, str] = {
    OpiQuirk.TIP_BEFORE_WRITE: "COORD-002",
    OpiQuirk.USAGE_BEFORE_WRITE: "COORD-002",
    OpiQuirk.ENTRY_PER_WRITE: "COORD-010",
    OpiQuirk.NO_FAILED_STATE: "COORD-012",
    OpiQuirk.PROCESS_GLOBAL_IDS: "COORD-004",
    OpiQuirk.EMPTY_TURN_NOT_WRITTEN: "COORD-014",
    OpiQuirk.RESUME_RECONSTRUCTS_FIGURES: "COORD-020",
    OpiQuirk.DANGLING_LEAF_EMPTIES_CONTEXT: "COORD-021",
    OpiQuirk.MISSING_FIRST_KEPT_DROPS_BUFFER: "COORD-022",
    OpiQuirk.LEAF_WITHOUT_CHECK: "COORD-040",
    OpiQuirk.FORK_KEEPS_PARENT_USAGE: "COORD-051",
    OpiQuirk.U32_TOTALS: "COORD-061",
    OpiQuirk.PAIR_BLIND_CUT: "COORD-104",
}

#: opi's ``static ENTRY_SEQ``: the next id number, shared by every coordinator of the process.
_process_next = [1]


def _take_process_seq(at_least: int) -> int:
    """The process counter, first raised to ``at_least`` (opi's ``fetch_max`` on open)."""
    _process_next[0] = max(_process_next[0], at_least)
    return _process_next[0]


class OpiCoordinator(SessionCoordinator):
    """sessionspec's coordinator with the quirks in :attr:`quirks` (a subclass sets them)."""

    quirks: ClassVar[frozenset[OpiQuirk]] = frozenset(OpiQuirk)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def _open(
        cls,
        path: str | os.PathLike[str],
        compaction_config: CompactionConfig | None,
        model: str | None,
        fs: FileSystem,
        durability: Durability,
        redaction: RedactionPolicy | None,
        pricing: PricingTable | None,
        summarizer: Summarizer | None,
        clock: Callable[[], float],
    ) -> SessionCoordinator:
        coordinator = super()._open(
            path,
            compaction_config,
            model,
            fs,
            durability,
            redaction,
            pricing,
            summarizer,
            clock,
        )
        assert isinstance(coordinator, OpiCoordinator)
        replay_quirks = {
            OpiQuirk.RESUME_RECONSTRUCTS_FIGURES,
            OpiQuirk.DANGLING_LEAF_EMPTIES_CONTEXT,
            OpiQuirk.MISSING_FIRST_KEPT_DROPS_BUFFER,
        }
        if cls.quirks & replay_quirks:
            entries = [r.entry for r in read_log(os.fspath(path), fs=fs).records]
            coordinator._memory = _opi_replay(entries, coordinator._memory, cls.quirks)
        coordinator._adopt_process_seq()
        return coordinator

    def _adopt_process_seq(self) -> None:
        if OpiQuirk.PROCESS_GLOBAL_IDS in self.quirks:
            memory = self._memory
            seq = _take_process_seq(memory.next_seq)
            self._memory = memory.moved(memory.tip, memory.figures, seq)

    def _sync_process_seq(self) -> None:
        """Before an operation takes ids: continue the process counter (COORD-004 quirk)."""
        if OpiQuirk.PROCESS_GLOBAL_IDS in self.quirks:
            self._adopt_process_seq()

    def _publish_process_seq(self) -> None:
        if OpiQuirk.PROCESS_GLOBAL_IDS in self.quirks:
            _process_next[0] = max(_process_next[0], self._memory.next_seq)

    # -- observation -----------------------------------------------------------------------

    @property
    def figures(self) -> Figures:
        figures = self._memory.figures
        if OpiQuirk.U32_TOTALS not in self.quirks:
            return figures
        # opi's CumulativeUsage::as_usage casts each u64 total to u32.
        return dataclasses.replace(
            figures,
            input_tokens=figures.input_tokens % _U32,
            output_tokens=figures.output_tokens % _U32,
            cache_read_tokens=figures.cache_read_tokens % _U32,
            cache_write_tokens=figures.cache_write_tokens % _U32,
        )

    # -- turns -----------------------------------------------------------------------------

    def on_turn_end(
        self,
        new_messages: Sequence[WireModel | Mapping[str, Any]],
        usage: Usage | Mapping[str, Any] | None = None,
    ) -> CompactionReason | None:
        self._lifecycle.check(CoordinatorEvent.TURN_END)
        self._sync_process_seq()
        messages = [_normalize_message(m) for m in new_messages]
        batch, memory = self._plan_turn(messages, _normalize_usage(usage))
        if OpiQuirk.USAGE_BEFORE_WRITE in self.quirks:
            self._memory = self._memory.moved(
                self._memory.tip, memory.figures, self._memory.next_seq
            )
        if OpiQuirk.EMPTY_TURN_NOT_WRITTEN in self.quirks and not messages:
            current = self._memory
            self._memory = current.moved(current.tip, memory.figures, current.next_seq)
            return self._commit_turn(memory)
        if OpiQuirk.ENTRY_PER_WRITE in self.quirks:
            for entry in batch:
                self._persist([entry])
        else:
            self._persist(batch)
        self._memory = memory
        self._publish_process_seq()
        return self._commit_turn(memory)

    # -- compaction ------------------------------------------------------------------------

    def execute_compaction(self, reason: CompactionReason | str) -> Any:
        self._lifecycle.check(CoordinatorEvent.COMPACTION)
        self._sync_process_seq()
        result = super().execute_compaction(reason)
        self._publish_process_seq()
        return result

    def _plan(self, reason: CompactionReason) -> CompactionPlan | None:
        if OpiQuirk.PAIR_BLIND_CUT not in self.quirks or not isinstance(
            self._config.policy, CountTailPolicy
        ):
            # opi has only its count cut: another configured policy is not opi's (COORD-106).
            return super()._plan(reason)
        items = self.compaction_entries()
        n = len(items)
        if n < 2:
            return None
        cut = n - max(1, n // 4)
        if items[cut].message is None:  # opi never keeps its own summary first either
            return super()._plan(reason)
        return CompactionPlan(
            reason=reason,
            summary=core_summary(items[:cut]),
            summary_source="core",
            first_kept_index=cut,
            first_kept_entry_id=items[cut].id,
            tokens_before=sum(estimate_tokens(i) for i in items),
            tokens_after=sum(estimate_tokens(i) for i in items[cut:]),
        )

    # -- leaves, extension state, forks ------------------------------------------------------

    def append_leaf(self, entry_id: str) -> None:
        self._lifecycle.check(CoordinatorEvent.LEAF_MOVE)
        self._sync_process_seq()
        quirks = self.quirks
        if OpiQuirk.LEAF_WITHOUT_CHECK in quirks and not self._is_content(entry_id):
            # opi: any id becomes the tip; the buffer stays as it was.
            memory = self._memory
            leaf = leaf_entry(
                memory.next_seq, entry_id, memory.figures, iso_timestamp(self._clock())
            )
            leaf["parent_id"] = entry_id
            self._persist([leaf])
            self._memory = memory.moved(entry_id, memory.figures, memory.next_seq + 1)
            self._publish_process_seq()
            self._commit(CoordinatorEvent.LEAF_MOVE)
            self._settle_due()  # as the runtime: the context changed (COORD-037)
            return
        batch, memory = self._plan_leaf_move(entry_id)
        if OpiQuirk.TIP_BEFORE_WRITE in quirks:
            self._memory = self._memory.moved(
                memory.tip, self._memory.figures, self._memory.next_seq
            )
        self._persist(batch)
        self._memory = memory
        self._publish_process_seq()
        self._commit(CoordinatorEvent.LEAF_MOVE)
        self._settle_due()  # as the runtime: the context changed (COORD-037)

    def _is_content(self, entry_id: str) -> bool:
        if entry_id == self._memory.tip:
            return True
        entries = [r.entry for r in read_log(self.session_path, fs=self._fs).records]
        return any(
            e.get("id") == entry_id and e.get("type") in ("message", "compaction") for e in entries
        )

    def append_extension_state(self, state: Any) -> str:
        self._lifecycle.check(CoordinatorEvent.EXTENSION_STATE)
        self._sync_process_seq()
        entry_id = super().append_extension_state(state)
        self._publish_process_seq()
        return entry_id

    def fork(
        self, *, dir: str | os.PathLike[str] | None = None, session_id: str | None = None
    ) -> ForkResult:
        result = super().fork(dir=dir, session_id=session_id)
        if OpiQuirk.FORK_KEEPS_PARENT_USAGE in self.quirks and self._memory.figures != Figures():
            # The fork's accounting starts at the parent's figures: forks count usage twice.
            entries = [r.entry for r in read_log(result.path, fs=self._fs).records]
            seq = 1 + max((seq_of(str(e.get("id"))) for e in entries), default=0)
            leaf = leaf_entry(
                seq, self._memory.tip, self._memory.figures, iso_timestamp(self._clock())
            )
            try:
                log = JsonlLog.open(result.path, fs=self._fs)
            except (StorageError, OSError):
                return result  # the fork stays as written, with its own (zero) figures
            try:
                log.append([leaf])
            except (StorageError, OSError):
                pass
            finally:
                log.close()
        return result

    # -- failures ------------------------------------------------------------------------------

    def _persist(self, batch: list[dict[str, Any]]) -> None:
        if OpiQuirk.NO_FAILED_STATE not in self.quirks:
            super()._persist(batch)
            return
        try:
            self._head = self._log.append(batch, expected_head=self._head)
        except LogFailedError as error:
            # opi's writer has no failed state: it reopens its file and goes on.
            self._log.close()
            try:
                self._log = JsonlLog.open(self.session_path, fs=self._fs)
            except (StorageError, OSError):
                raise error from None
            self._head = self._log.head
            raise AppendFailedError(str(error)) from error


def _opi_replay(
    entries: Sequence[Mapping[str, Any]], memory: _Memory, quirks: frozenset[OpiQuirk]
) -> _Memory:
    """Memory after a resume under opi's replay rules (research/seeds.md §1.5, §1.7)."""
    branch = _select_active_branch(entries)
    chain = list(branch.chain)
    leaves = [e for e in entries if e.get("type") == "leaf" and e.get("entry_id") != NO_TIP]
    content_ids = {str(e.get("id")) for e in entries if e.get("type") in ("message", "compaction")}
    emptied = False
    if (
        OpiQuirk.DANGLING_LEAF_EMPTIES_CONTEXT in quirks
        and leaves
        and leaves[-1].get("entry_id") not in content_ids
    ):
        chain = []  # opi M1: the last leaf's target is missing, so the branch is empty
        emptied = True
    # Memory is rebuilt only where a quirk changes it: otherwise it stays the runtime's own
    # (a rebuilt memory loses what the context-size trigger measures, a difference of its own).
    if emptied or (
        OpiQuirk.MISSING_FIRST_KEPT_DROPS_BUFFER in quirks and _first_kept_missing(chain)
    ):
        items = _opi_buffer(chain, memory, quirks)
        tip = str(chain[-1].get("id")) if chain else None
        memory = _Memory.of(items, tip, memory.figures, memory.next_seq)
    if OpiQuirk.RESUME_RECONSTRUCTS_FIGURES in quirks:
        # Usage of the branch's assistant messages, a turn per user message, and the
        # watermark at the total: what opi's open_existing computes.
        counters = [0, 0, 0, 0]
        turns = 0
        for entry in chain:
            message = entry.get("message")
            if entry.get("type") != "message" or not isinstance(message, Mapping):
                continue
            if message.get("role") == "user":
                turns += 1
            elif message.get("role") == "assistant":
                usage = message.get("usage") or {}
                for index, name in enumerate(
                    ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
                ):
                    value = usage.get(name, 0)
                    counters[index] += value if isinstance(value, int) else 0
        inp, out, cache_read, cache_write = counters
        figures = Figures(inp, out, cache_read, cache_write, turns, sum(counters))
        memory = memory.moved(memory.tip, figures, memory.next_seq)
    return memory


def _first_kept_missing(chain: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a compaction of ``chain`` names a first kept entry not before it (COORD-022)."""
    seen: set[str] = set()
    for entry in chain:
        if entry.get("type") == "compaction" and entry.get("first_kept_entry_id") not in seen:
            return True
        seen.add(str(entry.get("id")))
    return False


def _opi_buffer(
    chain: Sequence[Mapping[str, Any]], memory: _Memory, quirks: frozenset[OpiQuirk]
) -> list[Any]:
    """The compaction buffer of ``chain``; a compaction whose first kept entry is missing
    keeps nothing with the quirk, everything without it (COORD-022)."""
    if not chain:
        return []
    replayed = _replay([*chain, _leaf_at(chain[-1])], None).memory
    if OpiQuirk.MISSING_FIRST_KEPT_DROPS_BUFFER not in quirks:
        return list(replayed.items)
    items = list(replayed.items)
    seen: list[str] = []
    for entry in chain:
        entry_id = str(entry.get("id"))
        if entry.get("type") == "message":
            seen.append(entry_id)
            continue
        first_kept = entry.get("first_kept_entry_id")
        if first_kept in seen:
            seen = [summary_slot_id(entry_id), *seen[seen.index(first_kept) :]]
        else:
            seen = [summary_slot_id(entry_id)]
    by_id = {item.id: item for item in items}
    kept = [by_id[i] for i in seen if i in by_id]
    return kept


def _leaf_at(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "leaf",
        "id": "leaf-replay",
        "parent_id": entry.get("id"),
        "timestamp": "",
        "entry_id": entry.get("id"),
        ACCOUNTING_FIELD: Figures().to_json(),
    }


def opi_coordinator_class(quirks: frozenset[OpiQuirk]) -> type[OpiCoordinator]:
    """A coordinator class with exactly ``quirks``."""
    name = "Opi" + "".join(q.name.title().replace("_", "") for q in sorted(quirks, key=_order))
    return type(name, (OpiCoordinator,), {"quirks": frozenset(quirks)})


def _order(quirk: OpiQuirk) -> int:
    return list(OpiQuirk).index(quirk)
