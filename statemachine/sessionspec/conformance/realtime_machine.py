"""The realtime transcript's conformance machine: any implementation vs the reference model.

The machine is bound to an implementation only through a factory returning a
:class:`Subject` (DESIGN §4): :mod:`rt_factories` binds it to the runtime, in memory and on
a journal in a simulated file system, and to three deliberately broken variants.

Every step applies one event to the subject and to the reference model
(:func:`sessionspec.reference.realtime.step`) and checks that they agree on the status, the
diagnostic codes and the discarded fragments (RT-004, RT-011); the invariants check that
the subject's transcript equals the reference transcript of the accepted history (RT-031),
that it only ever grows (RT-033), and that the in-flight responses agree (RT-034).

Delivery is adversarial: a drawn conversation arrives in a causally equivalent order
(RT-035), and at any point the machine may replay any event seen, replay everything
(a reconnect, RT-010), barge in or cancel an in-flight response (RT-023, RT-024), send
late content for an ended response (RT-026), send an arbitrary event from a small
universe of ids including blank ones (RT-003, RT-011), or crash and restart a journaled
subject and then replay everything it was sent (RT-041). Real voice traffic adds: the end
of a spoken item's playback after its response ended (played in full, or cut at a heard
prefix that may be empty, RT-073), the start of a playback reported too late (RT-070), and
a user audio item whose transcript never comes, skipped once the conversation moved on
(RT-017, RT-075).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sessionspec.conformance.realtime_scripts import WORDS, conversation, delivery
from sessionspec.reference import realtime as ref


@dataclass(frozen=True)
class Observed:
    status: str
    codes: tuple[str, ...]
    discarded: tuple[tuple[str, str | None, str, str, str], ...]


class Subject(Protocol):
    durable: bool

    def apply(self, event: dict[str, Any]) -> Observed: ...

    def messages(self) -> list[dict[str, Any]]: ...

    def in_flight(self) -> list[str]: ...

    def restart(self) -> None: ...


SubjectFactory = Callable[[], Subject]

ITEMS = ("u0", "u1", "a0_0", "a0_1", "a1_0", "t0_0", "x", " ")
RESPONSES = ("r0", "r1", "rx", "")
DELTA_IDS = ("d1", "d2", "d3", "zz", "")
STOPS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "content_filter", "cancelled")

_prev = st.sampled_from((None, *ITEMS[:5]))
_text = st.sampled_from(WORDS)
_index = st.integers(0, 1)

ARBITRARY_EVENT: st.SearchStrategy[ref.RtEvent] = st.one_of(
    st.builds(
        ref.ItemObserved,
        st.sampled_from(ITEMS),
        _prev,
        st.sampled_from(ref.Role),
        st.sampled_from((None, *RESPONSES)),
    ),
    st.builds(ref.ItemSkipped, st.sampled_from(ITEMS), _prev),
    st.builds(ref.UserFinal, st.sampled_from(ITEMS), _prev, _index, _text),
    st.builds(
        ref.Delta,
        st.sampled_from(ref.Lane),
        st.sampled_from(RESPONSES),
        st.sampled_from(DELTA_IDS),
        st.sampled_from(ITEMS),
        _prev,
        _index,
        _text,
    ),
    st.builds(ref.Truncated, st.sampled_from(RESPONSES), st.sampled_from(ITEMS), _index, _text),
    st.builds(ref.FinalText, st.sampled_from(RESPONSES), st.sampled_from(ITEMS), _index, _text),
    st.builds(
        ref.Completed,
        st.sampled_from(RESPONSES),
        st.sampled_from(STOPS),
        st.builds(ref.RefUsage, st.integers(0, 9), st.integers(0, 9)),
    ),
    st.builds(ref.Interrupted, st.sampled_from(RESPONSES)),
    st.builds(ref.PlaybackStarted, st.sampled_from(RESPONSES)),
    st.builds(ref.PlaybackFinished, st.sampled_from(RESPONSES), st.sampled_from(ITEMS)),
)


def normalized(event: ref.RtEvent) -> ref.RtEvent:
    """The event as the implementation sees it after trimming ids (RT-003)."""
    return ref.event_from_wire(ref.event_to_wire(event))


class RealtimeMachine(RuleBasedStateMachine):
    def __init__(self, factory: SubjectFactory) -> None:
        super().__init__()
        self.subject = factory()
        self.history: tuple[ref.RtEvent, ...] = ()
        #: Every distinct event sent so far, in first-sent order (what a reconnect replays).
        self.delivered: list[ref.RtEvent] = []
        self.sent: set[ref.RtEvent] = set()
        self.plan: list[ref.RtEvent] = []
        self.seen_messages: list[dict[str, Any]] = []

    # -- lock step ------------------------------------------------------------------------

    def both(self, event: ref.RtEvent) -> Observed:
        wire = ref.event_to_wire(event)
        verdict, self.history = ref.step(self.history, normalized(event))
        observed = self.subject.apply(wire)
        if event not in self.sent:
            self.sent.add(event)
            self.delivered.append(event)
        assert observed.status == verdict.status.value, (event, observed, verdict)
        assert observed.codes == tuple(d.code.value for d in verdict.diagnostics), (
            event,
            observed,
            verdict,
        )
        expected_fragments = tuple(
            (f.item_id, f.response_id, f.lane.value, f.text, f.reason) for f in verdict.discarded
        )
        assert observed.discarded == expected_fragments, (event, observed, verdict)
        return observed

    # -- rules ----------------------------------------------------------------------------

    @initialize(data=st.data())
    def draw_conversation(self, data: st.DataObject) -> None:
        script = data.draw(conversation())
        self.plan = data.draw(delivery(script))

    @precondition(lambda self: bool(self.plan))
    @rule()
    def deliver_next(self) -> None:
        self.both(self.plan.pop(0))

    @precondition(lambda self: bool(self.plan))
    @rule(count=st.integers(2, 8))
    def deliver_several(self, count: int) -> None:
        for _ in range(min(count, len(self.plan))):
            self.both(self.plan.pop(0))

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data())
    def replay_one(self, data: st.DataObject) -> None:
        self.both(data.draw(st.sampled_from(self.delivered)))

    @precondition(lambda self: bool(self.delivered))
    @rule()
    def reconnect_replay(self) -> None:
        before = self.subject.messages()
        for event in list(self.delivered):
            observed = self.both(event)
            assert observed.status != "accepted", f"replay accepted {event}"
        assert self.subject.messages() == before

    @precondition(lambda self: bool(ref.in_flight_response_ids(self.history)))
    @rule(data=st.data())
    def barge_in(self, data: st.DataObject) -> None:
        response_id = data.draw(st.sampled_from(ref.in_flight_response_ids(self.history)))
        self.both(ref.Interrupted(response_id))

    @precondition(lambda self: bool(ref.in_flight_response_ids(self.history)))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        response_id = data.draw(st.sampled_from(ref.in_flight_response_ids(self.history)))
        self.both(ref.Completed(response_id, "cancelled"))

    @precondition(lambda self: bool(self._ended_responses()))
    @rule(data=st.data(), text=_text, new_item=st.booleans())
    def late_content(self, data: st.DataObject, text: str, new_item: bool) -> None:
        response_id = data.draw(st.sampled_from(self._ended_responses()))
        facts = ref.facts_of(self.history)
        own = [i for i, item in facts.items.items() if item.response_id == response_id]
        item_id = (
            f"late{len(self.delivered)}" if new_item or not own else data.draw(st.sampled_from(own))
        )
        self.both(
            ref.Delta(
                data.draw(st.sampled_from(ref.Lane)),
                response_id,
                f"late-d{len(self.delivered)}",
                item_id,
                None,
                0,
                text,
            )
        )

    @precondition(lambda self: bool(self._ended_responses()))
    @rule(
        data=st.data(),
        stop=st.sampled_from(STOPS),
        usage=st.builds(ref.RefUsage, st.integers(0, 99), st.integers(0, 99)),
    )
    def second_terminal(self, data: st.DataObject, stop: str, usage: ref.RefUsage) -> None:
        """A different terminal event for an ended response: the first one wins (RT-025)."""
        response_id = data.draw(st.sampled_from(self._ended_responses()))
        if data.draw(st.booleans()):
            self.both(ref.Interrupted(response_id))
        else:
            self.both(ref.Completed(response_id, stop, usage))

    @rule(text=_text, end=st.sampled_from(("complete", "interrupt", "cancel")))
    def spoken_answer_outlives_its_response(self, text: str, end: str) -> None:
        """A response whose playback is reported ends before the user heard its spoken item
        out (most barge-ins come after ``response.done``): the item awaits playback (RT-072)."""
        serial = len(self.delivered)
        response_id, item_id = f"pv{serial}", f"pv{serial}_a"
        self.both(ref.PlaybackStarted(response_id))
        self.both(
            ref.Delta(
                ref.Lane.SPOKEN, response_id, f"pv{serial}_d", item_id, None, 0, text or "words"
            )
        )
        if end == "complete":
            self.both(ref.Completed(response_id, "end_turn", ref.RefUsage(1, 1)))
        elif end == "interrupt":
            self.both(ref.Interrupted(response_id))
        else:
            self.both(ref.Completed(response_id, "cancelled"))

    @precondition(lambda self: bool(self._awaiting_playback()))
    @rule(data=st.data(), end=st.sampled_from(("finished", "cut", "cut_to_nothing")))
    def playback_ends_after_the_response(self, data: st.DataObject, end: str) -> None:
        """The user stops hearing a spoken item after its response ended (RT-073)."""
        response_id, item_id = data.draw(st.sampled_from(self._awaiting_playback()))
        if end == "finished":
            self.both(ref.PlaybackFinished(response_id, item_id))
        else:
            text = "he" if end == "cut" else ""
            self.both(ref.Truncated(response_id, item_id, 0, text))

    @precondition(lambda self: bool(self._ended_responses()))
    @rule(data=st.data())
    def playback_reported_too_late(self, data: st.DataObject) -> None:
        """A playback start for an ended response is late (RT-070)."""
        self.both(ref.PlaybackStarted(data.draw(st.sampled_from(self._ended_responses()))))

    @precondition(lambda self: bool(self._untranscribed_user_items()))
    @rule(data=st.data())
    def skip_untranscribed_user_item(self, data: st.DataObject) -> None:
        """A user item whose transcript never came is skipped (RT-017, RT-075)."""
        facts = ref.facts_of(self.history)
        item_id = data.draw(st.sampled_from(self._untranscribed_user_items()))
        self.both(ref.ItemSkipped(item_id, facts.items[item_id].prev))

    @rule(event=ARBITRARY_EVENT)
    def arbitrary_event(self, event: ref.RtEvent) -> None:
        self.both(event)

    @precondition(lambda self: self.subject.durable and bool(self.delivered))
    @rule()
    def crash_and_restart(self) -> None:
        before = self.subject.messages()
        self.subject.restart()
        assert self.subject.messages() == before, "the reopened transcript differs"
        history = self.history
        for event in list(self.delivered):
            observed = self.both(event)
            assert observed.status != "accepted", f"replay after restart accepted {event}"
        assert self.history == history
        assert self.subject.messages() == before

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def transcript_matches_reference(self) -> None:
        messages = self.subject.messages()
        got = tuple(ref.message_from_wire(m) for m in messages)
        assert got == ref.transcript_of(self.history), (got, ref.transcript_of(self.history))
        # RT-033: append-only, byte for byte.
        assert messages[: len(self.seen_messages)] == self.seen_messages
        self.seen_messages = messages

    @invariant()
    def in_flight_matches_reference(self) -> None:
        assert tuple(self.subject.in_flight()) == ref.in_flight_response_ids(self.history)

    def _awaiting_playback(self) -> list[tuple[str, str]]:
        facts = ref.facts_of(self.history)
        return sorted(
            (item.response_id, item_id)
            for item_id, item in facts.items.items()
            if item.state == "awaiting_playback" and item.response_id is not None
        )

    def _untranscribed_user_items(self) -> list[str]:
        facts = ref.facts_of(self.history)
        return sorted(
            item_id
            for item_id, item in facts.items.items()
            if item.role is ref.Role.USER and item.state == "observed"
        )

    def _ended_responses(self) -> list[str]:
        facts = ref.facts_of(self.history)
        return sorted(
            rid
            for rid, response in facts.responses.items()
            if response.state in ("completed", "interrupted", "cancelled")
        )
