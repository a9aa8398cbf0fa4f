"""The protocol proves itself: our runtime over stdio passes what the in-process run passes.

Also process death (SIGKILL inside operations, named crash points) and the round trips per
second of the stdio transport (printed; the figure is in the issue's note).
"""

from __future__ import annotations

import random
import sys
import time

import pytest

from sessionspec.conformance.adapters import SubprocessConnection, connect
from sessionspec.conformance.cases import iter_case_files, load_case, replay_case
from sessionspec.conformance.runner import Budget, run_conformance

HARNESS = [sys.executable, "-m", "sessionspec.conformance.harness"]
CONFIG = {"enabled": True, "threshold_tokens": 500, "policy": "count_tail"}
USER = {"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp_ms": 1}
BUDGET = Budget(examples=12, steps=15)


def _rows(report: object) -> list[tuple[str, str]]:
    return [(rid, status) for rid, status, _, _ in report.requirement_rows()]  # type: ignore[attr-defined]


@pytest.mark.req(
    "CONF-041", "CONF-040", "CONF-030", "CONF-032", "CONF-001", "CONF-002", "CONF-003",
    "CONF-004", "CONF-005", "CONF-006", "CONF-007", "CONF-010", "CONF-012", "CONF-013",
    "COORD-021", "COORD-022", "COORD-023",
)
def test_stdio_harness_passes_what_the_in_process_run_passes() -> None:
    in_process = run_conformance(connect("runtime"), adapter="runtime", budget=BUDGET, seed=7)
    stdio = SubprocessConnection([*HARNESS, "--storage", "sim"])
    try:
        over_stdio = run_conformance(stdio, adapter="stdio", budget=BUDGET, seed=7)
    finally:
        stdio.close()
    assert in_process.passed, in_process.failures
    assert over_stdio.passed, over_stdio.failures
    assert over_stdio.capabilities == in_process.capabilities
    # The same seed drives the same examples: the same requirements are exercised.
    assert _rows(over_stdio) == _rows(in_process)
    assert [m.examples for m in over_stdio.machines] == [m.examples for m in in_process.machines]


@pytest.mark.req("CONF-041", "CONF-073", "CONF-074")
def test_stdio_harness_passes_every_shipped_case() -> None:
    stdio = SubprocessConnection([*HARNESS, "--storage", "sim"])
    try:
        results = [replay_case(load_case(p), stdio, path=str(p)) for p in iter_case_files()]
    finally:
        stdio.close()
    assert results
    assert {r.status for r in results} <= {"passed", "skipped"}, [
        r for r in results if r.status not in ("passed", "skipped")
    ]
    assert all(r.machine == "log" for r in results if r.status == "skipped")


@pytest.mark.slow
@pytest.mark.req("CONF-010", "CONF-033", "RT-041")
def test_process_death_on_real_files() -> None:
    """SIGKILL at random instants and at named points; each reopen is before or after."""
    connection = SubprocessConnection(HARNESS)
    try:
        assert "crash.kill" in connection.capabilities
        assert "after_write_before_fsync" in connection.crash_points
        report = run_conformance(
            connection, adapter="stdio-real", machines=("coordinator", "realtime-durable"),
            budget=Budget(examples=4, steps=12), seed=3,
        )
        assert report.passed, report.failures
        assert connection.restarts > 0
    finally:
        connection.close()


@pytest.mark.req("CONF-033")
def test_a_named_crash_point_stops_the_harness_where_announced() -> None:
    connection = SubprocessConnection(HARNESS)
    try:
        assert connection.call("coordinator.new", handle="main", session_id="s",
                               config=CONFIG, model="m").ok
        reply = connection.kill_during(
            "coordinator.turn_end", {"handle": "main", "messages": [USER], "usage": {}},
            random.Random(0), point="after_write_before_fsync",
        )
        assert reply is None  # killed at the point, before any answer
        assert connection.call("coordinator.open", handle="main", session_id="s",
                               config=CONFIG, model="m").ok
        turns = connection.call("coordinator.observe", handle="main").result["turns"]
        assert turns in (0, 1)  # written but not fsynced: the page cache kept it or not
    finally:
        connection.close()


@pytest.mark.req("CONF-090")
def test_round_trips_per_second_over_stdio(capsys: pytest.CaptureFixture[str]) -> None:
    connection = SubprocessConnection([*HARNESS, "--storage", "sim"])
    try:
        assert connection.call("coordinator.new", handle="main", session_id="s",
                               config=CONFIG, model="m").ok
        n = 2000
        started = time.perf_counter()
        for _ in range(n):
            connection.call("coordinator.observe", handle="main")
        rate = n / (time.perf_counter() - started)
    finally:
        connection.close()
    with capsys.disabled():
        print(f"\nprotocol round trips over stdio: {rate:,.0f}/s (coordinator.observe)")
    assert rate > 200, f"{rate:.0f} round trips per second"
