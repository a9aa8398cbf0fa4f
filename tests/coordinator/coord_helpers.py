"""Message builders and legacy-file writers shared by the coordinator unit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sessionspec.wire.messages import (
    AssistantMessage,
    TextContent,
    ToolCall,
    ToolCallContent,
    ToolResultMessage,
    Usage,
    UserMessage,
)

CLOCK = 1_700_000_000.0


def clock() -> float:
    return CLOCK


def user(text: str) -> dict[str, Any]:
    return UserMessage(content=[TextContent(text=text)], timestamp_ms=1).to_json_dict()


def assistant(
    text: str,
    *,
    calls: tuple[tuple[str, str], ...] = (),
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    content: list[Any] = [TextContent(text=text)]
    content += [
        ToolCallContent(tool_call=ToolCall(id=call_id, name="shell", arguments=arguments))
        for call_id, arguments in calls
    ]
    return AssistantMessage(
        content=content,
        api="Anthropic",
        provider="anthropic",
        model="claude-sonnet-4",
        usage=Usage(**(usage or {"input_tokens": 10, "output_tokens": 5})),
        stop_reason="tool_use" if calls else "stop",
        timestamp_ms=2,
    ).to_json_dict()


def tool_result(call_id: str, text: str, details: Any = None) -> dict[str, Any]:
    return ToolResultMessage(
        tool_call_id=call_id,
        tool_name="shell",
        content=[TextContent(text=text)],
        details=details,
        is_error=False,
        timestamp_ms=3,
    ).to_json_dict()


def texts(context: list[dict[str, Any]]) -> list[str]:
    """The first text of each context item (the summary text for a summary slot)."""
    out: list[str] = []
    for item in context:
        if item.get("type") == "compaction_summary":
            out.append(str(item["summary"]))
        else:
            out.append(str(item["content"][0]["text"]))
    return out


def message_entry(entry_id: str, parent: str | None, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "id": entry_id,
        "parent_id": parent,
        "timestamp": "2026-05-27T06:32:31Z",
        "message": message,
    }


def compaction_entry(entry_id: str, parent: str | None, first_kept: str) -> dict[str, Any]:
    return {
        "type": "compaction",
        "id": entry_id,
        "parent_id": parent,
        "timestamp": "2026-05-27T06:32:31Z",
        "summary": "earlier talk",
        "first_kept_entry_id": first_kept,
        "tokens_before": 10,
        "tokens_after": 2,
    }


def leaf_entry(entry_id: str, target: str) -> dict[str, Any]:
    return {
        "type": "leaf",
        "id": entry_id,
        "parent_id": target,
        "timestamp": "2026-05-27T06:32:31Z",
        "entry_id": target,
    }


def write_opi_file(path: Path, entries: list[dict[str, Any]], session_id: str = "19e6") -> Path:
    """A session file as opi writes it: no framing fields, one fsynced line per entry."""
    header = {
        "type": "session",
        "version": 1,
        "id": session_id,
        "timestamp": "2026-05-27T06:32:31Z",
        "cwd": "/work",
        "parent_session": None,
    }
    lines = [json.dumps(header)] + [json.dumps(e) for e in entries]
    path.write_text("\n".join(lines) + "\n")
    return path


def file_entries(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a session file as JSON objects, framing fields removed."""
    out: list[dict[str, Any]] = []
    for line in Path(path).read_text().splitlines()[1:]:
        obj = json.loads(line)
        for name in ("ss_seq", "ss_end", "ss_crc"):
            obj.pop(name, None)
        out.append(obj)
    return out
