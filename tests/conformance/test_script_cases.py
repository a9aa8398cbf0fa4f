"""The hand-written cases of the conversation, ledger, state and recorder run through the
driver protocol (CONF-074): ``sessionspec conform --cases`` replays every one for any
implementation; a planted bug of each machine fails its case under the right requirement; a
case needing ``recorder.config`` is skipped by a harness without it (CONF-020).

Each script passes in process in its machine's own test file (``tests/conversation``,
``tests/state``, ``tests/recorder``: ``test_*_cases.py``) and over the stdio harness in
``test_stdio_harness.py::test_stdio_harness_passes_every_shipped_case`` (every shipped case,
one harness process; only the log's collections may be skipped there)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from sessionspec.cli import main
from sessionspec.conformance.adapters import InProcessConnection, connect
from sessionspec.conformance.cases import (
    LogCollection,
    ScriptCase,
    iter_case_files,
    load_case,
    replay_case,
)
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.conformance.protocol import Capability

CASE_ROOT = Path(__file__).resolve().parents[2] / "spec" / "cases"
SCRIPTED = ("conversation", "ledger", "state", "recorder")
#: Every case file of those directories: the scripts, and saved traces of planted bugs.
CASE_FILES = [
    p for p in iter_case_files(CASE_ROOT) if p.relative_to(CASE_ROOT).parts[0] in SCRIPTED
]


@pytest.mark.req("CONF-074", "CONF-073")
def test_every_scripted_directory_holds_cases_the_runner_lists() -> None:
    """Scripts in each directory, and nothing there the runner leaves out."""
    listed = {p.relative_to(CASE_ROOT).parts[0] for p in CASE_FILES}
    assert listed == set(SCRIPTED)
    on_disk = {p for d in SCRIPTED for p in (CASE_ROOT / d).glob("*.json")}
    assert set(CASE_FILES) == on_disk
    for directory in SCRIPTED:
        assert any(isinstance(load_case(p), ScriptCase) for p in CASE_FILES
                   if p.parent.name == directory), directory


@pytest.mark.req("CONF-074", "CONF-050")
def test_conform_cases_counts_the_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--adapter", "runtime", "--cases", "--quiet"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    assert passed >= len(CASE_FILES)
    assert "failed" not in summary and "errored" not in summary


PLANTED = [
    ("tests.conversation.conv_factories:shared_list_fork", "conversation/test_session_fork",
     "CONV-010"),
    ("tests.conformance.planted:counts_every_request",
     "ledger/token_ledger_counts_a_forked_request_once", "STATE-033"),
    ("tests.conformance.planted:last_writer_wins",
     "state/concurrent_head_revision_cas_applies_exactly_once", "STATE-012"),
    ("tests.conformance.planted:overwriting_recorder",
     "recorder/quirk_q3_running_loop_id_is_refused", "REC-014"),
]


@pytest.mark.parametrize(("adapter", "case", "requirement"), PLANTED,
                         ids=[c.split("/")[0] for _, c, _ in PLANTED])
@pytest.mark.req("CONF-074", "CONF-060", "CONV-010", "STATE-033", "STATE-012", "REC-014")
def test_a_planted_bug_fails_its_case_by_its_requirement(
    adapter: str, case: str, requirement: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = CASE_ROOT / f"{case}.json"
    assert main(["conform", "--adapter", adapter, "--case", str(path)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"FAILED {path}: [{requirement}]"), first


@pytest.mark.req("CONF-074", "CONF-020", "REC-017")
def test_a_harness_without_recorder_config_skips_the_configured_cases() -> None:
    """The harness's recorder has no ``configured`` factory: it does not declare
    ``recorder.config`` and would refuse a ``config``, which is sent only when it changes
    something (a case with defaults only still runs)."""
    runtime = runtime_implementation()
    assert runtime.recorder is not None
    unconfigurable = dataclasses.replace(
        runtime, recorder=dataclasses.replace(runtime.recorder, configured=None)
    )
    connection = InProcessConnection(PythonHarness(unconfigurable))
    assert str(Capability.RECORDER_CONFIG) not in connection.capabilities
    try:
        results = [
            replay_case(load_case(p), connection, path=str(p))
            for p in CASE_FILES
            if p.parent.name == "recorder"
        ]
    finally:
        connection.close()
    skipped = [r for r in results if r.status == "skipped"]
    assert skipped and all(r.reason == "needs capability recorder.config" for r in skipped)
    assert {r.status for r in results} == {"passed", "skipped"}
    recorder_cases = [load_case(p) for p in CASE_FILES if p.parent.name == "recorder"]
    configured = [
        c.name for c in recorder_cases
        if isinstance(c, ScriptCase) and "recorder.config" in c.capabilities
    ]
    assert sorted(r.name for r in skipped) == sorted(configured)


def _planted(path: Path) -> str | None:
    """The planted variant a saved trace names (README rule 11), if any."""
    case = load_case(path)
    return None if isinstance(case, (ScriptCase, LogCollection)) else case.planted


PLANTED_TRACES = [p for p in CASE_FILES if _planted(p)]


@pytest.mark.parametrize("path", PLANTED_TRACES, ids=lambda p: p.parent.name)
@pytest.mark.req("CONF-062", "CONF-124", "CONF-140", "CONF-142")
def test_a_saved_trace_of_a_planted_bug_fails_on_it(path: Path) -> None:
    """README rule 11: the planted variant (a ``module:factory`` adapter) fails the case,
    naming its requirement (another may come first: what the same step broke too); the
    runtime passes it (every shipped case passes, in the machine's own test file)."""
    case = load_case(path)
    planted = _planted(path)
    assert planted is not None and not isinstance(case, LogCollection)
    connection = connect(planted)
    try:
        result = replay_case(case, connection, path=str(path))
    finally:
        connection.close()
    assert result.status == "failed"
    assert case.requirements[0] in [requirement for requirement, _ in result.failures]


@pytest.mark.req("CONF-062")
def test_every_scripted_machine_ships_a_planted_trace() -> None:
    assert {p.parent.name for p in PLANTED_TRACES} == set(SCRIPTED)
