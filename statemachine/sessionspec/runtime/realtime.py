"""The realtime transcript: provider events in, canonical messages out (spec/SPEC.md §5).

Rules
-----
* ``apply(event)`` takes one of the eleven events (a wire model or a dict in the wire
  form, RT-001) and returns an :class:`ApplyOutcome`: ``accepted``, ``duplicate`` or
  ``rejected``, the messages this event materialized (empty when inert), typed diagnostics
  and the fragments it discarded (RT-004). A malformed event raises
  :class:`InvalidRealtimeEventError` and changes nothing (RT-002); a blank id is a typed
  rejection (RT-003).
* Idempotent: an event that adds no fact is a duplicate and changes nothing, byte for byte
  (RT-010). Order-insensitive over causally equivalent deliveries (RT-035): acceptance looks
  only at facts, never at what has been materialized. Append-only: a message, once returned,
  never changes (RT-033).
* Durable (RT-040..RT-043): opened on a journal, every accepted event is appended before it
  changes memory (GEN-006); reopening replays the journal, so a provider's reconnect replay
  after a restart is inert.
* Playback (RT-070..RT-074): a spoken item of a response whose playback the client reports
  holds what the user heard; past its response's end it awaits the end of its playback
  (played in full, or cut at a heard prefix), so no message is ever emitted with text the
  user did not hear.

Theory of operation
-------------------
Items and responses are records whose states follow :data:`ITEM_TABLE` and
:data:`RESPONSE_TABLE`. The canonical order (RT-030) is produced incrementally: a heap
holds the *frontier*, the items whose predecessor has been consumed (or who have none),
keyed by first-seen rank; the walk pops the earliest-seen item while it is final (an
anchor, a ready user item, a ready assistant item) and stops at the first one that is not.
A response's consecutive items become one assistant message; when a run could still grow
(it ends at an open item or at the end of what is known while the response has ready items
not yet placed), the walk rolls back and waits (RT-031). Each consumed item pushes its
children onto the heap. Every step is O(log n) per item; a delta costs a few dict lookups.

Hot path. Deltas are nearly all of a stream, so :meth:`RealtimeTranscript.apply` decides a
delta given as a plain dict inline (in memory and on a journal alike; a reopen replays
through it too) and hands every other event, and every delta it cannot decide, to the
checked handlers; ``tests/realtime/test_fast_paths.py`` holds the two to the same answers.
What is kept per delta is chosen for the garbage collector as much as for lookups: its
dedup key (type, ids, predecessor, index, text) is split into the delta's text and the
number of a *context* shared by the segment's deltas, in two dicts of strings and integers
that the collector does not track, so a long stream adds no tracked object per delta.
Messages are built by :func:`_construct`, which sets what ``model_construct`` sets without
its per-field walk.

The reference model (:mod:`sessionspec.reference.realtime`) is the specification of all of
this; the stateful tests drive both in lock step.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, get_args

import orjson

from sessionspec.errors import (
    AppendFailedError,
    BadHeaderError,
    CallerError,
    IllegalTransitionError,
    LogFailedError,
)
from sessionspec.lifecycle import Lifecycle
from sessionspec.reference.realtime import (
    STOP_REASON_MAP,
    ApplyStatus,
    Diagnostic,
    DiagnosticCode,
    DiscardedFragment,
    Lane,
)
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog
from sessionspec.storage.log import Durability, RecoveryReport
from sessionspec.tables.realtime import (
    TRANSCRIPT_TABLE,
    ItemState,
    ResponseState,
    TranscriptEvent,
    TranscriptState,
)
from sessionspec.wire.messages import (
    ApiKind,
    AssistantMessage,
    TextContent,
    Usage,
    UserMessage,
    WireModel,
)
from sessionspec.wire.realtime import (
    JOURNAL_ENTRY_TYPES,
    REALTIME_EVENT_TYPES,
    RealtimeJournalHeader,
    RealtimeUsage,
)

__all__ = [
    "ApplyOutcome",
    "CoordinatorSink",
    "InvalidRealtimeEventError",
    "JournalRecovery",
    "RealtimeTranscript",
    "SkippedJournalEntry",
    "TurnSink",
]

_OBSERVED = ItemState.OBSERVED
_READY = ItemState.READY
_MATERIALIZED = ItemState.MATERIALIZED
_SKIPPED = ItemState.SKIPPED
_AWAITING = ItemState.AWAITING_PLAYBACK
_STREAMING = ResponseState.STREAMING
_WAITING = ResponseState.WAITING_FOR_TOOL_RESULTS
_DISPLAY = Lane.DISPLAY
_SPOKEN = Lane.SPOKEN
_STOP_REASONS = frozenset(STOP_REASON_MAP)
_DELTA_KINDS = frozenset({"assistant_text_delta", "assistant_transcript_delta"})


class InvalidRealtimeEventError(CallerError):
    """The event is not one of the eleven types in the wire form (RT-002); nothing changed."""


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What one event did (RT-004)."""

    status: ApplyStatus
    #: The messages this event materialized, in transcript order; empty when inert.
    messages: tuple[UserMessage | AssistantMessage, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Content this event discarded (barge-in, cancel, late content).
    discarded: tuple[DiscardedFragment, ...] = ()

    @property
    def is_inert(self) -> bool:
        return not self.messages


@dataclass(frozen=True, slots=True)
class SkippedJournalEntry:
    """A committed journal entry that replay skipped (RT-049): where it is and why."""

    line: int
    offset: int
    entry_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class JournalRecovery:
    """What reopening a journal found (RT-049): the log's findings and the skipped entries.

    A transcript that was created, not reopened, has an empty report."""

    log: RecoveryReport | None = None
    skipped: tuple[SkippedJournalEntry, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.skipped and (self.log is None or self.log.clean)


#: The range of a journal entry's ``ts`` (an ``I64`` millisecond time, WIRE-001).
_TS_MAX = 2**63 - 1

_DUPLICATE = ApplyOutcome(ApplyStatus.DUPLICATE)
_ACCEPTED = ApplyOutcome(ApplyStatus.ACCEPTED)


class _Segment:
    __slots__ = ("context", "context_number", "deltas", "final", "truncation", "user_text")

    def __init__(self) -> None:
        #: The delta context last remembered for this segment, shared by its deltas, and
        #: its number in the transcript's list of contexts.
        self.context: tuple[Any, ...] | None = None
        self.context_number = 0
        self.deltas: list[str] = []
        self.truncation: str | None = None
        self.final: str | None = None
        self.user_text: str | None = None

    def text(self) -> str:
        if self.user_text is not None:
            return self.user_text
        if self.truncation is not None:
            return self.truncation
        if self.final is not None:
            return self.final
        return "".join(self.deltas)


class _Item:
    __slots__ = (
        "children",
        "consumed",
        "item_id",
        "lane",
        "played",
        "prev",
        "rank",
        "response_id",
        "role",
        "segments",
        "state",
    )

    def __init__(
        self, item_id: str, rank: int, role: str | None, response_id: str | None, prev: str | None
    ) -> None:
        self.item_id = item_id
        self.rank = rank
        self.role = role
        self.response_id = response_id
        self.prev = prev
        self.lane: Lane | None = None
        self.segments: dict[int, _Segment] = {}
        self.state = _OBSERVED
        #: Its audio was played to the end (RT-071).
        self.played = False
        #: Passed by the walk: materialized, or (for an anchor) stepped over (RT-031).
        self.consumed = False
        #: Items declared with this one as predecessor (``None`` until there is one).
        self.children: list[_Item] | None = None

    def text(self) -> str:
        segments = self.segments
        if len(segments) == 1:
            for segment in segments.values():
                return segment.text()
        return "".join(segments[i].text() for i in sorted(segments))

    def has_content(self) -> bool:
        return any(s.text() for s in self.segments.values())

    def playback_settled(self) -> bool:
        """The end of its playback is known: played in full, or cut (RT-073)."""
        return self.played or any(s.truncation is not None for s in self.segments.values())


class _Response:
    __slots__ = (
        "awaiting_left",
        "items",
        "played_back",
        "ready_left",
        "state",
        "stop_reason",
        "usage",
        "usage_spent",
    )

    def __init__(self) -> None:
        self.state = _STREAMING
        #: The client reports its playback (RT-070).
        self.played_back = False
        #: Items awaiting the end of their playback (RT-072): a run waits for them.
        self.awaiting_left = 0
        self.stop_reason: str | None = None
        self.usage: Mapping[str, Any] | None = None
        self.items: list[_Item] = []
        #: Ready items not yet materialized (RT-031: a run waits for all of them).
        self.ready_left = 0
        self.usage_spent = False


def _bad(message: str) -> InvalidRealtimeEventError:
    return InvalidRealtimeEventError(message)


def _req_str(event: Mapping[str, Any], name: str) -> str:
    try:
        value = event[name]
    except KeyError:
        raise _bad(f"{event.get('type')}: missing field {name!r}") from None
    if type(value) is not str:
        raise _bad(f"{event.get('type')}: field {name!r} must be a string")
    return value


def _opt_id(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if type(value) is not str:
        raise _bad(f"{event.get('type')}: field {name!r} must be a string or null")
    return value.strip() or None


def _index(event: Mapping[str, Any]) -> int:
    try:
        value = event["content_index"]
    except KeyError:
        raise _bad(f"{event.get('type')}: missing field 'content_index'") from None
    if type(value) is not int or not 0 <= value <= 0xFFFFFFFF:
        raise _bad(f"{event.get('type')}: content_index must be an integer in 0..2^32-1")
    return value


def _usage_dict(value: Any) -> dict[str, Any]:
    """meerkat usage, checked: ``input_tokens`` and ``output_tokens`` always present (0 when
    absent), the cache counters only when given."""
    if type(value) is not dict:
        if isinstance(value, RealtimeUsage):
            return value.to_json_dict()
        if not isinstance(value, Mapping):
            raise _bad("assistant_turn_completed: usage must be an object")
    usage: dict[str, Any] = {}
    for name in ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"):
        count = value.get(name)
        if count is None:
            if name in ("input_tokens", "output_tokens"):
                usage[name] = 0
            continue
        if type(count) is not int or count < 0:
            raise _bad(f"assistant_turn_completed: usage.{name} must be a non-negative integer")
        usage[name] = count
    return usage


def _completion_key(response_id: str, stop_reason: Any, usage: dict[str, Any]) -> tuple[Any, ...]:
    """The dedup key of a completion. Usually flat, the four counters in a fixed order (an
    absent one as ``None``: a usage dict never holds ``None``); with extra usage fields (a
    model's extras), the sorted items. The two forms differ in length, so equal usages give
    equal keys and different usages different keys, as the sorted items alone would."""
    inputs = usage.get("input_tokens")
    outputs = usage.get("output_tokens")
    creation = usage.get("cache_creation_tokens")
    read = usage.get("cache_read_tokens")
    known = (
        (inputs is not None) + (outputs is not None) + (creation is not None) + (read is not None)
    )
    if len(usage) == known:
        return (
            "assistant_turn_completed",
            response_id,
            stop_reason,
            inputs,
            outputs,
            creation,
            read,
        )
    return ("assistant_turn_completed", response_id, stop_reason, tuple(sorted(usage.items())))


class _Journal(Protocol):
    def append(self, entries: Sequence[Mapping[str, Any]]) -> int: ...


class RealtimeTranscript:
    """The canonical transcript of one realtime conversation (RT section of the spec).

    In memory by default; :meth:`create` and :meth:`open` put it on a journal file.

    :param api: ``api`` of every materialized assistant message (realtime events carry none).
    :param provider: ``provider`` of every materialized assistant message.
    :param model: ``model`` of every materialized assistant message.
    :param clock: milliseconds since the epoch, for ``timestamp_ms`` (injectable for tests).
    """

    def __init__(
        self,
        *,
        api: str = "OpenAi",
        provider: str = "openai",
        model: str = "gpt-realtime",
        clock: Callable[[], int] | None = None,
    ) -> None:
        if api not in get_args(ApiKind):
            raise CallerError(f"api must be one of {get_args(ApiKind)}, not {api!r}")
        self.api = api
        self.provider = provider
        self.model = model
        self._clock = clock or _wall_clock_ms
        self._items: dict[str, _Item] = {}
        self._responses: dict[str, _Response] = {}
        #: Accepted deltas: delta id -> number of its context in ``_delta_contexts`` (a
        #: context is ``(type, response_id, item_id, prev, index)``, usually one per
        #: segment) and delta id -> text. A delta's dedup key is its context, id and text.
        #: Both dicts hold only strings and integers, so the garbage collector does not
        #: track them (a full collection does not walk one entry per delta), and
        #: remembering a delta allocates no tracked object.
        self._deltas: dict[str, int] = {}
        self._delta_texts: dict[str, str] = {}
        self._delta_contexts: list[tuple[Any, ...]] = []
        self._accepted: set[tuple[Any, ...]] = set()
        #: Ranks of the items whose predecessor is consumed (or who have none): a heap.
        self._frontier: list[int] = []
        self._by_rank: list[_Item] = []

        self._waiting_children: dict[str, list[_Item]] = {}
        self._messages: list[UserMessage | AssistantMessage] = []
        self._discarded: list[DiscardedFragment] = []
        self._lifecycle: Lifecycle[TranscriptState, TranscriptEvent] = Lifecycle(TRANSCRIPT_TABLE)
        #: Mirrors ``self._lifecycle.state is OPEN`` for the hot path; set by :meth:`_commit`.
        self._open = True
        self._journal: JsonlLog | None = None
        self._group_commit = False
        self._pending: list[dict[str, Any]] = []
        self._next_entry = 1
        self._now: int | None = None
        #: The raw event being applied, for the journal (set by :meth:`apply`).
        self._raw: Mapping[str, Any] | None = None
        self._new_messages: list[UserMessage | AssistantMessage] = []
        self._dirty = False
        #: What reopening the journal found (RT-049); empty for a new transcript.
        self.recovery = JournalRecovery()
        self._handlers: dict[str, Callable[[Mapping[str, Any]], ApplyOutcome]] = {
            kind: getattr(self, name) for kind, name in _HANDLERS.items()
        }

    # -- construction on a journal (RT-040) ------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str,
        *,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        group_commit: bool = False,
        api: str = "OpenAi",
        provider: str = "openai",
        model: str = "gpt-realtime",
        clock: Callable[[], int] | None = None,
        journal_id: str | None = None,
    ) -> RealtimeTranscript:
        """A new, empty transcript journaled at ``path`` (which must not exist)."""
        transcript = cls(api=api, provider=provider, model=model, clock=clock)
        now = transcript._clock()
        header = RealtimeJournalHeader(
            id=journal_id or f"rt-{now:x}",
            created=datetime.fromtimestamp(now / 1000, UTC).isoformat(),
            api=api,
            provider=provider,
            model=model,
        )
        transcript._journal = JsonlLog.create(
            path,
            header.to_json_dict(),
            fs=fs,
            durability=durability,
            header_model=RealtimeJournalHeader,
            entry_types=JOURNAL_ENTRY_TYPES,
        )
        transcript._group_commit = group_commit
        return transcript

    @classmethod
    def open(
        cls,
        path: str,
        *,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        group_commit: bool = False,
        clock: Callable[[], int] | None = None,
    ) -> RealtimeTranscript:
        """Reopen a journaled transcript: replay every accepted event (RT-041)."""
        journal = JsonlLog.open(
            path,
            fs=fs,
            durability=durability,
            header_model=RealtimeJournalHeader,
            entry_types=JOURNAL_ENTRY_TYPES,
        )
        snapshot = journal.snapshot
        assert snapshot is not None
        header = snapshot.header
        try:
            try:
                transcript = cls(
                    api=header["api"],
                    provider=header["provider"],
                    model=header["model"],
                    clock=clock,
                )
            except CallerError as exc:  # GEN-009: a bad file is not the caller's fault
                raise BadHeaderError(path, str(exc)) from None
            # Replay through apply: a delta takes the same fast path as when it was live.
            # RT-049: an entry that is not an event with an integer ``ts``, or whose event
            # is invalid, is skipped and reported, as the coordinator skips an invalid
            # entry; it never makes the journal unopenable.
            apply = transcript.apply
            skipped: list[SkippedJournalEntry] = []
            for record in snapshot.records:
                entry = record.entry
                ts, event = entry.get("ts"), entry.get("event")
                reason = ""
                if type(ts) is not int or not 0 <= ts <= _TS_MAX:
                    reason = "no integer ts in 0..2^63-1"
                elif type(event) is not dict:
                    reason = "no event object"
                else:
                    transcript._now = ts
                    try:
                        apply(event)
                    except InvalidRealtimeEventError as exc:
                        reason = f"invalid event: {exc}"
                if reason:
                    skipped.append(
                        SkippedJournalEntry(record.line, record.offset, str(entry["id"]), reason)
                    )
            transcript._now = None
        except BaseException:
            journal.close()
            raise
        transcript.recovery = JournalRecovery(snapshot.report, tuple(skipped))
        transcript._new_messages = []
        transcript._next_entry = journal.head + 1
        transcript._journal = journal
        transcript._group_commit = group_commit
        journal.snapshot = None
        return transcript

    # -- public API --------------------------------------------------------------------------

    @property
    def state(self) -> TranscriptState:
        return self._lifecycle.state

    def apply(self, event: WireModel | Mapping[str, Any]) -> ApplyOutcome:
        """Apply one event; see the module docstring (RT-004)."""
        if type(event) is dict and self._open:
            # The hot path, inlined: a delta in the wire form, new or replayed, in memory or
            # on a journal. It decides exactly what the checked path decides for the events
            # it takes (the same exact types, the same key, the same acceptance conditions)
            # and hands everything else to it; the conformance tests drive both paths.
            kind = event.get("type")
            if kind == "assistant_transcript_delta" or kind == "assistant_text_delta":
                # str.strip, unbound, raises TypeError for anything but a string; a string
                # subclass (which the checked path rejects) is told apart by identity below.
                try:
                    raw_delta_id, raw_item_id, raw_response_id, delta, index = _delta_fields(event)
                    delta_id = _strip(raw_delta_id)
                    item_id = _strip(raw_item_id)
                    response_id = _strip(raw_response_id)
                    prev = event.get("previous_item_id")
                    if prev is not None:
                        if type(prev) is not str:
                            raise TypeError
                        prev = _strip(prev) or None
                except (KeyError, TypeError):
                    delta = None
                if (
                    type(delta) is str
                    and type(index) is int
                    and 0 <= index <= 0xFFFFFFFF
                    and delta_id
                    and item_id
                    and response_id
                    # Unchanged by strip: an exact str without padding (the usual case).
                    and (delta_id is raw_delta_id or type(raw_delta_id) is str)
                    and (item_id is raw_item_id or type(raw_item_id) is str)
                    and (response_id is raw_response_id or type(raw_response_id) is str)
                ):
                    context = (kind, response_id, item_id, prev, index)
                    seen = self._deltas.get(delta_id)
                    if seen is not None:
                        # (Both dicts are written together; only a test's planted bug
                        # clears ``_deltas`` alone, which leaves nothing to look up here.)
                        if (
                            self._delta_texts[delta_id] == delta
                            and self._delta_contexts[seen] == context
                        ):
                            return _DUPLICATE
                    else:
                        item = self._items.get(item_id)
                        if (
                            item is not None
                            and item.state is _OBSERVED
                            and item.response_id == response_id
                            and (prev is None or prev == item.prev)
                            and self._responses[response_id].state is _STREAMING
                        ):
                            lane = _DISPLAY if kind == "assistant_text_delta" else _SPOKEN
                            if not delta or item.lane is lane or item.lane is None:
                                if self._journal is not None:
                                    self._raw = event
                                    try:
                                        self._persist()
                                    finally:
                                        self._now = None
                                if delta:
                                    item.lane = lane
                                segment = item.segments.get(index)
                                if segment is None:
                                    segment = item.segments[index] = _Segment()
                                if segment.context != context:
                                    self._new_context(segment, context)
                                self._deltas[delta_id] = segment.context_number
                                self._delta_texts[delta_id] = delta
                                segment.deltas.append(delta)
                                return _ACCEPTED
        if not self._open:
            self._check_open()
        try:
            return self._apply_one(event)
        finally:
            self._now = None

    def apply_batch(self, events: Iterable[WireModel | Mapping[str, Any]]) -> list[ApplyOutcome]:
        """Apply several events, then journal the accepted ones with one append (RT-042)."""
        self._check_open()
        group = self._group_commit
        self._group_commit = True
        try:
            outcomes = [self.apply(event) for event in events]
        finally:
            self._group_commit = group
        self.flush()
        return outcomes

    def flush(self) -> None:
        """Journal every applied but unjournaled event (group commit), with one append.

        On :class:`AppendFailedError` the events stay pending (retry ``flush``); on
        :class:`LogFailedError` the transcript is ``failed`` and must be reopened (RT-043).
        """
        if not self._pending or self._journal is None:
            return
        try:
            self._journal.append(self._pending)
        except LogFailedError:
            self._commit(TranscriptEvent.PERSIST_FAILED)
            raise
        self._pending = []

    def messages(self) -> list[UserMessage | AssistantMessage]:
        """The canonical transcript so far (RT-031)."""
        return list(self._messages)

    def discarded(self) -> list[DiscardedFragment]:
        """Content discarded at a barge-in or a cancel, in the order it happened."""
        return list(self._discarded)

    def in_flight_response_ids(self) -> list[str]:
        """Live responses with an open assistant item, in first-seen order (RT-034)."""
        found: list[tuple[int, str]] = []
        for rid, response in self._responses.items():
            if response.state is not _STREAMING and response.state is not _WAITING:
                continue
            ranks = [
                i.rank for i in response.items if i.state is _OBSERVED and i.role == "assistant"
            ]
            if ranks:
                found.append((min(ranks), rid))
        return [rid for _, rid in sorted(found)]

    @property
    def pending_count(self) -> int:
        """Events applied in memory but not yet journaled (group commit)."""
        return len(self._pending)

    def close(self) -> None:
        """Flush what is pending (best effort) and close the journal."""
        if self._lifecycle.state is TranscriptState.CLOSED:
            return
        try:
            if self._lifecycle.state is TranscriptState.OPEN:
                self.flush()
        finally:
            if self._journal is not None:
                self._journal.close()
            self._commit(TranscriptEvent.CLOSE)

    def __enter__(self) -> RealtimeTranscript:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- dispatch ----------------------------------------------------------------------------

    def _commit(self, event: TranscriptEvent) -> None:
        self._lifecycle.commit(event)
        self._open = self._lifecycle.state is TranscriptState.OPEN

    def _check_open(self) -> None:
        decision = TRANSCRIPT_TABLE.decide(self._lifecycle.state, TranscriptEvent.APPLY)
        if not isinstance(decision, TranscriptState):
            raise IllegalTransitionError(
                TRANSCRIPT_TABLE.name, decision.state, decision.event, decision.code
            )

    def _apply_one(self, event: WireModel | Mapping[str, Any]) -> ApplyOutcome:
        if type(event) is dict:
            raw: Mapping[str, Any] = event
        elif isinstance(event, WireModel):
            raw = event.__dict__
        elif isinstance(event, Mapping):
            raw = event
        else:
            raise _bad(f"an event is a wire model or a mapping, not {type(event).__name__}")
        kind = raw.get("type")
        handler = self._handlers.get(kind) if type(kind) is str else None
        if handler is None:
            raise _bad(f"unknown realtime event type {kind!r}")
        self._raw = raw
        self._dirty = False
        outcome = handler(raw)
        if self._dirty:
            self._walk()
        if self._new_messages:
            messages = tuple(self._new_messages)
            self._new_messages.clear()
            return ApplyOutcome(outcome.status, messages, outcome.diagnostics, outcome.discarded)
        return outcome

    # -- persistence hook: called after every check passed, before the first mutation ------

    def _persist(self) -> None:
        """GEN-006: the accepted event reaches the journal before it changes memory."""
        journal = self._journal
        if journal is None:
            return
        raw = self._raw
        assert raw is not None
        event = raw if isinstance(raw, dict) else dict(raw)
        if "usage" in event and isinstance(event["usage"], RealtimeUsage):
            event = {**event, "usage": event["usage"].to_json_dict()}
        entry = {"type": "event", "id": str(self._next_entry), "ts": self._stamp(), "event": event}
        if self._group_commit:
            entry["event"] = _copy_event(event)
            try:  # GEN-009: an event the journal cannot write is refused now, not at flush
                orjson.dumps(entry)
            except TypeError as exc:
                raise _bad(f"the event cannot be journaled: {exc}") from None
            self._pending.append(entry)
        else:
            try:
                journal.append([entry])
            except LogFailedError:
                self._commit(TranscriptEvent.PERSIST_FAILED)
                raise
            except AppendFailedError:
                raise
        self._next_entry += 1

    def _stamp(self) -> int:
        if self._now is None:
            self._now = int(self._clock())
        return self._now

    # -- diagnostics -------------------------------------------------------------------------

    def _reject(
        self,
        code: DiagnosticCode,
        item_id: str | None = None,
        response_id: str | None = None,
        detail: str = "",
    ) -> ApplyOutcome:
        raw = self._raw
        assert raw is not None
        diagnostic = Diagnostic(code, str(raw["type"]), item_id, response_id, detail)
        return ApplyOutcome(ApplyStatus.REJECTED, (), (diagnostic,))

    # -- declarations (RT-012) ---------------------------------------------------------------

    def _declaration_conflict(
        self, item_id: str, prev: str | None, role: str | None, response_id: str | None
    ) -> ApplyOutcome | None:
        if prev == item_id:
            return self._reject(
                DiagnosticCode.PREDECESSOR_CYCLE,
                item_id,
                response_id,
                "an item cannot follow itself",
            )
        item = self._items.get(item_id)
        if item is None:
            if prev is not None and prev in self._items and self._reaches(prev, item_id):
                return self._reject(DiagnosticCode.PREDECESSOR_CYCLE, item_id, response_id)
            return None
        if item.state is not _SKIPPED:
            if role is not None and item.role is not None and role != item.role:
                return self._reject(DiagnosticCode.ROLE_CONFLICT, item_id, response_id)
            if (
                response_id is not None
                and item.response_id is not None
                and response_id != item.response_id
            ):
                return self._reject(DiagnosticCode.RESPONSE_CONFLICT, item_id, response_id)
        if prev is not None and prev != item.prev:
            if item.prev is not None or item.state is not _OBSERVED:
                return self._reject(DiagnosticCode.PREDECESSOR_CONFLICT, item_id, response_id)
            if self._reaches(prev, item_id):
                return self._reject(DiagnosticCode.PREDECESSOR_CYCLE, item_id, response_id)
        return None

    def _reaches(self, start: str, target: str) -> bool:
        items = self._items
        if start != target:
            # The usual case, without allocating: the first step ends at a consumed item.
            node = items.get(start)
            if node is None or node.consumed:
                return False
        seen: set[str] = set()
        current: str | None = start
        while current is not None and current not in seen:
            if current == target:
                return True
            seen.add(current)
            node = items.get(current)
            if node is None or node.consumed:
                return False
            current = node.prev
        return False

    def _declare(
        self, item_id: str, prev: str | None, role: str | None, response_id: str | None
    ) -> tuple[_Item, bool]:
        item = self._items.get(item_id)
        if item is None:
            item = _Item(item_id, len(self._items), role, response_id, prev)
            self._items[item_id] = item
            self._by_rank.append(item)
            if response_id is not None:
                self._response(response_id).items.append(item)
            self._place(item)
            return item, True
        new = False
        if prev is not None and item.prev is None:
            item.prev = prev
            self._place(item)
            new = True
        if item.state is not _SKIPPED:
            if role is not None and item.role is None:
                item.role = role
                new = True
            if response_id is not None and item.response_id is None:
                item.response_id = response_id
                self._response(response_id).items.append(item)
                new = True
        return item, new

    def _place(self, item: _Item) -> None:
        """Put a new (or newly linked) item where the walk will find it (RT-030)."""
        prev = item.prev
        if prev is None:
            heapq.heappush(self._frontier, item.rank)
            self._dirty = True
            return
        parent = self._items.get(prev)
        if parent is not None and parent.consumed:
            heapq.heappush(self._frontier, item.rank)
        elif parent is not None:
            if parent.children is None:
                parent.children = [item]
            else:
                parent.children.append(item)
        else:
            self._waiting_children.setdefault(prev, []).append(item)
        # A re-linked item may leave the frontier (lazily, in the walk): re-walk.
        self._dirty = True

    def _response(self, response_id: str) -> _Response:
        response = self._responses.get(response_id)
        if response is None:
            response = _Response()
            self._responses[response_id] = response
        return response

    # -- handlers ----------------------------------------------------------------------------

    def _on_item_observed(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        role = raw.get("role")
        if role not in ("user", "assistant"):
            raise _bad("item_observed: role must be 'user' or 'assistant'")
        response_id = _opt_id(raw, "response_id")
        key = ("item_observed", item_id, prev, role, response_id)
        if key in self._accepted:
            return _DUPLICATE
        if not item_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, response_id, "empty or blank id")
        if role == "user":
            response_id = None
        conflict = self._declaration_conflict(item_id, prev, role, response_id)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        if existing is not None and existing.state is _SKIPPED:
            return _DUPLICATE
        if response_id is not None and self._response_ended(response_id):
            if (
                existing is not None
                and (prev is None or prev == existing.prev)
                and existing.response_id == response_id
            ):
                return _DUPLICATE
            return self._late(key, item_id, prev, response_id, None, "")
        if not self._would_declare(item_id, prev, role, response_id):
            return _DUPLICATE
        self._persist()
        self._accepted.add(key)
        self._declare(item_id, prev, role, response_id)
        if response_id is not None:
            self._touch(response_id)
        return _ACCEPTED

    def _would_declare(
        self, item_id: str, prev: str | None, role: str | None, response_id: str | None
    ) -> bool:
        item = self._items.get(item_id)
        if item is None:
            return True
        if prev is not None and item.prev is None:
            return True
        if item.state is not _SKIPPED:
            if role is not None and item.role is None:
                return True
            if response_id is not None and item.response_id is None:
                return True
        return False

    def _on_item_skipped(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        key = ("item_skipped", item_id, prev)
        if key in self._accepted:
            return _DUPLICATE
        if not item_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        conflict = self._declaration_conflict(item_id, prev, None, None)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        if (
            existing is not None
            and existing.state is not _SKIPPED
            and (existing.state is not _OBSERVED or existing.has_content())
        ):
            return self._reject(DiagnosticCode.SKIP_REFUSED, item_id, None, "the item has content")
        if (
            existing is not None
            and existing.state is _SKIPPED
            and not self._would_declare(item_id, prev, None, None)
        ):
            return _DUPLICATE
        self._persist()
        self._accepted.add(key)
        item, _ = self._declare(item_id, prev, None, None)
        self._skip(item)
        return _ACCEPTED

    def _on_user_final(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        index = _index(raw)
        text = _req_str(raw, "text")
        key = ("user_transcript_final", item_id, prev, index, text)
        if key in self._accepted:
            return _DUPLICATE
        if not item_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        conflict = self._declaration_conflict(item_id, prev, "user", None)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        fills = False
        if existing is not None:
            if existing.state is _SKIPPED:
                if text:
                    return self._reject(DiagnosticCode.ITEM_SKIPPED, item_id)
            else:
                segment = existing.segments.get(index)
                old = segment.user_text if segment is not None else None
                if text and old and old != text:
                    return self._reject(DiagnosticCode.CONFLICTING_REPLAY, item_id)
                if text and not old and existing.state is not _OBSERVED:
                    return self._reject(
                        DiagnosticCode.LATE_CONTENT,
                        item_id,
                        None,
                        "the user item is already final",
                    )
                fills = bool(text) and not old
        else:
            fills = bool(text)
        if not fills and not self._would_declare(item_id, prev, "user", None):
            return _DUPLICATE
        self._persist()
        self._accepted.add(key)
        item, _ = self._declare(item_id, prev, "user", None)
        if item.state is _SKIPPED:
            return _ACCEPTED
        segment = item.segments.get(index)
        if segment is None:
            segment = item.segments[index] = _Segment()
        if fills:
            segment.user_text = text
            item.state = _READY
            self._dirty = True
        return _ACCEPTED

    def _on_delta(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        delta_id = _req_str(raw, "delta_id").strip()
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        index = _index(raw)
        delta = _req_str(raw, "delta")
        kind = raw["type"]
        lane = _DISPLAY if kind == "assistant_text_delta" else _SPOKEN
        key = (kind, response_id, delta_id, item_id, prev, index, delta)
        seen = self._deltas.get(delta_id)
        if (
            seen is not None
            and self._delta_contexts[seen] == _delta_context(key)
            and self._delta_texts.get(delta_id) == delta
        ):
            return _DUPLICATE
        if not (response_id and delta_id and item_id):
            return self._reject(
                DiagnosticCode.INVALID_ID,
                item_id or None,
                response_id or None,
                "empty or blank id",
            )
        if seen is not None:
            return self._reject(
                DiagnosticCode.CONFLICTING_REPLAY, item_id, response_id, "delta id reused"
            )
        return self._content(
            key, item_id, prev, response_id, lane if delta else None, delta, index, delta_id
        )

    def _on_spoken_text(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        item_id = _req_str(raw, "item_id").strip()
        index = _index(raw)
        text = _req_str(raw, "text")
        key = (raw["type"], response_id, item_id, index, text)
        if key in self._accepted:
            return _DUPLICATE
        if not (response_id and item_id):
            return self._reject(
                DiagnosticCode.INVALID_ID,
                item_id or None,
                response_id or None,
                "empty or blank id",
            )
        return self._content(key, item_id, None, response_id, _SPOKEN, text, index, None)

    def _content(
        self,
        key: tuple[Any, ...],
        item_id: str,
        prev: str | None,
        response_id: str,
        lane: Lane | None,
        text: str,
        index: int,
        delta_id: str | None,
    ) -> ApplyOutcome:
        conflict = self._declaration_conflict(item_id, prev, "assistant", response_id)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        truncation = key[0] == "assistant_transcript_truncated"
        if self._response_ended(response_id):
            if truncation and existing is not None and existing.state is _AWAITING:
                # RT-073: a cut after the response ended is expected; it settles the item.
                self._persist()
                self._accepted.add(key)
                segment = existing.segments.get(index)
                if segment is None:
                    segment = existing.segments[index] = _Segment()
                segment.truncation = text
                self._settle_playback(existing)
                return _ACCEPTED
            return self._late(key, item_id, prev, response_id, lane, text)
        if existing is not None:
            state = existing.state
            if state is _SKIPPED:
                return self._reject(DiagnosticCode.ITEM_SKIPPED, item_id, response_id)
            if state is not _OBSERVED:
                return self._reject(DiagnosticCode.LATE_CONTENT, item_id, response_id)
            if lane is not None and existing.lane is not None and existing.lane is not lane:
                return self._reject(
                    DiagnosticCode.LANE_CONFLICT,
                    item_id,
                    response_id,
                    f"the item is {existing.lane}",
                )
            if delta_id is None:
                segment = existing.segments.get(index)
                if segment is not None:
                    old = segment.truncation if truncation else segment.final
                    if old is not None:
                        if old == text:
                            return _DUPLICATE
                        return self._reject(DiagnosticCode.CONFLICTING_REPLAY, item_id, response_id)
        self._persist()
        if delta_id is None:
            self._accepted.add(key)
        item, _ = self._declare(item_id, prev, "assistant", response_id)
        if lane is not None and item.lane is None:
            item.lane = lane
        segment = item.segments.get(index)
        if segment is None:
            segment = item.segments[index] = _Segment()
        if delta_id is not None:
            self._remember_delta(key, segment)
            segment.deltas.append(text)
        elif truncation:
            segment.truncation = text
        else:
            segment.final = text
        self._touch(response_id)
        return _ACCEPTED

    def _on_completed(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        stop_reason = raw.get("stop_reason")
        if type(stop_reason) is not str or stop_reason not in _STOP_REASONS:  # GEN-009
            raise _bad(f"assistant_turn_completed: unknown stop_reason {stop_reason!r}")
        usage = _usage_dict(raw.get("usage", {}))
        key = _completion_key(response_id, stop_reason, usage)
        refused = self._admit_end(key, response_id)
        if refused is not None:
            return refused
        response = self._response(response_id)
        if stop_reason == "tool_use":
            response.state = _WAITING
            return _ACCEPTED
        if stop_reason == "cancelled":
            response.state = ResponseState.CANCELLED
            response.stop_reason = "cancelled"
            return ApplyOutcome(ApplyStatus.ACCEPTED, (), (), self._end(response_id, None))
        response.state = ResponseState.COMPLETED
        response.stop_reason = str(stop_reason)
        response.usage = usage
        discarded = self._end(response_id, "all")
        return ApplyOutcome(ApplyStatus.ACCEPTED, (), (), discarded) if discarded else _ACCEPTED

    def _admit_end(self, key: tuple[Any, ...], response_id: str) -> ApplyOutcome | None:
        """Accept and persist an end of a response, or say why not: a duplicate, a blank id
        (RT-003), or a second, different end (first end wins, RT-025)."""
        if key in self._accepted:
            return _DUPLICATE
        if not response_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        response = self._responses.get(response_id)
        if response is not None and response.state not in (_STREAMING, _WAITING):
            return self._reject(
                DiagnosticCode.ALREADY_TERMINAL, None, response_id, f"it is {response.state.value}"
            )
        self._persist()
        self._accepted.add(key)
        return None

    def _on_playback_started(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        key = ("assistant_playback_started", response_id)
        if key in self._accepted:
            return _DUPLICATE
        if not response_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        if self._response_ended(response_id):
            return self._reject(
                DiagnosticCode.LATE_CONTENT, None, response_id, "the response already ended"
            )
        self._persist()
        self._accepted.add(key)
        self._response(response_id).played_back = True
        return _ACCEPTED

    def _on_playback_finished(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        item_id = _req_str(raw, "item_id").strip()
        key = ("assistant_playback_finished", response_id, item_id)
        if key in self._accepted:
            return _DUPLICATE
        if not (response_id and item_id):
            return self._reject(
                DiagnosticCode.INVALID_ID,
                item_id or None,
                response_id or None,
                "empty or blank id",
            )
        conflict = self._declaration_conflict(item_id, None, "assistant", response_id)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        if existing is not None and existing.state is _AWAITING:
            self._persist()
            self._accepted.add(key)
            existing.played = True
            self._settle_playback(existing)
            return _ACCEPTED
        if self._response_ended(response_id):
            return self._late(key, item_id, None, response_id, _SPOKEN, "")
        if existing is not None:
            if existing.state is _SKIPPED:
                return self._reject(DiagnosticCode.ITEM_SKIPPED, item_id, response_id)
            if existing.state is not _OBSERVED:
                return self._reject(DiagnosticCode.LATE_CONTENT, item_id, response_id)
            if existing.lane is _DISPLAY:
                return self._reject(
                    DiagnosticCode.LANE_CONFLICT, item_id, response_id, "the item is display"
                )
        self._persist()
        self._accepted.add(key)
        item, _ = self._declare(item_id, None, "assistant", response_id)
        item.lane = _SPOKEN
        item.played = True
        return _ACCEPTED

    def _settle_playback(self, item: _Item) -> None:
        """An item whose playback ended holds what was heard: a message if anything was,
        else an anchor (RT-073, RT-074)."""
        response_id = item.response_id
        assert response_id is not None
        response = self._responses[response_id]
        if item.state is _AWAITING:
            response.awaiting_left -= 1
        if item.has_content():
            item.state = _READY
            response.ready_left += 1
        else:
            item.state = _SKIPPED
            item.segments.clear()
        self._dirty = True

    def _on_interrupted(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        refused = self._admit_end(("assistant_turn_interrupted", response_id), response_id)
        if refused is not None:
            return refused
        response = self._response(response_id)
        response.state = ResponseState.INTERRUPTED
        response.stop_reason = "cancelled"
        return ApplyOutcome(ApplyStatus.ACCEPTED, (), (), self._end(response_id, "display"))

    # -- response ends and late content (RT-021..RT-026) ---------------------------------------

    def _response_ended(self, response_id: str) -> bool:
        response = self._responses.get(response_id)
        # Identity tests: an enum in a frozenset costs a Python-level __hash__.
        return (
            response is not None
            and response.state is not _STREAMING
            and response.state is not _WAITING
        )

    def _touch(self, response_id: str) -> None:
        response = self._response(response_id)
        if response.state is _WAITING:
            response.state = _STREAMING

    def _late(
        self,
        key: tuple[Any, ...],
        item_id: str,
        prev: str | None,
        response_id: str,
        lane: Lane | None,
        text: str,
    ) -> ApplyOutcome:
        raw = self._raw
        assert raw is not None
        fragments: tuple[DiscardedFragment, ...] = ()
        if text:
            fragments = (DiscardedFragment(item_id, response_id, lane or _DISPLAY, text, "late"),)
        diagnostic = Diagnostic(
            DiagnosticCode.LATE_CONTENT,
            str(raw["type"]),
            item_id,
            response_id,
            "the response already ended",
        )
        item = self._items.get(item_id)
        if item is None or (item.state is _OBSERVED and not item.has_content()):
            # The causal residue: the item exists, as a contentless anchor (RT-026).
            self._persist()
            if key[0] in _DELTA_KINDS:
                self._remember_delta(key, None)
            else:
                self._accepted.add(key)
            item, _ = self._declare(item_id, prev, "assistant", response_id)
            self._skip(item)
            self._discarded.extend(fragments)
            return ApplyOutcome(ApplyStatus.ACCEPTED, (), (diagnostic,), fragments)
        return ApplyOutcome(ApplyStatus.REJECTED, (), (diagnostic,), fragments)

    def _remember_delta(self, key: tuple[Any, ...], segment: _Segment | None) -> None:
        """Remember an accepted delta (its 7-field key), sharing the segment's context."""
        context = _delta_context(key)
        if segment is None:
            segment = _Segment()
        if segment.context != context:
            self._new_context(segment, context)
        self._deltas[key[2]] = segment.context_number
        self._delta_texts[key[2]] = key[6]

    def _new_context(self, segment: _Segment, context: tuple[Any, ...]) -> None:
        segment.context = context
        segment.context_number = len(self._delta_contexts)
        self._delta_contexts.append(context)

    def _skip(self, item: _Item) -> None:
        if item.state is not _SKIPPED:
            item.state = _SKIPPED
            item.segments.clear()
            self._dirty = True

    def _end(self, response_id: str, keep: str | None) -> tuple[DiscardedFragment, ...]:
        response = self._responses[response_id]
        fragments: list[DiscardedFragment] = []
        items = response.items
        for item in sorted(items, key=_rank) if len(items) > 1 else items:
            if item.state is not _OBSERVED:
                continue
            lane = item.lane or _DISPLAY
            if lane is _SPOKEN:
                # RT-072: whatever the end, a spoken item holds what the user heard.
                if item.playback_settled():
                    self._settle_playback(item)
                    continue
                if response.played_back:
                    item.state = _AWAITING
                    response.awaiting_left += 1
                    continue
            text = item.text()
            if text and (keep == "all" or (keep == "display" and lane is _DISPLAY)):
                item.state = _READY
                response.ready_left += 1
                continue
            if text:
                reason = "barge_in" if keep == "display" else "cancelled"
                fragments.append(DiscardedFragment(item.item_id, response_id, lane, text, reason))
            item.state = _SKIPPED
            item.segments.clear()
        self._discarded.extend(fragments)
        self._dirty = True
        return tuple(fragments)

    # -- the walk (RT-030, RT-031) -----------------------------------------------------------

    def _pop(self) -> _Item | None:
        """The next item in canonical order, or ``None``; drops stale frontier entries."""
        frontier = self._frontier
        by_rank = self._by_rank
        items = self._items
        while frontier:
            item = by_rank[frontier[0]]
            if item.consumed:
                heapq.heappop(frontier)
                continue
            prev = item.prev
            if prev is not None:
                parent = items.get(prev)
                if parent is None or not parent.consumed:
                    # Re-linked under a predecessor not yet consumed: it comes back later.
                    heapq.heappop(frontier)
                    continue
            return item
        return None

    def _consume(self, item: _Item) -> None:
        """Step past the item at the top of the frontier; its children become available."""
        frontier = self._frontier
        heapq.heappop(frontier)
        item.consumed = True
        children = item.children
        if children:
            for child in children:
                heapq.heappush(frontier, child.rank)
        waiting = self._waiting_children.get(item.item_id)
        if waiting:
            for child in waiting:
                heapq.heappush(frontier, child.rank)

    def _walk(self) -> None:
        while True:
            item = self._pop()
            if item is None:
                return
            state = item.state
            if state is _SKIPPED:
                self._consume(item)
                self._forget_children(item)
                continue
            if state is _OBSERVED or state is _AWAITING:
                return
            if item.role == "user":
                self._consume(item)
                self._forget_children(item)
                item.state = _MATERIALIZED
                self._emit_user(item)
                continue
            if not self._walk_run(item):
                return

    def _walk_run(self, first: _Item) -> bool:
        """Emit the run of ``first``'s response that starts at ``first``, if it is complete."""
        response_id = first.response_id
        assert response_id is not None
        response = self._responses[response_id]
        saved_frontier = list(self._frontier)
        passed: list[_Item] = []
        run: list[_Item] = []
        item: _Item | None = first
        ended_by_message = False
        while item is not None:
            state = item.state
            if state is _SKIPPED:
                passed.append(item)
                self._consume(item)
            elif state is _READY and item.role != "user" and item.response_id == response_id:
                run.append(item)
                passed.append(item)
                self._consume(item)
            else:
                ended_by_message = state is _READY
                break
            item = self._pop()
        if not ended_by_message and (response.ready_left != len(run) or response.awaiting_left):
            # RT-031: the run may still grow; undo and wait.
            for undone in passed:
                undone.consumed = False
            self._frontier = saved_frontier
            return False
        for done in passed:
            self._forget_children(done)
        for done in run:
            done.state = _MATERIALIZED
        response.ready_left -= len(run)
        self._emit_assistant(response_id, response, run)
        return True

    def _forget_children(self, item: _Item) -> None:
        item.children = None
        self._waiting_children.pop(item.item_id, None)

    # -- message construction (RT-032) -------------------------------------------------------

    def _emit_user(self, item: _Item) -> None:
        # The fields are built here from validated data: construct without re-validating.
        block = _construct(TextContent, {"type": "text", "text": item.text()}, {"text"}, {})
        message = _construct(
            UserMessage,
            {"role": "user", "content": [block], "timestamp_ms": self._stamp()},
            {"content", "timestamp_ms"},
            {"ss_item_id": item.item_id},
        )
        self._messages.append(message)
        self._new_messages.append(message)

    def _emit_assistant(self, response_id: str, response: _Response, run: list[_Item]) -> None:
        blocks: list[TextContent] = []
        for item in run:
            text = item.text()
            if item.lane is _SPOKEN:
                extra = {"ss_item_id": item.item_id, "ss_lane": "spoken"}
            else:
                extra = {"ss_item_id": item.item_id}
            blocks.append(_construct(TextContent, {"type": "text", "text": text}, {"text"}, extra))
            for segment in item.segments.values():
                segment.deltas.clear()
        usage = response.usage if not response.usage_spent else None
        response.usage_spent = True
        stop_reason = response.stop_reason or "end_turn"
        message = _construct(
            AssistantMessage,
            {
                "role": "assistant",
                "content": blocks,
                "api": self.api,
                "provider": self.provider,
                "model": self.model,
                "response_model": None,
                "response_id": response_id,
                "usage": _opi_usage(usage),
                "stop_reason": STOP_REASON_MAP[stop_reason],
                "error_message": None,
                "timestamp_ms": self._stamp(),
            },
            {
                "content",
                "api",
                "provider",
                "model",
                "response_id",
                "usage",
                "stop_reason",
                "timestamp_ms",
            },
            {"ss_response_id": response_id, "ss_realtime_stop_reason": stop_reason},
        )
        self._messages.append(message)
        self._new_messages.append(message)


def _delta_context(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """``(type, response_id, item_id, prev, index)`` of a delta's key
    ``(type, response_id, delta_id, item_id, prev, index, delta)``."""
    return (key[0], key[1], key[3], key[4], key[5])


def _rank(item: _Item) -> int:
    return item.rank


_strip = str.strip
#: The fields of a delta event, read in one call (KeyError when one is missing).
_delta_fields = operator.itemgetter("delta_id", "item_id", "response_id", "delta", "content_index")
_M = TypeVar("_M", bound=WireModel)
_set_attribute = object.__setattr__
_U32_MAX = 0xFFFFFFFF


def _construct(
    cls: type[_M], values: dict[str, Any], fields_set: set[str], extra: dict[str, Any]
) -> _M:
    """``cls.model_construct(**fields, **extra)`` for trusted values, without its per-field
    walk: ``values`` holds every field in declaration order (defaults included),
    ``fields_set`` the fields given explicitly, ``extra`` the extra fields.

    It sets exactly the four slots ``model_construct`` sets; the tests compare the two
    field by field, and :func:`_check_construct` does so once at import.
    """
    model = cls.__new__(cls)
    _set_attribute(model, "__dict__", values)
    _set_attribute(model, "__pydantic_fields_set__", fields_set)
    _set_attribute(model, "__pydantic_extra__", extra)
    _set_attribute(model, "__pydantic_private__", None)
    return model


def _opi_usage(usage: Mapping[str, Any] | None) -> Usage:
    """meerkat usage -> opi usage: ``cache_write_tokens`` <- ``cache_creation_tokens``."""
    if not usage:
        return _construct(
            Usage,
            {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
            },
            set(),
            {},
        )
    input_tokens = usage.get("input_tokens", 0)
    output_tokens = usage.get("output_tokens", 0)
    cache_read = usage.get("cache_read_tokens") or 0
    cache_write = usage.get("cache_creation_tokens") or 0
    if (
        type(input_tokens) is int
        and type(output_tokens) is int
        and type(cache_read) is int
        and type(cache_write) is int
        and 0 <= input_tokens <= _U32_MAX
        and 0 <= output_tokens <= _U32_MAX
        and 0 <= cache_read <= _U32_MAX
        and 0 <= cache_write <= _U32_MAX
    ):
        # Already valid opi counters: what validation would build, without validating.
        return _construct(
            Usage,
            {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_read_tokens": cache_read,
                "cache_write_tokens": cache_write,
            },
            {"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"},
            {},
        )
    # Anything else goes through validation, which converts or rejects it as before.
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _check_construct() -> None:
    """Fail at import if :func:`_construct` no longer builds what ``model_construct`` does
    (a pydantic upgrade changing its internals)."""
    for built, expected in (
        (
            _construct(TextContent, {"type": "text", "text": "t"}, {"text"}, {"ss_x": 1}),
            TextContent.model_construct(text="t", ss_x=1),
        ),
        (_opi_usage(None), Usage()),
        (
            _opi_usage({"input_tokens": 1, "output_tokens": 2}),
            Usage(input_tokens=1, output_tokens=2, cache_read_tokens=0, cache_write_tokens=0),
        ),
    ):
        if (
            type(built) is not type(expected)
            or built.__dict__ != expected.__dict__
            or list(built.__dict__) != list(expected.__dict__)
            or built.__pydantic_fields_set__ != expected.__pydantic_fields_set__
            or built.__pydantic_extra__ != expected.__pydantic_extra__
            or built.__pydantic_private__ != expected.__pydantic_private__
        ):
            raise RuntimeError("sessionspec: fast message construction disagrees with pydantic")


def _has_hooks(cls: type[WireModel]) -> bool:
    return bool(cls.__pydantic_post_init__) or bool(cls.__pydantic_root_model__)


def _copy_event(event: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(event)
    usage = copied.get("usage")
    # ``None`` first: most events have no usage, and an ABC check is slow.
    if usage is not None and isinstance(usage, Mapping):
        copied["usage"] = dict(usage)
    return copied


def _wall_clock_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


#: Event type -> name of the handler method (bound per instance, so subclasses can override).
_HANDLERS: dict[str, str] = {
    "item_observed": "_on_item_observed",
    "item_skipped": "_on_item_skipped",
    "user_transcript_final": "_on_user_final",
    "assistant_text_delta": "_on_delta",
    "assistant_transcript_delta": "_on_delta",
    "assistant_transcript_truncated": "_on_spoken_text",
    "assistant_transcript_final_text": "_on_spoken_text",
    "assistant_turn_completed": "_on_completed",
    "assistant_turn_interrupted": "_on_interrupted",
    "assistant_playback_started": "_on_playback_started",
    "assistant_playback_finished": "_on_playback_finished",
}
assert tuple(_HANDLERS) == REALTIME_EVENT_TYPES
for _model in (TextContent, UserMessage, AssistantMessage, Usage):
    if _has_hooks(_model):
        raise RuntimeError(f"sessionspec: {_model.__name__} needs model_construct's hooks")
_check_construct()


# -- hand-off to the coordinator (RT-050) ----------------------------------------------------


class TurnSink(Protocol):
    """What the hand-off needs of a coordinator: opi's ``on_turn_end``."""

    def on_turn_end(self, new_messages: Sequence[Any], usage: Any = None) -> Any: ...


class CoordinatorSink:
    """Hands materialized messages to a coordinator as turns, usage once per response.

    A turn is a run of user messages followed by the assistant message that answers them
    (or the user messages alone, at the end of what is materialized). Each turn's usage is
    the sum of its assistant messages' usage, which the transcript puts on the first message
    of each response only, so a response is counted once (RT-050). :meth:`drain` flushes
    the transcript's journal first, so nothing reaches the coordinator that a crash could
    take back from the transcript.

    :param handed: how many of the transcript's messages the coordinator already has (after
        a restart: the number of realtime messages in the coordinator's context).
    """

    def __init__(
        self, transcript: RealtimeTranscript, coordinator: TurnSink, *, handed: int = 0
    ) -> None:
        self.transcript = transcript
        self.coordinator = coordinator
        self.handed = handed

    def drain(self) -> list[Any]:
        """Hand over everything materialized since the last drain; returns what each
        ``on_turn_end`` returned (for example a compaction reason)."""
        self.transcript.flush()
        messages = self.transcript.messages()[self.handed :]
        results: list[Any] = []
        turn: list[UserMessage | AssistantMessage] = []
        for message in messages:
            turn.append(message)
            if isinstance(message, AssistantMessage):
                results.append(self._hand(turn))
                turn = []
        if turn:
            results.append(self._hand(turn))
        return results

    def _hand(self, turn: list[UserMessage | AssistantMessage]) -> Any:
        usage = Usage()
        for message in turn:
            if isinstance(message, AssistantMessage):
                usage = Usage(
                    input_tokens=usage.input_tokens + message.usage.input_tokens,
                    output_tokens=usage.output_tokens + message.usage.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens + message.usage.cache_read_tokens,
                    cache_write_tokens=usage.cache_write_tokens + message.usage.cache_write_tokens,
                )
        result = self.coordinator.on_turn_end(list(turn), usage)
        self.handed += len(turn)
        return result
