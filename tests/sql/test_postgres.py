"""The PostgreSQL backend against a throwaway server (SQL-001..SQL-012)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import settings
from tests.sql.test_sqlite import _assert_whole_batches

from sessionspec.bench._sql_writer import entry
from sessionspec.conformance import run_machine
from sessionspec.conformance.log_machine import HEADER, LogCrashMachine
from sessionspec.conformance.sql_adapters import PostgresAdapter
from sessionspec.errors import (
    DuplicateEntryIdError,
    HeadConflictError,
    SchemaVersionError,
    SessionExistsError,
)
from sessionspec.pgcluster import PostgresServer
from sessionspec.storage.postgres import (
    PostgresLog,
    follow,
    list_sessions,
    migrate,
    read_session,
    schema_version,
)
from sessionspec.storage.sqlbase import SCHEMA_VERSION

BUDGET = settings(max_examples=15, stateful_step_count=15, deadline=None)
ROOT = Path(__file__).resolve().parents[2]


def header(session_id: str) -> dict[str, Any]:
    return {**HEADER, "id": session_id}


@pytest.mark.req("SQL-010", "SQL-012", "LOG-003", "LOG-004")
def test_postgres_log_conforms(pg_url: str) -> None:
    run_machine(lambda: LogCrashMachine(PostgresAdapter(pg_url)), settings=BUDGET)


@pytest.mark.req("SQL-001", "SQL-002", "SQL-003", "SQL-006", "SQL-007")
def test_sessions_cas_and_listing(pg_url: str) -> None:
    first = PostgresLog.create(pg_url, "a", header("a"))
    PostgresLog.create(pg_url, "b", header("b")).close()
    with pytest.raises(SessionExistsError):
        PostgresLog.create(pg_url, "a", header("a"))
    second = PostgresLog.open(pg_url, "a")
    assert first.append([entry("1", ""), entry("2", "")]) == 2
    with pytest.raises(HeadConflictError) as caught:
        second.append([entry("3", "")])
    assert (caught.value.expected, caught.value.actual) == (0, 2)
    with pytest.raises(DuplicateEntryIdError):
        first.append([entry("1", "")])
    assert second.append([entry("3", "")], expected_head=2) == 3
    assert list_sessions(pg_url) == [("a", 3), ("b", 0)]
    snapshot = read_session(pg_url, "a")
    assert [(r.seq, r.entry["id"]) for r in snapshot.records] == [(1, "1"), (2, "2"), (3, "3")]
    assert snapshot.report.clean and snapshot.head == 3
    first.close()
    second.close()


@pytest.mark.req("SQL-003")
def test_concurrent_writers_at_one_head_one_wins(pg_url: str) -> None:
    PostgresLog.create(pg_url, "race", header("race")).close()
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def race(n: int) -> None:
        log = PostgresLog.open(pg_url, "race")
        barrier.wait()
        try:
            log.append([entry(f"w{n}", "")], expected_head=0)
            outcomes.append("won")
        except HeadConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=race, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["won"]
    assert read_session(pg_url, "race").head == 1


@pytest.mark.req("SQL-005")
def test_migration_from_version_0_and_1(pg_server: PostgresServer) -> None:
    url = pg_server.fresh_store()
    with psycopg.connect(url, autocommit=True) as connection:
        assert schema_version(connection) == 0
        assert migrate(connection, target=1) == 0
        assert schema_version(connection) == 1
        connection.execute("INSERT INTO sessions VALUES ('s', '{}', 0)")
        assert migrate(connection) == 1
        assert schema_version(connection) == SCHEMA_VERSION
        with pytest.raises(psycopg.errors.UniqueViolation):
            connection.execute("INSERT INTO entries VALUES ('s', 1, 'x', '{}'),"
                               " ('s', 2, 'x', '{}')")
        connection.execute("UPDATE schema_version SET version = 7")
        with pytest.raises(SchemaVersionError):
            migrate(connection)
        assert schema_version(connection) == 7


@pytest.mark.req("SQL-011")
def test_follower_tails_a_session(pg_url: str) -> None:
    log = PostgresLog.create(pg_url, "tail", header("tail"))
    log.append([entry("e1", "")])
    seen: list[str] = []

    def tail() -> None:
        for record in follow(pg_url, "tail", timeout=2.0, poll_interval=5.0):
            seen.append(record.entry["id"])
            if len(seen) == 4:
                return

    thread = threading.Thread(target=tail)
    thread.start()
    time.sleep(0.2)
    log.append([entry("e2", ""), entry("e3", "")])
    time.sleep(0.1)
    log.append([entry("e4", "")])
    thread.join(timeout=10)
    assert seen == ["e1", "e2", "e3", "e4"]
    log.close()


def _writer(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sessionspec.bench._sql_writer", "append", url],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )


def _run_until(process: subprocess.Popen[str], seconds: float, counts: dict[str, int] | None = None
               ) -> int:
    """Read the writer's reports for ``seconds``; return the last acknowledged head."""
    assert process.stdout is not None
    acknowledged = 0
    deadline = time.monotonic() + seconds
    for line in process.stdout:
        word, head = line.split()[:2]
        if counts is not None:
            counts[word] = counts.get(word, 0) + 1
        if word == "ack":
            acknowledged = int(head)
        if time.monotonic() > deadline:
            break
    return acknowledged


@pytest.mark.req("SQL-004", "SQL-009", "LOG-003")
def test_sigkill_of_a_writer_loses_no_acknowledged_batch(pg_url: str) -> None:
    PostgresLog.create(pg_url, "k", header("k")).close()
    for round_ in range(3):
        process = _writer(f"{pg_url}#k")
        acknowledged = _run_until(process, 0.5 + 0.2 * round_)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
        snapshot = read_session(pg_url, "k")
        assert snapshot.head >= acknowledged > 0
        assert snapshot.report.clean
        _assert_whole_batches([r.entry["id"] for r in snapshot.records])


@pytest.mark.req("SQL-004")
def test_terminated_connection_leaves_batches_whole(pg_url: str) -> None:
    PostgresLog.create(pg_url, "t", header("t")).close()
    process = _writer(f"{pg_url}#t")
    database = pg_url.split("?")[0].rsplit("/", 1)[1]
    killed = 0
    with psycopg.connect(pg_url, autocommit=True) as admin:
        _run_until(process, 0.3)
        for _ in range(5):
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'",
                (database,),
            ).fetchall()
            killed += sum(1 for (done,) in rows if done)
            time.sleep(0.05)
    # Every append cut by a terminated connection was a typed error (rolled back, or outcome
    # unknown and reopened); the writer carried on, and its later batches are acknowledged.
    counts: dict[str, int] = {}
    acknowledged = _run_until(process, 0.5, counts)
    assert process.poll() is None and counts.get("ack", 0) > 0, counts
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.stdout is not None
    process.stdout.close()
    assert killed > 0
    snapshot = read_session(pg_url, "t")
    assert snapshot.head >= acknowledged
    assert snapshot.report.clean
    _assert_whole_batches([r.entry["id"] for r in snapshot.records])


@pytest.mark.req("SQL-004")
def test_lost_connection_is_a_typed_error_and_the_log_goes_on(pg_url: str) -> None:
    log = PostgresLog.create(pg_url, "lost", header("lost"))
    log.append([entry("a", "")])
    database = pg_url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'", (database,),
        )
    # The pool checks a connection before lending it: the dead one is replaced, and the
    # append goes through on a new connection.
    assert log.append([entry("b", "")]) == 2
    assert [r.entry["id"] for r in read_session(pg_url, "lost").records] == ["a", "b"]
    log.close()
