"""The state and recorder machines through the driver protocol (CONF-140..CONF-143).

In process, over the stdio harness (the same verdicts with the same seed), with a planted bug
found through ``module:factory`` by its requirement id, and skipped (with the reason) for a
harness that does not declare a machine's capability.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path

import pytest

from sessionspec.cli import main
from sessionspec.conformance import recorder_events as build
from sessionspec.conformance.adapters import InProcessConnection, SubprocessConnection, connect
from sessionspec.conformance.cases import load_case, replay_case, save_case
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.conformance.runner import Budget, Report, run_conformance

HARNESS = [sys.executable, "-m", "sessionspec.conformance.harness"]
MACHINES = ("state", "recorder", "recorder-durable")
BUDGET = Budget(examples=8, steps=12)


def _rows(report: Report) -> list[tuple[str, str]]:
    return [(rid, status) for rid, status, _, _ in report.requirement_rows()]


@pytest.mark.req("CONF-140", "CONF-142", "CONF-143", "CONF-041", "STATE-011", "REC-071")
def test_in_process_and_stdio_reach_the_same_verdicts() -> None:
    """Our runtime passes in process and over stdio, exercising the same requirements."""
    in_process = run_conformance(
        connect("runtime"), adapter="runtime", machines=MACHINES, budget=BUDGET, seed=4
    )
    stdio = SubprocessConnection([*HARNESS, "--storage", "sim"])
    try:
        over_stdio = run_conformance(
            stdio, adapter="stdio", machines=MACHINES, budget=BUDGET, seed=4
        )
    finally:
        stdio.close()
    assert in_process.passed, in_process.failures
    assert over_stdio.passed, over_stdio.failures
    assert [m.status for m in in_process.machines] == ["ran"] * 3
    assert _rows(over_stdio) == _rows(in_process)
    assert [m.examples for m in over_stdio.machines] == [m.examples for m in in_process.machines]
    exercised = {rid for rid, status in _rows(in_process) if status == "passed"}
    assert {"STATE-011", "REC-071", "CONF-141", "STATE-012", "REC-022"} <= exercised


@pytest.mark.req("CONF-060", "CONF-040", "REC-014", "CONF-141")
def test_a_planted_bug_is_found_through_module_factory_by_its_requirement() -> None:
    connection = connect("tests.conformance.planted:overwriting_recorder")
    try:
        report = run_conformance(
            connection,
            adapter="planted",
            machines=("recorder",),
            budget=Budget(examples=60, steps=20, max_failures=1, shrink_seconds=1.0),
            seed=7,
        )
    finally:
        connection.close()
    assert "REC-014" in {f.requirement for f in report.failures}, report.failures
    failure = next(f for f in report.failures if f.requirement == "REC-014")
    assert failure.kind == "failed" and failure.steps


@pytest.mark.req("CONF-020", "CONF-143")
def test_a_harness_without_the_capability_has_the_machine_skipped() -> None:
    withheld = dataclasses.replace(
        runtime_implementation(), withhold=frozenset({"state", "recorder.durable"})
    )
    connection = InProcessConnection(PythonHarness(withheld, storage="sim"))
    try:
        report = run_conformance(
            connection, adapter="withheld", machines=MACHINES, budget=Budget(examples=3, steps=8)
        )
    finally:
        connection.close()
    status = {m.machine: (m.status, m.reason) for m in report.machines}
    assert status["state"] == ("skipped", "the harness does not declare 'state'")
    assert status["recorder"][0] == "ran"
    assert status["recorder-durable"][0] == "skipped"
    assert "recorder.durable" in status["recorder-durable"][1]
    rows = {rid: (state, detail) for rid, state, _, detail in report.requirement_rows()}
    assert rows["REC-071"] == ("skipped", "needs capability recorder.durable")
    assert report.passed


@pytest.mark.req("CONF-141", "STATE-010")
def test_typed_refusals_of_the_state_and_recorder_commands() -> None:
    connection = connect("runtime")
    try:
        assert connection.call("state.open", handle="s", store="typed").ok
        assert connection.call(
            "state.commit", handle="s", session_id="a", state={}, expected_head_revision=0
        ).ok
        stale = connection.call(
            "state.commit", handle="s", session_id="a", state={}, expected_head_revision=3
        )
        assert stale.status == "rejected" and stale.error is not None
        assert stale.error_type == "head_revision_conflict"
        assert (stale.error["expected_head_revision"], stale.error["actual_head_revision"]) == (
            3,
            1,
        )
        assert connection.call("recorder.new", handle="r").ok
        start = build.agent_start("s.a.1", "s")
        assert connection.call("recorder.on_event", handle="r", event=start).result == {
            "recorded": True
        }
        again = connection.call("recorder.on_event", handle="r", event=start)
        assert again.error_type == "duplicate_loop"
        bad = connection.call("recorder.on_event", handle="r", event={"type": "Nope"})
        assert bad.error_type == "invalid_event"
        dropped = connection.call("recorder.on_event", handle="r", event=build.turn_start("x.a.1"))
        assert dropped.ok and dropped.result == {"recorded": False, "reason": "loop_not_running"}
    finally:
        connection.close()


@pytest.mark.req("CONF-040", "CONF-050", "CONF-140")
@pytest.mark.parametrize("adapter", ["runtime", "module", "stdio"])
def test_conform_machine_state_through_every_adapter(adapter: str, tmp_path: Path) -> None:
    """``sessionspec conform --machine state`` in process, via module:factory and over stdio."""
    spec = {
        "runtime": "runtime",
        "module": "sessionspec.conformance.harness:runtime_implementation",
        "stdio": shlex.join([*HARNESS, "--storage", "sim"]),
    }[adapter]
    report = tmp_path / "r.json"
    status = main(
        [
            "conform",
            "--adapter",
            spec,
            "--machine",
            "state",
            "--examples",
            "4",
            "--steps",
            "8",
            "--quiet",
            "--report-json",
            str(report),
        ]
    )
    assert status == 0
    data = json.loads(report.read_text())
    assert [(m["machine"], m["status"]) for m in data["machines"]] == [("state", "ran")]
    rows = {r["id"]: r["status"] for r in data["requirements"]}
    assert rows["STATE-010"] == "passed" and rows["STATE-014"] == "passed"


@pytest.mark.req("CONF-062", "CONF-070", "CONF-073", "CONF-140", "CONF-142")
@pytest.mark.parametrize(
    ("machine", "planted"), [("state", "last_writer_wins"), ("recorder", "overwriting_recorder")]
)
def test_a_saved_failure_replays_as_a_case(machine: str, planted: str, tmp_path: Path) -> None:
    """A counterexample is saved as a case that fails on the bug and passes on the runtime."""
    adapter = f"tests.conformance.planted:{planted}"
    connection = connect(adapter)
    try:
        report = run_conformance(
            connection,
            adapter=adapter,
            machines=(machine,),
            budget=Budget(examples=60, steps=20, max_failures=1, shrink_seconds=1.0),
            seed=7,
        )
    finally:
        connection.close()
    assert report.failures
    failure = report.failures[0]
    path = save_case(
        tmp_path,
        machine=failure.machine,
        requirement=failure.requirement,
        message=failure.message,
        steps=failure.steps,
        implementation=report.implementation,
    )
    case = load_case(path)
    assert case.machine == machine
    on_bug = connect(adapter)
    try:
        assert replay_case(case, on_bug).status == "failed"
    finally:
        on_bug.close()
    on_runtime = connect("runtime")
    try:
        assert replay_case(case, on_runtime).status == "passed"
    finally:
        on_runtime.close()


@pytest.mark.slow
@pytest.mark.req("CONF-143", "CONF-033", "STATE-011", "REC-071")
def test_process_death_on_real_files() -> None:
    """SIGKILL between operations and inside state commits, on real files (10-20 s: each kill
    restarts a Python process, about half a second each)."""
    connection = SubprocessConnection(HARNESS)
    try:
        assert {"crash.kill", "state.durable", "recorder.durable"} <= connection.capabilities
        report = run_conformance(
            connection,
            adapter="stdio-real",
            machines=("state", "recorder-durable"),
            budget=Budget(examples=2, steps=8),
            seed=2,
        )
        assert report.passed, report.failures
        assert connection.restarts > 0
        exercised = {rid for rid, status, _, _ in report.requirement_rows() if status == "passed"}
        assert "STATE-011" in exercised
    finally:
        connection.close()
