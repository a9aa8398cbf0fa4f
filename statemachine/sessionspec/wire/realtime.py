"""Realtime transcript events and the transcript journal, as JSON (RT section of the spec).

Nine of the eleven event types are meerkat's ``RealtimeTranscriptEvent`` (research/seeds.md
§3.5), with the same JSON form; the two playback events (RT-070) are ours, in that form:
internally tagged by ``type``, snake-case type names and field names,
``previous_item_id``/``response_id`` optional (``null`` when absent), ``content_index`` a
non-negative 32-bit integer, and the completion's ``usage`` in meerkat's shape (cache counters
optional, omitted when absent). A provider adapter (for example
:mod:`sessionspec.openai_realtime`) produces these; :class:`sessionspec.RealtimeTranscript`
consumes them, as models or as plain dicts in this form (RT-001).

The journal of a durable transcript is a JSONL log (the lead's framing, LOG section) whose
header is a :class:`RealtimeJournalHeader` and whose entries are :class:`RealtimeJournalEntry`
objects, one per accepted event (RT-040).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field, TypeAdapter

from sessionspec.wire.messages import WireModel

__all__ = [
    "JOURNAL_ENTRY_TYPES",
    "JOURNAL_FORMAT_VERSION",
    "JOURNAL_FORMAT_VERSIONS",
    "JOURNAL_V2_EVENT_TYPES",
    "REALTIME_EVENT_ADAPTER",
    "REALTIME_EVENT_TYPES",
    "AssistantPlaybackFinished",
    "AssistantPlaybackStarted",
    "AssistantTextDelta",
    "AssistantTranscriptDelta",
    "AssistantTranscriptFinalText",
    "AssistantTranscriptTruncated",
    "AssistantTurnCompleted",
    "AssistantTurnInterrupted",
    "ItemObserved",
    "ItemSkipped",
    "RealtimeEvent",
    "RealtimeJournalEntry",
    "RealtimeJournalHeader",
    "RealtimeRole",
    "RealtimeStopReason",
    "RealtimeUsage",
    "UserTranscriptFinal",
]

U32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
U64 = Annotated[int, Field(ge=0, le=2**64 - 1)]

#: meerkat's ``RealtimeTranscriptRole``.
RealtimeRole: TypeAlias = Literal["user", "assistant"]
#: meerkat's ``StopReason`` strings (mapped to opi's by RT-031).
RealtimeStopReason: TypeAlias = Literal[
    "end_turn", "tool_use", "max_tokens", "stop_sequence", "content_filter", "cancelled"
]


class RealtimeUsage(WireModel):
    """meerkat's ``Usage``: the cache counters are optional and omitted when absent."""

    input_tokens: U64 = 0
    output_tokens: U64 = 0
    cache_creation_tokens: U64 | None = None
    cache_read_tokens: U64 | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _RealtimeEventModel(WireModel):
    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True)
        usage = getattr(self, "usage", None)
        if isinstance(usage, RealtimeUsage):
            data["usage"] = usage.to_json_dict()
        return data


class ItemObserved(_RealtimeEventModel):
    """A provider item and its causal predecessor, without content yet."""

    type: Literal["item_observed"] = "item_observed"
    item_id: str
    previous_item_id: str | None = None
    role: RealtimeRole
    response_id: str | None = None


class ItemSkipped(_RealtimeEventModel):
    """An item that takes part in the causal order but never becomes a message (a tool item)."""

    type: Literal["item_skipped"] = "item_skipped"
    item_id: str
    previous_item_id: str | None = None


class UserTranscriptFinal(_RealtimeEventModel):
    """The final transcript of one content part of a user item."""

    type: Literal["user_transcript_final"] = "user_transcript_final"
    item_id: str
    previous_item_id: str | None = None
    content_index: U32
    text: str


class AssistantTextDelta(_RealtimeEventModel):
    """A fragment of display text (text the model writes) of an assistant item."""

    type: Literal["assistant_text_delta"] = "assistant_text_delta"
    response_id: str
    delta_id: str
    item_id: str
    previous_item_id: str | None = None
    content_index: U32
    delta: str


class AssistantTranscriptDelta(_RealtimeEventModel):
    """A fragment of spoken transcript (text derived from the audio) of an assistant item."""

    type: Literal["assistant_transcript_delta"] = "assistant_transcript_delta"
    response_id: str
    delta_id: str
    item_id: str
    previous_item_id: str | None = None
    content_index: U32
    delta: str


class AssistantTranscriptTruncated(_RealtimeEventModel):
    """The spoken transcript was cut to what was played (the heard prefix)."""

    type: Literal["assistant_transcript_truncated"] = "assistant_transcript_truncated"
    response_id: str
    item_id: str
    content_index: U32
    text: str


class AssistantTranscriptFinalText(_RealtimeEventModel):
    """The authoritative final spoken transcript of one content part."""

    type: Literal["assistant_transcript_final_text"] = "assistant_transcript_final_text"
    response_id: str
    item_id: str
    content_index: U32
    text: str


class AssistantTurnCompleted(_RealtimeEventModel):
    """The provider response reached a terminal boundary (or paused for tool results)."""

    type: Literal["assistant_turn_completed"] = "assistant_turn_completed"
    response_id: str
    stop_reason: RealtimeStopReason
    usage: RealtimeUsage


class AssistantTurnInterrupted(_RealtimeEventModel):
    """Barge-in: the user spoke over the response."""

    type: Literal["assistant_turn_interrupted"] = "assistant_turn_interrupted"
    response_id: str
    #: What the provider billed for the response it cut (RT-027); absent means zero (meerkat's
    #: event has no usage) and is left out of the JSON form.
    usage: RealtimeUsage | None = None

    def to_json_dict(self) -> dict[str, Any]:
        data = super().to_json_dict()
        if data.get("usage") is None:
            data.pop("usage", None)
        return data


class AssistantPlaybackStarted(_RealtimeEventModel):
    """The client plays the response's audio to the user: its spoken items count only with
    what the user heard, once their playback is settled (RT-070)."""

    type: Literal["assistant_playback_started"] = "assistant_playback_started"
    response_id: str


class AssistantPlaybackFinished(_RealtimeEventModel):
    """The audio of one spoken item was played to the end: the user heard all of it (RT-071)."""

    type: Literal["assistant_playback_finished"] = "assistant_playback_finished"
    response_id: str
    item_id: str


RealtimeEvent: TypeAlias = Annotated[
    ItemObserved
    | ItemSkipped
    | UserTranscriptFinal
    | AssistantTextDelta
    | AssistantTranscriptDelta
    | AssistantTranscriptTruncated
    | AssistantTranscriptFinalText
    | AssistantTurnCompleted
    | AssistantTurnInterrupted
    | AssistantPlaybackStarted
    | AssistantPlaybackFinished,
    Field(discriminator="type"),
]

#: Validates one event object (a dict in the wire form) into its model.
REALTIME_EVENT_ADAPTER: TypeAdapter[RealtimeEvent] = TypeAdapter(RealtimeEvent)

#: The event type tags: meerkat's nine in its declaration order, then the playback events.
REALTIME_EVENT_TYPES: tuple[str, ...] = (
    "item_observed",
    "item_skipped",
    "user_transcript_final",
    "assistant_text_delta",
    "assistant_transcript_delta",
    "assistant_transcript_truncated",
    "assistant_transcript_final_text",
    "assistant_turn_completed",
    "assistant_turn_interrupted",
    "assistant_playback_started",
    "assistant_playback_finished",
)

#: Version of the realtime journal format that is written (RT-044). Version 2 added the
#: playback events (RT-070, RT-071) and the usage of an interruption (RT-027); version 1
#: journals hold neither and are still read.
JOURNAL_FORMAT_VERSION = 2
#: The versions this package reads (RT-044).
JOURNAL_FORMAT_VERSIONS: tuple[int, ...] = (1, 2)
#: The event types a version-1 journal cannot hold (RT-044).
JOURNAL_V2_EVENT_TYPES = frozenset({"assistant_playback_started", "assistant_playback_finished"})


class RealtimeJournalHeader(WireModel):
    """Line 1 of a realtime transcript journal."""

    type: Literal["sessionspec.realtime_journal"] = "sessionspec.realtime_journal"
    version: Literal[1, 2] = 2
    id: str
    #: ISO 8601 creation time, informative only.
    created: str
    #: The defaults every materialized assistant message carries (RT-030).
    api: str
    provider: str
    model: str


class RealtimeJournalEntry(WireModel):
    """One accepted event, in the order it was accepted (RT-040)."""

    type: Literal["event"] = "event"
    #: The entry's position, as a decimal string (the log requires unique ids).
    id: str
    #: The clock reading (ms) when the event was applied; replay materializes with it, so a
    #: reopened transcript is byte-identical to the one that kept running (RT-041).
    ts: int
    event: RealtimeEvent


#: The journal's entry types (for the log reader).
JOURNAL_ENTRY_TYPES = frozenset({"event"})
