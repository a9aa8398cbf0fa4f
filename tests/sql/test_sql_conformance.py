"""The coordinator conformance machine on the database stores (SQL-010, issue 12 item 4).

Our runtime behind the driver protocol, with every session created in a SQLite or PostgreSQL
store instead of a JSONL file. What the machine judges is what the coordinator shows through
its API (context, ids, tip, usage, turns, reopen: CONF-001..CONF-005), so it judges a database
exactly as it judges a file; the capabilities that read our JSONL bytes (format, inject,
copy) and the fork into a file are withheld, and a process in this one cannot be killed.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.coordinator.coord_factories import (
    ForgetfulSettingsCoordinator,
    OriginalInMemoryCoordinator,
)

from sessionspec.compaction import CompactionConfig
from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.harness import (
    CoordinatorFactory,
    PythonHarness,
    runtime_implementation,
)
from sessionspec.conformance.runner import Budget, run_conformance
from sessionspec.pgcluster import PostgresServer
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage.files import FileSystem
from sessionspec.storage.sqlite import sqlite_url

#: What only a JSONL file can offer, and the fork (a database session forks into a folder).
WITHHELD = frozenset({"coordinator.format", "coordinator.inject", "coordinator.copy",
                      "coordinator.fork"})
BUDGET = Budget(examples=25, steps=15, shrink_seconds=2, max_failures=4)
MODEL = "anthropic:claude-sonnet-4"


def on_store(store: str, cls: type[SessionCoordinator] = SessionCoordinator) -> InProcessConnection:
    """Our runtime (or a planted bug) behind the protocol, its sessions in ``store``."""

    def new(fs: FileSystem, directory: str, session_id: str, config: CompactionConfig,
            clock: Callable[[], float]) -> Any:
        return cls.new(store, "/work", config, MODEL, session_id=session_id, clock=clock)

    def open_(fs: FileSystem, path: str, config: CompactionConfig | None,
              clock: Callable[[], float]) -> Any:
        url = f"{store}#{posixpath.basename(path).removesuffix('.jsonl')}"
        if config is None:
            return cls.open_existing(url, clock=clock)
        return cls.open_existing(url, config, MODEL, clock=clock)

    implementation = dataclasses.replace(
        runtime_implementation(coordinator_cls=cls),
        coordinator=CoordinatorFactory(new=new, open=open_),
        withhold=WITHHELD,
    )
    return InProcessConnection(PythonHarness(implementation, storage="real"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(str(tmp_path / "sessions.db"))
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.fresh_store()


@pytest.mark.req("SQL-010", "CONF-001", "CONF-002", "CONF-003", "CONF-004", "CONF-005")
def test_the_coordinator_machine_passes_on_a_database(store: str) -> None:
    connection = on_store(store)
    assert not connection.capabilities & WITHHELD
    report = run_conformance(connection, adapter=store.split(":")[0], machines=("coordinator",),
                             budget=BUDGET, seed=1)
    assert report.passed, [(f.requirement, f.message) for f in report.failures]
    assert report.round_trips > 100


@pytest.mark.req("SQL-010", "COORD-017", "COORD-027")
@pytest.mark.parametrize("planted", [OriginalInMemoryCoordinator, ForgetfulSettingsCoordinator])
def test_on_a_database_the_machine_still_finds_a_planted_bug(
    planted: type[SessionCoordinator], tmp_path: Path
) -> None:
    # Defects that show through the API without an injected I/O fault (a database has none
    # here): memory unredacted while the store has the redacted form; a reopen without
    # arguments forgetting the stored settings.
    store = sqlite_url(str(tmp_path / "sessions.db"))
    report = run_conformance(on_store(store, planted), adapter="sqlite",
                             machines=("coordinator",), budget=BUDGET, seed=1)
    assert report.failures, f"{planted.__name__} passed on a database"
    assert all(f.requirement.startswith(("COORD-", "CONF-")) for f in report.failures)
