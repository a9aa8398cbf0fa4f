"""Builders of phi-core agent events as plain JSON objects, for scripts, cases and tests.

Each returns a dict in the wire form of :mod:`sessionspec.wire.agent_events`. Timestamps are
derived from a small integer (seconds after 2025-01-01T00:00:00Z) so scripts stay readable.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "agent_end",
    "agent_start",
    "assistant",
    "message_end",
    "parallel_end",
    "parallel_start",
    "stamp",
    "tool_end",
    "tool_result",
    "turn_end",
    "turn_start",
    "usage",
    "user",
]


def stamp(second: int) -> str:
    """``2025-01-01T00:00:00Z`` plus ``second`` seconds, in RFC 3339."""
    minutes, seconds = divmod(second, 60)
    hours, minutes = divmod(minutes, 60)
    return f"2025-01-01T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


def usage(input: int = 0, output: int = 0) -> dict[str, Any]:
    return {"input": input, "output": output}


def user(text: str, ms: int = 1) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "timestamp": ms}


def assistant(
    text: str,
    *,
    tool_calls: tuple[str, ...] = (),
    model: str = "claude-sonnet-4",
    provider: str = "anthropic",
    tokens: tuple[int, int] = (10, 5),
    ms: int = 2,
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [
        {"type": "toolCall", "id": call, "name": "read", "arguments": {"path": call}}
        for call in tool_calls
    ]
    return {
        "role": "assistant",
        "content": content,
        "stopReason": "toolUse" if tool_calls else "stop",
        "model": model,
        "provider": provider,
        "usage": usage(*tokens),
        "timestamp": ms,
    }


def tool_result(call_id: str, text: str = "ok", ms: int = 3) -> dict[str, Any]:
    return {
        "role": "toolResult",
        "toolCallId": call_id,
        "toolName": "read",
        "content": [{"type": "text", "text": text}],
        "isError": False,
        "timestamp": ms,
    }


def agent_start(
    loop_id: str,
    session_id: str,
    *,
    at: int = 0,
    parent: str | None = None,
    kind: Any = None,
    agent_id: str = "agent-1",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "AgentStart",
        "agent_id": agent_id,
        "session_id": session_id,
        "loop_id": loop_id,
        "parent_loop_id": parent,
        "timestamp": stamp(at),
    }
    if kind is not None:
        event["continuation_kind"] = kind
    return event


def agent_end(
    loop_id: str,
    *,
    at: int = 0,
    messages: list[dict[str, Any]] | None = None,
    rejection: str | None = None,
    tokens: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    return {
        "type": "AgentEnd",
        "loop_id": loop_id,
        "messages": messages or [],
        "usage": usage(*tokens),
        "timestamp": stamp(at),
        "rejection": rejection,
    }


def turn_start(
    loop_id: str, index: int = 0, *, at: int = 0, trigger: str = "User"
) -> dict[str, Any]:
    return {
        "type": "TurnStart",
        "loop_id": loop_id,
        "turn_index": index,
        "timestamp": stamp(at),
        "triggered_by": trigger,
    }


def message_end(loop_id: str, message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "MessageEnd", "loop_id": loop_id, "message": message}


def turn_end(
    loop_id: str,
    message: dict[str, Any],
    *,
    at: int = 0,
    tool_results: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "TurnEnd",
        "loop_id": loop_id,
        "message": message,
        "usage": message.get("usage", usage()),
        "timestamp": stamp(at),
        "tool_results": tool_results or [],
    }


def tool_end(
    loop_id: str, call_id: str, *, child_loop_id: str | None = None, tool_name: str = "spawn"
) -> dict[str, Any]:
    return {
        "type": "ToolExecutionEnd",
        "loop_id": loop_id,
        "tool_call_id": call_id,
        "tool_name": tool_name,
        "result": {"content": [{"type": "text", "text": "done"}], "child_loop_id": child_loop_id},
        "is_error": False,
    }


def parallel_start(session_id: str, loop_ids: list[str], *, at: int = 0) -> dict[str, Any]:
    return {
        "type": "ParallelLoopStart",
        "session_id": session_id,
        "loop_ids": loop_ids,
        "timestamp": stamp(at),
    }


def parallel_end(session_id: str, selected: str, index: int, *, at: int = 0) -> dict[str, Any]:
    return {
        "type": "ParallelLoopEnd",
        "session_id": session_id,
        "selected_loop_id": selected,
        "selected_config_index": index,
        "evaluation_usage": usage(3, 1),
        "timestamp": stamp(at),
    }
