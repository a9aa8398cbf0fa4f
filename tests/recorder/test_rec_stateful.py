"""Model-based verification of the recorder, and the planted bugs it must find."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from tests.recorder.rec_factories import broken_factory, runtime_factory

from sessionspec.conformance.recorder_machine import RecorderMachine, SubjectFactory

DEEP = bool(os.environ.get("SESSIONSPEC_DEEP"))
BUDGET = settings(
    max_examples=400 if DEEP else 60,
    stateful_step_count=60 if DEEP else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
HUNT = settings(BUDGET, max_examples=200, phases=[Phase.explicit, Phase.generate])

pytestmark = pytest.mark.req(
    "REC-002",
    "REC-013",
    "REC-014",
    "REC-021",
    "REC-022",
    "REC-023",
    "REC-030",
    "REC-031",
    "REC-032",
    "REC-033",
    "REC-034",
    "REC-035",
    "REC-050",
    "REC-051",
    "REC-052",
)


def run(factory: SubjectFactory, budget: settings) -> None:
    run_state_machine_as_test(lambda: RecorderMachine(factory), settings=budget)  # type: ignore[arg-type]


def test_runtime_in_memory_agrees_with_reference() -> None:
    run(runtime_factory(), BUDGET)


@pytest.mark.req("REC-070", "REC-071")
def test_runtime_on_a_journal_agrees_across_crashes() -> None:
    run(runtime_factory(durable=True), BUDGET)


@pytest.mark.parametrize(
    "kind",
    ["overwrites", "completion_order", "amnesiac", "no_pending_spawns", "unlinked_flush"],
)
def test_the_machine_catches_planted_bugs(kind: str) -> None:
    with pytest.raises(AssertionError):
        run(broken_factory(kind), HUNT)
