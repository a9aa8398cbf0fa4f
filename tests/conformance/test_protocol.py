"""The driver protocol: messages, the handshake, typed errors, skipped and errored answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from tests.coordinator.coord_factories import runtime_connection

from sessionspec.conformance.adapters import HarnessError, InProcessConnection, Reply
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.conformance.protocol import (
    COMMANDS,
    PROTOCOL_SCHEMAS,
    PROTOCOL_VERSION,
    REQUEST_ADAPTER,
    RESPONSE_ADAPTER,
    Capability,
    ErrorType,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "spec" / "schema" / "protocol"
CONFIG = {"enabled": True, "threshold_tokens": 500, "policy": "count_tail"}
USER = {"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp_ms": 1}


def harness() -> PythonHarness:
    h = PythonHarness(runtime_implementation(), storage="sim")
    answer = h.handle({"seq": 0, "cmd": "start", "args": {"version": 1, "workdir": "/w"}})
    assert answer["status"] == "ok"
    return h


def call(h: PythonHarness, seq: int, cmd: str, **args: Any) -> dict[str, Any]:
    answer = h.handle({"seq": seq, "cmd": cmd, "args": args})
    RESPONSE_ADAPTER.validate_python(answer)
    assert answer["seq"] == seq
    return answer


@pytest.mark.req("CONF-030")
def test_every_command_has_a_published_request_and_result_schema() -> None:
    for name in COMMANDS:
        for part in ("request", "result"):
            path = SCHEMA_DIR / f"{name}.{part}.json"
            assert path.is_file(), path
            assert json.loads(path.read_text()) == PROTOCOL_SCHEMAS[f"{name}.{part}"].json_schema()
    assert (SCHEMA_DIR / "request.json").is_file() and (SCHEMA_DIR / "response.json").is_file()


@pytest.mark.req("CONF-030")
def test_requests_are_validated_by_their_command() -> None:
    ok = {"seq": 3, "cmd": "coordinator.compact", "args": {"handle": "main", "reason": "manual"}}
    assert REQUEST_ADAPTER.validate_python(ok).cmd == "coordinator.compact"
    with pytest.raises(ValidationError):
        REQUEST_ADAPTER.validate_python({**ok, "args": {"handle": "main", "reason": "later"}})
    with pytest.raises(ValidationError):
        REQUEST_ADAPTER.validate_python({**ok, "seq": -1})


@pytest.mark.req("CONF-030", "CONF-020")
def test_start_declares_implementation_and_capabilities() -> None:
    h = PythonHarness(runtime_implementation(), storage="sim")
    answer = h.handle({"seq": 0, "cmd": "start", "args": {"version": 1, "workdir": "/w"}})
    result = answer["result"]
    assert result["version"] == PROTOCOL_VERSION
    assert result["implementation"]["language"] == "python"
    assert set(result["capabilities"]) == {
        str(c) for c in Capability if c not in (Capability.CRASH_KILL, Capability.CRASH_POINTS)
    }
    real = PythonHarness(runtime_implementation(), storage="real")
    assert "crash.kill" in real.capabilities() and "storage.simulated" not in real.capabilities()


@pytest.mark.req("CONF-031")
def test_another_protocol_version_is_refused_and_unknown_commands_are_skipped() -> None:
    h = PythonHarness(runtime_implementation(), storage="sim")
    refused = h.handle({"seq": 0, "cmd": "start", "args": {"version": 99, "workdir": "/w"}})
    assert refused["status"] == "rejected" and refused["error"]["type"] == "caller_error"
    h = harness()
    skipped = call(h, 1, "nomachine.push")
    assert skipped["status"] == "skipped" and "unknown command" in skipped["reason"]


@pytest.mark.req("CONF-006", "COORD-001", "COORD-040")
def test_rejections_are_typed_by_class() -> None:
    h = harness()
    call(h, 1, "coordinator.new", handle="main", session_id="s", config=CONFIG, model="m")
    assert call(h, 2, "coordinator.turn_end", handle="main", messages=[USER],
                usage={})["status"] == "ok"
    unknown = call(h, 3, "coordinator.append_leaf", handle="main", entry_id="nope")
    assert unknown["error"]["type"] == ErrorType.UNKNOWN_ENTRY
    bad = call(h, 4, "coordinator.turn_end", handle="main", messages=[{"role": "x"}], usage={})
    assert bad["error"]["type"] == ErrorType.CALLER_ERROR
    call(h, 5, "coordinator.close", handle="main")
    closed = call(h, 6, "coordinator.turn_end", handle="main", messages=[USER], usage={})
    assert closed["error"]["type"] == ErrorType.ILLEGAL_TRANSITION
    assert closed["error"]["code"] == "closed"
    missing = call(h, 7, "coordinator.open", handle="x", session_id="none", config=CONFIG,
                   model="m")
    assert missing["error"]["type"] == ErrorType.NOT_FOUND


@pytest.mark.req("CONF-030")
def test_an_unexpected_exception_is_errored_with_context() -> None:
    h = harness()
    answer = call(h, 1, "coordinator.new", handle="main", session_id="s", config={}, model="m")
    assert answer["status"] == "errored"
    assert "KeyError" in answer["message"] and "traceback" in answer["context"]


@pytest.mark.req("CONF-030", "CONF-040")
def test_in_process_connection_checks_sequence_numbers() -> None:
    class WrongSeq:
        def handle(self, request: Any) -> dict[str, Any]:
            if request["cmd"] == "start":
                return {"seq": 0, "status": "ok", "result": {
                    "version": 1, "implementation": {"name": "x", "version": "0",
                                                     "language": "python"},
                    "capabilities": ["coordinator"]}}
            return {"seq": request["seq"] + 1, "status": "ok", "result": {}}

    connection = InProcessConnection(WrongSeq())
    with pytest.raises(HarnessError):
        connection.call("coordinator.observe", handle="main")


@pytest.mark.req("CONF-010", "CONF-030")
def test_a_simulated_crash_answers_crashed() -> None:
    connection = runtime_connection()
    assert connection.call("coordinator.new", handle="main", session_id="s", config=CONFIG,
                           model="m").ok
    connection.call("sim.arm_crash", nth=0)
    reply: Reply = connection.call("coordinator.turn_end", handle="main", messages=[USER],
                                   usage={})
    assert reply.status == "crashed"
    connection.call("sim.power_cut", seed=1)
    assert connection.call("coordinator.observe", handle="main").error_type == "not_found"
    opened = connection.call("coordinator.open", handle="main", session_id="s", config=CONFIG,
                             model="m")
    assert opened.ok
    assert connection.call("coordinator.observe", handle="main").result["turns"] in (0, 1)
