"""The state case files (spec/cases/state/*.json): lash's tests, replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.state.state_cases import CASE_DIR, build_cases

from sessionspec import FileStateStore, MemoryStateStore, TokenLedger
from sessionspec.conformance.state_cases import run_state_case

CASE_FILES = sorted(CASE_DIR.glob("*.json"))


@pytest.mark.req("STATE-010")
def test_case_files_are_current() -> None:
    built = {item["name"]: item for item in build_cases()}
    on_disk = {path.stem: json.loads(path.read_text()) for path in CASE_FILES}
    assert on_disk == built, "run: python tests/state/state_cases.py"


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("store", ["memory", "file"])
@pytest.mark.req("STATE-003", "STATE-010", "STATE-012", "STATE-030", "STATE-031", "STATE-032",
                 "STATE-033")
def test_case_on_runtime(path: Path, store: str, tmp_path: Path) -> None:
    factory = MemoryStateStore if store == "memory" else (lambda: FileStateStore(tmp_path))
    run_state_case(json.loads(path.read_text()), factory, TokenLedger)
