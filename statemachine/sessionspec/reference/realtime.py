"""Reference model of the realtime transcript (spec/SPEC.md §5): small, pure, slow.

Rules (the spec's RT section in code)
-------------------------------------
* An event is **accepted** when it adds facts and contradicts none, a **duplicate** when it
  adds none (RT-010), and **rejected** with a typed diagnostic when it contradicts an
  accepted fact, names a blank id, or arrives late (RT-003, RT-011..RT-017, RT-025, RT-026).
  A late event for a new item is accepted as its causal residue: a contentless anchor.
* Acceptance depends only on the facts of earlier accepted events, never on what has been
  materialized; and a rejected event stays rejected, a duplicate stays a duplicate.
* The transcript is a pure function of the accepted history (:func:`transcript_of`), and
  that function reads the history only through :func:`facts_of`, which sees:
  the set of accepted events, the first-seen rank of each item (the tie-break, RT-030), the
  arrival order of deltas within one content part, and which side of its response's
  terminal event each event fell on (the last is fixed by acceptance: content after the
  terminal is never accepted as content). That is the order-insensitivity of RT-035,
  visible in the definition.
* Playback (RT-070..RT-074): a response whose playback the client reports
  (``assistant_playback_started``) keeps each of its spoken items open past its terminal
  event until the end of that item's playback settles what the user heard: played in full
  (``assistant_playback_finished``) or cut (``assistant_transcript_truncated``, the heard
  prefix). Both are facts about the item, accepted before or after the terminal event, so
  the transcript does not depend on which comes first.
* Usage (RT-027): every end of a response is billed, a cancel and a barge-in too; the usage
  is on the response's first message, or, when every item of the response is an anchor,
  unattached (:func:`unattached_usage_of`), a function of the facts like the transcript.

Theory of operation
-------------------
:func:`step` classifies one event against the facts of the history so far and returns the
verdict and the new history. :func:`facts_of` folds the accepted history into
:class:`Facts`. :func:`transcript_of` places the items in the canonical causal order
(:func:`causal_order`, Kahn's algorithm over the predecessor forest, earliest-seen first
among the items whose predecessor is already placed) and walks that order from the start,
stopping at the first item whose content is not final; a response's consecutive items
(anchors between them do not count) form one assistant message (RT-031).

Events here are frozen dataclasses with normalized fields (ids trimmed; an empty
``previous_item_id`` is ``None``); :func:`event_from_wire` and :func:`event_to_wire`
convert from and to the JSON form. Nothing here imports the runtime or pydantic.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "STOP_REASON_MAP",
    "ApplyStatus",
    "Completed",
    "Delta",
    "Diagnostic",
    "DiagnosticCode",
    "DiscardedFragment",
    "Facts",
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
    "causal_order",
    "event_from_wire",
    "event_to_wire",
    "facts_of",
    "fold_lanes",
    "in_flight_response_ids",
    "merge_segments",
    "message_from_wire",
    "promote_lane",
    "segment_text",
    "step",
    "transcript_of",
    "unattached_usage_of",
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


# -- pure helpers (CrossHair targets, proofs/registry_realtime.py) ----------------------------


def segment_text(deltas: tuple[str, ...], truncation: str | None, final: str | None) -> str:
    """The text of one content part: the heard prefix, else the final text, else the deltas.

    post: truncation is None or __return__ == truncation
    post: truncation is not None or final is None or __return__ == final
    post: truncation is not None or final is not None or __return__ == "".join(deltas)
    """
    if truncation is not None:
        return truncation
    if final is not None:
        return final
    return "".join(deltas)


def merge_segments(segments: tuple[tuple[int, str], ...]) -> str:
    """An item's text: its content parts concatenated in ``content_index`` order (RT-014).

    The result does not depend on the order the parts arrived in.

    pre: len(segments) <= 4
    pre: len({index for index, _ in segments}) == len(segments)
    post: len(__return__) == sum(len(text) for _, text in segments)
    post: __return__ == "".join(text for _, text in sorted(segments))
    """
    return "".join(text for _, text in sorted(segments))


def promote_lane(current: Lane | None, incoming: Lane | None) -> tuple[Lane | None, bool]:
    """The lane after one lane-bearing event, and whether the event was compatible (RT-013).

    ``None`` is "no lane yet" (current) or "lane-neutral" (incoming: an empty delta).

    post: __return__[1] == (current is None or incoming is None or current == incoming)
    post: not __return__[1] or __return__[0] == (current if current is not None else incoming)
    post: __return__[1] or __return__[0] == current
    """
    if incoming is None:
        return current, True
    if current is None:
        return incoming, True
    return current, current == incoming


def fold_lanes(lanes: tuple[Lane | None, ...]) -> tuple[Lane | None, int]:
    """The lane an item ends with, and how many events were refused as lane conflicts.

    Without conflicts the result does not depend on the order of the events (RT-013, RT-035).

    pre: len(lanes) <= 4
    post: __return__[1] > 0 or __return__[0] == fold_lanes(tuple(reversed(lanes)))[0]
    post: __return__[1] == 0 or __return__[0] is not None
    """
    lane: Lane | None = None
    conflicts = 0
    for incoming in lanes:
        lane, ok = promote_lane(lane, incoming)
        if not ok:
            conflicts += 1
    return lane, conflicts


def causal_order(preds: tuple[int, ...]) -> tuple[int, ...]:
    """The canonical order of items 0..n-1, where item ``i`` was first seen ``i``-th (RT-030).

    ``preds[i]`` is the index of item ``i``'s predecessor, or ``-1`` for none; a predecessor
    that is not an earlier-or-later item of the tuple (out of range, or ``i`` itself) is
    unknown, and the item is not placed. Kahn's algorithm: among the items whose predecessor
    is placed (or who have none), the earliest-seen goes next. Items on a cycle or below an
    unknown predecessor are not placed.

    pre: len(preds) <= 5
    post: len(set(__return__)) == len(__return__)
    post: all(preds[x] == -1 or preds[x] in __return__[:k] for k, x in enumerate(__return__))
    post: len(preds) == 0 or __return__[:len(causal_order(preds[:-1]))] == causal_order(preds[:-1])
    """
    n = len(preds)
    children: dict[int, list[int]] = {}
    available: list[int] = []
    for i, p in enumerate(preds):
        if p == -1:
            available.append(i)
        elif 0 <= p < n and p != i:
            children.setdefault(p, []).append(i)
    order: list[int] = []
    while available:
        nxt = min(available)
        available.remove(nxt)
        order.append(nxt)
        available.extend(children.get(nxt, ()))
    return tuple(order)


# -- facts -------------------------------------------------------------------------------------


@dataclass
class _Segment:
    deltas: list[str] = field(default_factory=list)
    truncation: str | None = None
    final: str | None = None
    #: User transcript text of this part (user items only).
    user_text: str | None = None

    def text(self) -> str:
        if self.user_text is not None:
            return self.user_text
        return segment_text(tuple(self.deltas), self.truncation, self.final)


@dataclass
class _Item:
    item_id: str
    rank: int
    role: Role | None
    response_id: str | None
    prev: str | None
    lane: Lane | None = None
    segments: dict[int, _Segment] = field(default_factory=dict)
    #: "observed" | "awaiting_playback" | "ready" | "skipped" (materialization is the
    #: walk's business).
    state: str = "observed"
    #: Its audio was played to the end (RT-071).
    played: bool = False

    def text(self) -> str:
        return merge_segments(tuple((i, s.text()) for i, s in self.segments.items()))

    def playback_settled(self) -> bool:
        """The end of its playback is known: played in full, or cut (RT-073)."""
        return self.played or any(s.truncation is not None for s in self.segments.values())


@dataclass
class _Response:
    state: str = "streaming"
    stop_reason: str | None = None
    usage: RefUsage = RefUsage()
    #: The client reports its playback (RT-070).
    played_back: bool = False


@dataclass
class Facts:
    """What the accepted history says (see the module docstring for what it depends on)."""

    items: dict[str, _Item] = field(default_factory=dict)
    responses: dict[str, _Response] = field(default_factory=dict)
    deltas: dict[str, Delta] = field(default_factory=dict)
    accepted: set[RtEvent] = field(default_factory=set)
    discarded: list[DiscardedFragment] = field(default_factory=list)

    def copy(self) -> Facts:
        items = {}
        for key, item in self.items.items():
            segments = {
                i: _Segment(list(s.deltas), s.truncation, s.final, s.user_text)
                for i, s in item.segments.items()
            }
            items[key] = _Item(
                item.item_id,
                item.rank,
                item.role,
                item.response_id,
                item.prev,
                item.lane,
                segments,
                item.state,
                item.played,
            )
        responses = {
            k: _Response(r.state, r.stop_reason, r.usage, r.played_back)
            for k, r in self.responses.items()
        }
        return Facts(items, responses, dict(self.deltas), set(self.accepted), list(self.discarded))


_TERMINAL = ("completed", "interrupted", "cancelled")


def _type_name(event: RtEvent) -> str:
    return str(event_to_wire(event)["type"])


def _blank_ids(event: RtEvent) -> bool:
    for name in ("item_id", "response_id", "delta_id"):
        value = getattr(event, name, "x")
        if name == "response_id" and isinstance(event, ItemObserved):
            continue
        if not value:
            return True
    return False


def _reject(event: RtEvent, code: DiagnosticCode, detail: str = "") -> Verdict:
    diag = Diagnostic(
        code,
        _type_name(event),
        getattr(event, "item_id", None),
        getattr(event, "response_id", None),
        detail,
    )
    return Verdict(ApplyStatus.REJECTED, (diag,))


def _declaration_conflict(
    facts: Facts,
    event: RtEvent,
    item_id: str,
    prev: str | None,
    role: Role | None,
    response_id: str | None,
) -> Verdict | None:
    """Checks every fact an event declares about an item (RT-012)."""
    if prev == item_id:
        return _reject(event, DiagnosticCode.PREDECESSOR_CYCLE, "an item cannot follow itself")
    item = facts.items.get(item_id)
    if item is None:
        if prev is not None and _reaches(facts, prev, item_id):
            return _reject(event, DiagnosticCode.PREDECESSOR_CYCLE)
        return None
    if item.state != "skipped":
        if role is not None and item.role is not None and role is not item.role:
            return _reject(event, DiagnosticCode.ROLE_CONFLICT)
        if (
            response_id is not None
            and item.response_id is not None
            and response_id != item.response_id
        ):
            return _reject(event, DiagnosticCode.RESPONSE_CONFLICT)
    if prev is not None and prev != item.prev:
        if item.prev is not None or item.state != "observed":
            return _reject(event, DiagnosticCode.PREDECESSOR_CONFLICT)
        if _reaches(facts, prev, item_id):
            return _reject(event, DiagnosticCode.PREDECESSOR_CYCLE)
    return None


def _reaches(facts: Facts, start: str, target: str) -> bool:
    """Whether following predecessors from ``start`` reaches ``target``."""
    seen: set[str] = set()
    current: str | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        node = facts.items.get(current)
        current = node.prev if node is not None else None
    return False


def _declare(
    facts: Facts, item_id: str, prev: str | None, role: Role | None, response_id: str | None
) -> tuple[_Item, bool]:
    """Create or extend an item with declared facts; returns (item, whether anything new)."""
    item = facts.items.get(item_id)
    if item is None:
        item = _Item(item_id, len(facts.items), role, response_id, prev)
        facts.items[item_id] = item
        return item, True
    new = False
    if prev is not None and item.prev is None:
        item.prev = prev
        new = True
    if item.state != "skipped":
        if role is not None and item.role is None:
            item.role = role
            new = True
        if response_id is not None and item.response_id is None:
            item.response_id = response_id
            new = True
    return item, new


def _has_content(item: _Item) -> bool:
    return any(s.text() for s in item.segments.values())


def _response(facts: Facts, response_id: str) -> _Response:
    response = facts.responses.get(response_id)
    if response is None:
        response = _Response()
        facts.responses[response_id] = response
    return response


def _late(
    facts: Facts,
    event: RtEvent,
    item_id: str,
    prev: str | None,
    response_id: str,
    lane: Lane | None,
) -> Verdict:
    """An event for an item of a response that already ended (RT-026)."""
    text = getattr(event, "delta", None) or getattr(event, "text", "")
    item = facts.items.get(item_id)
    fragments: tuple[DiscardedFragment, ...] = ()
    if text:
        fragments = (DiscardedFragment(item_id, response_id, lane or Lane.DISPLAY, text, "late"),)
    diag = Diagnostic(
        DiagnosticCode.LATE_CONTENT,
        _type_name(event),
        item_id,
        response_id,
        "the response already ended",
    )
    if item is None or (item.state == "observed" and not _has_content(item)):
        # The causal residue of the event: the item exists, as a contentless anchor.
        item, _ = _declare(facts, item_id, prev, Role.ASSISTANT, response_id)
        item.state = "skipped"
        item.segments.clear()
        facts.accepted.add(event)
        if isinstance(event, Delta):
            facts.deltas[event.delta_id] = event
        facts.discarded.extend(fragments)
        return Verdict(ApplyStatus.ACCEPTED, (diag,), fragments)
    return Verdict(ApplyStatus.REJECTED, (diag,), fragments)


def _classify_and_apply(facts: Facts, event: RtEvent) -> Verdict:
    """Classify ``event`` against ``facts``; when accepted, add its facts in place."""
    if event in facts.accepted:
        return Verdict(ApplyStatus.DUPLICATE)
    if _blank_ids(event):
        return _reject(event, DiagnosticCode.INVALID_ID, "empty or blank id")

    if isinstance(event, ItemObserved):
        response_id = event.response_id if event.role is Role.ASSISTANT else None
        conflict = _declaration_conflict(
            facts, event, event.item_id, event.previous_item_id, event.role, response_id
        )
        if conflict:
            return conflict
        existing = facts.items.get(event.item_id)
        if existing is not None and existing.state == "skipped":
            # An anchor stays an anchor; a compatible declaration adds nothing (RT-017).
            return Verdict(ApplyStatus.DUPLICATE)
        if response_id is not None and _response(facts, response_id).state in _TERMINAL:
            if event.item_id in facts.items and _is_compatible_existing(facts, event):
                return Verdict(ApplyStatus.DUPLICATE)
            return _late(facts, event, event.item_id, event.previous_item_id, response_id, None)
        _, new = _declare(facts, event.item_id, event.previous_item_id, event.role, response_id)
        if response_id is not None:
            _touch_response(facts, response_id)
        if not new:
            return Verdict(ApplyStatus.DUPLICATE)
        facts.accepted.add(event)
        return Verdict(ApplyStatus.ACCEPTED)

    if isinstance(event, ItemSkipped):
        conflict = _declaration_conflict(
            facts, event, event.item_id, event.previous_item_id, None, None
        )
        if conflict:
            return conflict
        existing = facts.items.get(event.item_id)
        if (
            existing is not None
            and existing.state != "skipped"
            and (existing.state != "observed" or _has_content(existing))
        ):
            return _reject(event, DiagnosticCode.SKIP_REFUSED, "the item has content")
        item, new = _declare(facts, event.item_id, event.previous_item_id, None, None)
        if item.state == "skipped" and not new:
            return Verdict(ApplyStatus.DUPLICATE)
        item.state = "skipped"
        item.segments.clear()
        facts.accepted.add(event)
        return Verdict(ApplyStatus.ACCEPTED)

    if isinstance(event, UserFinal):
        conflict = _declaration_conflict(
            facts, event, event.item_id, event.previous_item_id, Role.USER, None
        )
        if conflict:
            return conflict
        existing = facts.items.get(event.item_id)
        if existing is not None:
            if existing.state == "skipped":
                if event.text:
                    return _reject(event, DiagnosticCode.ITEM_SKIPPED)
            else:
                segment = existing.segments.get(event.content_index)
                old = segment.user_text if segment is not None else None
                if event.text and old and old != event.text:
                    return _reject(event, DiagnosticCode.CONFLICTING_REPLAY)
                if event.text and not old and existing.state != "observed":
                    return _reject(
                        event, DiagnosticCode.LATE_CONTENT, "the user item is already final"
                    )
        item, new = _declare(facts, event.item_id, event.previous_item_id, Role.USER, None)
        if item.state == "skipped":
            if not new:
                return Verdict(ApplyStatus.DUPLICATE)
            facts.accepted.add(event)
            return Verdict(ApplyStatus.ACCEPTED)
        segment = item.segments.setdefault(event.content_index, _Segment())
        if event.text and not segment.user_text:
            segment.user_text = event.text
            item.state = "ready"
            new = True
        if not new:
            return Verdict(ApplyStatus.DUPLICATE)
        facts.accepted.add(event)
        return Verdict(ApplyStatus.ACCEPTED)

    if isinstance(event, Delta):
        seen = facts.deltas.get(event.delta_id)
        if seen is not None:
            return _reject(event, DiagnosticCode.CONFLICTING_REPLAY, "delta id reused")
        return _content(facts, event, event.previous_item_id, event.lane if event.delta else None)

    if isinstance(event, Truncated | FinalText):
        return _content(facts, event, None, Lane.SPOKEN)

    if isinstance(event, PlaybackStarted):
        response = _response(facts, event.response_id)
        if response.state in _TERMINAL:
            return _reject(event, DiagnosticCode.LATE_CONTENT, "the response already ended")
        response.played_back = True
        facts.accepted.add(event)
        return Verdict(ApplyStatus.ACCEPTED)

    if isinstance(event, PlaybackFinished):
        return _playback_finished(facts, event)

    if isinstance(event, Completed):
        response = _response(facts, event.response_id)
        if response.state in _TERMINAL:
            return _reject(event, DiagnosticCode.ALREADY_TERMINAL, f"it is {response.state}")
        facts.accepted.add(event)
        if event.stop_reason == "tool_use":
            response.state = "waiting_for_tool_results"
            return Verdict(ApplyStatus.ACCEPTED)
        if event.stop_reason == "cancelled":
            response.state = "cancelled"
            response.stop_reason = "cancelled"
            response.usage = event.usage  # RT-024, RT-027: a cancelled response is billed
            return Verdict(ApplyStatus.ACCEPTED, (), _end_items(facts, event.response_id, None))
        response.state = "completed"
        response.stop_reason = event.stop_reason
        response.usage = event.usage
        return Verdict(ApplyStatus.ACCEPTED, (), _end_items(facts, event.response_id, "all"))

    response = _response(facts, event.response_id)
    if response.state in _TERMINAL:
        return _reject(event, DiagnosticCode.ALREADY_TERMINAL, f"it is {response.state}")
    facts.accepted.add(event)
    response.state = "interrupted"
    response.stop_reason = "cancelled"
    response.usage = event.usage  # RT-023, RT-027: an interrupted response is billed
    return Verdict(ApplyStatus.ACCEPTED, (), _end_items(facts, event.response_id, "display"))


def _is_compatible_existing(facts: Facts, event: ItemObserved) -> bool:
    item = facts.items[event.item_id]
    return (
        event.previous_item_id is None or event.previous_item_id == item.prev
    ) and item.response_id == event.response_id


def _touch_response(facts: Facts, response_id: str) -> None:
    response = _response(facts, response_id)
    if response.state == "waiting_for_tool_results":
        response.state = "streaming"


def _content(
    facts: Facts, event: Delta | Truncated | FinalText, prev: str | None, lane: Lane | None
) -> Verdict:
    item_id, response_id = event.item_id, event.response_id
    conflict = _declaration_conflict(facts, event, item_id, prev, Role.ASSISTANT, response_id)
    if conflict:
        return conflict
    existing = facts.items.get(item_id)
    if _response(facts, response_id).state in _TERMINAL:
        if (
            isinstance(event, Truncated)
            and existing is not None
            and existing.state == "awaiting_playback"
        ):
            # RT-073: a cut after the response ended is expected; it settles the item.
            existing.segments.setdefault(event.content_index, _Segment()).truncation = event.text
            _settle_playback(existing)
            facts.accepted.add(event)
            return Verdict(ApplyStatus.ACCEPTED)
        return _late(facts, event, item_id, prev, response_id, lane)
    if existing is not None:
        if existing.state == "skipped":
            return _reject(event, DiagnosticCode.ITEM_SKIPPED)
        if existing.state != "observed":
            return _reject(event, DiagnosticCode.LATE_CONTENT)
        _, ok = promote_lane(existing.lane, lane)
        if not ok:
            return _reject(event, DiagnosticCode.LANE_CONFLICT, f"the item is {existing.lane}")
        if isinstance(event, Truncated | FinalText):
            segment = existing.segments.get(event.content_index)
            old = None
            if segment is not None:
                old = segment.truncation if isinstance(event, Truncated) else segment.final
            if old is not None:
                if old == event.text:
                    return Verdict(ApplyStatus.DUPLICATE)
                return _reject(event, DiagnosticCode.CONFLICTING_REPLAY)
    item, _ = _declare(facts, item_id, prev, Role.ASSISTANT, response_id)
    item.lane, _ = promote_lane(item.lane, lane)
    segment = item.segments.setdefault(event.content_index, _Segment())
    if isinstance(event, Delta):
        segment.deltas.append(event.delta)
        facts.deltas[event.delta_id] = event
    elif isinstance(event, Truncated):
        segment.truncation = event.text
    else:
        segment.final = event.text
    _touch_response(facts, response_id)
    facts.accepted.add(event)
    return Verdict(ApplyStatus.ACCEPTED)


def _playback_finished(facts: Facts, event: PlaybackFinished) -> Verdict:
    """The item's audio was played to the end (RT-071, RT-073)."""
    item_id, response_id = event.item_id, event.response_id
    conflict = _declaration_conflict(facts, event, item_id, None, Role.ASSISTANT, response_id)
    if conflict:
        return conflict
    existing = facts.items.get(item_id)
    if existing is not None and existing.state == "awaiting_playback":
        existing.played = True
        _settle_playback(existing)
        facts.accepted.add(event)
        return Verdict(ApplyStatus.ACCEPTED)
    if _response(facts, response_id).state in _TERMINAL:
        return _late(facts, event, item_id, None, response_id, Lane.SPOKEN)
    if existing is not None:
        if existing.state == "skipped":
            return _reject(event, DiagnosticCode.ITEM_SKIPPED)
        if existing.state != "observed":
            return _reject(event, DiagnosticCode.LATE_CONTENT)
        _, ok = promote_lane(existing.lane, Lane.SPOKEN)
        if not ok:
            return _reject(event, DiagnosticCode.LANE_CONFLICT, f"the item is {existing.lane}")
    item, _ = _declare(facts, item_id, None, Role.ASSISTANT, response_id)
    item.lane, _ = promote_lane(item.lane, Lane.SPOKEN)
    item.played = True
    facts.accepted.add(event)
    return Verdict(ApplyStatus.ACCEPTED)


def _settle_playback(item: _Item) -> None:
    """An item whose playback ended holds what was heard: a message if anything was, else
    an anchor (RT-073, RT-074)."""
    if item.text():
        item.state = "ready"
    else:
        item.state = "skipped"
        item.segments.clear()


def _end_items(facts: Facts, response_id: str, keep: str | None) -> tuple[DiscardedFragment, ...]:
    """Resolve every open item of a response that just ended (RT-021, RT-023, RT-024).

    ``keep="all"``: items with content become ready, empty ones anchors; ``"display"``
    (barge-in): display items with content become ready, the rest anchors, spoken content
    discarded; ``None`` (cancel): everything becomes an anchor, content discarded. Whatever
    the end, a spoken item holds what the user heard (RT-072): it is settled now if the end
    of its playback is known, else it awaits it if the client reports the response's
    playback; only spoken content nobody reports on is discarded.
    """
    response = facts.responses[response_id]
    fragments: list[DiscardedFragment] = []
    items = sorted(
        (i for i in facts.items.values() if i.response_id == response_id),
        key=lambda i: i.rank,
    )
    for item in items:
        if item.state != "observed":
            continue
        lane = item.lane or Lane.DISPLAY
        if lane is Lane.SPOKEN:
            if item.playback_settled():
                _settle_playback(item)
                continue
            if response.played_back:
                item.state = "awaiting_playback"
                continue
        text = item.text()
        kept = bool(text) and (keep == "all" or (keep == "display" and lane is Lane.DISPLAY))
        if kept:
            item.state = "ready"
            continue
        if text:
            reason = "barge_in" if keep == "display" else "cancelled"
            fragments.append(DiscardedFragment(item.item_id, response_id, lane, text, reason))
        item.state = "skipped"
        item.segments.clear()
    facts.discarded.extend(fragments)
    return tuple(fragments)


# -- the model: step, facts, transcript --------------------------------------------------------


def step(history: tuple[RtEvent, ...], event: RtEvent) -> tuple[Verdict, tuple[RtEvent, ...]]:
    """Classify ``event`` after the accepted ``history``; return the verdict and new history."""
    facts = facts_of(history)
    verdict = _classify_and_apply(facts, event)
    if verdict.status is ApplyStatus.ACCEPTED:
        return verdict, (*history, event)
    return verdict, history


def facts_of(history: Sequence[RtEvent]) -> Facts:
    """Fold an accepted history into its facts (every event of it is accepted again)."""
    facts = Facts()
    for event in history:
        verdict = _classify_and_apply(facts, event)
        if verdict.status is not ApplyStatus.ACCEPTED:
            raise ValueError(f"not an accepted history: {event!r} is {verdict.status.value}")
    return facts


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


def transcript_of(history: Sequence[RtEvent]) -> tuple[RefMessage, ...]:
    """The canonical transcript of an accepted history (RT-030, RT-031)."""
    facts = facts_of(history)
    return _walk(facts)


_ZERO = RefUsage(0, 0, 0, 0)


def _opi_usage(usage: RefUsage) -> RefUsage:
    """The usage as opi counts it: absent cache counters are zero (RT-032)."""
    return RefUsage(
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_creation_tokens or 0,
        usage.cache_read_tokens or 0,
    )


def _walk(facts: Facts) -> tuple[RefMessage, ...]:
    by_rank = sorted(facts.items.values(), key=lambda i: i.rank)
    index = {item.item_id: item.rank for item in by_rank}
    preds = tuple(
        -1 if item.prev is None else index.get(item.prev, len(by_rank)) for item in by_rank
    )
    order = [by_rank[i] for i in causal_order(preds)]

    def kind(item: _Item) -> str:
        if item.state == "skipped":
            return "anchor"
        if item.state in ("observed", "awaiting_playback"):
            return "open"
        return "user" if item.role is Role.USER else "assistant"

    messages: list[RefMessage] = []
    usage_spent: set[str] = set()
    position = 0
    while position < len(order):
        item = order[position]
        k = kind(item)
        if k == "anchor":
            position += 1
            continue
        if k == "open":
            break
        if k == "user":
            block = RefBlock(item.item_id, item.text(), Lane.DISPLAY)
            messages.append(RefMessage(Role.USER, (block,)))
            position += 1
            continue
        response_id = item.response_id
        assert response_id is not None
        run: list[_Item] = []
        end = position
        while end < len(order):
            other = order[end]
            other_kind = kind(other)
            if other_kind == "anchor":
                end += 1
            elif other_kind == "assistant" and other.response_id == response_id:
                run.append(other)
                end += 1
            else:
                break
        ended_by_message = end < len(order) and kind(order[end]) in ("user", "assistant")
        if not ended_by_message:
            later = [
                i
                for i in facts.items.values()
                if i.response_id == response_id and i.state == "ready"
            ]
            done = {i.item_id for i in order[:position]} | {i.item_id for i in run}
            if any(i.item_id not in done for i in later):
                break
            # RT-072: a run also waits for its response's items awaiting their playback.
            if any(
                i.response_id == response_id and i.state == "awaiting_playback"
                for i in facts.items.values()
            ):
                break
        response = facts.responses[response_id]
        usage = _ZERO if response_id in usage_spent else _opi_usage(response.usage)
        usage_spent.add(response_id)
        messages.append(
            RefMessage(
                Role.ASSISTANT,
                tuple(RefBlock(i.item_id, i.text(), i.lane or Lane.DISPLAY) for i in run),
                response_id,
                response.stop_reason,
                usage,
            )
        )
        position = end
    return tuple(messages)


def unattached_usage_of(history: Sequence[RtEvent]) -> dict[str, RefUsage]:
    """The usage of each ended response that has no message and never will (RT-027):
    every item of it is a skipped anchor, or it has none. Zero usage is left out. Keyed by
    response id: the set does not depend on the delivery order (RT-035)."""
    facts = facts_of(history)
    unattached: dict[str, RefUsage] = {}
    for response_id, response in facts.responses.items():
        if response.state not in _TERMINAL:
            continue
        if any(
            item.response_id == response_id and item.state != "skipped"
            for item in facts.items.values()
        ):
            continue
        usage = _opi_usage(response.usage)
        if usage != _ZERO:
            unattached[response_id] = usage
    return unattached


def in_flight_response_ids(history: Sequence[RtEvent]) -> tuple[str, ...]:
    """Responses that are still live and have an open item, in first-seen order (RT-034)."""
    facts = facts_of(history)
    result: list[str] = []
    for item in sorted(facts.items.values(), key=lambda i: i.rank):
        rid = item.response_id
        if (
            item.state == "observed"
            and item.role is Role.ASSISTANT
            and rid is not None
            and facts.responses[rid].state not in _TERMINAL
            and rid not in result
        ):
            result.append(rid)
    return tuple(result)


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
