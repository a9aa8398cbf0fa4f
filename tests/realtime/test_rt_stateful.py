"""Model-based verification of the realtime transcript, and the planted bugs it must find."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from tests.realtime.rt_factories import (
    CountsUnheardSpeech,
    DropsUsageOfCutResponses,
    ForgetsDedupAfterRestart,
    KeepsSpokenOnBargeIn,
    LastCompletionWins,
    runtime_connection,
)

from sessionspec.conformance import run_machine
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.realtime_machine import RealtimeMachine

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
    "RT-027",
    "RT-031",
    "RT-033",
    "RT-034",
    "RT-070",
    "RT-071",
    "RT-072",
    "RT-073",
    "RT-074",
)


def run(connection: Connection, budget: settings, *, durable: bool = False) -> None:
    run_machine(lambda: RealtimeMachine(connection, durable=durable), settings=budget)


def test_runtime_in_memory_agrees_with_reference() -> None:
    run(runtime_connection(), BUDGET)


@pytest.mark.req("RT-040", "RT-041")
def test_runtime_on_journal_agrees_with_reference_across_crashes() -> None:
    run(runtime_connection(), BUDGET, durable=True)


@pytest.mark.req("RT-041")
def test_finds_dedup_forgotten_after_restart() -> None:
    with pytest.raises(AssertionError):
        run(runtime_connection(ForgetsDedupAfterRestart), HUNT, durable=True)


@pytest.mark.req("RT-027")
def test_finds_usage_of_cut_responses_dropped() -> None:
    with pytest.raises(AssertionError, match=r"RT-027|RT-031"):
        run(runtime_connection(DropsUsageOfCutResponses), HUNT)


@pytest.mark.req("RT-023")
def test_finds_spoken_lane_kept_on_barge_in() -> None:
    with pytest.raises(AssertionError):
        run(runtime_connection(KeepsSpokenOnBargeIn), HUNT)


@pytest.mark.req("RT-025")
def test_finds_last_completion_wins() -> None:
    with pytest.raises(AssertionError):
        run(runtime_connection(LastCompletionWins), HUNT)


@pytest.mark.req("RT-072", "RT-074")
def test_finds_unheard_speech_counted() -> None:
    with pytest.raises(AssertionError):
        run(runtime_connection(CountsUnheardSpeech), HUNT)
