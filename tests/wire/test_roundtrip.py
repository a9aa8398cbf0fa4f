"""Round trips of the wire models, with strategies derived from the models (WIRE-009)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from sessionspec.conformance.strategies import json_values, strategy_for
from sessionspec.wire import (
    AssistantMessage,
    Message,
    SessionEntry,
    SessionHeader,
    ToolResultMessage,
    UserMessage,
)
from sessionspec.wire.log import parse_entry

MESSAGE = TypeAdapter(Message)
ENTRY = TypeAdapter(SessionEntry)


@pytest.mark.req("WIRE-009", "WIRE-001", "WIRE-002", "WIRE-003", "WIRE-004", "WIRE-007")
@settings(max_examples=150)
@given(strategy_for(SessionEntry))
def test_every_entry_survives_a_json_round_trip(entry: Any) -> None:
    as_json = entry.to_json_dict()
    text = orjson.dumps(as_json)
    again = ENTRY.validate_python(orjson.loads(text))
    assert again == entry
    assert orjson.dumps(again.to_json_dict()) == text


@pytest.mark.req("WIRE-009", "WIRE-006")
@settings(max_examples=50)
@given(strategy_for(SessionHeader))
def test_every_header_survives_a_json_round_trip(header: SessionHeader) -> None:
    text = orjson.dumps(header.to_json_dict())
    assert SessionHeader.model_validate_json(text) == header


@pytest.mark.req("WIRE-005")
@settings(max_examples=80)
@given(
    strategy_for(Message),
    st.dictionaries(st.from_regex(r"ss_[a-z]{1,6}", fullmatch=True), json_values, max_size=3),
)
def test_extra_fields_are_kept_and_written_back_last(message: Any, extras: dict[str, Any]) -> None:
    as_json = message.to_json_dict()
    with_extras = {**as_json, **extras}
    again = MESSAGE.validate_python(with_extras).to_json_dict()
    assert again == with_extras
    assert list(again)[: len(as_json)] == list(as_json)


# Lines in the exact form opi v1 writes them (field order as serde serializes the structs).
OPI_LINES = [
    b'{"type":"session","version":1,"id":"19e68227eb4","timestamp":"2026-05-27T06:32:31Z",'
    b'"cwd":"D:\\\\work","parent_session":null}',
    b'{"type":"message","id":"msg-1","parent_id":null,"timestamp":"2026-05-27T06:32:40Z",'
    b'"message":{"role":"user","content":[{"type":"text","text":"list files"}],'
    b'"timestamp_ms":1779863560000}}',
    b'{"type":"message","id":"msg-2","parent_id":"msg-1","timestamp":"2026-05-27T06:32:41Z",'
    b'"message":{"role":"assistant","content":[{"type":"thinking","thinking":"use ls"},'
    b'{"type":"tool_call","tool_call":{"id":"call_1","name":"bash","arguments":"{\\"command\\":\\"ls\\"}"}}],'
    b'"api":"Anthropic","provider":"anthropic","model":"claude-sonnet-4","response_model":null,'
    b'"response_id":"resp_1","usage":{"input_tokens":120,"output_tokens":30,'
    b'"cache_read_tokens":0,"cache_write_tokens":0},"stop_reason":"tool_use",'
    b'"error_message":null,"timestamp_ms":1779863561000}}',
    b'{"type":"message","id":"msg-3","parent_id":"msg-2","timestamp":"2026-05-27T06:32:42Z",'
    b'"message":{"role":"tool_result","tool_call_id":"call_1","tool_name":"bash",'
    b'"content":[{"type":"text","text":"a.txt"},{"type":"image","source":{"type":"base64",'
    b'"data":"iVBO"},"media_type":"image/png"}],"details":{"exit_code":0},"is_error":false,'
    b'"truncated":false,"timestamp_ms":1779863562000}}',
    b'{"type":"compaction","id":"cmp-4","parent_id":"msg-3","timestamp":"2026-05-27T06:33:00Z",'
    b'"summary":"Compacted 2 messages: list files","first_kept_entry_id":"msg-3",'
    b'"tokens_before":40,"tokens_after":2}',
    b'{"type":"leaf","id":"leaf-5","parent_id":"cmp-4","timestamp":"2026-05-27T06:33:00Z",'
    b'"entry_id":"cmp-4"}',
    b'{"type":"extension_state","id":"state-6","parent_id":"cmp-4",'
    b'"timestamp":"2026-05-27T06:33:01Z","state":{"todo":["a","b"]}}',
]


@pytest.mark.req("WIRE-009", "WIRE-001", "WIRE-002", "WIRE-006", "WIRE-007")
@pytest.mark.parametrize("line", OPI_LINES[1:], ids=lambda b: orjson.loads(b)["type"])
def test_lines_opi_writes_decode_and_encode_byte_for_byte(line: bytes) -> None:
    entry = parse_entry(orjson.loads(line))
    assert orjson.dumps(entry.to_json_dict()) == line


@pytest.mark.req("WIRE-006")
def test_opi_header_round_trips() -> None:
    header = SessionHeader.model_validate_json(OPI_LINES[0])
    assert orjson.dumps(header.to_json_dict()) == OPI_LINES[0]
    assert header.parent_session is None


@pytest.mark.req("WIRE-003")
def test_usage_cache_counters_default_to_zero() -> None:
    message = AssistantMessage.model_validate(
        {
            **orjson.loads(OPI_LINES[2])["message"],
            "usage": {"input_tokens": 1, "output_tokens": 2},
        }
    )
    assert message.usage.cache_read_tokens == 0
    assert message.usage.to_json_dict() == {
        "input_tokens": 1,
        "output_tokens": 2,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }


@pytest.mark.req("WIRE-001", "WIRE-004")
@pytest.mark.parametrize(
    "bad",
    [
        {"role": "user", "content": []},  # timestamp_ms is required, as in opi
        {"role": "robot", "content": [], "timestamp_ms": 1},
        {"role": "user", "content": [{"type": "video"}], "timestamp_ms": 1},
        {**orjson.loads(OPI_LINES[2])["message"], "stop_reason": "end_turn"},
        {**orjson.loads(OPI_LINES[2])["message"], "api": "anthropic"},
        {**orjson.loads(OPI_LINES[3])["message"], "is_error": None},
    ],
)
def test_messages_opi_would_refuse_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        MESSAGE.validate_python(bad)


@pytest.mark.req("WIRE-007", "WIRE-001")
def test_null_values_are_written_not_omitted() -> None:
    entry = parse_entry(
        {
            "type": "leaf",
            "id": "leaf-1",
            "parent_id": None,
            "timestamp": "2026-01-01T00:00:00Z",
            "entry_id": "msg-1",
        }
    )
    assert entry.to_json_dict()["parent_id"] is None
    assert list(entry.to_json_dict()) == ["type", "id", "parent_id", "timestamp", "entry_id"]
    tool = ToolResultMessage(
        tool_call_id="c", tool_name="t", content=[], is_error=False, timestamp_ms=1
    ).to_json_dict()
    assert tool["details"] is None and tool["truncated"] is False
    assert UserMessage(content=[], timestamp_ms=5).to_json_dict()["role"] == "user"
