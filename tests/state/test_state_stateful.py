"""Model-based verification of the state stores and the token ledger, and planted bugs.

The ledger machine reaches the ledger only through the driver protocol (CONF-125), here in
process; ``tests/conformance/test_conversation_protocol.py`` runs it over the stdio harness.
The state machine reaches each store through the driver protocol (an in-process harness),
as it reaches any implementation (CONF-140).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sessionspec import (
    FileStateStore,
    HeadRevisionConflict,
    MemoryStateStore,
    PersistedSessionState,
    TokenLedger,
)
from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.harness import PythonHarness, StateFactory, runtime_implementation
from sessionspec.conformance.runner import (
    Budget,
    MachineResult,
    Report,
    run_conformance,
    run_machine_with_masks,
)
from sessionspec.storage.state_store import StateStore
from sessionspec.tables.state import PersistedStateEvent

STORE_BUDGET = Budget(examples=25, steps=20)
#: A hunt stops at its first failing chunk and shrinks briefly (a few seconds).
STORE_HUNT = Budget(examples=100, steps=20, max_failures=1, shrink_seconds=1.0)


def conform_state(state: StateFactory, budget: Budget = STORE_BUDGET) -> Report:
    """The state machine against the runtime with ``state`` as its store, via the protocol."""
    connection = InProcessConnection(
        PythonHarness(runtime_implementation(state=state), storage="sim")
    )
    try:
        return run_conformance(
            connection, adapter="test", machines=("state",), budget=budget, seed=5
        )
    finally:
        connection.close()


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


def memory_stores(store: type[StateStore] = MemoryStateStore) -> StateFactory:
    """A fresh memory store per ``state.open``: nothing survives a restart (not durable)."""
    return StateFactory(
        open=lambda directory: store(), persisted=PersistedSessionState, durable=False
    )


class LastWriterWins(MemoryStateStore):
    """Planted bug: no compare, every commit lands (a timestamp-style store)."""

    def commit(self, session_id: str, state: Mapping[str, Any], expected_head_revision: int) -> int:
        current = self.load(session_id)
        return super().commit(session_id, state, 0 if current is None else current.head_revision)


class TakesTheHeadOnConflict(PersistedSessionState):
    """Planted bug: a conflict silently adopts the stored head, so the next commit overwrites
    the other writer's state (a lost update)."""

    def commit(self, store: StateStore) -> int:
        try:
            return super().commit(store)
        except HeadRevisionConflict as conflict:
            self.head_revision = conflict.actual
            raise


class KeepsOrphanedLeaf(PersistedSessionState):
    """Planted bug: ``load`` does not heal an orphaned leaf (lash's state before its fix)."""

    @classmethod
    def load(cls, store: StateStore, session_id: str) -> PersistedSessionState | None:
        stored = store.load(session_id)
        if stored is None:
            return None
        state = cls.from_json(stored.state, head_revision=stored.head_revision)
        state.lifecycle.commit(PersistedStateEvent.LOAD)
        return state


class CountsEveryRequest(TokenLedger):
    """Planted bug: no dedup by request id (the double counting of peers.md §12 #25)."""

    def record(self, source: str, model: str, usage: Any, request_id: str | None = None) -> bool:
        return super().record(source, model, usage, None)


@pytest.mark.req(
    "CONF-140",
    "STATE-001",
    "STATE-003",
    "STATE-010",
    "STATE-012",
    "STATE-013",
    "STATE-014",
    "STATE-015",
)
@pytest.mark.parametrize("kind", ["memory", "file"])
def test_stores_conform(kind: str) -> None:
    state = (
        memory_stores()
        if kind == "memory"
        else StateFactory(open=FileStateStore, persisted=PersistedSessionState)
    )
    report = conform_state(state)
    assert report.passed, report.failures
    exercised = report.machines[0].exercised
    assert {"STATE-003", "STATE-012", "STATE-013", "STATE-015"} <= exercised
    # Only a durable store is reopened after a power cut (CONF-143).
    assert ("STATE-011" in exercised) == (kind == "file")


@pytest.mark.req("STATE-010", "STATE-012", "CONF-060")
def test_machine_finds_a_store_without_compare_and_swap() -> None:
    report = conform_state(memory_stores(LastWriterWins), STORE_HUNT)
    assert {f.requirement for f in report.failures} & {"STATE-010", "STATE-012"}, report.failures


@pytest.mark.req("STATE-003", "CONF-060")
def test_machine_finds_a_state_loaded_without_healing() -> None:
    report = conform_state(
        StateFactory(open=FileStateStore, persisted=KeepsOrphanedLeaf), STORE_HUNT
    )
    assert "STATE-003" in {f.requirement for f in report.failures}, report.failures


@pytest.mark.req("STATE-030", "STATE-031", "STATE-032", "STATE-033", "CONF-125")
def test_ledger_conforms() -> None:
    result = run_ledger()
    assert not result.failures, [(f.requirement, f.message) for f in result.failures]
    assert {"STATE-030", "STATE-031", "STATE-032", "STATE-033"} <= result.exercised


@pytest.mark.req("STATE-033", "CONF-125")
def test_machine_finds_double_counting() -> None:
    result = run_ledger(CountsEveryRequest, LEDGER_HUNT)
    assert "STATE-033" in {f.requirement for f in result.failures}, result.failures


@pytest.mark.req("STATE-013", "CONF-060")
def test_machine_finds_a_state_that_changes_on_conflict() -> None:
    report = conform_state(
        StateFactory(open=FileStateStore, persisted=TakesTheHeadOnConflict), STORE_HUNT
    )
    assert "STATE-013" in {f.requirement for f in report.failures}, report.failures
