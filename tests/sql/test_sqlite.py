"""The SQLite backend: conformance, compare-and-swap, migration, SIGKILL (SQL-001..SQL-010)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from sessionspec.bench._sql_writer import entry
from sessionspec.conformance import run_machine
from sessionspec.conformance.log_machine import HEADER, LogCrashMachine
from sessionspec.conformance.sql_adapters import SqliteAdapter
from sessionspec.errors import (
    CallerError,
    DuplicateEntryIdError,
    HeadConflictError,
    IllegalTransitionError,
    SchemaVersionError,
    SessionExistsError,
)
from sessionspec.storage.sqlbase import SCHEMA_VERSION
from sessionspec.storage.sqlite import (
    MIGRATIONS,
    SqliteLog,
    connect,
    list_sessions,
    migrate,
    read_session,
    schema_version,
)

BUDGET = settings(max_examples=25, stateful_step_count=15, deadline=None)
ROOT = Path(__file__).resolve().parents[2]


def header(session_id: str) -> dict[str, Any]:
    return {**HEADER, "id": session_id}


@pytest.mark.req("SQL-010", "LOG-003", "LOG-004")
def test_sqlite_log_conforms(tmp_path: Path) -> None:
    run_machine(lambda: LogCrashMachine(SqliteAdapter(str(tmp_path))), settings=BUDGET)


@pytest.mark.req("SQL-001", "SQL-002", "SQL-006", "SQL-007")
def test_many_sessions_in_one_file(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    logs = [SqliteLog.create(db, f"s{n}", header(f"s{n}")) for n in range(3)]
    for n, log in enumerate(logs):
        assert log.append([entry(f"e{n}-{i}", "x") for i in range(n + 1)]) == n + 1
        log.close()
    assert list_sessions(db) == [("s0", 1), ("s1", 2), ("s2", 3)]
    snapshot = read_session(db, "s2")
    assert [r.entry["id"] for r in snapshot.records] == ["e2-0", "e2-1", "e2-2"]
    assert [r.seq for r in snapshot.records] == [1, 2, 3]
    assert snapshot.report.clean and snapshot.header["id"] == "s2"
    with pytest.raises(SessionExistsError):
        SqliteLog.create(db, "s1", header("s1"))


@pytest.mark.req("SQL-003")
def test_a_stale_writer_gets_head_conflict_and_writes_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    first = SqliteLog.create(db, "s", header("s"))
    second = SqliteLog.open(db, "s")
    first.append([entry("a", "")])
    with pytest.raises(HeadConflictError) as caught:
        second.append([entry("b", "")])  # no expected head: its own, now stale
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    with pytest.raises(HeadConflictError):
        second.append([entry("b", "")], expected_head=0)
    assert [r.entry["id"] for r in read_session(db, "s").records] == ["a"]
    assert second.append([entry("b", "")], expected_head=1) == 2
    with pytest.raises(DuplicateEntryIdError):
        first.append([entry("a", "")], expected_head=2)
    with pytest.raises(CallerError):
        first.append([])
    first.close()
    second.close()
    with pytest.raises(IllegalTransitionError):
        first.append([entry("c", "")])


@pytest.mark.req("SQL-003")
def test_threads_racing_at_one_head_never_both_win(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    SqliteLog.create(db, "s", header("s")).close()
    wins: list[int] = []
    conflicts: list[int] = []

    def race(n: int) -> None:
        log = SqliteLog.open(db, "s")
        for round_ in range(20):
            try:
                log.append([entry(f"t{n}-{round_}", "")], expected_head=round_)
                wins.append(round_)
            except HeadConflictError:
                conflicts.append(round_)
            log.close()
            log = SqliteLog.open(db, "s")
            while log.head <= round_:  # wait for this round's winner
                log.close()
                time.sleep(0.001)
                log = SqliteLog.open(db, "s")
        log.close()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == list(range(20))  # exactly one winner per head
    assert len(conflicts) == 60
    assert read_session(db, "s").head == 20


@pytest.mark.req("SQL-005")
def test_migration_from_version_0_and_1(tmp_path: Path) -> None:
    db = str(tmp_path / "old.db")
    raw = sqlite3.connect(db, isolation_level=None)
    assert schema_version(raw) == 0
    for statement in MIGRATIONS[0]:  # a version-1 database with one session in it
        raw.execute(statement)
    raw.execute("UPDATE schema_version SET version = 1")
    raw.execute("INSERT INTO sessions VALUES ('s', ?, 1)", (
        '{"type":"session","version":1,"id":"s","timestamp":"2026-01-01T00:00:00Z",'
        '"cwd":"/","parent_session":null}',))
    raw.execute("INSERT INTO entries VALUES ('s', 1, 'a', ?)",
                ('{"type":"extension_state","id":"a","parent_id":null,'
                 '"timestamp":"2026-01-01T00:00:00Z","state":{}}',))
    assert migrate(raw) == 1
    assert schema_version(raw) == SCHEMA_VERSION
    with pytest.raises(sqlite3.IntegrityError):  # version 2's unique entry ids
        raw.execute("INSERT INTO entries VALUES ('s', 2, 'a', '{}')")
    raw.execute("UPDATE schema_version SET version = 99")
    raw.close()
    with pytest.raises(SchemaVersionError):
        connect(db)
    fresh = str(tmp_path / "new.db")
    connection = connect(fresh)
    assert schema_version(connection) == SCHEMA_VERSION
    connection.close()
    log = SqliteLog.create(fresh, "s", header("s"))
    assert log.append([entry("a", "")]) == 1
    log.close()


@pytest.mark.req("SQL-004", "SQL-009", "LOG-003")
def test_sigkill_mid_transaction_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    db = str(tmp_path / "kill.db")
    SqliteLog.create(db, "s", header("s")).close()
    for round_ in range(3):
        process = subprocess.Popen(
            [sys.executable, "-m", "sessionspec.bench._sql_writer", "append",
             f"sqlite://{db}#s"],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        assert process.stdout is not None
        acknowledged = 0
        deadline = time.monotonic() + 0.3 + 0.2 * round_
        for line in process.stdout:
            acknowledged = int(line.split()[1])
            if time.monotonic() > deadline:
                break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
        snapshot = read_session(db, "s")
        assert snapshot.head >= acknowledged > 0
        assert snapshot.report.clean
        _assert_whole_batches([r.entry["id"] for r in snapshot.records])


def _assert_whole_batches(ids: list[str]) -> None:
    """Ids are ``b<batch>-<i>-of-<size>``: every batch present is present whole, in order."""
    by_batch: dict[str, list[str]] = {}
    for entry_id in ids:
        by_batch.setdefault(entry_id.split("-")[0], []).append(entry_id)
    for batch, members in by_batch.items():
        size = int(members[0].rsplit("-", 1)[1])
        assert members == [f"{batch}-{i}-of-{size}" for i in range(size)], batch


@pytest.mark.req("SQL-006")
def test_damaged_rows_are_reported_not_returned(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    log = SqliteLog.create(db, "s", header("s"))
    log.append([entry("a", "")])
    log.close()
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("INSERT INTO entries VALUES ('s', 2, 'x', 'not json')")
    raw.execute("INSERT INTO entries VALUES ('s', 3, 'y', ?)",
                ('{"type":"future_kind","id":"y"}',))
    raw.execute("INSERT INTO entries VALUES ('s', 5, 'z', ?)",
                ('{"type":"extension_state","id":"z","parent_id":null,'
                 '"timestamp":"2026-01-01T00:00:00Z","state":{}}',))
    raw.close()
    snapshot = read_session(db, "s")
    assert [r.entry["id"] for r in snapshot.records] == ["a", "z"]
    assert [(d.kind.value, d.line) for d in snapshot.report.damage] == [
        ("corrupt_entry", 3), ("unknown_entry", 4), ("sequence_gap", 6)]


@pytest.mark.req("SQL-009")
def test_durability_modes_set_the_synchronous_pragma(tmp_path: Path) -> None:
    from sessionspec.storage.log import Durability

    db = str(tmp_path / "s.db")
    for durability, expected in ((Durability.SYNC, 2), (Durability.NO_SYNC, 0)):
        connection = connect(db, durability)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA synchronous").fetchone() == (expected,)
        connection.close()
