"""Message builders and a counting clock for the conversation tests."""

from __future__ import annotations

from typing import Any


class Clock:
    """A clock that advances one microsecond per reading and counts its readings."""

    def __init__(self, start: int = 1_700_000_000_000_000_000) -> None:
        self.now = start
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        self.now += 1_000
        return self.now


def user(text: str, ts: int = 1) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "timestamp_ms": ts}


def assistant(text: str = "ok", *calls: str, ts: int = 2) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for call in calls:
        content.append(
            {"type": "tool_call", "tool_call": {"id": call, "name": "read", "arguments": "{}"}}
        )
    return {
        "role": "assistant",
        "content": content,
        "api": "Anthropic",
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "response_model": None,
        "response_id": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
        },
        "stop_reason": "tool_use" if calls else "stop",
        "error_message": None,
        "timestamp_ms": ts,
    }


def result(call: str, text: str = "done", ts: int = 3) -> dict[str, Any]:
    return {
        "role": "tool_result",
        "tool_call_id": call,
        "tool_name": "read",
        "content": [{"type": "text", "text": text}],
        "details": None,
        "is_error": False,
        "truncated": False,
        "timestamp_ms": ts,
    }


def image_user(data_b64: str, ts: int = 4) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": "look"},
            {"type": "image", "source": {"type": "base64", "data": data_b64},
             "media_type": "image/png"},
        ],
        "timestamp_ms": ts,
    }


def dumped(messages: Any) -> list[dict[str, Any]]:
    return [m.to_json_dict() for m in messages]
