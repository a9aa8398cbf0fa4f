"""Provider codecs: Anthropic Messages, OpenAI Chat Completions, OpenAI Responses (CODEC).

Property tests: every conversation a shape can express comes back equal after
``decode(encode(messages))`` (CODEC-001); every wire message either encodes or is refused
with ``UnrepresentableError``, and what encodes loses no content (CODEC-002).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from sessionspec import SessionCoordinator, UnknownFormatError, UnrepresentableError
from sessionspec.codecs import request_messages
from sessionspec.codecs.anthropic import (
    from_anthropic,
    from_anthropic_usage,
    to_anthropic,
    to_anthropic_response,
    to_anthropic_usage,
)
from sessionspec.codecs.openai_chat import (
    from_openai_chat,
    from_openai_chat_usage,
    to_openai_chat,
    to_openai_chat_response,
    to_openai_chat_usage,
)
from sessionspec.codecs.openai_responses import (
    from_openai_responses,
    from_openai_responses_usage,
    to_openai_responses,
    to_openai_responses_response,
    to_openai_responses_usage,
)
from sessionspec.conformance.strategies import strategy_for
from sessionspec.errors import SessionSpecError
from sessionspec.storage.log import Durability
from sessionspec.wire.messages import Message, Usage

MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)
STAMP = 1_772_000_000_000
MODEL = "test-model"

MEDIA = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


@dataclass(frozen=True)
class Shape:
    name: str
    encode: Callable[[Sequence[Any]], list[dict[str, Any]]]
    decode: Callable[..., list[Message]]
    api: str
    provider: str
    thinking: bool
    text_after_call: bool
    result_images: bool
    result_errors: bool


SHAPES = {
    "anthropic": Shape("anthropic", to_anthropic, from_anthropic, "Anthropic", "anthropic",
                       True, True, True, True),
    "openai_chat": Shape("openai_chat", to_openai_chat, from_openai_chat, "OpenAi", "openai",
                         False, False, False, False),
    "openai_responses": Shape("openai_responses", to_openai_responses, from_openai_responses,
                              "OpenAi", "openai", True, True, True, False),
}

texts = st.text(max_size=12)
json_args = st.dictionaries(
    st.text(min_size=1, max_size=5),
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=6),
    max_size=3,
).map(lambda d: orjson.dumps(d).decode())


@st.composite
def images(draw: st.DrawFn) -> dict[str, Any]:
    media = draw(st.sampled_from(sorted(MEDIA)))
    if draw(st.booleans()):
        data = base64.b64encode(draw(st.binary(max_size=6))).decode()
        return {"type": "image", "source": {"type": "base64", "data": data}, "media_type": media}
    name = draw(st.from_regex(r"[a-z]{1,6}", fullmatch=True))
    url = f"https://example.test/{name}.{MEDIA[media]}"
    return {"type": "image", "source": {"type": "url", "url": url}, "media_type": media}


def text_block(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


@st.composite
def conversations(draw: st.DrawFn, shape: Shape) -> list[dict[str, Any]]:
    """A conversation the shape can express, with the envelope its decoder gives."""
    messages: list[dict[str, Any]] = []
    call_number = 0
    for _ in range(draw(st.integers(1, 3))):
        user_blocks = draw(st.lists(st.one_of(texts.map(text_block), images()), max_size=3))
        messages.append({"role": "user", "content": user_blocks, "timestamp_ms": STAMP})
        blocks: list[dict[str, Any]] = []
        calls: list[tuple[str, str]] = []
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(
                ["text", "call"] + (["thinking"] if shape.thinking else [])
            ))
            if kind == "text":
                if calls and not shape.text_after_call:
                    continue
                blocks.append(text_block(draw(texts)))
            elif kind == "thinking":
                thinking: dict[str, Any] = {"type": "thinking", "thinking": draw(texts)}
                if shape.name == "anthropic" and draw(st.booleans()):
                    thinking["signature"] = draw(st.text(min_size=1, max_size=8))
                if shape.name == "openai_responses" and draw(st.booleans()):
                    thinking["id"] = f"rs_{call_number}"
                    thinking["encrypted_content"] = draw(st.text(min_size=1, max_size=8))
                blocks.append(thinking)
            else:
                call_number += 1
                call_id = f"call_{call_number}"
                name = draw(st.from_regex(r"[a-z_]{1,8}", fullmatch=True))
                calls.append((call_id, name))
                blocks.append({"type": "tool_call", "tool_call": {
                    "id": call_id, "name": name, "arguments": draw(json_args),
                }})
        messages.append({
            "role": "assistant", "content": blocks, "api": shape.api, "provider": shape.provider,
            "model": MODEL, "response_model": None, "response_id": None,
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0,
                      "cache_write_tokens": 0},
            "stop_reason": "tool_use" if calls else "stop", "error_message": None,
            "timestamp_ms": STAMP,
        })
        for call_id, name in calls:
            parts = st.one_of(texts.map(text_block), images()) if shape.result_images else (
                texts.map(text_block)
            )
            content = draw(st.lists(parts, min_size=1, max_size=2))
            messages.append({
                "role": "tool_result", "tool_call_id": call_id, "tool_name": name,
                "content": content, "details": None,
                "is_error": draw(st.booleans()) if shape.result_errors else False,
                "truncated": False, "timestamp_ms": STAMP,
            })
    return [MESSAGE.validate_python(m).to_json_dict() for m in messages]


def _round_trip(shape: Shape, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    encoded = shape.encode(messages)
    orjson.dumps(encoded)  # what is sent is JSON
    decoded = shape.decode(encoded, model=MODEL, timestamp_ms=STAMP)
    return [m.to_json_dict() for m in decoded]


@pytest.mark.req("CODEC-001", "CODEC-006")
@settings(max_examples=120)
@given(conversations(SHAPES["anthropic"]))
def test_anthropic_conversations_round_trip(messages: list[dict[str, Any]]) -> None:
    assert _round_trip(SHAPES["anthropic"], messages) == messages


@pytest.mark.req("CODEC-001")
@settings(max_examples=120)
@given(conversations(SHAPES["openai_chat"]))
def test_openai_chat_conversations_round_trip(messages: list[dict[str, Any]]) -> None:
    assert _round_trip(SHAPES["openai_chat"], messages) == messages


@pytest.mark.req("CODEC-001", "CODEC-007")
@settings(max_examples=120)
@given(conversations(SHAPES["openai_responses"]))
def test_openai_responses_conversations_round_trip(messages: list[dict[str, Any]]) -> None:
    assert _round_trip(SHAPES["openai_responses"], messages) == messages


def _arguments(text: str) -> Any:
    """Arguments as a JSON value when they are JSON (Anthropic sends an object), else as
    the text the OpenAI shapes carry verbatim."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _content_atoms(message: dict[str, Any]) -> list[Any]:
    """What a message says, for the never-dropped check: texts, thinking, calls, images."""
    atoms: list[Any] = []
    for block in message.get("content", ()):
        kind = block["type"]
        if kind == "text":
            atoms.append(("text", block["text"]))
        elif kind == "thinking":
            atoms.append(("thinking", block["thinking"]))
        elif kind == "tool_call":
            call = block["tool_call"]
            atoms.append(("call", call["id"], call["name"], _arguments(call["arguments"])))
        else:
            source = block["source"]
            data = source.get("url") or source.get("data")
            if source["type"] == "bytes":
                data = base64.b64encode(bytes(source["data"])).decode()
            atoms.append(("image", block["media_type"], data))
    if message["role"] == "tool_result":
        atoms.append(("result", message["tool_call_id"], message["is_error"]))
    return atoms


@pytest.mark.req("CODEC-002")
@pytest.mark.parametrize("name", sorted(SHAPES))
@settings(max_examples=100)
@given(messages=st.lists(strategy_for(Message), max_size=4))
def test_any_message_is_carried_or_refused_never_dropped(name: str, messages: list[Any]) -> None:
    shape = SHAPES[name]
    try:
        encoded = shape.encode(messages)
    except UnrepresentableError as error:
        assert error.shape and error.where and error.what
        return
    names = {m.tool_call_id: m.tool_name for m in messages if m.role == "tool_result"}
    try:
        decoded = shape.decode(encoded, model=MODEL, timestamp_ms=STAMP, tool_names=names)
    except UnrepresentableError as error:
        # What this shape carries but the message model cannot take back (a URL image
        # without a known extension): refused by name, never dropped.
        assert error.shape == "the message model"
        return
    sent = [a for m in messages for a in _content_atoms(m.to_json_dict())]
    back = [a for m in decoded for a in _content_atoms(m.to_json_dict())]
    assert back == sent


@pytest.mark.req("CODEC-002")
def test_what_a_shape_cannot_express_is_refused_by_name() -> None:
    thinking = MESSAGE.validate_python({
        "role": "assistant", "content": [{"type": "thinking", "thinking": "hm"}],
        "api": "OpenAi", "provider": "openai", "model": "m", "usage": {},
        "stop_reason": "stop", "timestamp_ms": 1,
    })
    with pytest.raises(UnrepresentableError, match="thinking"):
        to_openai_chat([thinking])
    failed = {"role": "tool_result", "tool_call_id": "c", "tool_name": "t",
              "content": [text_block("boom")], "is_error": True, "timestamp_ms": 1}
    for encode in (to_openai_chat, to_openai_responses):
        with pytest.raises(UnrepresentableError, match="error flag"):
            encode([failed])
    bad_arguments = {"role": "assistant", "content": [{"type": "tool_call", "tool_call": {
        "id": "c", "name": "t", "arguments": "[1, 2]"}}], "api": "Anthropic",
        "provider": "anthropic", "model": "m", "usage": {}, "stop_reason": "tool_use",
        "timestamp_ms": 1}
    with pytest.raises(UnrepresentableError, match="JSON object"):
        to_anthropic([bad_arguments])
    with pytest.raises(UnrepresentableError, match="redacted_thinking"):
        from_anthropic([{"role": "assistant", "content": [{"type": "redacted_thinking",
                                                           "data": "x"}]}])
    with pytest.raises(UnrepresentableError, match="system"):
        from_openai_chat([{"role": "system", "content": "be brief"}])
    with pytest.raises(UnrepresentableError, match="web_search_call"):
        from_openai_responses([{"type": "web_search_call", "id": "ws_1"}])
    with pytest.raises(UnrepresentableError, match="tool_names"):
        from_anthropic([{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_x", "content": "ok"}]}])
    with pytest.raises(UnrepresentableError, match="cache-write"):
        to_openai_chat_usage({"cache_write_tokens": 3})
    assert issubclass(UnrepresentableError, SessionSpecError)


usage_strategy = st.builds(
    Usage,
    input_tokens=st.integers(0, 10**6),
    output_tokens=st.integers(0, 10**6),
    cache_read_tokens=st.integers(0, 10**6),
    cache_write_tokens=st.integers(0, 10**6),
)


@pytest.mark.req("CODEC-003")
@settings(max_examples=60)
@given(usage_strategy)
def test_usage_names_round_trip(usage: Usage) -> None:
    assert from_anthropic_usage(to_anthropic_usage(usage)) == usage
    no_write = usage.model_copy(update={"cache_write_tokens": 0})
    assert from_openai_chat_usage(to_openai_chat_usage(no_write)) == no_write
    assert from_openai_responses_usage(to_openai_responses_usage(no_write)) == no_write
    sent = to_openai_chat_usage(no_write)
    assert sent["prompt_tokens"] == usage.input_tokens + usage.cache_read_tokens
    assert to_anthropic_usage(usage)["cache_creation_input_tokens"] == usage.cache_write_tokens


@st.composite
def responses(draw: st.DrawFn, shape: Shape) -> dict[str, Any]:
    conversation = draw(conversations(shape))
    assistant = next(m for m in conversation if m["role"] == "assistant")
    usage = draw(usage_strategy).model_dump()
    if shape.name != "anthropic":
        usage["cache_write_tokens"] = 0
    assistant = {**assistant, "response_id": f"resp_{draw(st.integers(0, 999))}",
                 "model": draw(st.sampled_from(["m-1", "m-2"])), "usage": usage}
    if shape.name == "openai_responses" and assistant["stop_reason"] == "stop" and draw(
        st.booleans()
    ):
        assistant["stop_reason"] = "length"
    if shape.name == "anthropic" and assistant["stop_reason"] == "stop" and draw(st.booleans()):
        assistant["anthropic_stop_reason"] = "stop_sequence"
    return MESSAGE.validate_python(assistant).to_json_dict()


RESPONSE_ENCODERS = {
    "anthropic": to_anthropic_response,
    "openai_chat": to_openai_chat_response,
    "openai_responses": to_openai_responses_response,
}


@pytest.mark.req("CODEC-001", "CODEC-003")
@pytest.mark.parametrize("name", sorted(SHAPES))
@settings(max_examples=60)
@given(data=st.data())
def test_response_objects_round_trip(name: str, data: st.DataObject) -> None:
    shape = SHAPES[name]
    assistant = data.draw(responses(shape))
    response = RESPONSE_ENCODERS[name](assistant)
    (decoded,) = shape.decode([response], timestamp_ms=STAMP)
    assert decoded.to_json_dict() == assistant


@pytest.mark.req("CODEC-004", "CODEC-005")
def test_an_anthropic_shaped_loop_runs_on_the_coordinator(tmp_path: Path) -> None:
    """The loop an agent author writes: responses in, the next request out, no hand-written
    conversion; a resume sends exactly the same request."""
    coordinator = SessionCoordinator.new(
        tmp_path, cwd="/work", model="anthropic:claude-sonnet-4-5",
        durability=Durability.NO_SYNC,
    )
    question = {"role": "user", "content": "What is in notes.txt?"}
    response = {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "read",
                     "input": {"path": "notes.txt"}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 20, "output_tokens": 9, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 0},
    }
    result = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "buy milk"}]}
    coordinator.on_turn_end(
        from_anthropic([question, response, result]),
        usage=from_anthropic_usage(response["usage"]),
    )
    request = to_anthropic(coordinator.context())
    assert request == [
        {"role": "user", "content": [{"type": "text", "text": "What is in notes.txt?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "notes.txt"}},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "text", "text": "buy milk"}],
                                      "is_error": False}]},
    ]
    assert coordinator.usage.cache_read_tokens == 100
    assert request_messages(coordinator, "anthropic") == request
    assert request_messages(coordinator.context(), "openai_responses")[1] == {
        "type": "message", "role": "assistant",
        "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}]}
    with pytest.raises(UnknownFormatError):
        request_messages(coordinator, "gemini")
    thanks = {"role": "user", "content": "Thanks."}
    reply = {"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
             "content": [{"type": "text", "text": "You are welcome."}], "stop_reason": "end_turn",
             "usage": {"input_tokens": 5, "output_tokens": 4}}
    coordinator.on_turn_end(from_anthropic([thanks, reply]),
                            usage=from_anthropic_usage(reply["usage"]))
    assert to_anthropic(coordinator.context())[-1] == {
        "role": "assistant", "content": [{"type": "text", "text": "You are welcome."}]}
    coordinator.execute_compaction("manual")
    compacted = to_anthropic(coordinator.context())
    assert compacted[0]["role"] == "user"
    assert compacted[0]["content"][0]["text"].startswith("Compacted")
    path = coordinator.session_path
    coordinator.close()
    resumed = SessionCoordinator.open_existing(path)
    try:
        assert to_anthropic(resumed.context()) == compacted
    finally:
        resumed.close()


CASE_DIR = Path(__file__).resolve().parents[2] / "spec" / "cases" / "codecs"
CASES = sorted(CASE_DIR.glob("*.json"))


@pytest.mark.req("CODEC-001")
@pytest.mark.parametrize("case_path", CASES, ids=[p.stem for p in CASES])
def test_saved_counterexamples_round_trip(case_path: Path) -> None:
    """Every counterexample the properties found, saved as a language-neutral case."""
    case = orjson.loads(case_path.read_bytes())
    assert case["requirements"] and case["description"]
    messages = [MESSAGE.validate_python(m).to_json_dict() for m in case["messages"]]
    assert messages == case["messages"]  # the case is in the wire form exactly
    assert _round_trip(SHAPES[case["codec"]], messages) == messages


def test_there_are_saved_codec_cases() -> None:
    assert len(CASES) >= 3
