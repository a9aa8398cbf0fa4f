"""Replay every saved counterexample in spec/cases/coordinator/ against the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.coordinator.coord_factories import runtime_factory
from tests.coordinator.coord_machine import run_steps

CASES = sorted((Path(__file__).parents[2] / "spec" / "cases" / "coordinator").glob("*.json"))


@pytest.mark.req("COORD-020")
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_saved_case_agrees_with_the_model(case: Path) -> None:
    data = json.loads(case.read_text())
    assert data["steps"][0]["mode"] == "start"
    run_steps(runtime_factory(), data["steps"])


def test_cases_exist() -> None:
    assert CASES, "spec/cases/coordinator/ holds no case"
