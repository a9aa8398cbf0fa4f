"""Benchmarks of the SQL backends (DESIGN §5), each against a baseline in the same run.

* Durable append per backend: one-message batches through :class:`SqliteLog` /
  :class:`PostgresLog` (compare-and-swap, duplicate-id check, rows, commit) against a bare
  ``INSERT`` + ``COMMIT`` of the same JSON text into a plain table of the same database, with
  the same durability settings (SQLite WAL + ``synchronous=FULL``; PostgreSQL
  ``synchronous_commit = on``). Paired operation by operation, medians.
* Resume per backend: ``SessionCoordinator.open_existing`` of a 100,000-entry session
  (replay included) against a bare ``SELECT seq, body … ORDER BY seq`` with an orjson parse
  of every row.
* Scale-out: 8 writer processes over 100 sessions on one server, turns per second (the
  baseline column is the conflicts per second; a ratio of turns to conflicts).

PostgreSQL uses ``SESSIONSPEC_PG_URL`` when set, else a throwaway server started for the
run (:mod:`sessionspec.pgcluster`); without server binaries its rows are left out.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from sessionspec.bench.common import BenchResult, measure_interleaved, measure_pair
from sessionspec.bench.log import _message
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.storage.urls import create_store_log

__all__ = ["run"]


def _header(session_id: str) -> dict[str, Any]:
    return {"type": "session", "version": 1, "id": session_id,
            "timestamp": "2026-11-21T00:00:00Z", "cwd": "/bench", "parent_session": None}


def _append(store: str, bare_insert: Callable[[str], None], count: int, label: str
            ) -> BenchResult:
    log = _create(store, "append")
    entries = [_message(n) for n in range(1, count + 1)]
    bodies = [orjson.dumps(e).decode() for e in entries]

    def ours(index: int) -> None:
        log.append([entries[index]])

    def bare(index: int) -> None:
        bare_insert(bodies[index])

    ours_time, bare_time = measure_interleaved(count, ours, bare)
    log.close()
    ours_rate, bare_rate = 1 / ours_time, 1 / bare_time
    return BenchResult(f"{label}: durable append (1-entry batches; median per batch)",
                       ours_rate, bare_rate, ours_rate / bare_rate, "batches/s",
                       "ratio >= 0.5 (against a bare INSERT + COMMIT of the same text)",
                       limit=0.5, at_least=True)


def _create(store: str, prefix: str) -> DatabaseLog:
    session_id = f"{prefix}-{os.getpid()}-{time.time_ns()}"
    return create_store_log(store, session_id, _header(session_id))


def _resume(store: str, bare_read: Callable[[str], int], entries: int, label: str
            ) -> BenchResult:
    log = _create(store, "resume")
    batch = [_message(n) for n in range(1, entries + 1)]
    log.append(batch)
    url = log.path
    log.close()

    def ours() -> None:
        coordinator = SessionCoordinator.open_existing(url)
        assert coordinator.head == entries
        coordinator.close()

    def bare() -> None:
        assert bare_read(log.session_id) == entries

    elapsed, baseline = measure_pair(ours, bare, rounds=3)
    return BenchResult(f"{label}: resume a {entries:,}-entry session (coordinator replay)",
                       elapsed * 1000, baseline * 1000, elapsed / baseline, "ms",
                       "ratio <= 3.0 (time against SELECT + orjson of every row)", limit=3.0)


def _sqlite(directory: Path, quick: bool) -> list[BenchResult]:
    db = str(directory / "bench.db")
    store = f"sqlite://{db}"
    _create(store, "migrate").close()
    bare = sqlite3.connect(str(directory / "bare.db"), isolation_level=None)
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("PRAGMA synchronous=FULL")
    bare.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")

    def insert(body: str) -> None:
        bare.execute("BEGIN")
        bare.execute("INSERT INTO t (body) VALUES (?)", (body,))
        bare.execute("COMMIT")

    reader = sqlite3.connect(db, isolation_level=None)

    def read(session_id: str) -> int:
        rows = reader.execute("SELECT seq, body FROM entries WHERE session_id = ? ORDER BY seq",
                              (session_id,)).fetchall()
        return len([orjson.loads(body) for _, body in rows])

    try:
        return [_append(store, insert, 50 if quick else 500, "sqlite"),
                _resume(store, read, 2_000 if quick else 100_000, "sqlite")]
    finally:
        bare.close()
        reader.close()


def _postgres(url: str, quick: bool) -> list[BenchResult]:
    import psycopg

    _create(url, "migrate").close()
    with psycopg.connect(url, autocommit=True) as bare:
        bare.execute("CREATE TABLE IF NOT EXISTS bench_bare (id BIGSERIAL PRIMARY KEY,"
                     " body TEXT NOT NULL)")

        def insert(body: str) -> None:
            bare.execute("BEGIN")
            bare.execute("INSERT INTO bench_bare (body) VALUES (%s)", (body,))
            bare.execute("COMMIT")

        def read(session_id: str) -> int:
            rows = bare.execute("SELECT seq, body FROM entries WHERE session_id = %s"
                                " ORDER BY seq", (session_id,)).fetchall()
            return len([orjson.loads(body) for _, body in rows])

        return [_append(url, insert, 50 if quick else 500, "postgresql"),
                _resume(url, read, 2_000 if quick else 100_000, "postgresql"),
                _scale_out(url, 2.0 if quick else 10.0)]


def _scale_out(url: str, seconds: float, writers: int = 8, sessions: int = 100) -> BenchResult:
    ids = [f"scale-{n:03d}-{time.time_ns()}" for n in range(sessions)]
    for session_id in ids:
        create_store_log(url, session_id, _header(session_id)).close()
    writer = [sys.executable, "-m", "sessionspec.bench._sql_writer", "turns", url]
    processes = [subprocess.Popen([*writer, str(seconds), str(seed), *ids],
                                  stdout=subprocess.PIPE, text=True)
                 for seed in range(writers)]
    for process in processes:
        assert process.stdout is not None
        process.stdout.readline()  # ready
    start = time.monotonic()
    turns = conflicts = 0
    for process in processes:
        assert process.stdout is not None
        for line in process.stdout.read().splitlines():
            if line.startswith("{"):
                report = json.loads(line)
                turns += "ack" in report
                conflicts += "conflict" in report
        process.stdout.close()
        process.wait()
    elapsed = time.monotonic() - start
    return BenchResult(f"postgresql: scale-out, {writers} writers x {sessions} sessions "
                       "(baseline column: conflicts/s)", turns / elapsed,
                       conflicts / elapsed, turns / max(conflicts, 1), "turns/s",
                       "zero loss (checked by the scale-out test, SQL-010)")


@contextmanager
def _postgres_url() -> Iterator[str | None]:
    explicit = os.environ.get("SESSIONSPEC_PG_URL")
    if explicit:
        yield explicit
        return
    from sessionspec.pgcluster import postgres_bindir, running_server

    bindir = postgres_bindir()
    if bindir is None:
        yield None
        return
    with running_server(bindir) as server:
        try:
            yield server.fresh_store()
        finally:
            from sessionspec.storage.postgres import close_pools

            close_pools()


def run(quick: bool = False) -> list[BenchResult]:
    with tempfile.TemporaryDirectory(prefix="sessionspec-bench-") as tmp:
        results = _sqlite(Path(tmp), quick)
    with _postgres_url() as url:
        if url is not None:
            results += _postgres(url, quick)
    return results
