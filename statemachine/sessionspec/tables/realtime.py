"""The realtime transcript's three lifecycles as tables (spec/SPEC.md §5, RT-016, RT-020, RT-043).

Rules
-----
1. **Item** (one provider item, user or assistant): ``observed`` while its content may still
   grow; ``ready`` once its content is final (a user item's first non-empty final transcript,
   an assistant item of a response that ended with content kept); ``materialized`` once it is
   part of a message; ``skipped`` when it is a causal anchor that never becomes a message (a
   tool item, an emptied or discarded assistant item, an empty user item skipped by the
   provider); ``awaiting_playback`` when its response ended while the user was still
   hearing it (a spoken item of a response whose playback the client reports, RT-072): it
   waits for the end of its playback, which makes it ``ready`` with what was heard, or a
   ``skipped`` anchor when nothing was. Content for a ``ready``, ``materialized``,
   ``skipped`` or ``awaiting_playback`` item is refused: history is append-only (RT-016,
   RT-033); only a playback end settles an item awaiting it.
2. **Response** (one provider response): ``streaming`` while content arrives;
   ``waiting_for_tool_results`` after a ``tool_use`` completion (its items wait; more
   content resumes streaming); then exactly one terminal state, the first one reported:
   ``completed``, ``interrupted`` (barge-in) or ``cancelled`` (RT-020, RT-025). Content after
   the terminal is late and refused (RT-026), and so is the start of its playback (RT-070);
   the end of an item's playback is not content and is accepted after the terminal (RT-073).
3. **Transcript** (the runtime object): ``open``; ``failed`` when its journal could not be
   restored after a failed write (it must be opened again from disk); ``closed`` (RT-043).

Theory of operation
-------------------
Items and responses are many and short-lived, so the runtime keeps their states as enum
values in its records and consults these tables directly (the precomputed sets below are
derived from them, never written by hand). The transcript itself is one long-lived object:
it carries a ``transitions`` machine built from :data:`TRANSCRIPT_TABLE`
(:class:`sessionspec.lifecycle.Lifecycle`) and fires its triggers only after the journal
write succeeded (GEN-006).
"""

from __future__ import annotations

import enum

from sessionspec.tables.base import MachineTable

__all__ = [
    "ITEM_ACCEPTS_CONTENT",
    "ITEM_TABLE",
    "RESPONSE_ACCEPTS_CONTENT",
    "RESPONSE_TABLE",
    "TERMINAL_RESPONSE_STATES",
    "TRANSCRIPT_TABLE",
    "ItemEvent",
    "ItemState",
    "ResponseEvent",
    "ResponseState",
    "TranscriptEvent",
    "TranscriptState",
]


class ItemState(enum.Enum):
    OBSERVED = "observed"
    READY = "ready"
    MATERIALIZED = "materialized"
    SKIPPED = "skipped"
    AWAITING_PLAYBACK = "awaiting_playback"


class ItemEvent(enum.Enum):
    #: Content for the item (a delta, a truncation, a final text, a user transcript).
    CONTENT = "content"
    #: The item's content became final (RT-015, RT-021, RT-023).
    FINALIZE = "finalize"
    #: The item became a contentless causal anchor (RT-017, RT-021, RT-023, RT-024, RT-026).
    SKIP = "skip"
    #: The item became part of a message (RT-031).
    MATERIALIZE = "materialize"
    #: Its response ended while its audio was still being played (RT-072).
    AWAIT_PLAYBACK = "await_playback"
    #: The end of its playback: played in full or cut at a heard prefix (RT-073).
    PLAYBACK_END = "playback_end"


ITEM_TABLE: MachineTable[ItemState, ItemEvent] = MachineTable(
    name="realtime_item",
    states=ItemState,
    events=ItemEvent,
    initial=ItemState.OBSERVED,
    transitions={
        (ItemState.OBSERVED, ItemEvent.CONTENT): ItemState.OBSERVED,
        (ItemState.OBSERVED, ItemEvent.FINALIZE): ItemState.READY,
        (ItemState.OBSERVED, ItemEvent.SKIP): ItemState.SKIPPED,
        (ItemState.READY, ItemEvent.MATERIALIZE): ItemState.MATERIALIZED,
        (ItemState.SKIPPED, ItemEvent.SKIP): ItemState.SKIPPED,
        (ItemState.OBSERVED, ItemEvent.AWAIT_PLAYBACK): ItemState.AWAITING_PLAYBACK,
        (ItemState.OBSERVED, ItemEvent.PLAYBACK_END): ItemState.OBSERVED,
        (ItemState.AWAITING_PLAYBACK, ItemEvent.PLAYBACK_END): ItemState.READY,
        (ItemState.AWAITING_PLAYBACK, ItemEvent.SKIP): ItemState.SKIPPED,
    },
    rejections={
        (ItemState.READY, ItemEvent.CONTENT): "late_content",
        (ItemState.MATERIALIZED, ItemEvent.CONTENT): "late_content",
        (ItemState.SKIPPED, ItemEvent.CONTENT): "item_skipped",
        (ItemState.READY, ItemEvent.SKIP): "skip_refused",
        (ItemState.MATERIALIZED, ItemEvent.SKIP): "skip_refused",
        (ItemState.AWAITING_PLAYBACK, ItemEvent.CONTENT): "late_content",
        (ItemState.READY, ItemEvent.PLAYBACK_END): "late_content",
        (ItemState.MATERIALIZED, ItemEvent.PLAYBACK_END): "late_content",
        (ItemState.SKIPPED, ItemEvent.PLAYBACK_END): "item_skipped",
    },
    requirements={
        (ItemState.OBSERVED, ItemEvent.CONTENT): "RT-014",
        (ItemState.OBSERVED, ItemEvent.FINALIZE): "RT-015",
        (ItemState.OBSERVED, ItemEvent.SKIP): "RT-017",
        (ItemState.READY, ItemEvent.MATERIALIZE): "RT-031",
        (ItemState.SKIPPED, ItemEvent.SKIP): "RT-010",
        (ItemState.OBSERVED, ItemEvent.AWAIT_PLAYBACK): "RT-072",
        (ItemState.OBSERVED, ItemEvent.PLAYBACK_END): "RT-073",
        (ItemState.AWAITING_PLAYBACK, ItemEvent.PLAYBACK_END): "RT-073",
        (ItemState.AWAITING_PLAYBACK, ItemEvent.SKIP): "RT-073",
    },
)


class ResponseState(enum.Enum):
    STREAMING = "streaming"
    WAITING_FOR_TOOL_RESULTS = "waiting_for_tool_results"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


class ResponseEvent(enum.Enum):
    #: Content or an item for the response.
    CONTENT = "content"
    #: ``assistant_turn_completed`` with ``stop_reason: tool_use`` (RT-022).
    TOOL_USE = "tool_use"
    #: ``assistant_turn_completed`` with any other stop reason except ``cancelled`` (RT-021).
    COMPLETE = "complete"
    #: ``assistant_turn_interrupted``: barge-in (RT-023).
    INTERRUPT = "interrupt"
    #: ``assistant_turn_completed`` with ``stop_reason: cancelled`` (RT-024).
    CANCEL = "cancel"
    #: ``assistant_playback_started``: the client reports the response's playback (RT-070).
    PLAYBACK_STARTED = "playback_started"


_LIVE = (ResponseState.STREAMING, ResponseState.WAITING_FOR_TOOL_RESULTS)
_TERMINAL = (ResponseState.COMPLETED, ResponseState.INTERRUPTED, ResponseState.CANCELLED)

RESPONSE_TABLE: MachineTable[ResponseState, ResponseEvent] = MachineTable(
    name="realtime_response",
    states=ResponseState,
    events=ResponseEvent,
    initial=ResponseState.STREAMING,
    transitions={
        **{(s, ResponseEvent.CONTENT): ResponseState.STREAMING for s in _LIVE},
        **{(s, ResponseEvent.TOOL_USE): ResponseState.WAITING_FOR_TOOL_RESULTS for s in _LIVE},
        **{(s, ResponseEvent.COMPLETE): ResponseState.COMPLETED for s in _LIVE},
        **{(s, ResponseEvent.INTERRUPT): ResponseState.INTERRUPTED for s in _LIVE},
        **{(s, ResponseEvent.CANCEL): ResponseState.CANCELLED for s in _LIVE},
        **{(s, ResponseEvent.PLAYBACK_STARTED): s for s in _LIVE},
    },
    rejections={
        **{(s, ResponseEvent.CONTENT): "late_content" for s in _TERMINAL},
        **{(s, ResponseEvent.PLAYBACK_STARTED): "late_content" for s in _TERMINAL},
        **{
            (s, e): "already_terminal"
            for s in _TERMINAL
            for e in (
                ResponseEvent.TOOL_USE,
                ResponseEvent.COMPLETE,
                ResponseEvent.INTERRUPT,
                ResponseEvent.CANCEL,
            )
        },
    },
    requirements={
        **{(s, ResponseEvent.CONTENT): "RT-020" for s in _LIVE},
        **{(s, ResponseEvent.TOOL_USE): "RT-022" for s in _LIVE},
        **{(s, ResponseEvent.COMPLETE): "RT-021" for s in _LIVE},
        **{(s, ResponseEvent.INTERRUPT): "RT-023" for s in _LIVE},
        **{(s, ResponseEvent.CANCEL): "RT-024" for s in _LIVE},
        **{(s, ResponseEvent.PLAYBACK_STARTED): "RT-070" for s in _LIVE},
    },
)


class TranscriptState(enum.Enum):
    OPEN = "open"
    FAILED = "failed"
    CLOSED = "closed"


class TranscriptEvent(enum.Enum):
    #: An event was applied (and, when journaled, persisted first).
    APPLY = "apply"
    #: The journal could not be restored after a failed write (LOG-006).
    PERSIST_FAILED = "persist_failed"
    CLOSE = "close"


TRANSCRIPT_TABLE: MachineTable[TranscriptState, TranscriptEvent] = MachineTable(
    name="realtime_transcript",
    states=TranscriptState,
    events=TranscriptEvent,
    initial=TranscriptState.OPEN,
    transitions={
        (TranscriptState.OPEN, TranscriptEvent.APPLY): TranscriptState.OPEN,
        (TranscriptState.OPEN, TranscriptEvent.PERSIST_FAILED): TranscriptState.FAILED,
        (TranscriptState.OPEN, TranscriptEvent.CLOSE): TranscriptState.CLOSED,
        (TranscriptState.FAILED, TranscriptEvent.CLOSE): TranscriptState.CLOSED,
        (TranscriptState.CLOSED, TranscriptEvent.CLOSE): TranscriptState.CLOSED,
    },
    rejections={
        (TranscriptState.FAILED, TranscriptEvent.APPLY): "failed",
        (TranscriptState.FAILED, TranscriptEvent.PERSIST_FAILED): "failed",
        (TranscriptState.CLOSED, TranscriptEvent.APPLY): "closed",
        (TranscriptState.CLOSED, TranscriptEvent.PERSIST_FAILED): "closed",
    },
    requirements={
        (TranscriptState.OPEN, TranscriptEvent.APPLY): "RT-042",
        (TranscriptState.OPEN, TranscriptEvent.PERSIST_FAILED): "RT-043",
        (TranscriptState.OPEN, TranscriptEvent.CLOSE): "RT-043",
    },
)

#: Item states in which content is still accepted (derived from :data:`ITEM_TABLE`).
ITEM_ACCEPTS_CONTENT = frozenset(
    s for s in ItemState if (s, ItemEvent.CONTENT) in ITEM_TABLE.transitions
)
#: Response states in which content is still accepted (derived from :data:`RESPONSE_TABLE`).
RESPONSE_ACCEPTS_CONTENT = frozenset(
    s for s in ResponseState if (s, ResponseEvent.CONTENT) in RESPONSE_TABLE.transitions
)
#: Response states from which no transition leaves (derived from :data:`RESPONSE_TABLE`).
TERMINAL_RESPONSE_STATES = frozenset(
    s for s in ResponseState if not RESPONSE_TABLE.allowed_events(s)
)
