"""Demo: a voice exchange with a barge-in and a reconnect replay (RT section of the spec).

OpenAI Realtime API server events go through :class:`OpenAIRealtimeTranslator` into a
journaled :class:`RealtimeTranscript`. The call is over WebRTC, so the server reports the
playback of each answer (``output_audio_buffer.*``). The user interrupts the second answer
after about a second of it: the transcript keeps what the user heard of it and nothing of
the rest (RT-072..RT-075); a restart followed by the provider replaying everything changes
nothing.
"""

from __future__ import annotations

import pathlib
from typing import Any, TextIO

from sessionspec.openai_realtime import OpenAIRealtimeTranslator
from sessionspec.reference.realtime import ApplyStatus
from sessionspec.runtime.realtime import RealtimeTranscript

__all__ = ["run"]


def _message(item_id: str, role: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": role, "status": "completed", "content": []}


def _server_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    serial = iter(range(1, 1000))

    def add(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "event_id": f"event_{next(serial)}", **fields})

    def spoken(response: str, item: str, text: str) -> None:
        add(
            "response.output_audio_transcript.delta",
            response_id=response,
            item_id=item,
            output_index=0,
            content_index=0,
            delta=text,
        )

    # Turn 1: an ordinary voice exchange (the user's transcript arrives after the reply).
    add("conversation.item.added", previous_item_id=None, item=_message("u1", "user"))
    add("response.created", response={"id": "resp_1", "status": "in_progress"})
    add("response.output_item.added", response_id="resp_1", item=_message("a1", "assistant"))
    add("conversation.item.added", previous_item_id="u1", item=_message("a1", "assistant"))
    add("output_audio_buffer.started", response_id="resp_1")
    spoken("resp_1", "a1", "It's sunny ")
    spoken("resp_1", "a1", "and 24 degrees.")
    add(
        "response.done",
        response={
            "id": "resp_1",
            "status": "completed",
            "usage": {"input_tokens": 310, "output_tokens": 42},
        },
    )
    add(
        "conversation.item.input_audio_transcription.completed",
        item_id="u1",
        content_index=0,
        transcript="What's the weather in Lisbon?",
    )
    add("output_audio_buffer.stopped", response_id="resp_1")
    # Turn 2: the user barges in while the assistant speaks.
    add("conversation.item.added", previous_item_id="a1", item=_message("u2", "user"))
    add(
        "conversation.item.input_audio_transcription.completed",
        item_id="u2",
        content_index=0,
        transcript="And tomorrow?",
    )
    add("response.created", response={"id": "resp_2", "status": "in_progress"})
    add("response.output_item.added", response_id="resp_2", item=_message("a2", "assistant"))
    add("conversation.item.added", previous_item_id="u2", item=_message("a2", "assistant"))
    add("output_audio_buffer.started", response_id="resp_2")
    spoken("resp_2", "a2", "Tomorrow will be ")
    spoken("resp_2", "a2", "rainy in the morning")
    add("input_audio_buffer.speech_started", audio_start_ms=8200, item_id="u3")
    add("output_audio_buffer.cleared", response_id="resp_2")
    add(
        "response.done",
        response={
            "id": "resp_2",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "usage": {"input_tokens": 360},
        },
    )
    # The server cut the item where playback stopped: 1.1 s of about 2.5 s.
    add("conversation.item.truncated", item_id="a2", content_index=0, audio_end_ms=1100)
    add("conversation.item.added", previous_item_id="a2", item=_message("u3", "user"))
    add(
        "conversation.item.input_audio_transcription.completed",
        item_id="u3",
        content_index=0,
        transcript="Sorry, I meant Porto.",
    )
    return events


def _feed(
    transcript: RealtimeTranscript, server_events: list[dict[str, Any]]
) -> list[tuple[str, Any]]:
    translator = OpenAIRealtimeTranslator()
    results = []
    for server_event in server_events:
        for event in translator.translate(server_event):
            results.append((server_event["type"], transcript.apply(event)))
    return results


def _show(transcript: RealtimeTranscript, out: TextIO) -> None:
    for message in transcript.messages():
        data = message.to_json_dict()
        text = " ".join(block["text"] for block in data["content"])
        if data["role"] == "user":
            out.write(f"    user      : {text}\n")
        else:
            lanes = {block.get("ss_lane", "display") for block in data["content"]}
            out.write(
                f"    assistant : {text}  [{', '.join(sorted(lanes))}; stop "
                f"{data['stop_reason']} ({data['ss_realtime_stop_reason']}); "
                f"{data['usage']['input_tokens']} in / {data['usage']['output_tokens']} out]\n"
            )


def run(workdir: pathlib.Path, out: TextIO) -> None:
    out.write("== Realtime transcript: a voice exchange with a barge-in ==\n")
    path = str(workdir / "voice.jsonl")
    server_events = _server_events()
    transcript = RealtimeTranscript.create(path, clock=lambda: 1_790_000_000_000)
    results = _feed(transcript, server_events)
    out.write(f"  {len(server_events)} OpenAI Realtime server events fed through the translator\n")
    out.write("  canonical transcript:\n")
    _show(transcript, out)
    out.write("  discarded (never heard, never in the transcript):\n")
    for fragment in transcript.discarded():
        out.write(f"    {fragment.item_id}: {fragment.text!r} ({fragment.reason})\n")
    for _, outcome in results:
        for fragment in outcome.discarded:
            if fragment.reason == "late":
                out.write(f"    {fragment.item_id}: {fragment.text!r} (late, after the barge-in)\n")
    out.write("  diagnostics (the seed only logs these):\n")
    for source, outcome in results:
        for diagnostic in outcome.diagnostics:
            out.write(
                f"    {diagnostic.code.value:17} from {source} "
                f"(response {diagnostic.response_id}): {diagnostic.detail}\n"
            )
    before = [m.to_json_dict() for m in transcript.messages()]
    transcript.close()

    out.write(
        "  the process restarts; the journal is replayed; the provider re-sends everything:\n"
    )
    reopened = RealtimeTranscript.open(path, clock=lambda: 0)
    replay = _feed(reopened, server_events)
    accepted = sum(outcome.status is ApplyStatus.ACCEPTED for _, outcome in replay)
    materialized = sum(len(outcome.messages) for _, outcome in replay)
    same = [m.to_json_dict() for m in reopened.messages()] == before
    out.write(
        f"    {len(replay)} events replayed: {accepted} accepted, {materialized} messages "
        f"materialized; transcript byte-identical: {same}\n"
    )
    reopened.close()
