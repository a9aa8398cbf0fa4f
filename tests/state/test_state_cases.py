"""The state and ledger case files (spec/cases/state/, spec/cases/ledger/): lash's tests,
replayed through the driver protocol against the runtime (CONF-074), the state cases on a
file store (the harness's) and on a memory store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.state.state_cases import CASE_DIR, LEDGER_DIR, build_cases
from tests.state.test_state_stateful import memory_stores

from sessionspec.conformance.adapters import Connection, InProcessConnection, connect
from sessionspec.conformance.cases import load_case, replay_case
from sessionspec.conformance.harness import PythonHarness, runtime_implementation

STATE_FILES = sorted(CASE_DIR.glob("*.json"))
LEDGER_FILES = sorted(LEDGER_DIR.glob("*.json"))


def _is_script(path: Path) -> bool:
    """Hand-written (the others are saved traces, e.g. of a planted bug)."""
    return bool(json.loads(path.read_text()).get("form") == "script")


@pytest.mark.req("STATE-010")
def test_case_files_are_current() -> None:
    built = {item["name"]: item for item in build_cases()}
    on_disk = {
        path.stem: json.loads(path.read_text())
        for path in STATE_FILES + LEDGER_FILES
        if _is_script(path)
    }
    assert on_disk == built, "run: python tests/state/state_cases.py"


def _connection(store: str) -> Connection:
    if store == "file":
        return connect("runtime")
    return InProcessConnection(PythonHarness(runtime_implementation(state=memory_stores())))


@pytest.mark.parametrize("path", STATE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("store", ["memory", "file"])
@pytest.mark.req("STATE-003", "STATE-010", "STATE-012", "CONF-074")
def test_state_case_on_runtime(path: Path, store: str) -> None:
    connection = _connection(store)
    try:
        result = replay_case(load_case(path), connection, path=str(path))
    finally:
        connection.close()
    assert result.status == "passed", result.failures


@pytest.mark.parametrize("path", LEDGER_FILES, ids=lambda p: p.stem)
@pytest.mark.req("STATE-030", "STATE-031", "STATE-032", "STATE-033", "CONF-074")
def test_ledger_case_on_runtime(path: Path) -> None:
    connection = connect("runtime")
    try:
        result = replay_case(load_case(path), connection, path=str(path))
    finally:
        connection.close()
    assert result.status == "passed", result.failures
