"""The recorder's tables (every pair), the agent-event schema, and the phi-core codec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from sessionspec.codecs.phi import PhiCodecError, message_from_phi, message_to_phi
from sessionspec.errors import IllegalTransitionError
from sessionspec.lifecycle import Lifecycle
from sessionspec.tables.base import Rejected
from sessionspec.tables.recorder import (
    LOOP_TABLE,
    SESSION_TABLE,
    LoopEvent,
    LoopState,
    SessionEvent,
    SessionState,
)
from sessionspec.wire.agent_events import AGENT_EVENT_TYPES, PhiMessage
from sessionspec.wire.messages import AssistantMessage, ImageContent, UrlSource, UserMessage

ROOT = Path(__file__).parents[2]
PHI_MESSAGE: TypeAdapter[Any] = TypeAdapter(PhiMessage)


@pytest.mark.req("GEN-003", "REC-021")
def test_loop_table_every_pair() -> None:
    for state, event in LOOP_TABLE.pairs():
        outcome = LOOP_TABLE.decide(state, event)
        if state is LoopState.RUNNING:
            assert isinstance(outcome, LoopState)
        else:
            assert outcome == Rejected("loop_closed", state.value, event.value)
            with pytest.raises(IllegalTransitionError, match=state.value):
                LOOP_TABLE.step(state, event)


@pytest.mark.req("GEN-003", "REC-013")
def test_session_table_every_pair() -> None:
    for state, event in SESSION_TABLE.pairs():
        outcome = SESSION_TABLE.decide(state, event)
        if state is SessionState.OPEN:
            expected = (
                SessionState.COMPLETED
                if event in (SessionEvent.CHECKPOINT, SessionEvent.FLUSH)
                else SessionState.OPEN
            )
            assert outcome is expected
        else:
            assert isinstance(outcome, Rejected) and outcome.code == "session_completed"


@pytest.mark.req("GEN-004")
def test_transitions_machines_are_built_from_the_tables() -> None:
    loop = Lifecycle(LOOP_TABLE)
    assert loop.commit(LoopEvent.RECORD) is LoopState.RUNNING
    assert loop.commit(LoopEvent.ABORT) is LoopState.ABORTED
    with pytest.raises(IllegalTransitionError):
        loop.check(LoopEvent.END)
    session = Lifecycle(SESSION_TABLE)
    assert session.commit(SessionEvent.CHECKPOINT) is SessionState.COMPLETED
    assert "loop_start" in (ROOT / "spec/diagrams/recorder_session.mmd").read_text()


@pytest.mark.req("REC-001", "GEN-005")
def test_schema_names_every_variant() -> None:
    schema = json.loads((ROOT / "spec/schema/agent-event.json").read_text())
    assert sorted(schema["discriminator"]["mapping"]) == sorted(AGENT_EVENT_TYPES)


PHI_MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp": 1},
    {
        "role": "user",
        "content": [{"type": "image", "data": "aGk=", "mimeType": "image/png"}],
        "timestamp": 2,
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig"},
            {"type": "text", "text": "ok"},
            {"type": "toolCall", "id": "c1", "name": "read", "arguments": {"p": [1, "x"]}},
        ],
        "stopReason": "toolUse",
        "model": "m",
        "provider": "openai",
        "usage": {
            "input": 5,
            "output": 6,
            "reasoning": 7,
            "cache_read": 8,
            "cache_write": 9,
            "total_tokens": 35,
        },
        "timestamp": 3,
        "error_message": "e",
    },
    {
        "role": "toolResult",
        "toolCallId": "c1",
        "toolName": "read",
        "content": [{"type": "text", "text": "data"}],
        "isError": True,
        "timestamp": 4,
    },
]


@pytest.mark.req("REC-004")
@pytest.mark.parametrize("phi", PHI_MESSAGES, ids=lambda m: m["role"])
def test_phi_messages_round_trip_through_the_one_model(phi: dict[str, Any]) -> None:
    ours = message_from_phi(PHI_MESSAGE.validate_python(phi))
    assert message_to_phi(ours) == phi
    assert ours.role in ("user", "assistant", "tool_result")


@pytest.mark.req("REC-004")
@pytest.mark.parametrize("stop", ["maxTurns", "userStop", "stop", "length", "error", "aborted"])
def test_stop_reasons(stop: str) -> None:
    phi = {**PHI_MESSAGES[2], "stopReason": stop}
    ours = message_from_phi(PHI_MESSAGE.validate_python(phi))
    assert isinstance(ours, AssistantMessage)
    assert ours.stop_reason == (stop if stop not in ("maxTurns", "userStop") else "aborted")
    assert message_to_phi(ours)["stopReason"] == stop


@pytest.mark.req("REC-004")
def test_what_a_shape_cannot_express_is_an_error() -> None:
    image_in_assistant = {
        **PHI_MESSAGES[2],
        "content": [{"type": "image", "data": "x", "mimeType": "image/png"}],
    }
    with pytest.raises(PhiCodecError, match="image"):
        message_from_phi(PHI_MESSAGE.validate_python(image_in_assistant))
    call_in_user = {
        "role": "user",
        "content": [{"type": "toolCall", "id": "c", "name": "n", "arguments": {}}],
        "timestamp": 1,
    }
    with pytest.raises(PhiCodecError, match="toolCall"):
        message_from_phi(PHI_MESSAGE.validate_python(call_in_user))
    with pytest.raises(PhiCodecError, match="image/tiff"):
        message_from_phi(
            PHI_MESSAGE.validate_python(
                {
                    **PHI_MESSAGES[1],
                    "content": [{"type": "image", "data": "x", "mimeType": "image/tiff"}],
                }
            )
        )
    url_image = UserMessage.model_validate(
        {
            "content": [ImageContent(source=UrlSource(url="http://x"), media_type="image/png")],
            "timestamp_ms": 1,
        }
    )
    with pytest.raises(PhiCodecError, match="base64"):
        message_to_phi(url_image)
