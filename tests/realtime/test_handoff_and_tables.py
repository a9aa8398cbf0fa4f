"""Hand-off to the coordinator (RT-050) and the exhaustive lifecycle tables (RT-016, RT-020)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.realtime.rt_cases import completed, interrupted, spoken_delta, text_delta, user

from sessionspec import CoordinatorSink, RealtimeTranscript, SessionCoordinator
from sessionspec.errors import IllegalTransitionError
from sessionspec.storage.simfs import SimulatedFileSystem
from sessionspec.tables.base import Rejected
from sessionspec.tables.realtime import (
    ITEM_TABLE,
    RESPONSE_TABLE,
    TERMINAL_RESPONSE_STATES,
    TRANSCRIPT_TABLE,
    ResponseState,
    TranscriptState,
)
from sessionspec.wire.messages import AssistantMessage, Usage

EVENTS = [
    user("u1", "hello"),
    text_delta("r1", "d1", "a1", "Hi ", "u1"),
    spoken_delta("r1", "d2", "a2", "there", "a1"),
    completed("r1", inp=100, out=20),
    user("u2", "more", "a2"),
    text_delta("r2", "d3", "a3", "partial", "u2"),
    interrupted("r2"),
    user("u3", "and?", "a3"),
]


class FakeCoordinator:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], Usage]] = []

    def on_turn_end(self, new_messages: Any, usage: Any = None) -> None:
        self.calls.append((list(new_messages), usage))


@pytest.mark.req("RT-050")
def test_sink_hands_turns_with_usage_once_per_response() -> None:
    transcript = RealtimeTranscript(clock=lambda: 0)
    fake = FakeCoordinator()
    sink = CoordinatorSink(transcript, fake)
    for event in EVENTS[:4]:
        transcript.apply(event)
    sink.drain()
    sink.drain()  # nothing new: no call
    assert len(fake.calls) == 1
    messages, usage = fake.calls[0]
    assert [m.role for m in messages] == ["user", "assistant"]
    assert usage.input_tokens == 100 and usage.output_tokens == 20
    for event in EVENTS[4:] + EVENTS:  # the rest, then a full replay: nothing is counted twice
        transcript.apply(event)
    sink.drain()
    assert [[m.role for m in call[0]] for call in fake.calls] == [
        ["user", "assistant"],
        ["user", "assistant"],
        ["user"],
    ]
    total = sum(call[1].input_tokens for call in fake.calls)
    assert total == 100
    assert sink.handed == len(transcript.messages())


@pytest.mark.req("RT-050")
def test_sink_into_the_real_coordinator() -> None:
    fs = SimulatedFileSystem()
    coordinator = SessionCoordinator.new("/sessions", "/work", fs=fs, session_id="voice")
    transcript = RealtimeTranscript(clock=lambda: 1000)
    sink = CoordinatorSink(transcript, coordinator)
    for event in EVENTS:
        transcript.apply(event)
        sink.drain()
    assert coordinator.usage.input_tokens == 100
    context = coordinator.context()
    assert [m["role"] for m in context] == ["user", "assistant", "user", "assistant", "user"]
    spoken = context[1]["content"][1]
    assert spoken["ss_lane"] == "spoken" and spoken["text"] == "there"


def test_usage_is_on_the_first_message_of_a_response_only() -> None:
    transcript = RealtimeTranscript(clock=lambda: 0)
    for event in [
        user("u1", "q"),
        text_delta("r1", "d1", "a1", "one", "u1"),
        user("u2", "interjection", "a1"),
        text_delta("r1", "d2", "a2", "two", "u2"),
        completed("r1", inp=7, out=3),
    ]:
        transcript.apply(event)
    assistants = [m for m in transcript.messages() if isinstance(m, AssistantMessage)]
    assert [a.usage.input_tokens for a in assistants] == [7, 0]


@pytest.mark.req("RT-016", "RT-020", "RT-043")
@pytest.mark.parametrize("table", [ITEM_TABLE, RESPONSE_TABLE, TRANSCRIPT_TABLE])
def test_every_pair_is_a_transition_or_a_typed_rejection(table: Any) -> None:
    for state, event in table.pairs():
        decision = table.decide(state, event)
        if isinstance(decision, Rejected):
            with pytest.raises(IllegalTransitionError):
                table.step(state, event)
        else:
            assert isinstance(decision, table.states)
    assert table.mermaid().startswith("stateDiagram-v2")


@pytest.mark.req("RT-020", "RT-025")
def test_terminal_responses_refuse_everything() -> None:
    assert {
        ResponseState.COMPLETED,
        ResponseState.INTERRUPTED,
        ResponseState.CANCELLED,
    } == TERMINAL_RESPONSE_STATES
    for state in TERMINAL_RESPONSE_STATES:
        for event in RESPONSE_TABLE.events:
            decision = RESPONSE_TABLE.decide(state, event)
            assert isinstance(decision, Rejected)
            assert decision.code in ("late_content", "already_terminal")


@pytest.mark.req("RT-043")
def test_closed_transcript_refuses_events() -> None:
    transcript = RealtimeTranscript(clock=lambda: 0)
    transcript.close()
    assert transcript.state is TranscriptState.CLOSED
    with pytest.raises(IllegalTransitionError):
        transcript.apply(EVENTS[0])
