"""The runtime's fast paths decide exactly what its checked path decides.

``RealtimeTranscript.apply`` takes a delta given as a plain ``dict`` on an inlined path and
builds messages without ``model_construct``'s field walk. These tests hold both to the slow
forms: the same event given as a read-only mapping (which always takes the checked path)
must give the same outcome, the same exception type and the same transcript; built messages
must equal what ``model_construct`` and validation build.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from sessionspec.bench.realtime import voice_stream
from sessionspec.reference.realtime import ApplyStatus
from sessionspec.runtime.realtime import ApplyOutcome, RealtimeTranscript
from sessionspec.runtime.realtime import records as runtime
from sessionspec.wire.messages import AssistantMessage, TextContent, Usage, UserMessage

DEEP = bool(os.environ.get("SESSIONSPEC_DEEP"))


def _clock() -> int:
    return 1_700_000_000_000


class _Text(str):
    """A string subclass: not a JSON string for the checked path (RT-002)."""


# Values a delta field may take, valid and not: padding, blanks, subclasses, bytes, wrong
# types, out-of-range indexes.
_IDS: list[Any] = ["d1", "d2", " d1 ", "", "  ", _Text("d1"), b"d1", 7, None]
_ITEMS: list[Any] = ["a1", "a2", " a1", "", _Text("a1"), b"a1", None]
_RESPONSES: list[Any] = ["r1", "r2", "r1 ", "", _Text("r1"), None]
_PREVS: list[Any] = [None, "u1", " u1 ", "", "  ", "a1", "zz", _Text("u1"), b"u1", 3]
_INDEXES: list[Any] = [0, 1, -1, 2**32, 2**32 - 1, True, 1.0, "0", None]
_DELTAS: list[Any] = ["hel", "lo", "", " ", _Text("x"), b"x", None, 5]
_MISSING = object()


@st.composite
def _delta_events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": draw(st.sampled_from(["assistant_transcript_delta", "assistant_text_delta"])),
        "response_id": draw(st.sampled_from(_RESPONSES)),
        "delta_id": draw(st.sampled_from(_IDS)),
        "item_id": draw(st.sampled_from(_ITEMS)),
        "previous_item_id": draw(st.sampled_from(_PREVS)),
        "content_index": draw(st.sampled_from(_INDEXES)),
        "delta": draw(st.sampled_from(_DELTAS)),
    }
    # Sometimes a field is missing altogether.
    missing = draw(st.sampled_from([None, None, None, *event]))
    if missing is not None:
        del event[missing]
    return event


_PREAMBLE: list[dict[str, Any]] = [
    {
        "type": "user_transcript_final",
        "item_id": "u1",
        "previous_item_id": None,
        "content_index": 0,
        "text": "hi",
    },
    {
        "type": "item_observed",
        "item_id": "a1",
        "previous_item_id": "u1",
        "role": "assistant",
        "response_id": "r1",
    },
]

_OTHERS: list[dict[str, Any]] = [
    {
        "type": "item_observed",
        "item_id": "a2",
        "previous_item_id": "a1",
        "role": "assistant",
        "response_id": "r1",
    },
    {
        "type": "assistant_turn_completed",
        "response_id": "r1",
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    },
    {"type": "assistant_turn_interrupted", "response_id": "r1"},
    {
        "type": "assistant_turn_completed",
        "response_id": "r1",
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
    {"type": "item_skipped", "item_id": "a2", "previous_item_id": "a1"},
]


def _apply(transcript: RealtimeTranscript, event: Mapping[str, Any]) -> ApplyOutcome | str:
    try:
        return transcript.apply(event)
    except Exception as error:  # the exception's type is what must agree
        return type(error).__name__


def _dump(transcript: RealtimeTranscript) -> list[dict[str, Any]]:
    return [m.to_json_dict() for m in transcript.messages()]


@pytest.mark.req("RT-001", "RT-002", "RT-003", "RT-010", "RT-011")
@settings(max_examples=400 if DEEP else 120, deadline=None)
@given(
    st.lists(
        st.one_of(_delta_events(), st.sampled_from(_OTHERS)),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
)
def test_dict_fast_path_agrees_with_checked_path(
    events: list[dict[str, Any]], replay: bool
) -> None:
    fast = RealtimeTranscript(clock=_clock)
    checked = RealtimeTranscript(clock=_clock)
    stream = _PREAMBLE + events + (events if replay else [])
    for event in stream:
        got = _apply(fast, dict(event))
        expected = _apply(checked, MappingProxyType(event))
        assert got == expected, (event, got, expected)
    assert _dump(fast) == _dump(checked)
    assert fast.messages() == checked.messages()
    assert fast.discarded() == checked.discarded()
    assert fast.in_flight_response_ids() == checked.in_flight_response_ids()


def _delta(delta_id: str, text: str, kind: str = "assistant_transcript_delta") -> dict[str, Any]:
    return {
        "type": kind,
        "response_id": "r1",
        "delta_id": delta_id,
        "item_id": "a1",
        "previous_item_id": "u1",
        "content_index": 0,
        "delta": text,
    }


_COMPLETED = _OTHERS[1]
_CUT = {
    "type": "assistant_transcript_truncated",
    "response_id": "r1",
    "item_id": "a1",
    "content_index": 0,
    "text": "a",
}

#: Streams where the segment the hot path remembers (the last delta's, until the next checked
#: event) must be forgotten or refused: a response end, a cut, a skip, an empty delta of the
#: other lane that gives the segment a new context, an item without a lane yet, and the
#: replays (same text: duplicate; other text: conflicting) of each remembered delta.
_REMEMBERED_SEGMENT_STREAMS: list[list[dict[str, Any]]] = [
    [_delta("d1", "a"), _delta("d2", "b"), _COMPLETED, _delta("d3", "c")],
    [_delta("d1", "a"), _delta("d2", "b"), _CUT, _delta("d3", "c"), _COMPLETED],
    [_delta("d1", "a"), _OTHERS[4], _delta("d2", "b")],
    [
        _delta("d1", "a"),
        _delta("d2", "b"),
        _delta("d3", "", "assistant_text_delta"),
        _delta("d4", "c"),
        _delta("d5", "", "assistant_text_delta"),
    ],
    [
        _delta("d1", ""),
        _delta("d2", "x", "assistant_text_delta"),
        _delta("d3", "y"),
        _delta("d4", "z", "assistant_text_delta"),
    ],
    [_delta("d1", "a"), _OTHERS[3], _delta("d2", "b"), _delta("d3", "c"), _OTHERS[2]],
]


@pytest.mark.req("RT-010", "RT-013", "RT-026")
@pytest.mark.parametrize("events", _REMEMBERED_SEGMENT_STREAMS)
def test_remembered_segment_agrees_with_checked_path(events: list[dict[str, Any]]) -> None:
    fast = RealtimeTranscript(clock=_clock)
    checked = RealtimeTranscript(clock=_clock)
    replays = [e for e in events if "delta_id" in e]
    conflicting = [{**e, "delta": e["delta"] + "!"} for e in replays]
    for event in _PREAMBLE + events + replays + conflicting + [_COMPLETED]:
        got = _apply(fast, dict(event))
        expected = _apply(checked, MappingProxyType(event))
        assert got == expected, (event, got, expected)
    assert _dump(fast) == _dump(checked)
    assert fast.discarded() == checked.discarded()


def _same_model(built: BaseModel, expected: BaseModel) -> None:
    assert type(built) is type(expected)
    assert built.__dict__ == expected.__dict__
    assert list(built.__dict__) == list(expected.__dict__)
    assert built.__pydantic_fields_set__ == expected.__pydantic_fields_set__
    assert built.__pydantic_extra__ == expected.__pydantic_extra__
    assert built.__pydantic_private__ == expected.__pydantic_private__
    assert built == expected


def _constructed_like_model_construct(message: UserMessage | AssistantMessage) -> BaseModel:
    """What ``model_construct`` builds from the message's explicit fields and extras."""
    values: dict[str, Any] = {name: message.__dict__[name] for name in message.model_fields_set}
    extra = message.__pydantic_extra__ or {}
    return type(message).model_construct(**values, **extra)


@pytest.mark.req("RT-032")
def test_built_messages_equal_model_construct_and_validation() -> None:
    transcript = RealtimeTranscript(clock=_clock)
    for event in voice_stream(3):
        transcript.apply(event)
    messages = transcript.messages()
    assert len(messages) == 6
    for message in messages:
        _same_model(message, _constructed_like_model_construct(message))
        # And equal to the message validated from its own JSON form.
        assert message == type(message).model_validate(message.to_json_dict())
        for block in message.content:
            assert isinstance(block, TextContent)
            extra = block.model_extra or {}
            _same_model(block, TextContent.model_construct(text=block.text, **extra))
        if isinstance(message, AssistantMessage):
            usage = message.usage
            _same_model(
                usage,
                Usage(
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens,
                    cache_write_tokens=usage.cache_write_tokens,
                ),
            )
    # Built messages are independent objects: changing one changes no other.
    first, second = messages[1], messages[3]
    assert isinstance(first, AssistantMessage) and isinstance(second, AssistantMessage)
    first.usage.input_tokens = 999
    first.model_extra_probe = 1  # type: ignore[attr-defined]
    assert second.usage.input_tokens == 100
    assert "model_extra_probe" not in (second.__pydantic_extra__ or {})


def _validated_usage(usage: Mapping[str, Any] | None) -> Usage:
    """The conversion as it was written before the fast construction (the reference)."""
    if not usage:
        return Usage()
    return Usage(
        input_tokens=usage.get("input_tokens", 0),
        output_tokens=usage.get("output_tokens", 0),
        cache_read_tokens=usage.get("cache_read_tokens") or 0,
        cache_write_tokens=usage.get("cache_creation_tokens") or 0,
    )


_COUNTS: list[Any] = [0, 1, 2**32 - 1, 2**32, -1, True, 2.0, "3", None]


@pytest.mark.req("RT-032")
@settings(max_examples=300 if DEEP else 100, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(
                ["input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens"]
            ),
            st.sampled_from(_COUNTS),
        ),
    )
)
def test_usage_conversion_agrees_with_validation(usage: dict[str, Any] | None) -> None:
    try:
        expected: Usage | str = _validated_usage(usage)
    except ValidationError:
        expected = "ValidationError"
    try:
        got: Usage | str = runtime._opi_usage(usage)
    except ValidationError:
        got = "ValidationError"
    if isinstance(expected, Usage):
        assert isinstance(got, Usage)
        _same_model(got, expected)
    else:
        assert got == expected


@pytest.mark.req("RT-010", "RT-041")
def test_completion_keys_tell_usages_apart() -> None:
    """A completion replayed with the same usage is a duplicate; with any other usage
    (another counter, an added cache counter, an extra field) it is not."""
    transcript = RealtimeTranscript(clock=_clock)
    for event in _PREAMBLE:
        transcript.apply(event)
    completion: dict[str, Any] = {
        "type": "assistant_turn_completed",
        "response_id": "r1",
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    assert transcript.apply(completion).status.value == "accepted"
    assert transcript.apply(dict(completion)).status.value == "duplicate"
    same = {**completion, "usage": {"output_tokens": 4, "input_tokens": 3}}
    assert transcript.apply(same).status.value == "duplicate"
    for usage in (
        {"input_tokens": 3, "output_tokens": 5},
        {"input_tokens": 3, "output_tokens": 4, "cache_read_tokens": 0},
        {"input_tokens": 3, "output_tokens": 4, "cache_creation_tokens": 1},
    ):
        outcome = transcript.apply({**completion, "usage": usage})
        assert outcome.status.value == "rejected", usage
    assert runtime._completion_key("r", "end_turn", {"input_tokens": 1, "extra": 2}) != (
        runtime._completion_key("r", "end_turn", {"input_tokens": 1})
    )


def test_fast_outcome_equals_the_dataclass() -> None:
    """``_outcome`` sets the slots ``ApplyOutcome.__init__`` sets, nothing else."""
    message = RealtimeTranscript(clock=_clock).apply(_PREAMBLE[0]).messages
    built = runtime._outcome(ApplyStatus.ACCEPTED, message, (), ())
    expected = ApplyOutcome(ApplyStatus.ACCEPTED, message, (), ())
    assert type(built) is ApplyOutcome
    assert built == expected
    assert not built.is_inert


def _left_for_the_collector(turns: int) -> int:
    """Tracked objects still alive after a transcript of ``turns`` turns is dropped."""
    events = voice_stream(turns)
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        transcript = RealtimeTranscript(clock=_clock)
        for event in events:
            transcript.apply(event)
        del transcript
        return len(gc.get_objects()) - before
    finally:
        gc.enable()


def test_a_dropped_transcript_is_freed_without_a_collection() -> None:
    """No reference cycle holds a transcript or its records (handlers are looked up on the
    class, a response keeps its items' ranks): what a dropped transcript leaves for the
    collector (its lifecycle machine's own cycle) does not grow with its length."""
    assert _left_for_the_collector(30) == _left_for_the_collector(3)
