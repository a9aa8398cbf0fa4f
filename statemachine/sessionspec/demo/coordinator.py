"""Demo chapter: a coordinator session through a compaction, killed mid-turn, resumed.

A real writer process runs a scripted session with tool calls: each turn is one durable
batch, the usage crosses the compaction threshold and the session compacts. During the next
turn the writer is stopped half-way through its write and killed with SIGKILL, leaving a
torn line on disk. Then this process opens the file with
:meth:`SessionCoordinator.open_existing`, which cuts only the torn tail, replays the file and
reports what it found; we print the context an agent would send next, the usage, the cost
(with the pricing version) and the recovery report, and go on with one more turn.

Run as ``python -m sessionspec.demo.coordinator --writer DIR`` the module is the writer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from sessionspec.compaction import CompactionConfig
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage.files import FileHandle, OsFileSystem

__all__ = ["run"]

SESSION_ID = "demo-coordinator"
MODEL = "anthropic:claude-sonnet-4"
CLOCK = 1_795_000_000.0
CONFIG = CompactionConfig(threshold_tokens=20_000)
#: A credential the agent passes to its tool: a secret, so the default policy redacts it in
#: the file and in memory alike (COORD-017); the command next to it is kept.
TOKEN = "ghp_demo0123456789abcdefghijklmnop"
#: One provider call's usage per turn; three turns cross the 20,000-token threshold.
USAGE = {"input_tokens": 6_000, "output_tokens": 900, "cache_read_tokens": 2_000}

SCRIPT: list[tuple[str, str, str, str]] = [
    # (user request, tool command, tool output, final answer)
    (
        "Why does the nightly build fail?",
        "grep -R ERROR /var/log/build/nightly.log",
        "ERROR: test_resume timed out after 30 s",
        "The resume test times out; the fixture waits on a lock that is never released.",
    ),
    (
        "Show me the fixture.",
        "sed -n 1,40p tests/conftest.py",
        "def session(tmp_path): ... lock = acquire(tmp_path) ...",
        "The fixture acquires the lock but its teardown never calls release().",
    ),
    (
        "Fix it and run the test again.",
        "pytest tests/test_resume.py -q",
        "1 passed in 0.41s",
        "Fixed: the teardown now releases the lock, and the test passes.",
    ),
    (
        "Open a pull request with the fix.",
        "gh pr create --title 'Release the session lock in teardown'",
        "https://example.invalid/pr/42",
        "Pull request 42 is open.",
    ),
    (
        "Now check the other fixtures for the same mistake.",
        "grep -n 'acquire(' -r tests/",
        "tests/conftest.py:12, tests/helpers.py:33",
        "helpers.py has the same pattern; I will fix it next.",
    ),
]


def _turn(number: int, request: str, command: str, output: str, answer: str) -> list[Any]:
    call_id = f"call-{number}"
    return [
        {"role": "user", "content": [{"type": "text", "text": request}], "timestamp_ms": number},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_call",
                    "tool_call": {
                        "id": call_id,
                        "name": "shell",
                        "arguments": json.dumps({"command": command, "github_token": TOKEN}),
                    },
                },
            ],
            "api": "Anthropic",
            "provider": "anthropic",
            "model": "claude-sonnet-4",
            "usage": {"input_tokens": 3_000, "output_tokens": 400},
            "stop_reason": "tool_use",
            "timestamp_ms": number,
        },
        {
            "role": "tool_result",
            "tool_call_id": call_id,
            "tool_name": "shell",
            "content": [{"type": "text", "text": output}],
            "details": {"cwd": "/home/demo/project", "exit_code": 0},
            "is_error": False,
            "timestamp_ms": number,
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": answer}],
            "api": "Anthropic",
            "provider": "anthropic",
            # The fix (turn 3) is written by a stronger model: priced at its own rate.
            "model": "claude-opus-4-5-20251101" if number == 3 else "claude-sonnet-4",
            "usage": {"input_tokens": 3_000, "output_tokens": 500},
            "stop_reason": "stop",
            "timestamp_ms": number,
        },
    ]


# -- the writer process ------------------------------------------------------------------


class _StallingFs(OsFileSystem):
    """The real file system, except that once armed, a write stores half its bytes and then
    stalls: the parent kills the process while the turn is half on disk."""

    armed = False

    def open_rw(self, path: str) -> FileHandle:
        return _StallingHandle(super().open_rw(path), self)

    def create_exclusive(self, path: str) -> FileHandle:
        return _StallingHandle(super().create_exclusive(path), self)


class _StallingHandle:
    def __init__(self, inner: FileHandle, fs: _StallingFs) -> None:
        self._inner = inner
        self._fs = fs

    def size(self) -> int:
        return self._inner.size()

    def pwrite(self, data: bytes, offset: int) -> None:
        if not self._fs.armed:
            self._inner.pwrite(data, offset)
            return
        self._inner.pwrite(data[: len(data) // 2], offset)
        _say({"event": "stalled", "written": len(data) // 2, "of": len(data)})
        time.sleep(60)

    def fsync(self) -> None:
        self._inner.fsync()

    def truncate(self, size: int) -> None:
        self._inner.truncate(size)

    def read_all(self) -> bytes:
        return self._inner.read_all()

    def named_size(self, path: str) -> int | None:
        return self._inner.named_size(path)

    def close(self) -> None:
        self._inner.close()


def _say(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _writer(directory: str) -> None:
    fs = _StallingFs()
    coordinator = SessionCoordinator.new(
        directory, "/home/demo/project", CONFIG, MODEL, session_id=SESSION_ID, fs=fs,
        clock=lambda: CLOCK,
    )
    _say({"event": "created", "path": coordinator.session_path})
    for number, (request, command, output, answer) in enumerate(SCRIPT[:4], start=1):
        reason = coordinator.on_turn_end(_turn(number, request, command, output, answer), USAGE)
        _say({"event": "turn", "number": number, "reason": reason and reason.value,
              "tip": coordinator.active_tip})
        if reason is not None:
            result = coordinator.execute_compaction(reason)
            assert result is not None
            _say({"event": "compaction", "entry": result.entry_id,
                  "first_kept": result.first_kept_entry_id,
                  "before": result.tokens_before, "after": result.tokens_after})
    fs.armed = True
    request, command, output, answer = SCRIPT[4]
    _say({"event": "writing", "number": 5})
    coordinator.on_turn_end(_turn(5, request, command, output, answer), USAGE)
    _say({"event": "turn", "number": 5, "reason": None})  # never reached: killed mid-write


# -- the story -----------------------------------------------------------------------------


def _describe(item: dict[str, Any]) -> str:
    if item.get("type") == "compaction_summary":
        return f"summary of {item['compaction_entry_id']}: {item['summary'][:70]}..."
    role = item["role"]
    parts = []
    for block in item["content"]:
        if block["type"] == "text":
            parts.append(block["text"])
        elif block["type"] == "tool_call":
            parts.append(f"[calls {block['tool_call']['name']}]")
    return f"{role}: {' '.join(parts)[:80]}"


def run(workdir: Path, out: TextIO) -> None:
    directory = workdir / "coordinator"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{SESSION_ID}.jsonl"
    if path.exists():
        path.unlink()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]
    )
    writer = subprocess.Popen(
        [sys.executable, "-m", "sessionspec.demo.coordinator", "--writer", str(directory)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert writer.stdout is not None
    print(f"   writer process {writer.pid} runs a scripted session with tool calls", file=out)
    try:
        for line in writer.stdout:
            event = json.loads(line)
            kind = event["event"]
            if kind == "turn":
                due = " -> compaction due" if event["reason"] else ""
                print(f"   turn {event['number']} acknowledged (one batch, one fsync){due}",
                      file=out)
            elif kind == "compaction":
                print(
                    f"   compacted: {event['entry']} keeps from {event['first_kept']} "
                    f"(~{event['before']} -> ~{event['after']} estimated tokens)",
                    file=out,
                )
            elif kind == "stalled":
                print(f"   turn 5: {event['written']} of {event['of']} bytes written... "
                      f"SIGKILL", file=out)
                writer.send_signal(signal.SIGKILL)
                break
    finally:
        writer.wait(timeout=30)
    print(f"   writer exit status {writer.returncode} (killed mid-write)", file=out)

    # No model and no compaction config: both are read from the file (COORD-027).
    coordinator = SessionCoordinator.open_existing(path, clock=lambda: CLOCK)
    report = coordinator.recovery
    print("   resumed from the file; recovery found:", file=out)
    for diagnostic in report.diagnostics():
        print(f"     - {diagnostic.code}: {diagnostic.message}", file=out)
    if report.clean:
        print("     - nothing: the kill landed between turns", file=out)
    print(f"   context an agent sends next ({len(coordinator.context())} items):", file=out)
    for item in coordinator.context():
        print(f"     {_describe(item)}", file=out)
    usage = coordinator.usage
    print(
        f"   usage: {usage.turns} turns, input {usage.input_tokens:,}, output "
        f"{usage.output_tokens:,}, cache read {usage.cache_read_tokens:,}; watermark "
        f"{coordinator.compaction_watermark:,}; state {coordinator.state.value}",
        file=out,
    )
    settings = coordinator.settings
    print(f"   settings read from the file: model {settings.model}, compaction at "
          f"{settings.compaction.threshold_tokens:,} tokens "
          f"({settings.compaction.trigger.value})", file=out)
    cost = coordinator.cost_summary()
    if cost is not None:
        print(f"   cost: ${cost.total:.4f} (prices {cost.pricing_version})", file=out)
        for part in cost.by_model:
            print(f"     {part.model}: ${part.total:.4f}", file=out)
    on_disk = path.read_text()
    in_memory = json.dumps(coordinator.context())
    hidden = TOKEN not in on_disk and TOKEN not in in_memory
    kept = "grep -R ERROR /var/log/build" in on_disk and "gh pr create" in in_memory
    print(f"   tool-call secrets redacted: {hidden} (in the file and in memory alike); "
          f"commands kept: {kept}", file=out)
    request, command, output, answer = SCRIPT[4]
    coordinator.on_turn_end(_turn(5, request, command, output, answer), USAGE)
    print(f"   turn 5 retried after the resume: tip {coordinator.active_tip}, "
          f"next id number {coordinator.next_seq}", file=out)
    coordinator.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--writer":
        _writer(sys.argv[2])
    else:
        print("usage: python -m sessionspec.demo.coordinator --writer DIR", file=sys.stderr)
        sys.exit(2)
