"""Python implementations for ``--adapter module:factory`` tests: our runtime with a planted bug."""

from __future__ import annotations

from tests.coordinator.coord_factories import (
    TipBeforeWriteCoordinator,
    UsageBeforeWriteCoordinator,
)

from sessionspec.conformance.harness import PythonImplementation, runtime_implementation


def tip_before_write() -> PythonImplementation:
    """opi's order: ``append_leaf`` moves the tip before writing (COORD-002)."""
    return runtime_implementation(coordinator_cls=TipBeforeWriteCoordinator)


def usage_before_write() -> PythonImplementation:
    """opi's order: a turn's usage is counted before the append (COORD-002)."""
    return runtime_implementation(coordinator_cls=UsageBeforeWriteCoordinator)


def overwriting_recorder() -> PythonImplementation:
    """phi-core's Q3: a second ``AgentStart`` for a running loop replaces its record (REC-014)."""
    from tests.recorder.rec_factories import broken_recorder

    return broken_recorder("overwrites")


def last_writer_wins() -> PythonImplementation:
    """A state store without compare-and-swap: every commit lands (STATE-010, STATE-012)."""
    from tests.state.test_state_stateful import LastWriterWins, memory_stores

    return runtime_implementation(state=memory_stores(LastWriterWins))


def counts_every_request() -> PythonImplementation:
    """A token ledger without dedup by request id: a forked request counts twice (STATE-033)."""
    from tests.state.test_state_stateful import CountsEveryRequest

    return runtime_implementation(ledger_cls=CountsEveryRequest)
