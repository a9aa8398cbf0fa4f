"""Generated realtime conversations and their causally equivalent delivery orders (RT-035).

A :class:`Script` is a causally valid event set for a chain-shaped voice conversation
(every item names the previous one, as the OpenAI Realtime API does) together with the
precedence the spec requires between its events: deltas of one content part in order,
every event of a response before its terminal event, late events after it, a ``tool_use``
pause before the terminal. Real voice traffic adds its own orders (RT-070..RT-074): a
response whose playback the client reports, the end of each spoken item's playback (played
in full, or cut at a heard prefix, possibly empty) on either side of the response's terminal
event, and user audio items whose transcript never comes (skipped, RT-017) or is empty.
:func:`delivery` draws any delivery order that respects it, with duplicates anywhere after
the first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from sessionspec.reference.realtime import (
    Completed,
    Delta,
    FinalText,
    Interrupted,
    ItemObserved,
    ItemSkipped,
    Lane,
    PlaybackFinished,
    PlaybackStarted,
    RefUsage,
    Role,
    RtEvent,
    Truncated,
    UserFinal,
)

WORDS = ("hi", "there", "ok", "yes", "no", "so", " ", "")


@dataclass
class Script:
    events: list[RtEvent] = field(default_factory=list)
    #: ``before[i]``: indices of the events that must be delivered before event ``i``.
    before: dict[int, set[int]] = field(default_factory=dict)

    def add(self, event: RtEvent, after: set[int] | None = None) -> int:
        self.events.append(event)
        index = len(self.events) - 1
        self.before[index] = set(after or ())
        return index


@st.composite
def conversation(draw: st.DrawFn, max_turns: int = 3) -> Script:
    script = Script()
    last: str | None = None
    delta_counter = 0
    for turn in range(draw(st.integers(1, max_turns))):
        user_id = f"u{turn}"
        if draw(st.booleans()):
            script.add(ItemObserved(user_id, last, Role.USER, None))
        if draw(st.booleans()):
            script.add(UserFinal(user_id, last, 0, ""))
        if draw(st.integers(0, 4)) == 0:
            # No transcript: transcription off, failed or empty; the item is skipped (RT-017).
            script.add(ItemSkipped(user_id, last))
        else:
            script.add(UserFinal(user_id, last, 0, draw(st.sampled_from(("hello", "what", "hm")))))
        last = user_id
        response_id = f"r{turn}"
        content: list[int] = []
        terminal_kind = draw(st.sampled_from(("end_turn", "tool_use", "interrupt", "cancel")))
        pause: int | None = None
        played_back = draw(st.booleans())
        if played_back:
            content.append(script.add(PlaybackStarted(response_id)))
        #: Ends of playback: facts about their items, free to come after the terminal.
        settlements: list[RtEvent] = []
        for index in range(draw(st.integers(1, 3))):
            if terminal_kind == "tool_use" and index == 1:
                pause = script.add(Completed(response_id, "tool_use", RefUsage(1, 1)))
            if draw(st.integers(0, 3)) == 0:
                tool_id = f"t{turn}_{index}"
                script.add(ItemSkipped(tool_id, last))
                last = tool_id
            if index and draw(st.integers(0, 4)) == 0:
                # The user speaks between two items of one response: the response is split
                # around a user item (a shape the provider produces on a barge-in that the
                # server does not cancel).
                split_id = f"u{turn}_{index}"
                script.add(UserFinal(split_id, last, 0, "wait"))
                last = split_id
            item_id = f"a{turn}_{index}"
            lane = draw(st.sampled_from((Lane.DISPLAY, Lane.SPOKEN)))
            if draw(st.booleans()):
                content.append(script.add(ItemObserved(item_id, last, Role.ASSISTANT, response_id)))
            previous_delta: int | None = None
            #: A lane-bearing event comes before the terminal (RT-013).
            spoken = False
            for _ in range(draw(st.integers(0, 3))):
                delta_counter += 1
                word = draw(st.sampled_from(WORDS))
                spoken = spoken or (lane is Lane.SPOKEN and word != "")
                event = Delta(lane, response_id, f"d{delta_counter}", item_id, last, 0, word)
                after = {previous_delta} if previous_delta is not None else set()
                previous_delta = script.add(event, after)
                content.append(previous_delta)
            if lane is Lane.SPOKEN and draw(st.booleans()):
                text = draw(st.sampled_from(("final words", "")))
                after = {previous_delta} if previous_delta is not None else set()
                content.append(script.add(FinalText(response_id, item_id, 0, text), after))
                spoken = True
            if lane is Lane.SPOKEN and played_back:
                end = draw(st.sampled_from(("finished", "cut", "cut_to_nothing", "unknown")))
                settlement: RtEvent | None = None
                if end == "finished":
                    settlement = PlaybackFinished(response_id, item_id)
                elif end != "unknown":
                    settlement = Truncated(response_id, item_id, 0, "fin" if end == "cut" else "")
                if settlement is not None and spoken:
                    # A spoken item's playback may end on either side of the terminal.
                    settlements.append(settlement)
                elif settlement is not None:
                    # Without a lane before the terminal the item ends as an anchor, so
                    # the end of its playback belongs before the terminal (RT-035 (b)).
                    content.append(script.add(settlement))
            elif lane is Lane.SPOKEN and draw(st.integers(0, 3)) == 0:
                content.append(script.add(Truncated(response_id, item_id, 0, "fin"), set()))
            if previous_delta is None and not any(
                isinstance(script.events[i], ItemObserved)
                and getattr(script.events[i], "item_id", None) == item_id
                for i in content
            ):
                # Every item declares its predecessor somewhere (RT-035's condition).
                content.append(script.add(ItemObserved(item_id, last, Role.ASSISTANT, response_id)))
            last = item_id
        after_all = set(content) | ({pause} if pause is not None else set())
        # Every end is billed, a cancel and a barge-in too (RT-027).
        usage = RefUsage(draw(st.integers(0, 50)), draw(st.integers(0, 50)), 3, None)
        if terminal_kind in ("end_turn", "tool_use"):
            terminal = script.add(Completed(response_id, "end_turn", usage), after_all)
        elif terminal_kind == "cancel":
            terminal = script.add(Completed(response_id, "cancelled", usage), after_all)
        else:
            terminal = script.add(Interrupted(response_id, usage), after_all)
        for settlement in settlements:
            # Before or after the terminal event: the transcript is the same (RT-073).
            script.add(settlement)
        if terminal_kind in ("interrupt", "cancel") and draw(st.booleans()):
            # In-flight content that arrives after the barge-in: late, a skipped anchor.
            delta_counter += 1
            late_id = f"a{turn}_late"
            script.add(
                Delta(Lane.SPOKEN, response_id, f"d{delta_counter}", late_id, last, 0, "late"),
                {terminal},
            )
            last = late_id
    return script


@st.composite
def delivery(draw: st.DrawFn, script: Script, duplicates: int = 4) -> list[RtEvent]:
    """Any delivery order that respects ``script.before``, with some duplicates."""
    remaining = set(range(len(script.events)))
    delivered: list[int] = []
    order: list[RtEvent] = []
    budget = draw(st.integers(0, duplicates))
    while remaining:
        ready = sorted(i for i in remaining if script.before[i] <= set(delivered))
        choice = draw(st.sampled_from(ready))
        remaining.discard(choice)
        delivered.append(choice)
        order.append(script.events[choice])
        if budget and draw(st.integers(0, 3)) == 0:
            budget -= 1
            order.append(script.events[draw(st.sampled_from(delivered))])
    return order


def natural_order(script: Script) -> list[RtEvent]:
    return list(script.events)
