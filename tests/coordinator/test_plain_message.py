"""The pydantic-free message normalizer agrees with pydantic (COORD-015).

``_plain_message`` is the coordinator's fast path for messages given as plain dicts. Its
contract: for every input it accepts, the result is exactly what
``TypeAdapter(Message).validate_python(m).to_json_dict()`` gives (same values, same types,
same key order, no container shared with the input); every other input returns ``None`` and
goes to pydantic, which decides and words the error. These tests generate valid messages and
perturb them (wrong and coerced types, missing fields, odd extras, shuffled keys) and compare
both paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sessionspec.errors import CallerError
from sessionspec.runtime.coordinator import (
    _MESSAGE_ADAPTER,
    _normalize_message,
    _plain_message,
)
from sessionspec.runtime.coordinator.messages import normalized_as_is
from sessionspec.wire.messages import AssistantMessage, TextContent, Usage, UserMessage

pytestmark = pytest.mark.req("COORD-015")

EXAMPLES = 2000 if os.environ.get("SESSIONSPEC_DEEP") else 300


class _Str(str):
    pass


def _ordered(value: Any) -> Any:
    """A comparable form that keeps key order and exact types."""
    if type(value) is dict:
        return ("dict", [(k, _ordered(v)) for k, v in value.items()])
    if type(value) is list:
        return ("list", [_ordered(v) for v in value])
    return (type(value).__name__, value)


def _containers(value: Any) -> Iterator[int]:
    if isinstance(value, dict):
        yield id(value)
        for v in value.values():
            yield from _containers(v)
    elif isinstance(value, list | tuple):
        yield id(value)
        for v in value:
            yield from _containers(v)


texts = st.text(max_size=8)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.sampled_from([float("nan"), float("inf"), 0.5]),
    texts,
    texts.map(_Str),
    st.just(()),
    st.builds(list),
    st.builds(dict),
    st.builds(lambda: {"a": 1}),
    st.builds(lambda: [1, "x"]),
    st.just(b"x"),
    st.sampled_from(["text", "image", "user", "assistant", "tool_result", "stop", "url"]),
)
odd_keys = st.one_of(
    st.sampled_from(
        [
            "ss_lane",
            "_private",
            "__dict__",
            "model_dump",
            "model_config",
            "copy",
            "json",
            "schema",
            "type",
            "role",
            "text",
            "x-y",
            "",
            "1",
        ]
    ),
    texts,
    st.integers(min_value=0, max_value=3),
)


def _text_block() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"type": st.just("text"), "text": texts})


def _image_block() -> st.SearchStrategy[dict[str, Any]]:
    source = st.one_of(
        st.fixed_dictionaries({"type": st.just("url"), "url": texts}),
        st.fixed_dictionaries({"type": st.just("base64"), "data": texts}),
        st.fixed_dictionaries(
            {"type": st.just("bytes"), "data": st.lists(st.integers(0, 255), max_size=3)}
        ),
    )
    return st.fixed_dictionaries(
        {
            "type": st.just("image"),
            "source": source,
            "media_type": st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
        }
    )


def _assistant_block() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        _text_block(),
        st.fixed_dictionaries({"type": st.just("thinking"), "thinking": texts}),
        st.fixed_dictionaries(
            {
                "type": st.just("tool_call"),
                "tool_call": st.fixed_dictionaries(
                    {"id": texts, "name": texts, "arguments": texts}
                ),
            }
        ),
    )


def _usage() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "input_tokens": u32,
            "output_tokens": u32,
            "cache_read_tokens": u32,
            "cache_write_tokens": u32,
        },
    )


def _valid_message() -> st.SearchStrategy[dict[str, Any]]:
    input_blocks = st.lists(st.one_of(_text_block(), _image_block()), max_size=3)
    user = st.fixed_dictionaries(
        {"role": st.just("user"), "content": input_blocks, "timestamp_ms": ints}
    )
    assistant = st.fixed_dictionaries(
        {
            "role": st.just("assistant"),
            "content": st.lists(_assistant_block(), max_size=3),
            "api": st.sampled_from(["Anthropic", "OpenAi", "Google", "Mistral"]),
            "provider": texts,
            "model": texts,
            "usage": _usage(),
            "stop_reason": st.sampled_from(["stop", "length", "tool_use", "error", "aborted"]),
            "timestamp_ms": ints,
        },
        optional={
            "response_model": st.none() | texts,
            "response_id": st.none() | texts,
            "error_message": st.none() | texts,
        },
    )
    tool_result = st.fixed_dictionaries(
        {
            "role": st.just("tool_result"),
            "tool_call_id": texts,
            "tool_name": texts,
            "content": input_blocks,
            "is_error": st.booleans(),
            "timestamp_ms": ints,
        },
        optional={
            "details": st.none() | st.builds(lambda: {"k": [1, 2]}),
            "truncated": st.booleans(),
        },
    )
    return st.one_of(user, assistant, tool_result)


def _objects(value: Any, found: list[dict[str, Any]]) -> None:
    if type(value) is dict:
        found.append(value)
        for v in value.values():
            _objects(v, found)
    elif type(value) is list:
        for v in value:
            _objects(v, found)


def _coerced(value: Any, flip: bool) -> Any:
    if type(value) is str:
        return _Str(value)
    if type(value) is bool:
        return int(value)
    if type(value) is int:
        return float(value) if flip else value == 1
    if type(value) is list:
        return tuple(value)
    if value is None:
        return "" if flip else 0
    return value


@st.composite
def messages(draw: st.DrawFn, normalized: bool = False) -> Any:
    """A valid message (``normalized``: in its normalized form, when it has one), then a
    few perturbations of random objects inside it."""
    message = draw(_valid_message())
    if normalized:
        message = _plain_message(message) or message
    for _ in range(draw(st.integers(0, 3))):
        found: list[dict[str, Any]] = []
        _objects(message, found)
        target = draw(st.sampled_from(found))
        action = draw(st.sampled_from(["set", "coerce", "extra", "drop", "shuffle"]))
        keys = list(target)
        if action == "coerce" and keys:
            # A value of a neighbouring type that pydantic's lax mode may convert.
            key = draw(st.sampled_from(keys))
            target[key] = _coerced(target[key], draw(st.booleans()))
        elif action == "set" and keys:
            target[draw(st.sampled_from(keys))] = draw(odd_values)
        elif action == "extra":
            target[draw(odd_keys)] = draw(odd_values)
        elif action == "drop" and keys:
            del target[draw(st.sampled_from(keys))]
        elif action == "shuffle":
            items = draw(st.permutations(list(target.items())))
            target.clear()
            target.update(items)
    return message


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(messages(), messages(normalized=True)))
def test_plain_path_equals_pydantic_whenever_it_answers(message: Any) -> None:
    fast = _plain_message(message)
    try:
        # COORD-015: strict, as the coordinator validates (no lax coercion).
        expected = _MESSAGE_ADAPTER.validate_python(message, strict=True).to_json_dict()
    except ValidationError as exc:
        assert fast is None
        with pytest.raises(CallerError) as raised:
            _normalize_message(message)
        assert str(raised.value) == f"not a valid message: {exc.errors()[0]['msg']}"
        return
    normalized = _normalize_message(message)
    assert _ordered(normalized) == _ordered(expected)
    assert not set(_containers(normalized)) & set(_containers(message)), "shares with input"
    if fast is not None:
        assert _ordered(fast) == _ordered(expected)
        shared = set(_containers(fast)) & set(_containers(message))
        assert not shared, "the normalized message shares a container with the input"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(messages(), messages(normalized=True)))
def test_a_message_kept_as_it_is_is_exactly_its_normalized_form(message: Any) -> None:
    """The replay keeps a message as it is only when normalizing it would change nothing:
    values, types and key order (otherwise the resumed context would differ)."""
    if normalized_as_is(message):
        fast = _plain_message(message)
        assert fast is not None
        assert _ordered(fast) == _ordered(message)


@settings(max_examples=EXAMPLES, deadline=None)
@given(_valid_message())
def test_every_normalized_form_without_extras_is_kept_as_it_is(message: Any) -> None:
    """What the coordinator writes (a normalized message; extras are rare) is recognized,
    so a resume of its own file builds no copy of any message."""
    fast = _plain_message(message)
    if fast is not None:
        assert normalized_as_is(fast), fast


def test_common_shapes_take_the_plain_path() -> None:
    user = {"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp_ms": 1}
    spoken = {"type": "text", "text": "hello", "ss_lane": "spoken"}
    assistant = {
        "role": "assistant",
        "content": [spoken, {"type": "thinking", "thinking": "t"}],
        "api": "Anthropic",
        "provider": "anthropic",
        "model": "claude",
        "usage": {"input_tokens": 3},
        "stop_reason": "stop",
        "timestamp_ms": 2,
    }
    result = {
        "role": "tool_result",
        "tool_call_id": "c1",
        "tool_name": "read",
        "content": [{"type": "text", "text": "ok"}],
        "is_error": False,
        "timestamp_ms": 3,
    }
    for message in (user, assistant, result):
        fast = _plain_message(message)
        assert fast is not None
        assert fast == _MESSAGE_ADAPTER.validate_python(message).to_json_dict()
    # Defaults come out filled in and in declaration order.
    fast_assistant = _plain_message(assistant)
    assert fast_assistant is not None
    assert list(fast_assistant) == list(AssistantMessage.model_fields)
    assert fast_assistant["usage"] == Usage(input_tokens=3).to_json_dict()


def test_models_and_coerced_values_still_go_through_pydantic() -> None:
    model = UserMessage(content=[TextContent(text="x")], timestamp_ms=5)
    assert _normalize_message(model) == model.to_json_dict()
    coerced = {"role": "user", "content": [{"type": "text", "text": "x"}], "timestamp_ms": True}
    assert _plain_message(coerced) is None
    with pytest.raises(CallerError):  # COORD-015: never coerced (issue 7, item 4)
        _normalize_message(coerced)
    with pytest.raises(CallerError):
        _normalize_message({"role": "user", "content": "x", "timestamp_ms": 1})
