"""Model-based verification of the conversation, and the planted bugs it must find."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from tests.conversation.conv_factories import (
    IgnoresExpectedParent,
    SharedListFork,
    runtime_factory,
)

from sessionspec import Conversation
from sessionspec.conformance import run_machine
from sessionspec.conformance.conversation_machine import (
    ConversationMachine,
    ConversationSubjectFactory,
)

BUDGET = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


#: Hunting a planted bug: no shrinking (the failure is what matters, not its minimal form).
HUNT = settings(BUDGET, max_examples=200, phases=[Phase.explicit, Phase.generate])


def run(factory: ConversationSubjectFactory, budget: settings = BUDGET) -> None:
    run_machine(lambda: ConversationMachine(factory), settings=budget)


@pytest.mark.req(
    "CONV-003", "CONV-010", "CONV-011", "CONV-021", "CONV-022", "CONV-030", "CONV-031",
    "CONV-032", "CONV-033", "CONV-034", "CONV-035",
)
def test_runtime_conforms() -> None:
    run(runtime_factory)


@pytest.mark.req("CONV-010")
def test_machine_finds_a_fork_that_shares_writes() -> None:
    with pytest.raises(AssertionError):
        run(lambda: SharedListFork(Conversation.new()), HUNT)


@pytest.mark.req("CONV-030")
def test_machine_finds_a_rewrite_without_concurrency_check() -> None:
    with pytest.raises(AssertionError):
        run(lambda: IgnoresExpectedParent(Conversation.new()), HUNT)
