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

Modules, along the model's parts
--------------------------------
This module owns the table: :func:`_classify_and_apply`, the verdict of every event against
the facts, and the public functions of the model; everything they use is re-exported here,
so ``sessionspec.reference.realtime`` names the whole model (and the CrossHair targets of
``proofs/registry_realtime.py``).

* :mod:`.realtime_events`: the enums, the events and their wire form, verdicts, messages.
* :mod:`.realtime_facts`: :class:`Facts` with its item and response states
  (:class:`RefItemState`, :class:`RefResponseState`) and the pure helpers (RT-013, RT-014,
  RT-030).
* :mod:`.realtime_walk`: from facts to messages, unattached usage and in-flight responses
  (RT-027, RT-030..RT-034).
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionspec.reference.realtime_events import (
    STOP_REASON_MAP,
    ApplyStatus,
    Completed,
    Delta,
    Diagnostic,
    DiagnosticCode,
    DiscardedFragment,
    FinalText,
    Interrupted,
    ItemObserved,
    ItemSkipped,
    Lane,
    PlaybackFinished,
    PlaybackStarted,
    RefBlock,
    RefMessage,
    RefUsage,
    Role,
    RtEvent,
    Truncated,
    UserFinal,
    Verdict,
    event_from_wire,
    event_to_wire,
    message_from_wire,
)
from sessionspec.reference.realtime_facts import (
    TERMINAL,
    Facts,
    RefItemState,
    RefResponseState,
    _Item,
    _Response,
    _Segment,
    causal_order,
    fold_lanes,
    merge_segments,
    promote_lane,
    segment_text,
)
from sessionspec.reference.realtime_walk import in_flight_responses, unattached_usage, walk

__all__ = [
    "STOP_REASON_MAP",
    "TERMINAL",
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
    "RefItemState",
    "RefMessage",
    "RefResponseState",
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
    if item.state is not RefItemState.SKIPPED:
        if role is not None and item.role is not None and role is not item.role:
            return _reject(event, DiagnosticCode.ROLE_CONFLICT)
        if (
            response_id is not None
            and item.response_id is not None
            and response_id != item.response_id
        ):
            return _reject(event, DiagnosticCode.RESPONSE_CONFLICT)
    if prev is not None and prev != item.prev:
        if item.prev is not None or item.state is not RefItemState.OBSERVED:
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
    if item.state is not RefItemState.SKIPPED:
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
    if item is None or (item.state is RefItemState.OBSERVED and not _has_content(item)):
        # The causal residue of the event: the item exists, as a contentless anchor.
        item, _ = _declare(facts, item_id, prev, Role.ASSISTANT, response_id)
        item.state = RefItemState.SKIPPED
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
        if existing is not None and existing.state is RefItemState.SKIPPED:
            # An anchor stays an anchor; a compatible declaration adds nothing (RT-017).
            return Verdict(ApplyStatus.DUPLICATE)
        if response_id is not None and _response(facts, response_id).state in TERMINAL:
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
            and existing.state is not RefItemState.SKIPPED
            and (existing.state is not RefItemState.OBSERVED or _has_content(existing))
        ):
            return _reject(event, DiagnosticCode.SKIP_REFUSED, "the item has content")
        item, new = _declare(facts, event.item_id, event.previous_item_id, None, None)
        if item.state is RefItemState.SKIPPED and not new:
            return Verdict(ApplyStatus.DUPLICATE)
        item.state = RefItemState.SKIPPED
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
            if existing.state is RefItemState.SKIPPED:
                if event.text:
                    return _reject(event, DiagnosticCode.ITEM_SKIPPED)
            else:
                segment = existing.segments.get(event.content_index)
                old = segment.user_text if segment is not None else None
                if event.text and old and old != event.text:
                    return _reject(event, DiagnosticCode.CONFLICTING_REPLAY)
                if event.text and not old and existing.state is not RefItemState.OBSERVED:
                    return _reject(
                        event, DiagnosticCode.LATE_CONTENT, "the user item is already final"
                    )
        item, new = _declare(facts, event.item_id, event.previous_item_id, Role.USER, None)
        if item.state is RefItemState.SKIPPED:
            if not new:
                return Verdict(ApplyStatus.DUPLICATE)
            facts.accepted.add(event)
            return Verdict(ApplyStatus.ACCEPTED)
        segment = item.segments.setdefault(event.content_index, _Segment())
        if event.text and not segment.user_text:
            segment.user_text = event.text
            item.state = RefItemState.READY
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
        if response.state in TERMINAL:
            return _reject(event, DiagnosticCode.LATE_CONTENT, "the response already ended")
        response.played_back = True
        facts.accepted.add(event)
        return Verdict(ApplyStatus.ACCEPTED)

    if isinstance(event, PlaybackFinished):
        return _playback_finished(facts, event)

    if isinstance(event, Completed):
        response = _response(facts, event.response_id)
        if response.state in TERMINAL:
            return _reject(event, DiagnosticCode.ALREADY_TERMINAL, f"it is {response.state.value}")
        facts.accepted.add(event)
        if event.stop_reason == "tool_use":
            response.state = RefResponseState.WAITING_FOR_TOOL_RESULTS
            return Verdict(ApplyStatus.ACCEPTED)
        if event.stop_reason == "cancelled":
            response.state = RefResponseState.CANCELLED
            response.stop_reason = "cancelled"
            response.usage = event.usage  # RT-024, RT-027: a cancelled response is billed
            return Verdict(ApplyStatus.ACCEPTED, (), _end_items(facts, event.response_id, None))
        response.state = RefResponseState.COMPLETED
        response.stop_reason = event.stop_reason
        response.usage = event.usage
        return Verdict(ApplyStatus.ACCEPTED, (), _end_items(facts, event.response_id, "all"))

    response = _response(facts, event.response_id)
    if response.state in TERMINAL:
        return _reject(event, DiagnosticCode.ALREADY_TERMINAL, f"it is {response.state.value}")
    facts.accepted.add(event)
    response.state = RefResponseState.INTERRUPTED
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
    if response.state is RefResponseState.WAITING_FOR_TOOL_RESULTS:
        response.state = RefResponseState.STREAMING


def _content(
    facts: Facts, event: Delta | Truncated | FinalText, prev: str | None, lane: Lane | None
) -> Verdict:
    item_id, response_id = event.item_id, event.response_id
    conflict = _declaration_conflict(facts, event, item_id, prev, Role.ASSISTANT, response_id)
    if conflict:
        return conflict
    existing = facts.items.get(item_id)
    if _response(facts, response_id).state in TERMINAL:
        if (
            isinstance(event, Truncated)
            and existing is not None
            and existing.state is RefItemState.AWAITING_PLAYBACK
        ):
            # RT-073: a cut after the response ended is expected; it settles the item.
            existing.segments.setdefault(event.content_index, _Segment()).truncation = event.text
            _settle_playback(existing)
            facts.accepted.add(event)
            return Verdict(ApplyStatus.ACCEPTED)
        return _late(facts, event, item_id, prev, response_id, lane)
    if existing is not None:
        if existing.state is RefItemState.SKIPPED:
            return _reject(event, DiagnosticCode.ITEM_SKIPPED)
        if existing.state is not RefItemState.OBSERVED:
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
    if existing is not None and existing.state is RefItemState.AWAITING_PLAYBACK:
        existing.played = True
        _settle_playback(existing)
        facts.accepted.add(event)
        return Verdict(ApplyStatus.ACCEPTED)
    if _response(facts, response_id).state in TERMINAL:
        return _late(facts, event, item_id, None, response_id, Lane.SPOKEN)
    if existing is not None:
        if existing.state is RefItemState.SKIPPED:
            return _reject(event, DiagnosticCode.ITEM_SKIPPED)
        if existing.state is not RefItemState.OBSERVED:
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
        item.state = RefItemState.READY
    else:
        item.state = RefItemState.SKIPPED
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
        if item.state is not RefItemState.OBSERVED:
            continue
        lane = item.lane or Lane.DISPLAY
        if lane is Lane.SPOKEN:
            if item.playback_settled():
                _settle_playback(item)
                continue
            if response.played_back:
                item.state = RefItemState.AWAITING_PLAYBACK
                continue
        text = item.text()
        kept = bool(text) and (keep == "all" or (keep == "display" and lane is Lane.DISPLAY))
        if kept:
            item.state = RefItemState.READY
            continue
        if text:
            reason = "barge_in" if keep == "display" else "cancelled"
            fragments.append(DiscardedFragment(item.item_id, response_id, lane, text, reason))
        item.state = RefItemState.SKIPPED
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


def transcript_of(history: Sequence[RtEvent]) -> tuple[RefMessage, ...]:
    """The canonical transcript of an accepted history (RT-030, RT-031)."""
    return walk(facts_of(history))


def unattached_usage_of(history: Sequence[RtEvent]) -> dict[str, RefUsage]:
    """The usage of each ended response that has no message and never will (RT-027):
    every item of it is a skipped anchor, or it has none. Zero usage is left out. Keyed by
    response id: the set does not depend on the delivery order (RT-035)."""
    return unattached_usage(facts_of(history))


def in_flight_response_ids(history: Sequence[RtEvent]) -> tuple[str, ...]:
    """Responses that are still live and have an open item, in first-seen order (RT-034)."""
    return in_flight_responses(facts_of(history))
