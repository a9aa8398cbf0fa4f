"""Model-based verification of the realtime transcript, and the planted bugs it must find."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test
from tests.realtime.rt_factories import (
    CountsUnheardSpeech,
    ForgetsDedupAfterRestart,
    KeepsSpokenOnBargeIn,
    LastCompletionWins,
    durable_factory,
    runtime_factory,
)

from sessionspec.conformance.realtime_machine import RealtimeMachine, SubjectFactory

DEEP = bool(os.environ.get("SESSIONSPEC_DEEP"))
BUDGET = settings(
    max_examples=500 if DEEP else 100,
    stateful_step_count=60 if DEEP else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
HUNT = settings(BUDGET, max_examples=200, phases=[Phase.explicit, Phase.generate])

pytestmark = pytest.mark.req(
    "RT-003",
    "RT-004",
    "RT-005",
    "RT-010",
    "RT-011",
    "RT-012",
    "RT-013",
    "RT-015",
    "RT-016",
    "RT-017",
    "RT-020",
    "RT-023",
    "RT-024",
    "RT-026",
    "RT-031",
    "RT-033",
    "RT-034",
    "RT-070",
    "RT-071",
    "RT-072",
    "RT-073",
    "RT-074",
)


def run(factory: SubjectFactory, budget: settings) -> None:
    run_state_machine_as_test(lambda: RealtimeMachine(factory), settings=budget)  # type: ignore[arg-type]


def test_runtime_in_memory_agrees_with_reference() -> None:
    run(runtime_factory(), BUDGET)


@pytest.mark.req("RT-040", "RT-041")
def test_runtime_on_journal_agrees_with_reference_across_crashes() -> None:
    run(durable_factory(), BUDGET)


@pytest.mark.req("RT-041")
def test_finds_dedup_forgotten_after_restart() -> None:
    with pytest.raises((AssertionError, Flaky)):
        run(durable_factory(ForgetsDedupAfterRestart), HUNT)


@pytest.mark.req("RT-023")
def test_finds_spoken_lane_kept_on_barge_in() -> None:
    with pytest.raises((AssertionError, Flaky)):
        run(runtime_factory(KeepsSpokenOnBargeIn), HUNT)


@pytest.mark.req("RT-025")
def test_finds_last_completion_wins() -> None:
    with pytest.raises((AssertionError, Flaky)):
        run(runtime_factory(LastCompletionWins), HUNT)


@pytest.mark.req("RT-072", "RT-074")
def test_finds_unheard_speech_counted() -> None:
    with pytest.raises((AssertionError, Flaky)):
        run(runtime_factory(CountsUnheardSpeech), HUNT)
