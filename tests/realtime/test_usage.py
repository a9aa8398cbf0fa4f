"""Every billed response's usage counts once, cancelled and interrupted ones too (RT-027).

The provider bills a response whatever its end. Its usage is on its first message (RT-031)
or, when it never gets one, an unattached usage that the hand-off delivers (RT-050). The
runtime and the reference model agree on both.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.realtime.rt_cases import (
    completed,
    interrupted,
    observed,
    playback_started,
    skipped,
    spoken_delta,
    text_delta,
    truncated,
    user,
)

from sessionspec import (
    AsyncRealtimeTranscript,
    CoordinatorSink,
    RealtimeTranscript,
    SessionCoordinator,
    UnattachedUsage,
)
from sessionspec.codecs.openai_realtime import OpenAIRealtimeTranslator
from sessionspec.errors import CallerError
from sessionspec.reference import realtime as ref
from sessionspec.storage.log import Durability
from sessionspec.storage.simfs import SimulatedFileSystem
from sessionspec.wire.messages import AssistantMessage, Usage

pytestmark = pytest.mark.req("RT-027")


def run(events: list[dict[str, Any]]) -> RealtimeTranscript:
    transcript = RealtimeTranscript(clock=lambda: 0)
    for event in events:
        transcript.apply(event)
    return transcript


def reference_agrees(transcript: RealtimeTranscript, events: list[dict[str, Any]]) -> None:
    history: tuple[ref.RtEvent, ...] = ()
    for event in events:
        _, history = ref.step(history, ref.event_from_wire(event))
    got = tuple(ref.message_from_wire(m.to_json_dict()) for m in transcript.messages())
    assert got == ref.transcript_of(history)
    unattached = {
        record.response_id: ref.RefUsage(
            record.usage.input_tokens,
            record.usage.output_tokens,
            record.usage.cache_write_tokens,
            record.usage.cache_read_tokens,
        )
        for record in transcript.unattached_usage()
    }
    assert unattached == ref.unattached_usage_of(history)


def usage_of(transcript: RealtimeTranscript) -> list[int]:
    return [m.usage.input_tokens for m in transcript.messages() if isinstance(m, AssistantMessage)]


@pytest.mark.req("RT-024")
def test_a_cancelled_response_with_heard_speech_carries_its_usage() -> None:
    events = [
        user("u1", "tell me"),
        playback_started("r1"),
        spoken_delta("r1", "d1", "a1", "Once upon a time", "u1"),
        truncated("r1", "a1", "Once upon"),
        completed("r1", "cancelled", inp=40, out=12),
    ]
    transcript = run(events)
    assert usage_of(transcript) == [40]
    last = transcript.messages()[-1]
    assert isinstance(last, AssistantMessage) and last.stop_reason == "aborted"
    assert transcript.unattached_usage() == []
    reference_agrees(transcript, events)


@pytest.mark.req("RT-024")
def test_a_cancelled_response_that_kept_nothing_leaves_its_usage_unattached() -> None:
    events = [
        user("u1", "tell me"),
        spoken_delta("r1", "d1", "a1", "Once upon a time", "u1"),
        completed("r1", "cancelled", inp=40, out=12),
    ]
    transcript = run(events)
    assert usage_of(transcript) == []
    assert transcript.unattached_usage() == [
        UnattachedUsage("r1", Usage(input_tokens=40, output_tokens=12), 1)
    ]
    reference_agrees(transcript, events)


@pytest.mark.req("RT-023")
def test_a_barge_in_carries_the_usage_of_the_response_it_cut() -> None:
    events = [
        user("u1", "q"),
        text_delta("r1", "d1", "a1", "partial", "u1"),
        interrupted("r1", inp=9, out=2),
        user("u2", "other", "a1"),
        spoken_delta("r2", "d2", "a2", "unheard", "u2"),
        interrupted("r2", inp=5, out=1),
    ]
    transcript = run(events)
    assert usage_of(transcript) == [9]
    assert [(r.response_id, r.usage.input_tokens) for r in transcript.unattached_usage()] == [
        ("r2", 5)
    ]
    reference_agrees(transcript, events)


@pytest.mark.req("RT-023", "RT-025")
def test_an_interruption_without_usage_is_zero_and_the_same_event_as_zero() -> None:
    transcript = run([text_delta("r1", "d1", "a1", "x"), interrupted("r1")])
    assert transcript.apply(interrupted("r1", inp=0, out=0)).status.value == "duplicate"
    assert transcript.apply(interrupted("r1", inp=3)).status.value == "rejected"
    assert usage_of(transcript) == [0]
    assert transcript.unattached_usage() == []
    with pytest.raises(CallerError):
        transcript.apply({**interrupted("r2"), "usage": {"input_tokens": -1}})


def test_a_response_with_only_a_function_call_leaves_its_usage_unattached() -> None:
    events = [
        user("u1", "weather?"),
        observed("call1", "assistant", "u1", "r1"),
        skipped("call1", "u1"),
        completed("r1", inp=30, out=8),
        skipped("out1", "call1"),
        text_delta("r2", "d1", "a2", "Sunny.", "out1"),
        completed("r2", inp=50, out=3),
    ]
    transcript = run(events)
    assert usage_of(transcript) == [50]
    assert [r.response_id for r in transcript.unattached_usage()] == ["r1"]
    reference_agrees(transcript, events)


@pytest.mark.req("RT-072", "RT-073")
def test_usage_waits_for_the_playback_that_decides_whether_there_is_a_message() -> None:
    events = [
        playback_started("r1"),
        spoken_delta("r1", "d1", "a1", "never heard"),
        completed("r1", "cancelled", inp=7, out=7),
    ]
    transcript = run(events)
    assert transcript.unattached_usage() == []  # the item awaits its playback
    reference_agrees(transcript, events)
    events.append(truncated("r1", "a1", ""))  # cut to nothing: no message
    transcript.apply(events[-1])
    assert [r.response_id for r in transcript.unattached_usage()] == ["r1"]
    reference_agrees(transcript, events)


def test_zero_usage_is_not_reported() -> None:
    transcript = run([spoken_delta("r1", "d1", "a1", "x"), completed("r1", "cancelled", 0, 0)])
    assert transcript.unattached_usage() == []


@pytest.mark.req("RT-041")
def test_unattached_usage_survives_a_reopen(tmp_path: Any) -> None:
    path = str(tmp_path / "journal.jsonl")
    events = [
        user("u1", "q"),
        spoken_delta("r1", "d1", "a1", "gone", "u1"),
        interrupted("r1", inp=11, out=4),
    ]
    with RealtimeTranscript.create(path, clock=lambda: 5) as transcript:
        for event in events:
            transcript.apply(event)
        before = transcript.unattached_usage()
    with RealtimeTranscript.open(path) as reopened:
        assert reopened.unattached_usage() == before != []


class FakeCoordinator:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], Usage]] = []

    def on_turn_end(self, new_messages: Any, usage: Any = None) -> None:
        self.calls.append((list(new_messages), usage))


@pytest.mark.req("RT-050")
def test_the_sink_adds_unattached_usage_to_the_next_turn_or_hands_it_alone() -> None:
    transcript = RealtimeTranscript(clock=lambda: 0)
    fake = FakeCoordinator()
    sink = CoordinatorSink(transcript, fake)
    for event in [
        user("u1", "q"),
        spoken_delta("r1", "d1", "a1", "cut", "u1"),
        interrupted("r1", inp=10, out=1),
        user("u2", "again", "a1"),
        text_delta("r2", "d2", "a2", "answer", "u2"),
        completed("r2", inp=20, out=2),
    ]:
        transcript.apply(event)
    sink.drain()
    # u1, then r1 cut (nothing kept), then u2 and r2's answer: one turn, both usages.
    assert [[m.role for m in call[0]] for call in fake.calls] == [["user", "user", "assistant"]]
    assert fake.calls[0][1].input_tokens == 30
    transcript.apply(text_delta("r3", "d3", "a3", "lost", "a2"))
    transcript.apply(completed("r3", "cancelled", inp=4, out=4))
    sink.drain()
    assert fake.calls[1] == ([], Usage(input_tokens=4, output_tokens=4))
    sink.drain()
    assert len(fake.calls) == 2 and sink.usage_handed == 2


@pytest.mark.req("RT-050")
def test_every_billed_response_reaches_the_real_coordinator_once() -> None:
    fs = SimulatedFileSystem()
    coordinator = SessionCoordinator.new("/sessions", "/work", fs=fs, session_id="voice")
    transcript = RealtimeTranscript(clock=lambda: 1000)
    sink = CoordinatorSink(transcript, coordinator)
    events = [
        user("u1", "hi"),
        text_delta("r1", "d1", "a1", "Hello", "u1"),
        completed("r1", inp=100, out=10),
        user("u2", "tell me a story", "a1"),
        spoken_delta("r2", "d2", "a2", "Once", "u2"),
        interrupted("r2", inp=120, out=30),
        user("u3", "stop", "a2"),
        spoken_delta("r3", "d3", "a3", "OK", "u3"),
        completed("r3", "cancelled", inp=130, out=5),
    ]
    for event in events + events:  # a full replay counts nothing twice
        transcript.apply(event)
        sink.drain()
    assert coordinator.usage.input_tokens == 350
    assert coordinator.usage.output_tokens == 45
    assert [m["role"] for m in coordinator.context()] == ["user", "assistant", "user", "user"]


@pytest.mark.req("RT-060")
def test_the_codec_passes_the_usage_of_a_barge_in() -> None:
    translator = OpenAIRealtimeTranslator()
    events = translator.translate(
        {
            "type": "response.done",
            "response": {
                "id": "resp_1",
                "status": "cancelled",
                "status_details": {"reason": "turn_detected"},
                "output": [],
                "usage": {
                    "input_tokens": 12,
                    "output_tokens": 3,
                    "input_token_details": {"cached_tokens": 4},
                },
            },
        }
    )
    assert events[-1] == {
        "type": "assistant_turn_interrupted",
        "response_id": "resp_1",
        "usage": {"input_tokens": 12, "output_tokens": 3, "cache_read_tokens": 4},
    }


def test_the_async_transcript_reports_unattached_usage(tmp_path: Any) -> None:
    async def main() -> list[Any]:
        transcript = await AsyncRealtimeTranscript.create(
            str(tmp_path / "async.jsonl"), durability=Durability.NO_SYNC
        )
        async with transcript:
            await transcript.apply(spoken_delta("r1", "d1", "a1", "gone"))
            await transcript.apply(interrupted("r1", inp=2, out=1))
            return await transcript.unattached_usage()

    assert [record.response_id for record in asyncio.run(main())] == ["r1"]
