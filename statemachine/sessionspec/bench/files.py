"""Benchmark: reading and checking other tools' session files (FILES).

``check`` throughput in files per second over a folder of generated pi v3 sessions, and
lines per second through one long Claude Code transcript; each against the bare baseline of
decoding every line of the same bytes with orjson (the least any reader must do).
The files are generated here, in a temporary folder, from the shapes of spec/formats/.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import orjson

from sessionspec.bench.common import BenchResult, measure_pair
from sessionspec.codecs import read_session

__all__ = ["claude_code_lines", "pi_session_lines", "run"]

_TEXT = "The quick brown fox jumps over the lazy dog while the tests run. " * 4


def pi_session_lines(entries: int, seed: int = 0) -> list[dict[str, Any]]:
    """A pi v3 session: user, assistant with a tool call, tool result, assistant; a
    compaction every 200 entries."""
    lines: list[dict[str, Any]] = [{
        "type": "session", "version": 3, "id": f"bench-{seed}",
        "timestamp": "2026-03-01T10:00:00.000Z", "cwd": "/bench",
    }]
    parent: str | None = None
    for number in range(entries):
        entry_id = f"{seed:02x}{number:06x}"
        base = {"id": entry_id, "parentId": parent, "timestamp": "2026-03-01T10:00:01.000Z"}
        kind = number % 4
        if number and number % 200 == 0:
            lines.append({"type": "compaction", **base, "summary": _TEXT,
                          "firstKeptEntryId": f"{seed:02x}{number - 8:06x}",
                          "tokensBefore": 50_000})
        elif kind == 0:
            lines.append({"type": "message", **base, "message": {
                "role": "user", "content": _TEXT, "timestamp": number}})
        elif kind == 1:
            lines.append({"type": "message", **base, "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": _TEXT},
                            {"type": "toolCall", "id": f"c{number}", "name": "read",
                             "arguments": {"path": "a.py"}}],
                "api": "anthropic-messages", "provider": "anthropic",
                "model": "claude-sonnet-4-5", "stopReason": "toolUse", "timestamp": number,
                "usage": {"input": 100, "output": 20, "cacheRead": 0, "cacheWrite": 0,
                          "totalTokens": 120}}})
        elif kind == 2:
            lines.append({"type": "message", **base, "message": {
                "role": "toolResult", "toolCallId": f"c{number - 1}", "toolName": "read",
                "content": [{"type": "text", "text": _TEXT}], "isError": False,
                "timestamp": number}})
        else:
            lines.append({"type": "message", **base, "message": {
                "role": "assistant", "content": [{"type": "text", "text": _TEXT}],
                "api": "anthropic-messages", "provider": "anthropic",
                "model": "claude-sonnet-4-5", "stopReason": "stop", "timestamp": number,
                "usage": {"input": 100, "output": 20, "cacheRead": 0, "cacheWrite": 0,
                          "totalTokens": 120}}})
        parent = entry_id
    return lines


def claude_code_lines(count: int) -> list[dict[str, Any]]:
    """A Claude Code transcript: prompts, split responses, tool results."""
    lines: list[dict[str, Any]] = []
    parent: str | None = None
    for number in range(count):
        uuid = f"u-{number:08d}"
        base = {"parentUuid": parent, "isSidechain": False, "sessionId": "bench",
                "uuid": uuid, "timestamp": "2026-04-02T09:00:00.000Z"}
        kind = number % 3
        if kind == 0:
            lines.append({"type": "user", **base,
                          "message": {"role": "user", "content": _TEXT}})
        elif kind == 1:
            lines.append({"type": "assistant", **base, "requestId": f"req_{number}",
                          "message": {"id": f"msg_{number}", "role": "assistant",
                                      "model": "claude-sonnet-4-5",
                                      "content": [{"type": "tool_use", "id": f"t{number}",
                                                   "name": "Read",
                                                   "input": {"file_path": "/a.py"}}],
                                      "stop_reason": "tool_use",
                                      "usage": {"input_tokens": 5, "output_tokens": 9,
                                                "cache_read_input_tokens": 900}}})
        else:
            lines.append({"type": "user", **base, "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"t{number - 1}", "content": _TEXT}]}})
        parent = uuid
    return lines


def _write(path: str, lines: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in lines)


def _orjson_every_line(paths: list[str]) -> int:
    decoded = 0
    for path in paths:
        with open(path, "rb") as handle:
            for raw in handle.read().splitlines():
                orjson.loads(raw)
                decoded += 1
    return decoded


def run(quick: bool = False) -> list[BenchResult]:
    files = 20 if quick else 200
    entries = 100 if quick else 400
    long_lines = 3_000 if quick else 60_000
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for seed in range(files):
            path = os.path.join(folder, f"pi-{seed}.jsonl")
            _write(path, pi_session_lines(entries, seed))
            paths.append(path)

        def check_all() -> None:
            for path in paths:
                if not read_session(path).ok:  # pragma: no cover - the files are valid
                    raise AssertionError(path)

        ours, baseline = measure_pair(check_all, lambda: _orjson_every_line(paths))
        results.append(BenchResult(
            name=f"check {files} pi v3 files of {entries} entries (files/s)",
            value=files / ours, baseline=files / baseline, ratio=baseline / ours,
            unit="files/s", target="reported (no target)",
        ))
        long_path = os.path.join(folder, "claude.jsonl")
        _write(long_path, claude_code_lines(long_lines))
        ours, baseline = measure_pair(
            lambda: read_session(long_path), lambda: _orjson_every_line([long_path])
        )
        results.append(BenchResult(
            name=f"read a {long_lines}-line Claude Code transcript (lines/s)",
            value=long_lines / ours, baseline=long_lines / baseline, ratio=baseline / ours,
            unit="lines/s", target="reported (no target)",
        ))
    return results
