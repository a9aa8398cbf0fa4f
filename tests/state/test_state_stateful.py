"""Model-based verification of the state stores and the token ledger, and planted bugs.

The ledger machine reaches the ledger only through the driver protocol (CONF-125), here in
process; ``tests/conformance/test_conversation_protocol.py`` runs it over the stdio harness.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from sessionspec import FileStateStore, MemoryStateStore, TokenLedger
from sessionspec.conformance import run_machine
from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.conformance.runner import Budget, MachineResult, run_machine_with_masks
from sessionspec.conformance.state_machine import StateStoreFactory, StateStoreMachine

BUDGET = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HUNT = settings(BUDGET, max_examples=150, phases=[Phase.explicit, Phase.generate])


def run_store(factory: StateStoreFactory, budget: settings = BUDGET) -> None:
    run_machine(lambda: StateStoreMachine(factory), settings=budget)


LEDGER_BUDGET = Budget(examples=40, steps=20)
#: Hunting a planted bug: stop at the first failing requirement, little shrinking.
LEDGER_HUNT = Budget(examples=150, steps=20, shrink_seconds=0.5, max_failures=1)


def run_ledger(
    ledger_cls: type[TokenLedger] | None = None, budget: Budget = LEDGER_BUDGET
) -> MachineResult:
    harness = PythonHarness(runtime_implementation(ledger_cls=ledger_cls))
    connection = InProcessConnection(harness)
    try:
        return run_machine_with_masks("ledger", connection, budget, seed=0)
    finally:
        connection.close()


def file_stores(root: Path) -> StateStoreFactory:
    """A fresh file store per example, each in its own folder under ``root``."""
    counter = itertools.count()
    return lambda: FileStateStore(root / str(next(counter)))


class LastWriterWins(MemoryStateStore):
    """Planted bug: no compare, every commit lands (a timestamp-style store)."""

    def commit(
        self, session_id: str, state: Mapping[str, Any], expected_head_revision: int
    ) -> int:
        current = self.load(session_id)
        return super().commit(session_id, state, 0 if current is None else current.head_revision)


class CountsEveryRequest(TokenLedger):
    """Planted bug: no dedup by request id (the double counting of peers.md §12 #25)."""

    def record(self, source: str, model: str, usage: Any, request_id: str | None = None) -> bool:
        return super().record(source, model, usage, None)


@pytest.mark.req("STATE-010", "STATE-012", "STATE-014")
@pytest.mark.parametrize("kind", ["memory", "file"])
def test_stores_conform(kind: str, tmp_path: Path) -> None:
    run_store(MemoryStateStore if kind == "memory" else file_stores(tmp_path))


@pytest.mark.req("STATE-012")
def test_machine_finds_a_store_without_compare_and_swap() -> None:
    with pytest.raises(AssertionError):
        run_store(LastWriterWins, HUNT)


@pytest.mark.req("STATE-030", "STATE-031", "STATE-032", "STATE-033", "CONF-125")
def test_ledger_conforms() -> None:
    result = run_ledger()
    assert not result.failures, [(f.requirement, f.message) for f in result.failures]
    assert {"STATE-030", "STATE-031", "STATE-032", "STATE-033"} <= result.exercised


@pytest.mark.req("STATE-033", "CONF-125")
def test_machine_finds_double_counting() -> None:
    result = run_ledger(CountsEveryRequest, LEDGER_HUNT)
    assert "STATE-033" in {f.requirement for f in result.failures}, result.failures
