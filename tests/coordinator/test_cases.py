"""Replay every saved counterexample in spec/cases/coordinator/ against the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.coordinator import coord_factories
from tests.coordinator.coord_factories import runtime_connection

from sessionspec.conformance.coordinator_machine import run_steps

CASES = sorted((Path(__file__).parents[2] / "spec" / "cases" / "coordinator").glob("*.json"))


@pytest.mark.req("COORD-020", "COORD-026")
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_saved_case_agrees_with_the_model(case: Path) -> None:
    data = json.loads(case.read_text())
    assert data["steps"][0]["mode"] == "start"
    run_steps(runtime_connection(), data["steps"])


def test_cases_exist() -> None:
    assert CASES, "spec/cases/coordinator/ holds no case"


PLANTED = [c for c in CASES if "planted" in json.loads(c.read_text())]


@pytest.mark.req(
    "COORD-002", "COORD-011", "COORD-017", "COORD-027", "COORD-032", "COORD-040", "COORD-044",
    "COORD-062",
)
@pytest.mark.parametrize("case", PLANTED, ids=[c.stem for c in PLANTED])
def test_planted_bug_case_catches_its_bug(case: Path) -> None:
    data = json.loads(case.read_text())
    buggy = getattr(coord_factories, data["planted"])
    with pytest.raises(AssertionError):
        run_steps(runtime_connection(buggy), data["steps"])
