"""The walk of the realtime reference model: from facts to messages (RT-027, RT-030..RT-034).

:func:`walk` places the items of :class:`Facts` in the canonical causal order
(:func:`causal_order`: Kahn's algorithm over the predecessor forest, earliest-seen first
among the items whose predecessor is already placed) and walks that order from the start,
stopping at the first item whose content is not final; a response's consecutive items
(anchors between them do not count) form one assistant message (RT-031), which waits while
its response still has ready items not yet placed or items awaiting their playback (RT-072).
:func:`unattached_usage` and :func:`in_flight_responses` read the same facts (RT-027, RT-034).
"""

from __future__ import annotations

from sessionspec.reference.realtime_events import Lane, RefBlock, RefMessage, RefUsage, Role
from sessionspec.reference.realtime_facts import (
    TERMINAL,
    Facts,
    RefItemState,
    _Item,
    causal_order,
)

__all__ = ["in_flight_responses", "unattached_usage", "walk"]

_ZERO = RefUsage(0, 0, 0, 0)


def _opi_usage(usage: RefUsage) -> RefUsage:
    """The usage as opi counts it: absent cache counters are zero (RT-032)."""
    return RefUsage(
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_creation_tokens or 0,
        usage.cache_read_tokens or 0,
    )


def walk(facts: Facts) -> tuple[RefMessage, ...]:
    """The canonical transcript of the facts (RT-030, RT-031)."""
    by_rank = sorted(facts.items.values(), key=lambda i: i.rank)
    index = {item.item_id: item.rank for item in by_rank}
    preds = tuple(
        -1 if item.prev is None else index.get(item.prev, len(by_rank)) for item in by_rank
    )
    order = [by_rank[i] for i in causal_order(preds)]

    def kind(item: _Item) -> str:
        if item.state is RefItemState.SKIPPED:
            return "anchor"
        if item.state is RefItemState.OBSERVED or item.state is RefItemState.AWAITING_PLAYBACK:
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
                if i.response_id == response_id and i.state is RefItemState.READY
            ]
            done = {i.item_id for i in order[:position]} | {i.item_id for i in run}
            if any(i.item_id not in done for i in later):
                break
            # RT-072: a run also waits for its response's items awaiting their playback.
            if any(
                i.response_id == response_id and i.state is RefItemState.AWAITING_PLAYBACK
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


def unattached_usage(facts: Facts) -> dict[str, RefUsage]:
    """The usage of each ended response that has no message and never will (RT-027):
    every item of it is a skipped anchor, or it has none. Zero usage is left out. Keyed by
    response id: the set does not depend on the delivery order (RT-035)."""
    unattached: dict[str, RefUsage] = {}
    for response_id, response in facts.responses.items():
        if response.state not in TERMINAL:
            continue
        if any(
            item.response_id == response_id and item.state is not RefItemState.SKIPPED
            for item in facts.items.values()
        ):
            continue
        usage = _opi_usage(response.usage)
        if usage != _ZERO:
            unattached[response_id] = usage
    return unattached


def in_flight_responses(facts: Facts) -> tuple[str, ...]:
    """Responses that are still live and have an open item, in first-seen order (RT-034)."""
    result: list[str] = []
    for item in sorted(facts.items.values(), key=lambda i: i.rank):
        rid = item.response_id
        if (
            item.state is RefItemState.OBSERVED
            and item.role is Role.ASSISTANT
            and rid is not None
            and facts.responses[rid].state not in TERMINAL
            and rid not in result
        ):
            result.append(rid)
    return tuple(result)
