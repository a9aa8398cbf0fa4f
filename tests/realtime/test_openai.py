"""The OpenAI Realtime API mapping (RT-060), on event sequences written from the API docs.

The sequences follow the server events documented for the Realtime API (GA names, with the
beta names where they differ): a voice turn, a text turn with a function call, a barge-in
while the assistant speaks, and a reconnect that replays everything received.
"""

from __future__ import annotations

from typing import Any

import pytest

from sessionspec import RealtimeTranscript
from sessionspec.openai_realtime import OpenAIRealtimeTranslator
from sessionspec.reference.realtime import ApplyStatus

pytestmark = pytest.mark.req("RT-060")


def msg_item(
    item_id: str, role: str, content: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": role,
        "content": content or [],
    }


def usage(inp: int, out: int, cached: int) -> dict[str, Any]:
    return {
        "total_tokens": inp + out,
        "input_tokens": inp,
        "output_tokens": out,
        "input_token_details": {"cached_tokens": cached, "text_tokens": 10, "audio_tokens": inp},
        "output_token_details": {"text_tokens": 5, "audio_tokens": out},
    }


VOICE_TURN: list[dict[str, Any]] = [
    {
        "type": "input_audio_buffer.speech_started",
        "event_id": "e1",
        "audio_start_ms": 100,
        "item_id": "item_u1",
    },
    {
        "type": "input_audio_buffer.speech_stopped",
        "event_id": "e2",
        "audio_end_ms": 900,
        "item_id": "item_u1",
    },
    {
        "type": "input_audio_buffer.committed",
        "event_id": "e3",
        "previous_item_id": None,
        "item_id": "item_u1",
    },
    {
        "type": "conversation.item.added",
        "event_id": "e4",
        "previous_item_id": None,
        "item": msg_item("item_u1", "user", [{"type": "input_audio", "transcript": None}]),
    },
    {
        "type": "response.created",
        "event_id": "e5",
        "response": {
            "id": "resp_1",
            "object": "realtime.response",
            "status": "in_progress",
            "output": [],
        },
    },
    {
        "type": "response.output_item.added",
        "event_id": "e6",
        "response_id": "resp_1",
        "output_index": 0,
        "item": {**msg_item("item_a1", "assistant"), "status": "in_progress"},
    },
    {
        "type": "conversation.item.added",
        "event_id": "e7",
        "previous_item_id": "item_u1",
        "item": {**msg_item("item_a1", "assistant"), "status": "in_progress"},
    },
    {
        "type": "response.content_part.added",
        "event_id": "e8",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "output_index": 0,
        "content_index": 0,
        "part": {"type": "audio", "transcript": ""},
    },
    {
        "type": "response.output_audio.delta",
        "event_id": "e9",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "output_index": 0,
        "content_index": 0,
        "delta": "UklGRg==",
    },
    {
        "type": "response.output_audio_transcript.delta",
        "event_id": "e10",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hello! ",
    },
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "e11",
        "item_id": "item_u1",
        "content_index": 0,
        "transcript": "Hi, who are you?",
    },
    {
        "type": "response.output_audio_transcript.delta",
        "event_id": "e12",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "output_index": 0,
        "content_index": 0,
        "delta": "I'm an assistant.",
    },
    {
        "type": "response.output_audio_transcript.done",
        "event_id": "e13",
        "response_id": "resp_1",
        "item_id": "item_a1",
        "output_index": 0,
        "content_index": 0,
        "transcript": "Hello! I'm an assistant.",
    },
    {
        "type": "response.output_item.done",
        "event_id": "e14",
        "response_id": "resp_1",
        "output_index": 0,
        "item": msg_item("item_a1", "assistant"),
    },
    {
        "type": "response.done",
        "event_id": "e15",
        "response": {
            "id": "resp_1",
            "object": "realtime.response",
            "status": "completed",
            "status_details": None,
            "output": [msg_item("item_a1", "assistant")],
            "usage": usage(120, 30, 64),
        },
    },
]

BARGE_IN: list[dict[str, Any]] = [
    {
        "type": "conversation.item.added",
        "event_id": "f1",
        "previous_item_id": "item_a1",
        "item": msg_item("item_u2", "user", [{"type": "input_audio", "transcript": None}]),
    },
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "f2",
        "item_id": "item_u2",
        "content_index": 0,
        "transcript": "Tell me a long story.",
    },
    {
        "type": "response.created",
        "event_id": "f3",
        "response": {"id": "resp_2", "status": "in_progress", "output": []},
    },
    {
        "type": "response.output_item.added",
        "event_id": "f4",
        "response_id": "resp_2",
        "output_index": 0,
        "item": {**msg_item("item_a2", "assistant"), "status": "in_progress"},
    },
    {
        "type": "conversation.item.added",
        "event_id": "f5",
        "previous_item_id": "item_u2",
        "item": {**msg_item("item_a2", "assistant"), "status": "in_progress"},
    },
    {
        "type": "response.output_audio_transcript.delta",
        "event_id": "f6",
        "response_id": "resp_2",
        "item_id": "item_a2",
        "output_index": 0,
        "content_index": 0,
        "delta": "Once upon a time, ",
    },
    # The user speaks over the assistant: barge-in.
    {
        "type": "input_audio_buffer.speech_started",
        "event_id": "f7",
        "audio_start_ms": 5000,
        "item_id": "item_u3",
    },
    {
        "type": "response.output_audio_transcript.delta",
        "event_id": "f8",
        "response_id": "resp_2",
        "item_id": "item_a2",
        "output_index": 0,
        "content_index": 0,
        "delta": "in a land far away",
    },
    {
        "type": "conversation.item.truncated",
        "event_id": "f9",
        "item_id": "item_a2",
        "content_index": 0,
        "audio_end_ms": 1200,
    },
    {
        "type": "response.done",
        "event_id": "f10",
        "response": {
            "id": "resp_2",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "output": [],
            "usage": usage(200, 12, 0),
        },
    },
    {
        "type": "conversation.item.added",
        "event_id": "f11",
        "previous_item_id": "item_a2",
        "item": msg_item("item_u3", "user", [{"type": "input_audio", "transcript": None}]),
    },
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "f12",
        "item_id": "item_u3",
        "content_index": 0,
        "transcript": "Actually, never mind.",
    },
]

TOOL_TURN: list[dict[str, Any]] = [
    {
        "type": "conversation.item.added",
        "event_id": "g1",
        "previous_item_id": "item_u3",
        "item": msg_item("item_u4", "user", [{"type": "input_text", "text": "Weather in Paris?"}]),
    },
    {
        "type": "response.created",
        "event_id": "g2",
        "response": {"id": "resp_3", "status": "in_progress", "output": []},
    },
    {
        "type": "response.output_item.added",
        "event_id": "g3",
        "response_id": "resp_3",
        "output_index": 0,
        "item": {
            "id": "item_call",
            "type": "function_call",
            "status": "in_progress",
            "name": "weather",
            "call_id": "call_1",
            "arguments": "",
        },
    },
    {
        "type": "conversation.item.added",
        "event_id": "g4",
        "previous_item_id": "item_u4",
        "item": {
            "id": "item_call",
            "type": "function_call",
            "status": "in_progress",
            "name": "weather",
            "call_id": "call_1",
            "arguments": "",
        },
    },
    {
        "type": "response.done",
        "event_id": "g5",
        "response": {
            "id": "resp_3",
            "status": "completed",
            "output": [{"id": "item_call", "type": "function_call"}],
            "usage": usage(50, 8, 0),
        },
    },
    {
        "type": "conversation.item.added",
        "event_id": "g6",
        "previous_item_id": "item_call",
        "item": {
            "id": "item_out",
            "type": "function_call_output",
            "call_id": "call_1",
            "output": '{"temp": 21}',
        },
    },
    {
        "type": "response.created",
        "event_id": "g7",
        "response": {"id": "resp_4", "status": "in_progress", "output": []},
    },
    {
        "type": "response.output_item.added",
        "event_id": "g8",
        "response_id": "resp_4",
        "output_index": 0,
        "item": {**msg_item("item_a4", "assistant"), "status": "in_progress"},
    },
    {
        "type": "conversation.item.added",
        "event_id": "g9",
        "previous_item_id": "item_out",
        "item": {**msg_item("item_a4", "assistant"), "status": "in_progress"},
    },
    {
        "type": "response.output_text.delta",
        "event_id": "g10",
        "response_id": "resp_4",
        "item_id": "item_a4",
        "output_index": 0,
        "content_index": 0,
        "delta": "21 degrees.",
    },
    {
        "type": "response.done",
        "event_id": "g11",
        "response": {
            "id": "resp_4",
            "status": "completed",
            "output": [msg_item("item_a4", "assistant")],
            "usage": usage(70, 5, 32),
        },
    },
]


def feed(
    transcript: RealtimeTranscript,
    translator: OpenAIRealtimeTranslator,
    server_events: list[dict[str, Any]],
) -> list[Any]:
    outcomes = []
    for server_event in server_events:
        for event in translator.translate(server_event):
            outcomes.append(transcript.apply(event))
    return outcomes


def texts(transcript: RealtimeTranscript) -> list[tuple[str, str]]:
    result = []
    for message in transcript.messages():
        data = message.to_json_dict()
        result.append((data["role"], " | ".join(b["text"] for b in data["content"])))
    return result


def heard(item_id: str, index: int, audio_end_ms: int) -> str:
    return "Once upon"


def test_voice_turn() -> None:
    transcript = RealtimeTranscript(clock=lambda: 0)
    feed(transcript, OpenAIRealtimeTranslator(heard), VOICE_TURN)
    assert texts(transcript) == [
        ("user", "Hi, who are you?"),
        ("assistant", "Hello! I'm an assistant."),
    ]
    assistant = transcript.messages()[1].to_json_dict()
    assert assistant["content"][0]["ss_lane"] == "spoken"
    assert assistant["usage"] == {
        "input_tokens": 120,
        "output_tokens": 30,
        "cache_read_tokens": 64,
        "cache_write_tokens": 0,
    }
    assert assistant["stop_reason"] == "stop"


@pytest.mark.req("RT-072", "RT-061")
def test_barge_in_keeps_what_was_heard_and_the_conversation_goes_on() -> None:
    """The server cut the answer at 1.2 s; the client says "Once upon" was heard. Before
    RT-072 the whole item was discarded and the truncation rejected as late."""
    transcript = RealtimeTranscript(clock=lambda: 0)
    translator = OpenAIRealtimeTranslator(heard)
    feed(transcript, translator, VOICE_TURN)
    outcomes = feed(transcript, translator, BARGE_IN)
    assert texts(transcript) == [
        ("user", "Hi, who are you?"),
        ("assistant", "Hello! I'm an assistant."),
        ("user", "Tell me a long story."),
        ("assistant", "Once upon"),
        ("user", "Actually, never mind."),
    ]
    assert transcript.messages()[3].to_json_dict()["ss_realtime_stop_reason"] == "cancelled"
    assert transcript.discarded() == []
    assert all(o.status is not ApplyStatus.REJECTED for o in outcomes)


def test_function_call_is_an_anchor_and_text_input_is_a_user_message() -> None:
    transcript = RealtimeTranscript(clock=lambda: 0)
    translator = OpenAIRealtimeTranslator(heard)
    feed(transcript, translator, VOICE_TURN + BARGE_IN + TOOL_TURN)
    assert texts(transcript)[-2:] == [("user", "Weather in Paris?"), ("assistant", "21 degrees.")]
    assert transcript.in_flight_response_ids() == []


def test_reconnect_replay_of_everything_received_is_inert() -> None:
    everything = VOICE_TURN + BARGE_IN + TOOL_TURN
    transcript = RealtimeTranscript(clock=lambda: 0)
    feed(transcript, OpenAIRealtimeTranslator(heard), everything)
    before = [m.to_json_dict() for m in transcript.messages()]
    outcomes = feed(transcript, OpenAIRealtimeTranslator(heard), everything)
    assert all(o.status is not ApplyStatus.ACCEPTED and o.is_inert for o in outcomes)
    assert [m.to_json_dict() for m in transcript.messages()] == before


def test_user_transcript_arriving_after_the_reply_still_comes_first() -> None:
    """livekit/agents#6579: the user's transcript lands after the reply it caused."""
    late_transcript = [e for e in VOICE_TURN if "transcription" not in e["type"]] + [
        e for e in VOICE_TURN if "transcription" in e["type"]
    ]
    transcript = RealtimeTranscript(clock=lambda: 0)
    feed(transcript, OpenAIRealtimeTranslator(heard), late_transcript)
    assert [role for role, _ in texts(transcript)] == ["user", "assistant"]


def test_failed_transcription_skips_the_user_item() -> None:
    events = [
        VOICE_TURN[3],
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "event_id": "x",
            "item_id": "item_u1",
            "content_index": 0,
            "error": {"message": "bad audio"},
        },
        *VOICE_TURN[4:10],
        *VOICE_TURN[11:],
    ]
    transcript = RealtimeTranscript(clock=lambda: 0)
    feed(transcript, OpenAIRealtimeTranslator(), events)
    assert texts(transcript) == [("assistant", "Hello! I'm an assistant.")]


@pytest.mark.req("RT-060")
@pytest.mark.parametrize(
    "bad",
    [
        {"type": "conversation.item.added", "item": {"type": "message"}},
        {"type": "conversation.item.added", "item": "not an object"},
        {"type": "response.output_audio_transcript.delta", "response_id": "r", "item_id": "i"},
        {"type": "response.done", "response": {"id": 7}},
        {"type": "conversation.item.truncated", "item_id": "i", "audio_end_ms": -1},
        {"type": "conversation.item.input_audio_transcription.completed", "item_id": "i",
         "transcript": 3},
        {"type": 5},
        ["not", "an", "event"],
    ],
)
def test_malformed_server_event_is_a_typed_error_and_changes_nothing(bad: Any) -> None:
    from sessionspec import InvalidServerEventError

    translator = OpenAIRealtimeTranslator()
    translator.translate(VOICE_TURN[3])
    state = {k: repr(v) for k, v in vars(translator).items()}
    with pytest.raises(InvalidServerEventError):
        translator.translate(bad)
    assert {k: repr(v) for k, v in vars(translator).items()} == state


@pytest.mark.req("RT-060", "RT-077")
def test_unknown_and_ignored_server_events_map_to_nothing() -> None:
    translator = OpenAIRealtimeTranslator()
    assert translator.translate({"type": "some.future_event", "x": 1}) == []
    assert translator.translate({"type": "rate_limits.updated", "rate_limits": []}) == []
    assert translator.translate({"type": "input_audio_buffer.speech_started"}) == []
    assert translator.translate({"type": "error", "error": {"message": "boom"}}) == []
    assert [n.code.value for n in translator.notes] == ["provider_error"]


@pytest.mark.req("RT-060")
def test_bad_translator_options_are_typed_errors() -> None:
    from sessionspec.errors import CallerError

    with pytest.raises(CallerError):
        OpenAIRealtimeTranslator(playback="sometimes")
    with pytest.raises(CallerError):
        OpenAIRealtimeTranslator(missing_transcript_after=0)


@pytest.mark.req("RT-061")
def test_function_call_is_announced_once_with_its_predecessor() -> None:
    """Before RT-061 the call was skipped without a predecessor, then with one: rejected."""
    translator = OpenAIRealtimeTranslator()
    call = {"id": "fc1", "type": "function_call", "status": "in_progress", "name": "f",
            "call_id": "c1", "arguments": ""}
    added = {"type": "response.output_item.added", "response_id": "r1", "item": call}
    created = {"type": "conversation.item.created", "previous_item_id": "u1", "item": call}
    assert translator.translate(added) == []
    assert translator.translate(created) == [
        {"type": "item_skipped", "item_id": "fc1", "previous_item_id": "u1"}
    ]


@pytest.mark.req("RT-076")
def test_transcription_off_skips_user_audio_at_once_and_late_transcripts_are_dropped() -> None:
    translator = OpenAIRealtimeTranslator()
    session = {"input_audio_transcription": None}
    translator.translate({"type": "session.updated", "session": session})
    events = translator.translate(VOICE_TURN[3])
    assert events == [{"type": "item_skipped", "item_id": "item_u1", "previous_item_id": None}]
    late = {"type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_u1", "content_index": 0, "transcript": "hello"}
    assert translator.translate(late) == []
    first = translator.notes[0]
    assert (first.code.value, first.detail) == ("user_transcript_missing", "transcription_off")
    assert translator.notes[-1].code.value == "late_user_transcript"


@pytest.mark.req("RT-076")
def test_unsettled_playback_is_settled_when_the_next_response_is_created() -> None:
    translator = OpenAIRealtimeTranslator()
    for event in VOICE_TURN:
        if event["type"] == "response.output_item.added":
            translator.translate(event)
            assert translator.translate(
                {"type": "output_audio_buffer.started", "response_id": "resp_1"}
            ) == [{"type": "assistant_playback_started", "response_id": "resp_1"}]
        else:
            translator.translate(event)
    events = translator.translate({"type": "response.created", "response": {"id": "resp_9"}})
    assert events == [
        {"type": "assistant_playback_finished", "response_id": "resp_1", "item_id": "item_a1"}
    ]
    assert translator.notes[-1].code.value == "playback_settled_by_fallback"
    assert translator.finish() == []


@pytest.mark.req("RT-070")
def test_playback_off_keeps_the_seed_behaviour() -> None:
    transcript = RealtimeTranscript(clock=lambda: 0)
    translator = OpenAIRealtimeTranslator(playback="off")
    started = {"type": "output_audio_buffer.started", "response_id": "resp_1"}
    feed(transcript, translator, [*VOICE_TURN[:8], started, *VOICE_TURN[8:]])
    assert texts(transcript)[-1] == ("assistant", "Hello! I'm an assistant.")


@pytest.mark.req("RT-061", "RT-076")
def test_cut_after_an_untracked_response_is_a_note_not_a_rejection() -> None:
    """A WebSocket client left in mode auto: its cut after response.done cannot apply."""
    transcript = RealtimeTranscript(clock=lambda: 0)
    translator = OpenAIRealtimeTranslator()
    cut = {"type": "conversation.item.truncated", "item_id": "item_a1", "content_index": 0,
           "audio_end_ms": 500}
    outcomes = feed(transcript, translator, [*VOICE_TURN, cut])
    assert all(o.status is not ApplyStatus.REJECTED for o in outcomes)
    assert texts(transcript)[-1] == ("assistant", "Hello! I'm an assistant.")
    assert translator.notes[-1].code.value == "cut_without_playback"


@pytest.mark.req("RT-073", "RT-076")
def test_a_cut_in_the_second_spoken_item_means_the_first_was_heard_in_full() -> None:
    translator = OpenAIRealtimeTranslator()
    transcript = RealtimeTranscript(clock=lambda: 0)
    answer: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "r1"}},
        {"type": "output_audio_buffer.started", "response_id": "r1"},
    ]
    for n, (item_id, words) in enumerate((("a1", "First part. "), ("a2", "second part"))):
        answer += [
            {"type": "conversation.item.created", "previous_item_id": "u1" if n == 0 else "a1",
             "item": {"id": item_id, "type": "message", "role": "assistant", "content": []}},
            {"type": "response.output_audio_transcript.delta", "event_id": f"e{n}",
             "response_id": "r1", "item_id": item_id, "content_index": 0, "delta": words},
        ]
    answer += [
        {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
        {"type": "conversation.item.truncated", "item_id": "a2", "content_index": 0,
         "audio_end_ms": 100},
    ]
    hello: dict[str, Any] = {"type": "conversation.item.created", "previous_item_id": None,
             "item": {"id": "u1", "type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "hi"}]}}
    outcomes = feed(transcript, translator, [hello, *answer])
    assert all(o.status is not ApplyStatus.REJECTED for o in outcomes)
    # a1 played in full, a2 cut under the threshold: nothing of it.
    assert texts(transcript) == [("user", "hi"), ("assistant", "First part. ")]
    assert translator.finish() == []
