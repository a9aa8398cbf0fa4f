"""Events, verdicts and messages of the realtime reference model (spec/SPEC.md §5).

The vocabulary of :mod:`sessionspec.reference.realtime`: the roles, lanes, apply statuses
and diagnostic codes as enums (RT-004, RT-011, RT-013); the ten events as frozen dataclasses
with normalized fields (ids trimmed; an empty ``previous_item_id`` is ``None``) and their
conversion from and to the wire form (:func:`event_from_wire`, :func:`event_to_wire`); the
verdict an event gets (RT-004); and the abstract message the transcript is made of
(:class:`RefMessage`, RT-031, RT-032) with :func:`message_from_wire`. Nothing here imports
the runtime or pydantic.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "STOP_REASON_MAP",
    "ApplyStatus",
    "Completed",
    "Delta",
    "Diagnostic",
    "DiagnosticCode",
    "DiscardedFragment",
    "FinalText",
    "Interrupted",
    "ItemObserved",
    "ItemSkipped",
    "Lane",
    "PlaybackFinished",
    "PlaybackStarted",
    "RefBlock",
    "RefMessage",
    "RefUsage",
    "Role",
    "RtEvent",
    "Truncated",
    "UserFinal",
    "Verdict",
    "event_from_wire",
    "event_to_wire",
    "message_from_wire",
]


class Role(enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"


class Lane(enum.Enum):
    #: Text the model writes (``assistant_text_delta``).
    DISPLAY = "display"
    #: Text derived from the audio (``assistant_transcript_*``); ``ss_lane: "spoken"``.
    SPOKEN = "spoken"


class ApplyStatus(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class DiagnosticCode(enum.Enum):
    """Every place where meerkat only logs a warning, and a few it does not see (RT-011)."""

    #: An empty or blank ``item_id``, ``response_id`` or ``delta_id`` (RT-003).
    INVALID_ID = "invalid_id"
    #: The same identity (delta id, content part) with different content; first wins.
    CONFLICTING_REPLAY = "conflicting_replay"
    #: An item seen as ``user`` and as ``assistant``.
    ROLE_CONFLICT = "role_conflict"
    #: An item seen under two response ids.
    RESPONSE_CONFLICT = "response_conflict"
    #: Two different predecessors for one item, or a predecessor that arrives after the
    #: item's content became final.
    PREDECESSOR_CONFLICT = "predecessor_conflict"
    #: A predecessor that would close a cycle (including an item naming itself).
    PREDECESSOR_CYCLE = "predecessor_cycle"
    #: Display content for a spoken item or spoken content for a display item (RT-013).
    LANE_CONFLICT = "lane_conflict"
    #: Content after its response ended, or after a user item's content became final
    #: (RT-026, RT-033); the content is dropped.
    LATE_CONTENT = "late_content"
    #: Content for an item that is a skipped anchor (RT-017).
    ITEM_SKIPPED = "item_skipped"
    #: ``item_skipped`` for an item that has content (RT-017).
    SKIP_REFUSED = "skip_refused"
    #: A second, different terminal event for a response: the first one wins (RT-025).
    ALREADY_TERMINAL = "already_terminal"


#: meerkat stop reason -> opi ``StopReason`` (RT-032).
STOP_REASON_MAP: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_use",
    "max_tokens": "length",
    "content_filter": "error",
    "cancelled": "aborted",
}


# -- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int | None = None
    cache_read_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ItemObserved:
    item_id: str
    previous_item_id: str | None
    role: Role
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class ItemSkipped:
    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class UserFinal:
    item_id: str
    previous_item_id: str | None
    content_index: int
    text: str


@dataclass(frozen=True, slots=True)
class Delta:
    """``assistant_text_delta`` (display lane) or ``assistant_transcript_delta`` (spoken)."""

    lane: Lane
    response_id: str
    delta_id: str
    item_id: str
    previous_item_id: str | None
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class Truncated:
    response_id: str
    item_id: str
    content_index: int
    text: str


@dataclass(frozen=True, slots=True)
class FinalText:
    response_id: str
    item_id: str
    content_index: int
    text: str


@dataclass(frozen=True, slots=True)
class Completed:
    response_id: str
    stop_reason: str
    usage: RefUsage = RefUsage()


@dataclass(frozen=True, slots=True)
class Interrupted:
    response_id: str
    #: What the provider billed for the response it cut (RT-027); absent in the wire form
    #: means zero, as in meerkat's event, which has no usage.
    usage: RefUsage = RefUsage()


@dataclass(frozen=True, slots=True)
class PlaybackStarted:
    """The client plays this response's audio to the user (RT-070)."""

    response_id: str


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """The audio of this spoken item was played to the end (RT-071)."""

    response_id: str
    item_id: str


RtEvent: TypeAlias = (
    ItemObserved
    | ItemSkipped
    | UserFinal
    | Delta
    | Truncated
    | FinalText
    | Completed
    | Interrupted
    | PlaybackStarted
    | PlaybackFinished
)


def _id(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _prev(value: Any) -> str | None:
    if value is None:
        return None
    text = _id(value)
    return text or None


def event_from_wire(obj: Mapping[str, Any]) -> RtEvent:
    """Normalize one event in the wire form (ids trimmed, blank predecessor -> ``None``)."""
    kind = obj["type"]
    if kind == "item_observed":
        return ItemObserved(
            _id(obj["item_id"]),
            _prev(obj.get("previous_item_id")),
            Role(obj["role"]),
            _prev(obj.get("response_id")),
        )
    if kind == "item_skipped":
        return ItemSkipped(_id(obj["item_id"]), _prev(obj.get("previous_item_id")))
    if kind == "user_transcript_final":
        return UserFinal(
            _id(obj["item_id"]),
            _prev(obj.get("previous_item_id")),
            int(obj["content_index"]),
            obj["text"],
        )
    if kind in ("assistant_text_delta", "assistant_transcript_delta"):
        return Delta(
            Lane.DISPLAY if kind == "assistant_text_delta" else Lane.SPOKEN,
            _id(obj["response_id"]),
            _id(obj["delta_id"]),
            _id(obj["item_id"]),
            _prev(obj.get("previous_item_id")),
            int(obj["content_index"]),
            obj["delta"],
        )
    if kind == "assistant_transcript_truncated":
        return Truncated(
            _id(obj["response_id"]), _id(obj["item_id"]), int(obj["content_index"]), obj["text"]
        )
    if kind == "assistant_transcript_final_text":
        return FinalText(
            _id(obj["response_id"]), _id(obj["item_id"]), int(obj["content_index"]), obj["text"]
        )
    if kind == "assistant_turn_completed":
        return Completed(_id(obj["response_id"]), obj["stop_reason"], _usage_from_wire(obj))
    if kind == "assistant_turn_interrupted":
        return Interrupted(_id(obj["response_id"]), _usage_from_wire(obj))
    if kind == "assistant_playback_started":
        return PlaybackStarted(_id(obj["response_id"]))
    if kind == "assistant_playback_finished":
        return PlaybackFinished(_id(obj["response_id"]), _id(obj["item_id"]))
    raise ValueError(f"unknown realtime event type {kind!r}")


def _usage_from_wire(obj: Mapping[str, Any]) -> RefUsage:
    usage = obj.get("usage") or {}
    return RefUsage(
        int(usage.get("input_tokens", 0)),
        int(usage.get("output_tokens", 0)),
        usage.get("cache_creation_tokens"),
        usage.get("cache_read_tokens"),
    )


def _usage_to_wire(usage: RefUsage) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.cache_creation_tokens is not None:
        wire["cache_creation_tokens"] = usage.cache_creation_tokens
    if usage.cache_read_tokens is not None:
        wire["cache_read_tokens"] = usage.cache_read_tokens
    return wire


def event_to_wire(event: RtEvent) -> dict[str, Any]:
    """The wire form of a reference event (meerkat's JSON)."""
    if isinstance(event, ItemObserved):
        return {
            "type": "item_observed",
            "item_id": event.item_id,
            "previous_item_id": event.previous_item_id,
            "role": event.role.value,
            "response_id": event.response_id,
        }
    if isinstance(event, ItemSkipped):
        return {
            "type": "item_skipped",
            "item_id": event.item_id,
            "previous_item_id": event.previous_item_id,
        }
    if isinstance(event, UserFinal):
        return {
            "type": "user_transcript_final",
            "item_id": event.item_id,
            "previous_item_id": event.previous_item_id,
            "content_index": event.content_index,
            "text": event.text,
        }
    if isinstance(event, Delta):
        return {
            "type": "assistant_text_delta"
            if event.lane is Lane.DISPLAY
            else "assistant_transcript_delta",
            "response_id": event.response_id,
            "delta_id": event.delta_id,
            "item_id": event.item_id,
            "previous_item_id": event.previous_item_id,
            "content_index": event.content_index,
            "delta": event.delta,
        }
    if isinstance(event, Truncated | FinalText):
        return {
            "type": "assistant_transcript_truncated"
            if isinstance(event, Truncated)
            else "assistant_transcript_final_text",
            "response_id": event.response_id,
            "item_id": event.item_id,
            "content_index": event.content_index,
            "text": event.text,
        }
    if isinstance(event, Completed):
        return {
            "type": "assistant_turn_completed",
            "response_id": event.response_id,
            "stop_reason": event.stop_reason,
            "usage": _usage_to_wire(event.usage),
        }
    if isinstance(event, PlaybackStarted):
        return {"type": "assistant_playback_started", "response_id": event.response_id}
    if isinstance(event, PlaybackFinished):
        return {
            "type": "assistant_playback_finished",
            "response_id": event.response_id,
            "item_id": event.item_id,
        }
    interrupted: dict[str, Any] = {
        "type": "assistant_turn_interrupted",
        "response_id": event.response_id,
    }
    if event.usage != RefUsage():
        interrupted["usage"] = _usage_to_wire(event.usage)  # RT-027; absent means zero
    return interrupted


# -- verdicts --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: DiagnosticCode
    event_type: str
    item_id: str | None = None
    response_id: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DiscardedFragment:
    """Content that never became part of the transcript, and why (RT-023, RT-024, RT-026)."""

    item_id: str
    response_id: str | None
    lane: Lane
    text: str
    #: ``barge_in`` (spoken content of an interrupted response), ``cancelled`` (content of
    #: a cancelled response) or ``late`` (content that arrived after it could count).
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    status: ApplyStatus
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Fragments discarded by this event.
    discarded: tuple[DiscardedFragment, ...] = ()


# -- messages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefBlock:
    item_id: str
    text: str
    lane: Lane


@dataclass(frozen=True, slots=True)
class RefMessage:
    """A materialized message, abstracted from its wire form (no clock, no defaults)."""

    role: Role
    blocks: tuple[RefBlock, ...]
    response_id: str | None = None
    #: meerkat's stop reason (``ss_realtime_stop_reason``); ``None`` for user messages.
    stop_reason: str | None = None
    usage: RefUsage = RefUsage()


def message_from_wire(message: Mapping[str, Any]) -> RefMessage:
    """Abstract a materialized wire message (a JSON dict) to a :class:`RefMessage`."""
    if message["role"] == "user":
        block = message["content"][0]
        text_block = RefBlock(message["ss_item_id"], block["text"], Lane.DISPLAY)
        return RefMessage(Role.USER, (text_block,))
    blocks = tuple(
        RefBlock(
            b["ss_item_id"],
            b["text"],
            Lane.SPOKEN if b.get("ss_lane") == "spoken" else Lane.DISPLAY,
        )
        for b in message["content"]
    )
    usage = message["usage"]
    return RefMessage(
        Role.ASSISTANT,
        blocks,
        message["response_id"],
        message["ss_realtime_stop_reason"],
        RefUsage(
            usage["input_tokens"],
            usage["output_tokens"],
            usage["cache_write_tokens"],
            usage["cache_read_tokens"],
        ),
    )
