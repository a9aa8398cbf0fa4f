"""Scale-out: 8 writer processes, 100 sessions, one PostgreSQL server (SQL-003, SQL-004).

Each writer appends one-entry turns to random sessions for a bounded time, at the head it
last saw (often stale: seven other processes write the same sessions) and now and then at a
head it knows is stale. Afterwards every acknowledged turn is in the database exactly once,
nothing else is, every session's entries are numbered 1..head without a gap, and every
refused append was a typed HeadConflictError (any other error ends a writer with a non-zero
status, which fails the test).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.sql.test_postgres import header

from sessionspec.pgcluster import PostgresServer
from sessionspec.storage.postgres import PostgresLog, list_sessions, read_session

WRITERS = 8
SESSIONS = 100
SECONDS = 6.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.req("SQL-003", "SQL-010")
def test_eight_writers_on_a_hundred_sessions_lose_nothing(pg_server: PostgresServer) -> None:
    url = pg_server.fresh_store()
    sessions = [f"s{n:03d}" for n in range(SESSIONS)]
    for session_id in sessions:
        PostgresLog.create(url, session_id, header(session_id)).close()
    processes = [
        subprocess.Popen([sys.executable, "-m", "sessionspec.bench._sql_writer", "turns", url,
                          str(SECONDS), str(seed), *sessions],
                         stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for seed in range(WRITERS)
    ]
    for process in processes:  # all writers have opened their sessions
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    started = time.monotonic()
    acknowledged: Counter[tuple[str, str]] = Counter()
    conflicts = 0
    for process in processes:
        assert process.stdout is not None
        out = process.stdout.read()  # buffered text too (readline above may have read ahead)
        process.stdout.close()
        assert process.wait(timeout=120) == 0
        lines = out.splitlines()
        assert lines[-1] == "done"
        for line in lines[:-1]:
            report = json.loads(line)
            if "ack" in report:
                acknowledged[(report["ack"], report["id"])] += 1
            else:
                assert report["expected"] != report["actual"]
                conflicts += 1
    elapsed = time.monotonic() - started
    stored: Counter[tuple[str, str]] = Counter()
    for session_id, head in list_sessions(url):
        snapshot = read_session(url, session_id)
        assert snapshot.report.clean and len(snapshot.records) == head
        assert [r.seq for r in snapshot.records] == list(range(1, head + 1))
        stored.update((session_id, r.entry["id"]) for r in snapshot.records)
    assert max(acknowledged.values()) == 1
    assert stored == acknowledged  # zero lost, zero duplicated, nothing unacknowledged
    assert conflicts > 0
    turns = sum(acknowledged.values())
    print(f"\nscale-out: {WRITERS} writers, {SESSIONS} sessions, {turns} turns in "
          f"{elapsed:.1f} s ({turns / elapsed:.0f} turns/s), {conflicts} conflicts")
