"""Builders of wire-form messages for the file readers, and the short labels ``tree`` shows.

Every function returns plain dicts in exactly the form :mod:`sessionspec.wire.messages`
persists (field order included), so a reader's context compares equal to the context the
coordinator gives after ``import`` (FILES-014). What the message model cannot express is
reported by the caller as a FILES-010 finding; nothing here drops content silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

__all__ = [
    "API_BY_PREFIX",
    "IMAGE_TYPES",
    "api_kind",
    "arguments_json",
    "assistant",
    "image",
    "label_of",
    "text",
    "thinking",
    "tool_call",
    "tool_result",
    "user",
]

#: The media types the message model's image blocks accept (WIRE-002).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

#: Provider API names (pi's ``api``, provider names) by prefix, to opi's ``ApiKind``.
API_BY_PREFIX = (
    ("anthropic", "Anthropic"),
    ("openai", "OpenAi"),
    ("azure", "OpenAi"),
    ("google", "Google"),
    ("gemini", "Google"),
    ("mistral", "Mistral"),
)


def api_kind(*names: Any) -> str | None:
    """The ``ApiKind`` the first recognizable name maps to, or ``None``."""
    for name in names:
        if isinstance(name, str):
            lowered = name.lower()
            for prefix, kind in API_BY_PREFIX:
                if lowered.startswith(prefix):
                    return kind
    return None


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def thinking(value: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": value}


def image(data: str, media_type: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "data": data}, "media_type": media_type}


def arguments_json(arguments: Any) -> str:
    """Tool arguments as the JSON string the model stores: a string is kept as it is (it is
    already the provider's JSON text), anything else is encoded."""
    if isinstance(arguments, str):
        return arguments
    return orjson.dumps(arguments).decode()


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "tool_call": {"id": call_id, "name": name, "arguments": arguments_json(arguments)},
    }


def user(content: Sequence[dict[str, Any]], timestamp_ms: int) -> dict[str, Any]:
    return {"role": "user", "content": list(content), "timestamp_ms": timestamp_ms}


def assistant(
    content: Sequence[dict[str, Any]],
    *,
    api: str,
    provider: str,
    model: str,
    usage: Mapping[str, int],
    stop_reason: str,
    timestamp_ms: int,
    response_id: str | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": list(content),
        "api": api,
        "provider": provider,
        "model": model,
        "response_model": None,
        "response_id": response_id,
        "usage": {
            "input_tokens": int(usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens", 0)),
            "cache_read_tokens": int(usage.get("cache_read_tokens", 0)),
            "cache_write_tokens": int(usage.get("cache_write_tokens", 0)),
        },
        "stop_reason": stop_reason,
        "error_message": error_message,
        "timestamp_ms": timestamp_ms,
    }


def tool_result(
    call_id: str,
    name: str,
    content: Sequence[dict[str, Any]],
    *,
    is_error: bool,
    timestamp_ms: int,
    details: Any = None,
) -> dict[str, Any]:
    return {
        "role": "tool_result",
        "tool_call_id": call_id,
        "tool_name": name,
        "content": list(content),
        "details": details,
        "is_error": is_error,
        "truncated": False,
        "timestamp_ms": timestamp_ms,
    }


def _clip(value: str, width: int = 60) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def label_of(message: Mapping[str, Any]) -> str:
    """``role: first text`` or the tool calls' names, for one line of ``tree``."""
    role = str(message.get("role"))
    if role == "tool_result":
        return f"tool_result {message.get('tool_name')}"
    parts: list[str] = []
    calls: list[str] = []
    for block in message.get("content", ()):
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "tool_call":
            calls.append(str(block["tool_call"]["name"]))
        elif kind == "image":
            parts.append("[image]")
    shown = _clip(" ".join(parts)) if parts else ""
    if calls:
        shown = (shown + " " if shown else "") + "→ " + ", ".join(calls)
    return f"{role}: {shown}" if shown else role
