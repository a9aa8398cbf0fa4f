"""Durability of the realtime transcript (RT-040..RT-043, RT-049, GEN-006).

Every accepted event is appended to the journal after its checks passed and before it
changes memory; with group commit it is queued (and proven serialisable now, GEN-009) and
:meth:`_Journaled.flush` appends the queue in one batch. A journal failure that leaves the
log unknown moves the transcript to ``failed`` (RT-043). The journal is a JSONL file.
"""

from __future__ import annotations

import orjson

from sessionspec.errors import (
    AppendFailedError,
    LogFailedError,
)
from sessionspec.runtime.realtime.core import _TranscriptCore
from sessionspec.runtime.realtime.records import (
    _bad,
    _copy_event,
)
from sessionspec.tables.realtime import (
    TranscriptEvent,
)
from sessionspec.wire.realtime import (
    JOURNAL_V2_EVENT_TYPES,
    RealtimeUsage,
)


class _Journaled(_TranscriptCore):
    """The persistence hook and group commit."""

    # -- persistence hook: called after every check passed, before the first mutation ------

    def _persist(self) -> None:
        """GEN-006: the accepted event reaches the journal before it changes memory."""
        journal = self._journal
        if journal is None:
            return
        raw = self._raw
        assert raw is not None
        if self._journal_version == 1 and (
            raw["type"] in JOURNAL_V2_EVENT_TYPES
            or (raw["type"] == "assistant_turn_interrupted" and raw.get("usage") is not None)
        ):
            # RT-044: a reader of version 1 would not know it; nothing was changed.
            raise _bad(
                f"{raw['type']} cannot be journaled in a version-1 journal "
                f"(start a new journal to record playback and interruption usage)"
            )
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

    @property
    def pending_count(self) -> int:
        """Events applied in memory but not yet journaled (group commit)."""
        return len(self._pending)
