"""The conversation and ledger machines through the driver protocol (CONF-120..CONF-125).

In process, over ``module:factory`` and over the stdio harness: the runtime passes, the
stdio run reaches the in-process verdicts with the same seed, planted bugs are found by
requirement id (and a saved counterexample replays), a harness without the capability gets
the machine skipped (the shipped cases: ``test_script_cases.py``).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
from tests.conversation.conv_factories import SharedListFork

from sessionspec.cli import main
from sessionspec.conformance.adapters import Connection, InProcessConnection, connect
from sessionspec.conformance.cases import load_case, replay_case, save_case
from sessionspec.conformance.harness import (
    PythonHarness,
    PythonImplementation,
    runtime_implementation,
)
from sessionspec.conformance.runner import Budget, Report, run_conformance

HARNESS = [sys.executable, "-m", "sessionspec.conformance.harness", "--storage", "sim"]
MACHINES = ("conversation", "ledger")
BUDGET = Budget(examples=15, steps=15)
HUNT = Budget(examples=100, steps=20, shrink_seconds=0.5, max_failures=1)
PLANTED = "tests.conversation.conv_factories:shared_list_fork"
USER = {"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp_ms": 1}


def _rows(report: Report) -> list[tuple[str, str]]:
    return [(rid, status) for rid, status, _, _ in report.requirement_rows()]


def _stdio() -> Connection:
    return connect(" ".join(HARNESS))


@pytest.mark.req("CONF-126", "CONF-120", "CONF-125", "CONF-041", "CONF-030")
def test_stdio_harness_reaches_the_in_process_verdicts() -> None:
    in_process = run_conformance(
        connect("runtime"), adapter="runtime", machines=MACHINES, budget=BUDGET, seed=5
    )
    stdio = _stdio()
    try:
        over_stdio = run_conformance(
            stdio, adapter="stdio", machines=MACHINES, budget=BUDGET, seed=5
        )
    finally:
        stdio.close()
    assert in_process.passed, in_process.failures
    assert over_stdio.passed, over_stdio.failures
    assert [m.status for m in in_process.machines] == ["ran", "ran"]
    assert _rows(over_stdio) == _rows(in_process)
    assert [m.examples for m in over_stdio.machines] == [m.examples for m in in_process.machines]
    assert {"CONV-010", "CONV-030", "STATE-032", "STATE-033"} <= {r for r, _ in _rows(in_process)}


@pytest.mark.req("CONF-122", "CONF-124", "CONV-010", "CONF-040", "CONF-060")
def test_a_planted_bug_is_found_over_module_factory_with_its_requirement_alone() -> None:
    planted = connect(PLANTED)
    report = run_conformance(
        planted, adapter=PLANTED, machines=("conversation",), budget=HUNT, seed=0
    )
    assert [f.requirement for f in report.failures] == ["CONV-010"], report.failures
    failure = report.failures[0]
    assert failure.steps[0] == {"op": "start"} and any(s["op"] == "fork" for s in failure.steps)


@pytest.mark.req("CONF-124", "CONF-062", "CONV-010")
def test_a_saved_conversation_counterexample_replays(tmp_path: Path) -> None:
    report = run_conformance(
        connect(PLANTED), adapter=PLANTED, machines=("conversation",), budget=HUNT, seed=0
    )
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
    planted = InProcessConnection(
        PythonHarness(runtime_implementation(conversation_cls=SharedListFork))
    )
    on_bug = replay_case(case, planted)
    assert on_bug.status == "failed"
    assert "CONV-010" in [rid for rid, _ in on_bug.failures]
    assert replay_case(case, connect("runtime")).status == "passed"
    stdio = _stdio()
    try:
        assert replay_case(case, stdio).status == "passed"
    finally:
        stdio.close()


@pytest.mark.req("CONF-020", "CONF-126", "CONF-120", "CONF-125")
def test_a_harness_without_the_capability_gets_the_machine_skipped() -> None:
    runtime = runtime_implementation()
    bare = PythonImplementation(
        name="coordinator only", version="1", coordinator=runtime.coordinator
    )
    report = run_conformance(
        InProcessConnection(PythonHarness(bare)), adapter="bare", machines=MACHINES, budget=BUDGET
    )
    assert [(m.machine, m.status) for m in report.machines] == [
        ("conversation", "skipped"),
        ("ledger", "skipped"),
    ]
    assert all("does not declare" in m.reason for m in report.machines)
    assert report.passed and report.round_trips == 0
    # A declared capability can be withheld: the same answer.
    withheld = dataclasses.replace(runtime, withhold=frozenset({"ledger"}))
    connection = InProcessConnection(PythonHarness(withheld))
    assert connection.call("ledger.new", handle="l").ok  # the harness could; it does not say
    report = run_conformance(connection, adapter="withheld", machines=("ledger",), budget=BUDGET)
    assert report.machines[0].status == "skipped"


@pytest.mark.req("CONF-126", "CONF-120", "CONF-050", "CONF-124")
def test_conform_cli_runs_the_new_machines_and_finds_the_planted_bug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "conform",
            "--adapter",
            "runtime",
            "--machine",
            "conversation",
            "--machine",
            "ledger",
            "--examples",
            "5",
            "--steps",
            "8",
            "--no-progress",
            "--report-json",
            str(tmp_path / "ok.json"),
        ]
    )
    assert status == 0
    data = json.loads((tmp_path / "ok.json").read_text())
    assert [m["machine"] for m in data["machines"]] == ["conversation", "ledger"]
    status = main(
        [
            "conform",
            "--adapter",
            PLANTED,
            "--machine",
            "conversation",
            "--examples",
            "30",
            "--steps",
            "20",
            "--shrink-seconds",
            "0.5",
            "--no-progress",
            "--save-case",
            str(tmp_path / "saved"),
            "--report-json",
            str(tmp_path / "bug.json"),
        ]
    )
    assert status == 1
    bug = json.loads((tmp_path / "bug.json").read_text())
    assert "CONV-010" in {f["requirement"] for f in bug["failures"]}
    assert list((tmp_path / "saved" / "conversation").glob("conv-010-*.json"))
    capsys.readouterr()


@pytest.mark.req("CONF-121", "CONF-125", "CONV-030", "STATE-032", "STATE-033")
def test_typed_rejections_over_the_protocol() -> None:
    connection = connect("runtime")
    assert connection.call("conversation.new", handle="c").ok
    assert connection.call("conversation.push", handle="c", message=USER).ok
    stale = connection.call(
        "conversation.rewrite",
        handle="c",
        start=0,
        end=1,
        replacement=[],
        expected_parent_revision="sha256:" + "0" * 64,
    )
    assert stale.error_type == "revision_conflict"
    out_of_range = connection.call(
        "conversation.rewrite", handle="c", start=0, end=5, replacement=[]
    )
    assert out_of_range.error_type == "invalid_rewrite_range"
    bad = connection.call("conversation.push", handle="c", message={"role": "system"})
    assert bad.error_type == "caller_error"
    assert connection.call("conversation.observe", handle="nope").error_type == "not_found"
    assert (
        connection.call("conversation.fork_at", handle="c", into="f", index=-1).error_type
        == "message_index_out_of_bounds"
    )
    for handle in ("a", "b"):
        assert connection.call("ledger.new", handle=handle).ok
    usage = {"input_tokens": 3}
    first = connection.call(
        "ledger.record", handle="a", source="turn", model="m:x", usage=usage, request_id="r1"
    )
    again = connection.call(
        "ledger.record", handle="a", source="turn", model="m:x", usage=usage, request_id="r1"
    )
    assert (first.result, again.result) == ({"counted": True}, {"counted": False})
    conflict = connection.call(
        "ledger.record",
        handle="a",
        source="turn",
        model="m:x",
        usage={"input_tokens": 4},
        request_id="r1",
    )
    assert conflict.error_type == "ledger_conflict"
    decrease = connection.call("ledger.diff", before="a", after="b", into="d")
    assert decrease.error_type == "ledger_decrease"
    connection.close()
