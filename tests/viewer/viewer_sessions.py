"""Session files for the viewer's tests, made here (never someone else's session): pi and
Claude Code shapes from the benchmark's generators with a branch added, a torn tail, and
text that would break a page that did not escape it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sessionspec.bench.files import claude_code_lines, pi_session_lines

#: A text a page must show as text, never as markup (VIEW-007).
HOSTILE = "</script><script>document.title='pwned'</script><b>not bold</b> <!-- x"


def _write(path: Path, lines: list[dict[str, Any]], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines) + tail)
    return path


def pi_with_branch(path: Path, entries: int = 420, *, torn: bool = False) -> Path:
    """A pi v3 session (tool calls, compactions every 200 entries) and a second branch off the
    tenth entry from the end, written last so that it is the active one (pi: the last
    entry, FILES-011)."""
    lines = pi_session_lines(entries)
    fork_from = lines[1 + entries - 10]["id"]
    stamp = "2026-03-01T11:00:00.000Z"
    lines.append(
        {
            "type": "message",
            "id": "b0000001",
            "parentId": fork_from,
            "timestamp": stamp,
            "message": {"role": "user", "content": HOSTILE, "timestamp": 1},
        }
    )
    lines.append(
        {
            "type": "message",
            "id": "b0000002",
            "parentId": "b0000001",
            "timestamp": stamp,
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": "On it."}],
                "api": "anthropic-messages",
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
                "stopReason": "stop",
                "timestamp": 2,
                "usage": {
                    "input": 10,
                    "output": 3,
                    "cacheRead": 0,
                    "cacheWrite": 0,
                    "totalTokens": 13,
                },
            },
        }
    )
    return _write(path, lines, b'{"type":"message","id":"b00' if torn else b"")


def claude_code_with_branch(path: Path, count: int = 30) -> Path:
    """A Claude Code transcript and a retry: a second prompt under the first response."""
    lines = claude_code_lines(count)
    lines.append(
        {
            "type": "user",
            "parentUuid": lines[2]["uuid"],
            "isSidechain": False,
            "sessionId": "bench",
            "uuid": "u-retry",
            "timestamp": "2026-04-02T10:00:00Z",
            "message": {"role": "user", "content": "Try again, differently."},
        }
    )
    return _write(path, lines)


def pi_lines(entries: int) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in pi_session_lines(entries))


def codex_rollout(path: Path, turns: int = 12, compact_every: int = 5) -> Path:
    """A Codex rollout in the shape of spec/formats/codex.md: a turn is a prompt, a shell
    call and its output with the request's token count, and an answer; every
    ``compact_every`` turns a ``compacted`` line replaces the history with the prompts so
    far and a summary."""
    stamp = "2026-05-06T14:00:00.000Z"

    def line(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"timestamp": stamp, "type": kind, "payload": payload}

    def message(role: str, text: str) -> dict[str, Any]:
        block = "output_text" if role == "assistant" else "input_text"
        return {"type": "message", "role": role, "content": [{"type": block, "text": text}]}

    lines = [
        line(
            "session_meta",
            {
                "id": "0199-viewer",
                "timestamp": stamp,
                "cwd": "/work",
                "originator": "codex_cli_rs",
                "cli_version": "0.46.0",
                "model_provider": "openai",
            },
        ),
        line("turn_context", {"cwd": "/work", "model": "gpt-5-codex", "effort": "medium"}),
    ]
    totals = {
        "input_tokens": 0,
        "cached_input_tokens": 0,
        "output_tokens": 0,
        "reasoning_output_tokens": 0,
        "total_tokens": 0,
    }
    prompts: list[dict[str, Any]] = []
    for turn in range(1, turns + 1):
        prompt = message("user", f"Step {turn}: run the tests.")
        prompts.append(prompt)
        call_id = f"call_{turn}"
        last = {
            "input_tokens": 100 * turn,
            "cached_input_tokens": 0,
            "output_tokens": 20,
            "reasoning_output_tokens": 0,
            "total_tokens": 100 * turn + 20,
        }
        totals = {key: totals[key] + last[key] for key in totals}
        lines += [
            line("response_item", prompt),
            line(
                "response_item",
                {
                    "type": "function_call",
                    "name": "shell",
                    "arguments": json.dumps({"command": ["pytest", "-q"]}),
                    "call_id": call_id,
                },
            ),
            line(
                "event_msg",
                {
                    "type": "token_count",
                    "info": {"total_token_usage": dict(totals), "last_token_usage": last},
                },
            ),
            line(
                "response_item",
                {"type": "function_call_output", "call_id": call_id, "output": f"{turn} passed"},
            ),
            line("response_item", message("assistant", f"Turn {turn}: {turn} passed.")),
        ]
        if turn % compact_every == 0:
            summary = message("user", f"Summary of turns 1-{turn}: the tests pass.")
            lines.append(
                line(
                    "compacted",
                    {
                        "message": f"Summary of turns 1-{turn}.",
                        "replacement_history": [*prompts, summary],
                    },
                )
            )
    return _write(path, lines)
