"""The state stores on SQLite and PostgreSQL (SQL-014): the same interface, the same machine,
the compare-and-swap done by the database, real processes racing."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from tests.state.state_worker import increment, race_once

from sessionspec import (
    FileStateStore,
    HeadRevisionConflict,
    PersistedSessionState,
    PostgresStateStore,
    SqliteStateStore,
    StateStore,
    StateStoreError,
    open_state_store,
)
from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.harness import PythonHarness, StateFactory, runtime_implementation
from sessionspec.conformance.runner import Budget, run_conformance
from sessionspec.errors import CallerError, InvalidSessionIdError
from sessionspec.pgcluster import PostgresServer
from sessionspec.storage.sqlite import sqlite_url

#: Each example opens its own store; on PostgreSQL that is a schema (and a pool) per example.
BUDGET = Budget(examples=15, steps=15)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(str(tmp_path / "states.db"))
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.fresh_store()


@pytest.mark.req("SQL-014", "STATE-010", "STATE-014")
def test_commit_compares_and_swaps_in_the_database(store_url: str) -> None:
    store = open_state_store(store_url)
    assert isinstance(store, SqliteStateStore | PostgresStateStore)
    assert store.load("s") is None and store.sessions() == []
    assert store.commit("s", {"turn_index": 1, "text": "ü"}, 0) == 1
    with pytest.raises(HeadRevisionConflict) as first_again:
        store.commit("s", {"turn_index": 9}, 0)
    assert (first_again.value.expected, first_again.value.actual) == (0, 1)
    assert store.commit("s", {"turn_index": 2}, 1) == 2
    with pytest.raises(HeadRevisionConflict) as stale:
        store.commit("s", {"turn_index": 9}, 1)
    assert (stale.value.expected, stale.value.actual) == (1, 2)
    with pytest.raises(HeadRevisionConflict) as absent:
        store.commit("t", {}, 3)
    assert (absent.value.expected, absent.value.actual) == (3, 0)
    loaded = store.load("s")
    assert loaded is not None
    assert (loaded.head_revision, loaded.state) == (2, {"turn_index": 2})
    store.commit("a", {}, 0)
    assert store.sessions() == ["a", "s"]
    # A second handle on the same database sees the same heads (many workers, one store).
    assert open_state_store(store_url).load("s") == loaded


@pytest.mark.req("SQL-014", "STATE-014")
def test_bad_input_is_a_typed_error_and_writes_nothing(store_url: str) -> None:
    store = open_state_store(store_url)
    for expected in (-1, True, "0", 1.0):
        with pytest.raises(CallerError):
            store.commit("s", {}, expected)  # type: ignore[arg-type]
    for state in ([1], "x", {"f": float("nan")}, {"o": object()}):
        with pytest.raises(CallerError):
            store.commit("s", state, 0)  # type: ignore[arg-type]
    with pytest.raises(InvalidSessionIdError):
        store.commit("../x", {}, 0)
    with pytest.raises(InvalidSessionIdError):
        store.load("a/b")
    assert store.sessions() == []


@pytest.mark.req("SQL-014")
def test_a_row_written_by_someone_else_is_a_state_store_error(tmp_path: Path) -> None:
    path = str(tmp_path / "states.db")
    store = SqliteStateStore(path)
    store.commit("s", {"ok": True}, 0)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE session_state SET state = '[1, 2]' WHERE session_id = 's'")
    raw.execute("INSERT INTO session_state VALUES ('t', 1, 'not json')")
    raw.close()
    for session_id in ("s", "t"):
        with pytest.raises(StateStoreError, match=session_id):
            store.load(session_id)
    store.close()


@pytest.mark.req("SQL-014", "SQL-008")
def test_open_state_store_takes_the_log_urls(tmp_path: Path) -> None:
    assert isinstance(open_state_store(str(tmp_path / "states")), FileStateStore)
    assert isinstance(open_state_store(tmp_path / "states"), FileStateStore)
    sqlite_store = open_state_store(f"sqlite://{tmp_path}/s.db")
    assert isinstance(sqlite_store, SqliteStateStore)
    with pytest.raises(CallerError, match="not one session"):
        open_state_store(f"sqlite://{tmp_path}/s.db#abc")


def _sqlite_stores() -> StateFactory:
    """A SQLite state store in each directory the harness opens (durable: reopened by path)."""
    def open_(directory: str) -> StateStore:
        os.makedirs(directory, exist_ok=True)  # the file store makes its folder too
        return SqliteStateStore(f"{directory}/states.db")

    return StateFactory(open=open_, persisted=PersistedSessionState)


def _postgres_stores(server: PostgresServer) -> StateFactory:
    """A fresh PostgreSQL store (schema) per directory the harness opens, the same one when it
    opens that directory again (durable)."""
    urls: dict[str, str] = {}

    def open_(directory: str) -> StateStore:
        if directory not in urls:
            urls[directory] = server.fresh_store()
        return PostgresStateStore(urls[directory])

    return StateFactory(open=open_, persisted=PersistedSessionState)


@pytest.mark.req("SQL-014", "STATE-010", "STATE-012", "CONF-140")
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_state_machine_passes_on_both_databases(
    kind: str, request: pytest.FixtureRequest
) -> None:
    state = (_sqlite_stores() if kind == "sqlite"
             else _postgres_stores(request.getfixturevalue("pg_server")))
    connection = InProcessConnection(
        PythonHarness(runtime_implementation(state=state), storage="sim"))
    try:
        report = run_conformance(connection, adapter=kind, machines=("state",), budget=BUDGET,
                                 seed=5)
    finally:
        connection.close()
    assert report.passed, [(f.requirement, f.message) for f in report.failures]
    assert {"STATE-010", "STATE-011", "STATE-012"} <= report.machines[0].exercised


@pytest.fixture
def spawn_pool() -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        yield pool


@pytest.mark.slow
@pytest.mark.req("SQL-014", "STATE-012")
def test_real_processes_exactly_one_stale_writer_wins(
    store_url: str, spawn_pool: ProcessPoolExecutor
) -> None:
    open_state_store(store_url).commit("s", {"start": True}, 0)
    for round_number in range(3):
        head = round_number + 1
        futures = [spawn_pool.submit(race_once, store_url, "s", head, f"{round_number}-{i}")
                   for i in range(4)]
        assert sorted(f.result() for f in futures) == ["conflict", "conflict", "conflict", "won"]
    loaded = open_state_store(store_url).load("s")
    assert loaded is not None and loaded.head_revision == 4


@pytest.mark.slow
@pytest.mark.req("SQL-014", "STATE-012")
def test_real_processes_lose_no_update(store_url: str, spawn_pool: ProcessPoolExecutor) -> None:
    futures = [spawn_pool.submit(increment, store_url, "counter", 25) for _ in range(4)]
    for future in futures:
        future.result()
    loaded = open_state_store(store_url).load("counter")
    assert loaded is not None
    assert loaded.state == {"count": 100} and loaded.head_revision == 100
