"""Model-based verification of the conversation through the protocol, and its planted bugs.

The machine reaches the runtime only through the driver protocol (CONF-120): in process
(an :class:`InProcessConnection` to the reference harness) and, in
``tests/conformance/test_conversation_protocol.py``, over the stdio harness.
"""

from __future__ import annotations

import pytest
from tests.conversation.conv_factories import (
    IgnoresExpectedParent,
    ReplacingKeepsLaterMessages,
    SharedListFork,
    SharedMetadataFork,
)

from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.conformance.runner import Budget, MachineResult, run_machine_with_masks

BUDGET = Budget(examples=60, steps=25)
#: Hunting a planted bug: stop at the first failing requirement, little shrinking (the
#: failure is what matters). Either bug is found within ~30 examples (about 1 s).
HUNT = Budget(examples=150, steps=25, shrink_seconds=0.5, max_failures=1)


def run(conversation_cls: type | None = None, budget: Budget = BUDGET) -> MachineResult:
    harness = PythonHarness(runtime_implementation(conversation_cls=conversation_cls))
    connection = InProcessConnection(harness)
    try:
        return run_machine_with_masks("conversation", connection, budget, seed=0)
    finally:
        connection.close()


@pytest.mark.req(
    "CONV-001",
    "CONV-002",
    "CONV-003",
    "CONV-004",
    "CONV-005",
    "CONV-006",
    "CONV-010",
    "CONV-011",
    "CONV-012",
    "CONV-021",
    "CONV-022",
    "CONV-030",
    "CONV-031",
    "CONV-032",
    "CONV-033",
    "CONV-034",
    "CONV-035",
    "CONF-120",
    "CONF-121",
    "CONF-127",
)
def test_runtime_conforms() -> None:
    result = run()
    assert not result.failures, [(f.requirement, f.message) for f in result.failures]
    assert {
        "CONV-005",
        "CONV-006",
        "CONV-010",
        "CONV-012",
        "CONV-021",
        "CONV-030",
        "CONV-034",
        "CONV-035",
    } <= result.exercised


@pytest.mark.req("CONV-010", "CONF-122")
def test_machine_finds_a_fork_that_shares_writes() -> None:
    result = run(SharedListFork, HUNT)
    assert "CONV-010" in {f.requirement for f in result.failures}, result.failures


@pytest.mark.req("CONV-030", "CONF-121")
def test_machine_finds_a_rewrite_without_concurrency_check() -> None:
    result = run(IgnoresExpectedParent, HUNT)
    assert "CONV-030" in {f.requirement for f in result.failures}, result.failures


@pytest.mark.req("CONV-010", "CONV-011", "CONF-127")
def test_machine_finds_a_fork_that_shares_its_metadata() -> None:
    result = run(SharedMetadataFork, HUNT)
    assert "CONV-010" in {f.requirement for f in result.failures}, result.failures


@pytest.mark.req("CONV-012")
def test_machine_finds_a_fork_replacing_that_keeps_later_messages() -> None:
    result = run(ReplacingKeepsLaterMessages, HUNT)
    assert "CONV-012" in {f.requirement for f in result.failures}, result.failures
