"""Facts of the realtime reference model: what an accepted history says (spec/SPEC.md §5).

:class:`Facts` is the fold of an accepted history (:func:`sessionspec.reference.realtime.facts_of`):
its items (first-seen rank, role, response, predecessor, lane, content parts, state), its
responses (state, stop reason, usage, playback), the accepted deltas and events and the
discarded fragments. Item and response states are :class:`RefItemState` and
:class:`RefResponseState`; materialization is the walk's business, so an item is never
"materialized" here.

The pure helpers are the rules a fact obeys, as plain functions over strings and tuples so
CrossHair can check their contracts (``proofs/registry_realtime.py``, which names them
through :mod:`sessionspec.reference.realtime`): the text of a content part and of an item
(RT-014), the lane of an item (RT-013) and the canonical order (RT-030, RT-033).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sessionspec.reference.realtime_events import (
    Delta,
    DiscardedFragment,
    Lane,
    RefUsage,
    Role,
    RtEvent,
)

__all__ = [
    "TERMINAL",
    "Facts",
    "RefItemState",
    "RefResponseState",
    "causal_order",
    "fold_lanes",
    "merge_segments",
    "promote_lane",
    "segment_text",
]


#: A response's usage until its end says otherwise (RefUsage is frozen).
_NO_USAGE = RefUsage()


class RefItemState(enum.Enum):
    """An item's state in the facts (the runtime adds ``materialized``, ITEM_TABLE)."""

    #: Declared; its content may still grow.
    OBSERVED = "observed"
    #: Its response ended; it waits for the end of its playback (RT-072).
    AWAITING_PLAYBACK = "awaiting_playback"
    #: Final, with content: it will be part of a message (RT-021, RT-031).
    READY = "ready"
    #: A contentless anchor: it orders other items, it is never a message (RT-017).
    SKIPPED = "skipped"


class RefResponseState(enum.Enum):
    """A response's state in the facts (the runtime's RESPONSE_TABLE has the same states)."""

    STREAMING = "streaming"
    WAITING_FOR_TOOL_RESULTS = "waiting_for_tool_results"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


#: The states of an ended response: content after them is late (RT-026).
TERMINAL = (RefResponseState.COMPLETED, RefResponseState.INTERRUPTED, RefResponseState.CANCELLED)


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
    #: Materialization is the walk's business, not a state of the facts.
    state: RefItemState = RefItemState.OBSERVED
    #: Its audio was played to the end (RT-071).
    played: bool = False

    def text(self) -> str:
        return merge_segments(tuple((i, s.text()) for i, s in self.segments.items()))

    def playback_settled(self) -> bool:
        """The end of its playback is known: played in full, or cut (RT-073)."""
        return self.played or any(s.truncation is not None for s in self.segments.values())


@dataclass
class _Response:
    state: RefResponseState = RefResponseState.STREAMING
    stop_reason: str | None = None
    usage: RefUsage = _NO_USAGE
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
