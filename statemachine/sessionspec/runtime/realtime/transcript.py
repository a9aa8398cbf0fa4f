"""The public realtime transcript: construction (in memory or on a journal) and ``apply``.

:class:`RealtimeTranscript` is the facade of the package; its ``apply`` decides a delta in
the wire form inline (the hot path; see the package docstring) and hands everything else to
the checked handlers of :mod:`.assembly` and :mod:`.playback`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from sessionspec.errors import (
    BadHeaderError,
    CallerError,
    ForeignFormatError,
    JournalVersionError,
    StorageError,
)
from sessionspec.reference.realtime import (
    DiscardedFragment,
)
from sessionspec.runtime.realtime.playback import _Playback
from sessionspec.runtime.realtime.records import (
    _ACCEPTED,
    _DISPLAY,
    _DUPLICATE,
    _OBSERVED,
    _SPOKEN,
    _STREAMING,
    _TS_MAX,
    _WAITING,
    ApplyOutcome,
    InvalidRealtimeEventError,
    JournalRecovery,
    SkippedJournalEntry,
    UnattachedUsage,
    _bad,
    _delta_fields,
    _outcome,
    _Segment,
    _strip,
)
from sessionspec.storage.files import FileSystem, OsFileSystem
from sessionspec.storage.jsonl import JsonlLog
from sessionspec.storage.log import Durability
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.storage.urls import (
    create_store_log,
    is_store_url,
    open_store_log,
    parse_store_url,
)
from sessionspec.tables.realtime import (
    TranscriptEvent,
    TranscriptState,
)
from sessionspec.wire.messages import (
    AssistantMessage,
    UserMessage,
    WireModel,
)
from sessionspec.wire.realtime import (
    JOURNAL_ENTRY_TYPES,
    JOURNAL_FORMAT_VERSION,
    JOURNAL_FORMAT_VERSIONS,
    RealtimeJournalHeader,
)


class RealtimeTranscript(_Playback):
    """The canonical transcript of one realtime conversation (RT section of the spec).

    In memory by default; :meth:`create` and :meth:`open` put it on a journal file.

    :param api: ``api`` of every materialized assistant message (realtime events carry none).
    :param provider: ``provider`` of every materialized assistant message.
    :param model: ``model`` of every materialized assistant message.
    :param clock: milliseconds since the epoch, for ``timestamp_ms`` (injectable for tests).
    """

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
        """A new, empty transcript journaled at ``path`` (which must not exist): a JSONL
        file, or a session of a SQL store named by its URL (``sqlite:///db#id``,
        ``postgresql://...#id``; RT-045), whose session id is the journal's id."""
        transcript = cls(api=api, provider=provider, model=model, clock=clock)
        now = transcript._clock()
        store = parse_store_url(path) if is_store_url(path) else None
        if store is not None and journal_id is None:
            journal_id = store.session_id
        header = RealtimeJournalHeader(
            id=journal_id or f"rt-{now:x}",
            created=datetime.fromtimestamp(now / 1000, UTC).isoformat(),
            api=api,
            provider=provider,
            model=model,
        )
        if store is not None:
            transcript._journal = create_store_log(
                store,
                header.id,
                header.to_json_dict(),
                durability,
                header_model=RealtimeJournalHeader,
                entry_types=JOURNAL_ENTRY_TYPES,
            )
        else:
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
        """Reopen a journaled transcript: replay every accepted event (RT-041).

        ``path`` is a JSONL file or a session URL of a SQL store (RT-045). A journal of a
        version this package does not read yet is refused with :class:`JournalVersionError`
        (RT-044)."""
        if is_store_url(path):
            journal: JsonlLog | DatabaseLog = _open_store_journal(path, durability)
        else:
            journal = _open_file_journal(path, fs, durability)
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
        transcript._journal_version = int(header["version"])
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
            # Subscripts and ``in`` rather than ``dict.get`` on this path: each saves a method
            # call, about 60 ns of the 1.3 us a delta costs on the bench machine.
            try:
                kind = event["type"]
            except KeyError:
                kind = None
            if kind == "assistant_transcript_delta" or kind == "assistant_text_delta":
                # str.strip, unbound, raises TypeError for anything but a string; a string
                # subclass (which the checked path rejects) is told apart by identity below.
                # A delta without a ``previous_item_id`` key (KeyError) takes the checked path.
                try:
                    raw_delta_id, raw_item_id, raw_response_id, delta, index, prev = _delta_fields(
                        event
                    )
                    delta_id = _strip(raw_delta_id)
                    item_id = _strip(raw_item_id)
                    response_id = _strip(raw_response_id)
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
                    if delta_id in self._deltas:
                        position = self._deltas[delta_id]
                        context_number = self._delta_log_contexts[position]
                        if self._delta_log_texts[position] == delta and self._delta_contexts[
                            context_number
                        ] == (kind, response_id, item_id, prev, index):
                            return _DUPLICATE
                    else:
                        context = (kind, response_id, item_id, prev, index)
                        if context == self._hot_context:
                            # The segment the last delta went to, with nothing else applied
                            # since (a checked event clears it): its item, response and lane
                            # were checked then and cannot have changed. Skipping the item
                            # lookup and its five checks cut a delta's time by 5-7% (median
                            # of alternated chunks of 2,000 deltas, bench machine under load;
                            # with the delta log, 19-20% in all).
                            segment = self._hot_segment
                            if self._journal is not None:
                                self._persist_inline(event)
                            texts = self._delta_log_texts
                            self._deltas[delta_id] = len(texts)
                            texts.append(delta)
                            self._delta_log_contexts.append(segment.context_number)
                            segment.deltas.append(delta)
                            return _ACCEPTED
                        item = self._items.get(item_id)
                        if (
                            item is not None
                            and item.state is _OBSERVED
                            and item.response_id == response_id
                            and (prev is None or prev == item.prev)
                            and item.response.state is _STREAMING  # type: ignore[union-attr]
                        ):
                            lane = _DISPLAY if kind == "assistant_text_delta" else _SPOKEN
                            if not delta or item.lane is lane or item.lane is None:
                                if self._journal is not None:
                                    self._persist_inline(event)
                                if delta:
                                    item.lane = lane
                                try:
                                    segment = item.segments[index]
                                except KeyError:  # the first delta of the segment
                                    segment = item.segments[index] = _Segment()
                                # The segment's context differs from this delta's only in
                                # its type or predecessor (the item fixes the rest). With
                                # the response read from the item and one itemgetter for
                                # six fields, this took a delta from 1.65-1.76 to
                                # 1.29-1.58 us (bench machine, deltas alone, 2000 turns).
                                if segment.context_kind != kind or segment.context_prev != prev:
                                    self._new_context(segment, context)
                                texts = self._delta_log_texts
                                self._deltas[delta_id] = len(texts)
                                texts.append(delta)
                                self._delta_log_contexts.append(segment.context_number)
                                segment.deltas.append(delta)
                                # The next delta of this segment takes the branch above, unless
                                # the item has no lane yet (an empty delta is lane-neutral).
                                if item.lane is lane:
                                    self._hot_context = context
                                    self._hot_segment = segment
                                else:
                                    self._hot_context = None
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

    def messages(self) -> list[UserMessage | AssistantMessage]:
        """The canonical transcript so far (RT-031)."""
        return list(self._messages)

    def unattached_usage(self) -> list[UnattachedUsage]:
        """The usage of ended responses that have no message and never will, in the order
        each became so (RT-027); every other response's usage is on its first message."""
        return list(self._unattached)

    def discarded(self) -> list[DiscardedFragment]:
        """Content discarded at a barge-in or a cancel, in the order it happened."""
        return list(self._discarded)

    def in_flight_response_ids(self) -> list[str]:
        """Live responses with an open assistant item, in first-seen order (RT-034)."""
        found: list[tuple[int, str]] = []
        for rid, response in self._responses.items():
            if response.state is not _STREAMING and response.state is not _WAITING:
                continue
            by_rank = self._by_rank
            ranks = [
                rank
                for rank in response.item_ranks
                if by_rank[rank].state is _OBSERVED and by_rank[rank].role == "assistant"
            ]
            if ranks:
                found.append((min(ranks), rid))
        return [rid for _, rid in sorted(found)]

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

    # -- dispatch ---------

    def _persist_inline(self, event: Mapping[str, Any]) -> None:
        """Journal a delta the hot path accepted (GEN-006), as the checked path would."""
        self._raw = event
        try:
            self._persist()
        finally:
            self._now = None

    def _apply_one(self, event: WireModel | Mapping[str, Any]) -> ApplyOutcome:
        # Any checked event may change an item, a response or a segment context: the hot
        # path's remembered segment is no longer known to be valid.
        self._hot_context = None
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
        outcome = handler(self, raw)
        if self._dirty:
            self._walk()
        if self._new_messages:
            messages = tuple(self._new_messages)
            self._new_messages.clear()
            return _outcome(outcome.status, messages, outcome.diagnostics, outcome.discarded)
        return outcome


def _newer_version(fs: FileSystem, path: str) -> int | None:
    """The version a journal's first line names, when it is a realtime journal header of a
    version newer than this package writes (RT-044); ``None`` otherwise (another problem)."""
    try:
        first = fs.read_bytes(path).split(b"\n", 1)[0]
        header = orjson.loads(first)
    except (OSError, ValueError, StorageError):  # unreadable: the log's error stands
        return None
    if type(header) is not dict or header.get("type") != "sessionspec.realtime_journal":
        return None
    version = header.get("version")
    if type(version) is int and version > JOURNAL_FORMAT_VERSION:
        return version
    return None


def _open_file_journal(path: str, fs: FileSystem | None, durability: Durability) -> JsonlLog:
    try:
        return JsonlLog.open(
            path,
            fs=fs,
            durability=durability,
            header_model=RealtimeJournalHeader,
            entry_types=JOURNAL_ENTRY_TYPES,
        )
    except BadHeaderError as exc:
        if not isinstance(exc, ForeignFormatError):
            version = _newer_version(fs or OsFileSystem(), path)
            if version is not None:
                raise JournalVersionError(path, version, JOURNAL_FORMAT_VERSIONS) from None
        raise


def _open_store_journal(url: str, durability: Durability) -> DatabaseLog:
    """A journal in a SQL store (RT-045). The store keeps headers without reading them, so
    the header is checked here as the JSONL log checks it (RT-044, LOG-008)."""
    journal = open_store_log(url, durability, entry_types=JOURNAL_ENTRY_TYPES)
    try:
        assert journal.snapshot is not None
        header = journal.snapshot.header
        version = header.get("version") if type(header) is dict else None
        if type(version) is int and version > JOURNAL_FORMAT_VERSION:
            raise JournalVersionError(journal.path, version, JOURNAL_FORMAT_VERSIONS)
        try:
            RealtimeJournalHeader.model_validate(header, strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "header"
            raise BadHeaderError(
                journal.path, f"not a realtime journal header: {where}: {first['msg']}"
            ) from None
    except BaseException:
        journal.close()
        raise
    return journal
