"""pi's harness by hand: JSON-lines exchanges checked against the protocol models.

These tests drive statemachine/harnesses/pi/harness.mjs directly (no runner), so a broken
harness is told apart from a deviation of pi: every response must be valid protocol, the
codec must carry our messages to pi and back unchanged, and what the harness shows must be
what pi's own API says (the file pi wrote is read here only to confirm that).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conformance.peers.pi_install import pi_harness_or_skip

from sessionspec.conformance.protocol import (
    PROTOCOL_VERSION,
    RESPONSE_ADAPTER,
    CoordinatorObservation,
    StartResult,
)

pytestmark = [pytest.mark.slow, pytest.mark.req("CONF-101")]

CONFIG = {"enabled": True, "threshold_tokens": 1000, "policy": "token_budget", "keep_tokens": 6}


class Harness:
    """A JSON-lines client of one harness process."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.seq = 0

    def send(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"seq": self.seq, "cmd": cmd, "args": args}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the harness died: {self.stderr()}"
        response: dict[str, Any] = json.loads(line)
        RESPONSE_ADAPTER.validate_python(response)  # every answer is valid protocol
        assert response["seq"] == self.seq
        self.seq += 1
        return response

    def ok(self, cmd: str, **args: Any) -> dict[str, Any]:
        response = self.send(cmd, **args)
        assert response["status"] == "ok", response
        result: dict[str, Any] = response["result"]
        return result

    def stderr(self) -> str:
        self.process.kill()
        _, err = self.process.communicate(timeout=10)
        return err

    def stop(self) -> None:
        self.ok("stop")
        assert self.process.wait(timeout=10) == 0


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    command, env = pi_harness_or_skip()
    client = Harness(command, env)
    start = client.ok("start", version=PROTOCOL_VERSION, workdir=str(tmp_path / "work"))
    StartResult.model_validate(start)
    yield client
    if client.process.poll() is None:
        client.stop()


def user(text: str, ts: int = 1) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "timestamp_ms": ts}


def assistant(content: list[dict[str, Any]], stop: str = "stop") -> dict[str, Any]:
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
            "cache_read_tokens": 1,
            "cache_write_tokens": 2,
        },
        "stop_reason": stop,
        "error_message": None,
        "timestamp_ms": 2,
    }


def tool_turn() -> list[dict[str, Any]]:
    call = {
        "type": "tool_call",
        "tool_call": {"id": "call-1", "name": "shell", "arguments": '{"command":"ls"}'},
    }
    return [
        user("list the files"),
        assistant([{"type": "text", "text": "calling"}, call], stop="tool_use"),
        {
            "role": "tool_result",
            "tool_call_id": "call-1",
            "tool_name": "shell",
            "content": [{"type": "text", "text": "a b"}],
            "details": {"exit": 0},
            "is_error": False,
            "truncated": False,
            "timestamp_ms": 3,
        },
        assistant([{"type": "thinking", "thinking": "done"}, {"type": "text", "text": "a, b"}]),
    ]


def new(h: Harness, session: str = "s1", handle: str = "main") -> None:
    assert h.ok(
        "coordinator.new",
        handle=handle,
        session_id=session,
        config=CONFIG,
        model="anthropic:claude-sonnet-4",
    ) == {"session_id": session}


def observe(h: Harness, handle: str = "main") -> dict[str, Any]:
    result = h.ok("coordinator.observe", handle=handle)
    CoordinatorObservation.model_validate(result)
    return result


def test_start_declares_pi_and_its_capabilities(tmp_path: Path) -> None:
    again = Harness(*pi_harness_or_skip())
    try:
        start = again.ok("start", version=PROTOCOL_VERSION, workdir=str(tmp_path))
        assert start["implementation"]["version"] == "0.73.1"
        assert start["implementation"]["language"] == "javascript"
        assert "coordinator" in start["capabilities"]
        # pi does not write our format, fix our ids or run on our simulated storage.
        for absent in (
            "coordinator.format",
            "coordinator.ids",
            "storage.simulated",
            "coordinator.compaction",
            "realtime",
        ):
            assert absent not in start["capabilities"]
    finally:
        again.stop()


def test_a_wrong_protocol_version_is_a_caller_error(tmp_path: Path) -> None:
    h = Harness(*pi_harness_or_skip())
    response = h.send("start", version=PROTOCOL_VERSION + 1, workdir=str(tmp_path))
    assert response["status"] == "rejected"
    assert response["error"]["type"] == "caller_error"
    h.stop()


def test_messages_travel_to_pi_and_back_unchanged(harness: Harness) -> None:
    new(harness)
    messages = tool_turn()
    assert harness.ok(
        "coordinator.turn_end", handle="main", messages=messages, usage={"input_tokens": 7}
    ) == {"compaction_due": None}
    seen = observe(harness)
    assert seen["context"] == messages
    assert len(set(seen["ids"])) == 4 and seen["tip"] == seen["ids"][-1]
    # pi's statistics: assistant usage and user messages of the context.
    assert seen["usage"] == {
        "input_tokens": 20,
        "output_tokens": 10,
        "cache_read_tokens": 2,
        "cache_write_tokens": 4,
    }
    assert seen["turns"] == 1


def test_the_file_is_pis_own(harness: Harness, tmp_path: Path) -> None:
    new(harness)
    harness.ok("coordinator.turn_end", handle="main", messages=tool_turn(), usage={})
    (path,) = (tmp_path / "work" / "sessions" / "s1").glob("*.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["type"] == "session" and lines[0]["version"] == 3 and lines[0]["id"] == "s1"
    assert [e["message"]["role"] for e in lines[1:]] == [
        "user",
        "assistant",
        "toolResult",
        "assistant",
    ]
    assert lines[2]["message"]["content"][1] == {
        "type": "toolCall",
        "id": "call-1",
        "name": "shell",
        "arguments": {"command": "ls"},
    }


def test_reopen_is_pis_resume(harness: Harness) -> None:
    new(harness)
    harness.ok("coordinator.turn_end", handle="main", messages=tool_turn(), usage={})
    before = observe(harness)
    harness.ok("coordinator.close", handle="main")
    assert harness.ok(
        "coordinator.open", handle="again", session_id="s1", config=CONFIG, model="m"
    ) == {"recovery": []}
    assert observe(harness, "again") == before


def test_a_turn_without_an_assistant_is_not_written_yet(harness: Harness) -> None:
    """pi writes nothing before the first assistant message; the harness does not hide it."""
    new(harness)
    harness.ok("coordinator.turn_end", handle="main", messages=[user("hi")], usage={})
    assert [m["role"] for m in observe(harness)["context"]] == ["user"]
    harness.ok("coordinator.open", handle="again", session_id="s1", config=CONFIG, model="m")
    assert observe(harness, "again")["context"] == []


def test_branch_compaction_extension_state_and_fork(harness: Harness) -> None:
    new(harness)
    harness.ok("coordinator.turn_end", handle="main", messages=tool_turn(), usage={})
    harness.ok(
        "coordinator.turn_end",
        handle="main",
        messages=[
            user("second question, a longer one"),
            assistant([{"type": "text", "text": "a second answer that is long enough"}]),
        ],
        usage={},
    )
    first = observe(harness)["ids"]
    # Leaf moves are pi's branch(): the tip moves; an unknown id is a typed rejection.
    harness.ok("coordinator.append_leaf", handle="main", entry_id=first[1])
    assert observe(harness)["tip"] == first[1]
    refused = harness.send("coordinator.append_leaf", handle="main", entry_id="nope")
    assert refused["status"] == "rejected" and refused["error"]["type"] == "unknown_entry"
    harness.ok("coordinator.append_leaf", handle="main", entry_id=first[-1])
    # Compaction with pi's token-budget cut (keep_tokens from the config).
    outcome = harness.ok("coordinator.compact", handle="main", reason="manual")["compaction"]
    assert outcome is not None and outcome["first_kept_entry_id"] in first
    after = observe(harness)
    assert after["context"][0] == {
        "type": "compaction_summary",
        "compaction_entry_id": outcome["entry_id"],
        "summary": outcome["summary"],
    }
    assert after["ids"][0] == f"{outcome['entry_id']}/summary"
    kept = first[first.index(outcome["first_kept_entry_id"]) :]
    assert after["ids"][1:] == kept
    # Extension state is pi's custom entry.
    state = harness.ok("coordinator.append_extension_state", handle="main", value={"k": 1})
    assert isinstance(state["entry_id"], str)
    # A fork is a new session the runner can open; the source handle stays where it was.
    assert harness.ok("coordinator.fork", handle="main", session_id="f1") == {"session_id": "f1"}
    assert observe(harness) == after | {"tip": state["entry_id"]}
    harness.ok("coordinator.open", handle="fork", session_id="f1", config=CONFIG, model="m")
    assert observe(harness, "fork")["context"] == after["context"]


def test_a_fork_pi_refuses_leaves_no_fork(harness: Harness) -> None:
    new(harness)
    refused = harness.send("coordinator.fork", handle="main", session_id="f1")
    assert refused["status"] == "rejected" and refused["error"]["type"] == "caller_error"
    opened = harness.send("coordinator.open", handle="f", session_id="f1", config=CONFIG, model="m")
    assert opened["status"] == "rejected" and opened["error"]["type"] == "not_found"


def test_rejections_and_skips_are_typed(harness: Harness) -> None:
    new(harness)
    bad = harness.send(
        "coordinator.turn_end", handle="main", messages=[{"role": "wizard"}], usage={}
    )
    assert bad["status"] == "rejected" and bad["error"]["type"] == "caller_error"
    missing = harness.send(
        "coordinator.open", handle="x", session_id="nobody", config=CONFIG, model="m"
    )
    assert missing["status"] == "rejected" and missing["error"]["type"] == "not_found"
    for cmd in ("realtime.new", "coordinator.read_log", "sim.power_cut", "no.such"):
        assert harness.send(cmd)["status"] == "skipped"


def test_copy_serves_a_resumed_twin(harness: Harness) -> None:
    new(harness)
    harness.ok("coordinator.turn_end", handle="main", messages=tool_turn(), usage={})
    harness.ok("coordinator.copy", session_id="s1", to_session_id="s1-twin")
    harness.ok("coordinator.open", handle="twin", session_id="s1-twin", config=CONFIG, model="m")
    assert observe(harness, "twin") == observe(harness)
