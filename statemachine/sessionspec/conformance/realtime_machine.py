"""The realtime transcript's conformance machine: any implementation vs the reference model.

The machine reaches an implementation only through a
:class:`~sessionspec.conformance.adapters.Connection` (``spec/PROTOCOL.md``, the
``realtime.*`` commands; DESIGN §4). :class:`ProtocolSubject` is the transcript behind it: in
memory, or on a durable journal when the harness declares ``realtime.durable`` and a way to
die (``storage.simulated`` power cuts or ``crash.kill`` process death).

Every step applies one event to the subject and to the reference model
(:func:`sessionspec.reference.realtime.step`) and checks that they agree on the status, the
diagnostic codes and the discarded fragments (RT-004, RT-011, RT-023); the invariants check
that the subject's transcript equals the reference transcript of the accepted history
(RT-031), that it only ever grows (RT-033), and that the in-flight responses agree (RT-034).
Every check names its requirement (:mod:`sessionspec.conformance.checks`).

Delivery is adversarial: a drawn conversation (some responses split around a user item)
arrives in a causally equivalent order (RT-035), and at any point the machine may replay any
event seen, replay everything (a reconnect, RT-010), barge in or cancel an in-flight response
(RT-023, RT-024), send late content or a late final text for an ended response (RT-026),
send a conflicting variant of an event already seen (RT-011), send an arbitrary event from a
small universe of ids including blank ones (RT-003, RT-011), or crash a durable subject
between events or inside one, reopen it, and replay everything it was sent (RT-041, CONF-010).
Every end of a response is billed: a cancel and a barge-in carry usage too, which reaches
the first message of the response or, when it has none, the usage without a message
(RT-027). Real voice traffic adds: the end of a spoken item's playback after its response ended
(played in full, or cut at a heard prefix that may be empty, RT-073), the start of a playback
reported too late (RT-070), and a user audio item whose transcript never comes, skipped once
the conversation moved on (RT-017, RT-075).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sessionspec.conformance import checks
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.realtime_driver import (
    Observed,
    ProtocolSubject,
    RealtimeDriver,
    durable_possible,
    run_steps,
)
from sessionspec.conformance.realtime_scripts import WORDS, conversation, delivery
from sessionspec.reference import realtime as ref

__all__ = [
    "Observed",
    "ProtocolSubject",
    "RealtimeDriver",
    "RealtimeMachine",
    "durable_possible",
    "run_steps",
]


ITEMS = ("u0", "u1", "a0_0", "a0_1", "a1_0", "t0_0", "x", " ")
RESPONSES = ("r0", "r1", "rx", "")
DELTA_IDS = ("d1", "d2", "d3", "zz", "")
STOPS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "content_filter", "cancelled")

_prev = st.sampled_from((None, *ITEMS[:5]))
_text = st.sampled_from(WORDS)
_index = st.integers(0, 1)
#: What a provider bills for a response, whatever its end (RT-027); zero sometimes.
_usage = st.builds(ref.RefUsage, st.integers(0, 9), st.integers(0, 9))

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
    st.builds(
        ref.Interrupted,
        st.sampled_from(RESPONSES),
        st.builds(ref.RefUsage, st.integers(0, 9), st.integers(0, 9)),
    ),
    st.builds(ref.PlaybackStarted, st.sampled_from(RESPONSES)),
    st.builds(ref.PlaybackFinished, st.sampled_from(RESPONSES), st.sampled_from(ITEMS)),
)


class RealtimeMachine(RuleBasedStateMachine):
    """Lock-step conformance of a realtime transcript, through the protocol."""

    def __init__(self, connection: Connection, durable: bool = False) -> None:
        super().__init__()
        self.conn = connection
        trace: list[dict[str, Any]] = [{"op": "start", "durable": durable}]
        checks.current().trace = trace
        self.d = RealtimeDriver(connection, durable, trace)
        self.plan: list[ref.RtEvent] = []

    @property
    def history(self) -> tuple[ref.RtEvent, ...]:
        return self.d.history

    def both(self, event: ref.RtEvent) -> Observed:
        return self.d.both(event)

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

    @precondition(lambda self: bool(self.d.delivered))
    @rule(data=st.data())
    def replay_one(self, data: st.DataObject) -> None:
        self.both(data.draw(st.sampled_from(self.d.delivered)))

    @precondition(lambda self: bool(self.d.delivered))
    @rule()
    def reconnect_replay(self) -> None:
        self.d.replay_all()

    @precondition(lambda self: bool(ref.in_flight_response_ids(self.history)))
    @rule(data=st.data(), usage=_usage)
    def barge_in(self, data: st.DataObject, usage: ref.RefUsage) -> None:
        response_id = data.draw(st.sampled_from(ref.in_flight_response_ids(self.history)))
        self.both(ref.Interrupted(response_id, usage))

    @precondition(lambda self: bool(ref.in_flight_response_ids(self.history)))
    @rule(data=st.data(), usage=_usage)
    def cancel(self, data: st.DataObject, usage: ref.RefUsage) -> None:
        response_id = data.draw(st.sampled_from(ref.in_flight_response_ids(self.history)))
        self.both(ref.Completed(response_id, "cancelled", usage))

    @precondition(lambda self: bool(self._ended_responses()))
    @rule(data=st.data(), text=_text, new_item=st.booleans())
    def late_content(self, data: st.DataObject, text: str, new_item: bool) -> None:
        response_id = data.draw(st.sampled_from(self._ended_responses()))
        facts = ref.facts_of(self.history)
        own = [i for i, item in facts.items.items() if item.response_id == response_id]
        n = len(self.d.delivered)
        item_id = f"late{n}" if new_item or not own else data.draw(st.sampled_from(own))
        kind = data.draw(st.sampled_from(("delta", "final", "truncated")))
        if kind == "final" and own:
            self.both(ref.FinalText(response_id, item_id, 0, text))
        elif kind == "truncated" and own:
            self.both(ref.Truncated(response_id, item_id, 0, text))
        else:
            self.both(
                ref.Delta(
                    data.draw(st.sampled_from(ref.Lane)), response_id, f"late-d{n}", item_id,
                    None, 0, text,
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
            self.both(ref.Interrupted(response_id, usage))
        else:
            self.both(ref.Completed(response_id, stop, usage))

    @rule(text=_text, end=st.sampled_from(("complete", "interrupt", "cancel")), usage=_usage)
    def spoken_answer_outlives_its_response(self, text: str, end: str, usage: ref.RefUsage) -> None:
        """A response whose playback is reported ends before the user heard its spoken item
        out (most barge-ins come after ``response.done``): the item awaits playback (RT-072)."""
        serial = len(self.d.delivered)
        response_id, item_id = f"pv{serial}", f"pv{serial}_a"
        self.both(ref.PlaybackStarted(response_id))
        self.both(
            ref.Delta(
                ref.Lane.SPOKEN, response_id, f"pv{serial}_d", item_id, None, 0, text or "words"
            )
        )
        if end == "complete":
            self.both(ref.Completed(response_id, "end_turn", usage))
        elif end == "interrupt":
            self.both(ref.Interrupted(response_id, usage))
        else:
            self.both(ref.Completed(response_id, "cancelled", usage))

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

    @precondition(lambda self: bool(self.d.delivered))
    @rule(data=st.data(), text=_text)
    def conflicting_event(self, data: st.DataObject, text: str) -> None:
        """A variant of an event already seen: same identity, different facts (RT-011)."""
        event = data.draw(st.sampled_from(self.d.delivered))
        variant = _conflicting(event, text, data.draw(st.sampled_from((None, *ITEMS[:5]))))
        if variant is not None:
            self.both(variant)

    @rule(event=ARBITRARY_EVENT)
    def arbitrary_event(self, event: ref.RtEvent) -> None:
        self.both(event)

    @rule(item=st.sampled_from(("u0", "u1")))
    def skip_user_item(self, item: str) -> None:
        """A transcription that failed: a user item announced, then skipped (RT-017)."""
        self.both(ref.ItemObserved(item, None, ref.Role.USER, None))
        self.both(ref.ItemSkipped(item, None))

    @precondition(lambda self: self.d.subject.durable and bool(self.d.delivered))
    @rule()
    def crash_and_restart(self) -> None:
        self.d.restart()

    @precondition(lambda self: self.d.subject.durable and bool(self.plan))
    @rule(nth=st.integers(0, 3))
    def crash_inside_apply(self, nth: int) -> None:
        self.d.crash_apply(self.plan.pop(0), nth)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def agrees_with_the_reference(self) -> None:
        self.d.check()

    def teardown(self) -> None:
        self.d.subject.close()

    def _awaiting_playback(self) -> list[tuple[str, str]]:
        facts = ref.facts_of(self.history)
        return sorted(
            (item.response_id, item_id)
            for item_id, item in facts.items.items()
            if item.state is ref.RefItemState.AWAITING_PLAYBACK and item.response_id is not None
        )

    def _untranscribed_user_items(self) -> list[str]:
        facts = ref.facts_of(self.history)
        return sorted(
            item_id
            for item_id, item in facts.items.items()
            if item.role is ref.Role.USER and item.state is ref.RefItemState.OBSERVED
        )

    def _ended_responses(self) -> list[str]:
        facts = ref.facts_of(self.history)
        return sorted(
            rid for rid, response in facts.responses.items() if response.state in ref.TERMINAL
        )


def _conflicting(event: ref.RtEvent, text: str, other: str | None) -> ref.RtEvent | None:
    """The same identity with different content, role, response or predecessor."""
    if isinstance(event, ref.Delta):
        return dataclasses.replace(event, delta=event.delta + (text or "x"))
    if isinstance(event, ref.UserFinal):
        return dataclasses.replace(event, text=event.text + (text or "x"))
    if isinstance(event, ref.ItemObserved):
        if event.role is ref.Role.USER:
            return dataclasses.replace(event, role=ref.Role.ASSISTANT, response_id="r9")
        return dataclasses.replace(event, response_id=(event.response_id or "") + "z")
    if isinstance(event, ref.ItemSkipped) and other != event.previous_item_id:
        return dataclasses.replace(event, previous_item_id=other)
    if isinstance(event, ref.FinalText):
        return dataclasses.replace(event, text=event.text + (text or "x"))
    return None
