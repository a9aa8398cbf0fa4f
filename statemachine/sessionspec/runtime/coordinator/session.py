"""The session coordinator's facade: :class:`SessionCoordinator`, one session's operations.

The rules and the theory of operation are in the package's header
(:mod:`sessionspec.runtime.coordinator`); the lifecycle table is
:data:`sessionspec.tables.coordinator.COORDINATOR_TABLE`. This module holds the operations
themselves, each as decide, persist, apply (COORD-002): the turn's hot path
(:meth:`SessionCoordinator.on_turn_end`), compaction, leaf moves and extension state, forks,
and the persistence step every one of them shares (:meth:`SessionCoordinator._persist`).
What they read from the file is in :mod:`.replay` and :mod:`.branches`; what they take in is
normalized by :mod:`.messages`; construction's checks are in :mod:`.construction`.
"""

from __future__ import annotations

import functools
import os
import posixpath
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson

from sessionspec.collector import collector_paused
from sessionspec.compaction import (
    BufferItem,
    CompactionConfig,
    CompactionPlan,
    CompactionReason,
    CompactionTrigger,
    Summarizer,
    compaction_due_now,
    plan_compaction,
    should_compact,
)
from sessionspec.errors import CallerError, LogFailedError, StorageError
from sessionspec.lifecycle import Lifecycle
from sessionspec.pricing import (
    CostBreakdown,
    PricingTable,
    UsageRow,
    attributed_usage,
    cost_of_rows,
)
from sessionspec.redaction import RedactionPolicy, redact_owned
from sessionspec.reference.coordinator import (
    SUMMARY_SLOT_SUFFIX,
    Figures,
    compaction_entry,
    leaf_entry,
    message_entry,
    model_usage_of,
    settings_of,
    summary_slot_id,
)
from sessionspec.runtime.coordinator.branches import (
    fork_entries,
    memory_after_leaf,
    refuse_unanswered,
    write_fork,
)
from sessionspec.runtime.coordinator.construction import (
    check_config,
    check_new_arguments,
    check_redaction,
    create_session_log,
    directory_text,
    free_session_id,
    generate_session_id,
    resolve_settings,
)
from sessionspec.runtime.coordinator.memory import Memory
from sessionspec.runtime.coordinator.messages import (
    iso_timestamp,
    message_list,
    normalize_message,
    normalize_usage,
)
from sessionspec.runtime.coordinator.replay import replay
from sessionspec.runtime.coordinator.results import (
    CompactionResult,
    ForkResult,
    ResumeReport,
    WrittenEntries,
)
from sessionspec.settings import SETTINGS_FIELD, SessionSettings
from sessionspec.storage.files import FileSystem, OsFileSystem
from sessionspec.storage.jsonl import JsonlLog, ensure_directory, session_path, validate_session_id
from sessionspec.storage.log import Durability
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.storage.urls import is_store_url, open_log_at
from sessionspec.tables.coordinator import (
    COORDINATOR_TABLE,
    CoordinatorEvent,
    CoordinatorState,
)
from sessionspec.usage import CumulativeUsage
from sessionspec.wire.log import SessionHeader
from sessionspec.wire.messages import Usage, WireModel

__all__ = ["SessionCoordinator"]

_STATE_BY_NAME = {state.value: state for state in CoordinatorState}
#: The table's TURN_END rules, by the name of the source state (the turn's hot path).
_TURN_END_TARGETS = {
    state.value: target
    for (state, event), target in COORDINATOR_TABLE.transitions.items()
    if event is CoordinatorEvent.TURN_END
}
_E = CoordinatorEvent


def _fresh_json(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deep copy of JSON objects by orjson's round trip, about four times faster than
    ``copy.deepcopy``. Exact for the buffer: every message in it was written to the log by
    orjson first (an integer beyond 64 bits is refused there, LOG-019)."""
    copied: list[dict[str, Any]] = orjson.loads(orjson.dumps(value))
    return copied


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialized(
    method: Callable[Concatenate[SessionCoordinator, _P], _R],
) -> Callable[Concatenate[SessionCoordinator, _P], _R]:
    """COORD-070: one operation at a time per coordinator, whatever the threads. A second
    thread waits until the first operation is durable and installed, so it plans from the
    memory and head the first left; no acknowledged turn is lost. Reentrant, so
    ``on_turn_end_simple`` holds it across its turn and its compaction."""

    @functools.wraps(method)
    def serialized(self: SessionCoordinator, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._mutex:
            return method(self, *args, **kwargs)

    return serialized


# --------------------------------------------------------------------------------------
# The coordinator
# --------------------------------------------------------------------------------------


class SessionCoordinator:
    """One session: a JSONL log on disk and the compaction buffer of its active branch.

    Create one with :meth:`new` or :meth:`open_existing`; see the module docstring for the
    rules. Not thread-safe: one coordinator, one writer (LOG-011).
    """

    def __init__(
        self,
        *,
        log: JsonlLog | DatabaseLog,
        fs: FileSystem,
        header: Mapping[str, Any],
        memory: Memory,
        report: ResumeReport,
        config: CompactionConfig,
        model: str,
        redaction: RedactionPolicy,
        pricing: PricingTable | None,
        summarizer: Summarizer | None,
        clock: Callable[[], float],
    ) -> None:
        self._log = log
        self._fs = fs
        self._header = dict(header)
        self._memory = memory
        #: The last batch the log acknowledged (COORD-071); kept by reference, never copied.
        self._last_batch: list[dict[str, Any]] = []
        self._report = report
        self._config = config
        self._model = model
        self._redaction = redaction
        self._pricing = pricing
        self._summarizer = summarizer
        self._clock = clock
        self._mutex = threading.RLock()  # COORD-070
        self._head = log.head
        self._lifecycle: Lifecycle[CoordinatorState, CoordinatorEvent] = Lifecycle(
            COORDINATOR_TABLE
        )
        if self._due(memory):
            # The replayed figures are already over the threshold (COORD-030).
            self._commit(_E.THRESHOLD_REACHED)

    # -- construction (COORD-006, COORD-021) -----------------------------------------------

    @classmethod
    def new(
        cls,
        dir: str | os.PathLike[str],
        cwd: str,
        compaction_config: CompactionConfig | None = None,
        model: str = "",
        *,
        session_id: str | None = None,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        redaction: RedactionPolicy | None = None,
        pricing: PricingTable | None = None,
        summarizer: Summarizer | None = None,
        clock: Callable[[], float] = time.time,
        parent_session: str | None = None,
    ) -> SessionCoordinator:
        """Create ``<dir>/<session_id>.jsonl`` holding only the header (COORD-006)."""
        fs = fs or OsFileSystem()
        check_new_arguments(cwd, model, session_id, parent_session)  # GEN-009
        redaction = check_redaction(redaction)
        config = check_config(compaction_config) or CompactionConfig()  # before anything
        log, header = create_session_log(
            dir, cwd, config, model, session_id, fs, durability, clock, parent_session
        )
        return cls(
            log=log,
            fs=fs,
            header=header,
            memory=Memory([], 0, None, Figures(), 1),
            report=ResumeReport(),
            config=config,
            model=model,
            redaction=check_redaction(redaction),
            pricing=pricing,
            summarizer=summarizer,
            clock=clock,
        )

    @classmethod
    def open_existing(
        cls,
        path: str | os.PathLike[str],
        compaction_config: CompactionConfig | None = None,
        model: str | None = None,
        *,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        redaction: RedactionPolicy | None = None,
        pricing: PricingTable | None = None,
        summarizer: Summarizer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> SessionCoordinator:
        """Open a session file, cut crash residue, and replay it (COORD-020, COORD-021).

        The coordinator reads and replays the file itself: the caller passes only the path.
        What the read found is in :attr:`recovery`. The model and the compaction
        configuration are the ones persisted in the file (COORD-027); an explicit argument
        that differs overrides them and is recorded as a settings leaf before the
        coordinator is returned (COORD-028).
        """
        fs = fs or OsFileSystem()
        redaction = check_redaction(redaction)
        check_config(compaction_config)
        # Reading a long log allocates one dict per line and no reference cycles; the cyclic
        # collector would rescan them again and again (it doubled the time of a 100,000-entry
        # resume). It is paused for the read and the replay, and restored as it was.
        with collector_paused():
            return cls._open(
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
        log = open_log_at(os.fspath(path), fs=fs, durability=durability)  # SQL-008
        try:
            # COORD-026: JsonlLog.open has fsynced what it read (LOG-020), so the replay
            # below builds only on durable lines (spec/cases/coordinator/
            # resume_after_failed_fsync.json).
            snapshot = log.snapshot
            if snapshot is None:  # pragma: no cover - open always sets it
                raise StorageError(f"{path}: the log returned no snapshot")
            entries = [r.entry for r in snapshot.records]
            lines = [r.line for r in snapshot.records]
            replayed = replay(entries, snapshot.report, lines)
            header = snapshot.header
            settings, changed = resolve_settings(
                settings_of(header, entries), check_config(compaction_config), model
            )
            memory = replayed.memory
            if changed:
                # COORD-028: an explicit setting that differs from the file's is recorded
                # (a leaf at the unchanged tip) before anything is decided with it.
                leaf = leaf_entry(
                    memory.next_seq, memory.tip, memory.figures, iso_timestamp(clock())
                )
                leaf[SETTINGS_FIELD] = settings.to_json()
                log.append([leaf], expected_head=log.head)
                memory = memory.moved(memory.tip, memory.figures, memory.next_seq + 1)
        except BaseException:
            log.close()
            raise
        log.snapshot = None  # COORD-024: the file's entries are not kept
        return cls(
            log=log,
            fs=fs,
            header=header,
            memory=memory,
            report=replayed.report,
            config=settings.compaction,
            model=settings.model,
            redaction=check_redaction(redaction),
            pricing=pricing,
            summarizer=summarizer,
            clock=clock,
        )

    # -- accessors ---------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return str(self._header["id"])

    @property
    def session_path(self) -> str:
        return self._log.path

    @property
    def header(self) -> dict[str, Any]:
        return dict(self._header)

    @property
    def model(self) -> str:
        return self._model

    @property
    def state(self) -> CoordinatorState:
        return self._lifecycle.state

    @property
    def lifecycle(self) -> Lifecycle[CoordinatorState, CoordinatorEvent]:
        """The ``transitions`` machine holding the committed state (GEN-004)."""
        return self._lifecycle

    @property
    def durability(self) -> Durability:
        return self._log.durability

    @property
    def durable(self) -> bool:
        """Whether an acknowledged operation survives a power cut (COORD-013)."""
        return self._log.durability is Durability.SYNC

    @property
    def usage(self) -> CumulativeUsage:
        """A copy of the cumulative usage: opi's four counters and the turn count."""
        figures = self._memory.figures
        return CumulativeUsage(
            input_tokens=figures.input_tokens,
            output_tokens=figures.output_tokens,
            cache_read_tokens=figures.cache_read_tokens,
            cache_write_tokens=figures.cache_write_tokens,
            turns=figures.turns,
        )

    @property
    def figures(self) -> Figures:
        """Usage, turns and the compaction watermark as one value (COORD-016)."""
        return self._memory.figures

    @property
    def last_written(self) -> WrittenEntries:
        """The entries the last acknowledged operation of this object appended and the tip
        after it (COORD-071); empty after an open, since nothing was written yet. A failed
        operation leaves it as it was: it names only what is durable."""
        return WrittenEntries(tuple(str(e["id"]) for e in self._last_batch), self._memory.tip)

    @property
    def compaction_watermark(self) -> int:
        return self._memory.figures.watermark

    @property
    def active_tip(self) -> str | None:
        """The last message or compaction entry of the active branch."""
        return self._memory.tip

    @property
    def next_seq(self) -> int:
        """The number the next entry id will carry (COORD-004)."""
        return self._memory.next_seq

    @property
    def head(self) -> int:
        """The number of entries in the file."""
        return self._head

    @property
    def recovery(self) -> ResumeReport:
        """What opening the session found (COORD-025)."""
        return self._report

    @property
    def compaction_config(self) -> CompactionConfig:
        return self._config

    def compaction_entries(self) -> tuple[BufferItem, ...]:
        """The compaction buffer: ``(summary slot?, *kept, *later)`` (COORD-042)."""
        return self._memory.items

    def context(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """The context an agent sends next (COORD-041).

        What a caller may change: the list is new on every call (add, remove, reorder its
        items freely), and each summary slot is a new object. The message objects in it
        are the coordinator's own, shared with every later call and with
        :meth:`compaction_entries`: read them, serialize them, hand them to a codec
        (``to_anthropic(...)`` builds new objects), but do not change them; a changed
        message would change what later calls return and never reach the log. With
        ``fresh=True`` every object is a new copy the caller owns (an O(context) deep
        copy)."""
        # Sharing instead of deep-copying: copy.deepcopy of 100,000 messages was about half
        # of a resume (1.9-2.3 s of 3.4 s); building this list is about 5 ms (issue 8).
        out: list[dict[str, Any]] = []
        append = out.append
        for item in self._memory.items:
            message = item.message
            if message is None:
                append(
                    {
                        "type": "compaction_summary",
                        "compaction_entry_id": item.id.removesuffix(SUMMARY_SLOT_SUFFIX),
                        "summary": item.summary,
                    }
                )
            else:
                append(message)  # type: ignore[arg-type]  # a dict: normalize_message's
        if fresh:
            return _fresh_json(out)
        return out

    def cost_summary(self) -> CostBreakdown | None:
        """The cost of the usage so far, in ``Decimal`` USD, under the pricing table, which
        names its version (COORD-060, COORD-062): each assistant message's usage at its own
        ``provider:model``, and usage no message reports at the session's model. ``None``
        when a model that spent tokens has no price (:meth:`unpriced_models` says which)."""
        table = self._pricing or PricingTable.default()
        return cost_of_rows(self.usage_by_model(), table, self._model)

    def unpriced_models(self) -> tuple[str, ...]:
        """The model specs that spent tokens but have no price in the table (COORD-062): the
        diagnostic behind a ``None`` cost."""
        table = self._pricing or PricingTable.default()
        return table.unpriced(self.usage_by_model())

    def usage_by_model(self) -> tuple[UsageRow, ...]:
        """The session's usage per ``provider:model`` as it is priced (COORD-062): each
        assistant message's own usage, and what no message reports at the session's model."""
        figures = self._memory.figures
        totals = (
            figures.input_tokens,
            figures.output_tokens,
            figures.cache_read_tokens,
            figures.cache_write_tokens,
        )
        return attributed_usage(totals, figures.by_model, self._model)

    @property
    def settings(self) -> SessionSettings:
        """The settings in force, as persisted in the file (COORD-027)."""
        return SessionSettings(self._model, self._config)

    # -- turns (COORD-010..COORD-017, COORD-030) ---------------------------------------------

    @_serialized
    def on_turn_end(
        self,
        new_messages: Sequence[WireModel | Mapping[str, Any]],
        usage: Usage | Mapping[str, Any] | None = None,
    ) -> CompactionReason | None:
        """Persist one turn atomically; return ``THRESHOLD`` when a compaction is due.

        The turn's messages and a leaf carrying the turn's usage are appended as one batch
        (one write, one fsync). Memory changes only after the append returned (COORD-002).
        """
        self._turn_end_target()  # the lifecycle's check (raises; changes nothing)
        messages = [normalize_message(m) for m in message_list(new_messages)]
        counters = normalize_usage(usage)
        batch, memory = self._plan_turn(messages, counters)
        self._persist(batch)
        self._memory = memory
        return self._commit_turn(memory)

    def _plan_turn(
        self, messages: Sequence[dict[str, Any]], counters: Mapping[str, int]
    ) -> tuple[list[dict[str, Any]], Memory]:
        """The turn's batch and the memory after it. O(the turn's messages): the buffer is
        extended, not copied (see :class:`Memory`); the new items stay invisible until the
        returned memory is installed, which happens only after the append (COORD-002)."""
        memory = self._memory
        timestamp = iso_timestamp(self._clock())
        seq = memory.next_seq
        parent = memory.tip
        batch: list[dict[str, Any]] = []
        added: list[BufferItem] = []
        for_log = self._for_log
        for message in messages:
            entry_id = f"msg-{seq}"
            seq += 1
            # COORD-017: memory keeps exactly what the file gets (redacted in both).
            persisted = for_log(message)
            batch.append(message_entry(entry_id, parent, timestamp, persisted))
            added.append(BufferItem(entry_id, persisted, None))
            parent = entry_id
        figures = memory.figures.after_turn(counters)
        if any(message.get("role") == "assistant" for message in messages):
            figures = figures.with_model_usage(model_usage_of(messages))  # COORD-062
        batch.append(leaf_entry(seq, parent, figures, timestamp))
        return batch, memory.extended(added, parent, figures, seq + 1)

    def _turn_end_target(self) -> CoordinatorState:
        """``self._lifecycle.check(TURN_END)`` on the hot path: the table's answer for the
        committed state, read from a dict keyed by the state's name (``Lifecycle.state``
        builds the enum by value, and the table hashes an enum pair); any state the table
        has no TURN_END rule for goes to the table itself, which raises."""
        name = self._lifecycle.state_name
        target = _TURN_END_TARGETS.get(name)
        if target is None:
            return COORDINATOR_TABLE.step(_STATE_BY_NAME[name], _E.TURN_END)
        return target

    def _commit_turn(self, memory: Memory) -> CompactionReason | None:
        state = _STATE_BY_NAME[self._lifecycle.state_name]
        after = self._turn_end_target()
        if after is not state:
            self._lifecycle.commit(_E.TURN_END)
        # Not a table rule: whether the threshold is reached is a condition on the figures
        # (or on the context, under the context-size trigger, COORD-037).
        if self._due(memory):
            if after is CoordinatorState.READY:
                self._commit(_E.THRESHOLD_REACHED)
            return CompactionReason.THRESHOLD
        if after is CoordinatorState.COMPACTION_DUE:
            self._commit(_E.THRESHOLD_CLEARED)  # a shorter context (COORD-037)
        return None

    @_serialized
    def on_turn_end_simple(
        self,
        new_messages: Sequence[WireModel | Mapping[str, Any]],
        usage: Usage | Mapping[str, Any] | None = None,
    ) -> CompactionResult | None:
        """:meth:`on_turn_end`, then the compaction it asks for, if any (COORD-035)."""
        reason = self.on_turn_end(new_messages, usage)
        if reason is None:
            return None
        return self.execute_compaction(reason)

    # -- compaction (COORD-031..COORD-036) ---------------------------------------------------

    @_serialized
    def execute_compaction(self, reason: CompactionReason | str) -> CompactionResult | None:
        """Compact the buffer now, whatever the reason (opi does not re-check the threshold).

        Returns ``None`` only when there is nothing to compact (COORD-036); every other
        problem (a summarizer error, an invalid cut from a custom policy, a failed write)
        raises. The compaction entry and its leaf are durable before memory changes.
        """
        self._lifecycle.check(_E.COMPACTION)
        try:
            reason = CompactionReason(reason)
        except ValueError:
            choices = ", ".join(repr(r.value) for r in CompactionReason)
            raise CallerError(
                f"compaction reason must be one of {choices}, not {reason!r}"
            ) from None
        memory = self._memory
        plan = self._plan(reason)
        if plan is None:
            return None
        timestamp = iso_timestamp(self._clock())
        entry_id = f"cmp-{memory.next_seq}"
        entry = compaction_entry(entry_id, memory.tip, timestamp, plan, reason)
        figures = memory.figures.after_compaction()
        leaf = leaf_entry(memory.next_seq + 1, entry_id, figures, timestamp)
        self._persist([entry, leaf])
        kept = memory.store[plan.first_kept_index : memory.length]
        slot = BufferItem.of_summary(summary_slot_id(entry_id), plan.summary)
        self._memory = Memory.of((slot, *kept), entry_id, figures, memory.next_seq + 2)
        self._commit(_E.COMPACTION)
        self._settle_due()  # a context still over the limit stays due (COORD-037)
        return CompactionResult(
            reason=reason,
            summary=plan.summary,
            summary_source=plan.summary_source,
            first_kept_entry_id=plan.first_kept_entry_id,
            tokens_before=plan.tokens_before,
            tokens_after=plan.tokens_after,
            entry_id=entry_id,
        )

    def _plan(self, reason: CompactionReason) -> CompactionPlan | None:
        return plan_compaction(
            self._memory.items, reason, policy=self._config.policy, summarizer=self._summarizer
        )

    # -- branches and extension state (COORD-040, COORD-043) ---------------------------------

    @_serialized
    def append_leaf(self, entry_id: str) -> None:
        """Make ``entry_id`` the active tip; durable before the tip moves (COORD-040).

        ``entry_id`` must be a message or compaction entry of this session, else
        :class:`UnknownEntryError`; the branch it selects must answer every tool call on it,
        else :class:`UnpairedToolCallError` (COORD-044). Either way nothing is written.
        """
        self._lifecycle.check(_E.LEAF_MOVE)
        batch, memory = self._plan_leaf_move(entry_id)
        self._persist(batch)
        self._memory = memory
        self._commit(_E.LEAF_MOVE)
        self._settle_due()  # the context changed (COORD-037)

    def _plan_leaf_move(self, entry_id: str) -> tuple[list[dict[str, Any]], Memory]:
        memory = self._memory
        timestamp = iso_timestamp(self._clock())
        leaf = leaf_entry(memory.next_seq, entry_id, memory.figures, timestamp)
        leaf["parent_id"] = entry_id
        if entry_id == memory.tip:
            refuse_unanswered(entry_id, memory.items)
            return [leaf], memory.moved(memory.tip, memory.figures, memory.next_seq + 1)
        replayed = memory_after_leaf(self.session_path, self._fs, entry_id, leaf)
        return [leaf], replayed.moved(replayed.tip, memory.figures, memory.next_seq + 1)

    @_serialized
    def append_extension_state(self, state: Any) -> str:
        """Append an extension state entry parented to the tip; returns its id (COORD-043)."""
        self._lifecycle.check(_E.EXTENSION_STATE)
        memory = self._memory
        entry_id = f"state-{memory.next_seq}"
        entry = {
            "type": "extension_state",
            "id": entry_id,
            "parent_id": memory.tip,
            "timestamp": iso_timestamp(self._clock()),
            "state": state,
        }
        self._persist([entry])
        self._memory = memory.moved(memory.tip, memory.figures, memory.next_seq + 1)
        self._commit(_E.EXTENSION_STATE)
        return entry_id

    # -- fork (COORD-050, COORD-051) -------------------------------------------------------

    @_serialized
    def fork(
        self, *, dir: str | os.PathLike[str] | None = None, session_id: str | None = None
    ) -> ForkResult:
        """Write the active branch into a new session file with ``parent_session`` lineage.

        The new file holds the active branch's message and compaction entries exactly as
        persisted, the active extension state, and a leaf at the tip with fresh accounting
        (the parent's usage stays with the parent, COORD-051). It is written under a
        temporary name, fsynced, renamed into place and the directory fsynced: a crash
        leaves no fork or a complete one. The source file and this coordinator are unchanged.
        """
        self._lifecycle.check(_E.FORK)
        if session_id is not None:
            validate_session_id(session_id)
        if dir is None and is_store_url(self.session_path):
            raise CallerError("a session in a database store is forked into a directory: pass dir")
        directory = posixpath.dirname(self.session_path) if dir is None else directory_text(dir)
        timestamp = iso_timestamp(self._clock())
        copied = fork_entries(self.session_path, self._fs, timestamp)

        ensure_directory(self._fs, directory)
        if session_id is None:
            session_id = free_session_id(self._fs, directory, generate_session_id(self._clock))
        validate_session_id(session_id)
        final = session_path(directory, session_id)
        if self._fs.exists(final):
            raise CallerError(f"{final}: a session with this id already exists")
        temporary = posixpath.join(directory, f".{session_id}.jsonl.tmp")
        header = SessionHeader(
            id=session_id,
            timestamp=timestamp,
            cwd=str(self._header.get("cwd", "")),
            parent_session=self.session_id,
        ).to_json_dict()
        header[SETTINGS_FIELD] = self.settings.to_json()  # the fork decides alike (COORD-027)
        write_fork(self._fs, temporary, final, header, copied)
        self._commit(_E.FORK)
        return ForkResult(session_id, final, self.session_id, len(copied))

    # -- closing -------------------------------------------------------------------------------

    @_serialized
    def close(self) -> None:
        """Release the log and its lock. Further operations raise IllegalTransitionError."""
        if self._lifecycle.state is CoordinatorState.CLOSED:
            return
        self._lifecycle.check(_E.CLOSE)
        self._log.close()
        self._commit(_E.CLOSE)

    def __enter__(self) -> SessionCoordinator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _commit(self, event: CoordinatorEvent) -> None:
        """Commit ``event`` after its write (GEN-006). A self-loop (most turn ends) changes no
        state, so only the table is consulted; the ``transitions`` trigger fires for real
        changes, as the log does for its appends."""
        if COORDINATOR_TABLE.step(self._lifecycle.state, event) is not self._lifecycle.state:
            self._lifecycle.commit(event)

    def _due(self, memory: Memory) -> bool:
        """Whether the threshold trigger fires for ``memory`` (COORD-030, COORD-037)."""
        config = self._config
        since = memory.figures.since_watermark()
        if config.trigger is CompactionTrigger.CUMULATIVE:  # O(1): the turn's hot path
            return should_compact(config, since, CompactionReason.THRESHOLD)
        return compaction_due_now(config, since, memory.items)

    def _settle_due(self) -> None:
        """Bring the state in line with :meth:`_due` after an operation that changed the
        buffer without a turn: a leaf move, or a compaction that left the context over the
        limit (COORD-030, COORD-037). Under the cumulative trigger a leaf move changes
        nothing and a compaction leaves nothing counted, so this fires only for a zero
        threshold."""
        due = self._due(self._memory)
        state = self._lifecycle.state
        if due and state is CoordinatorState.READY:
            self._commit(_E.THRESHOLD_REACHED)
        elif not due and state is CoordinatorState.COMPACTION_DUE:
            self._commit(_E.THRESHOLD_CLEARED)

    def _for_log(self, message: dict[str, Any]) -> dict[str, Any]:
        """The form of ``message`` the file gets and memory keeps (COORD-017). Redaction
        touches only assistant tool-call arguments and tool-result details (COORD-150); a
        message with neither is written as it is, without the copy."""
        role = message.get("role")
        if role == "assistant":
            if any(block.get("type") == "tool_call" for block in message["content"]):
                return redact_owned(message, self._redaction)
            return message
        if role == "tool_result" and message.get("details") is not None:
            return redact_owned(message, self._redaction)
        return message

    def _persist(self, batch: list[dict[str, Any]]) -> None:
        """Append one batch (COORD-002). A log failure moves the coordinator to ``failed``."""
        try:
            self._head = self._log.append(batch, expected_head=self._head)
        except LogFailedError:
            self._commit(_E.WRITE_FAILURE)
            raise
        self._last_batch = batch
