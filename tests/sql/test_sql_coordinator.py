"""The coordinator on a database store, named by a URL (SQL-008), against the JSONL default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.coordinator.coord_helpers import assistant, clock, tool_result, user

from sessionspec.compaction import CompactionConfig, TokenBudgetPolicy
from sessionspec.errors import (
    CallerError,
    HeadConflictError,
    SessionExistsError,
    SessionNotFoundError,
)
from sessionspec.pgcluster import PostgresServer
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage.sqlite import sqlite_url
from sessionspec.storage.urls import parse_store_url

CONFIG = CompactionConfig(threshold_tokens=150, policy=TokenBudgetPolicy(keep_tokens=60))


def drive(coordinator: SessionCoordinator) -> int:
    compactions = 0
    for n in range(6):
        coordinator.on_turn_end(
            [user(f"question {n} " * 8),
             assistant(f"calling {n}", calls=((f"c{n}", '{"cmd":"ls"}'),)),
             tool_result(f"c{n}", f"result {n} " * 10),
             assistant(f"answer {n} " * 6)],
            {"input_tokens": 40 + n, "output_tokens": 10},
        )
        if coordinator.state.value == "compaction_due":
            compactions += coordinator.execute_compaction("threshold") is not None
    coordinator.append_extension_state({"mode": "plan"})
    return compactions


def observed(coordinator: SessionCoordinator) -> tuple[Any, ...]:
    return (coordinator.context(), coordinator.figures, coordinator.active_tip,
            coordinator.next_seq, coordinator.head, coordinator.compaction_entries())


def round_trip(store: str, tmp_path: Path) -> None:
    """The same operations on the store and on a JSONL directory show the same session."""
    on_store = SessionCoordinator.new(store, "/work", CONFIG, "m", session_id="s1", clock=clock)
    on_file = SessionCoordinator.new(str(tmp_path / "jsonl"), "/work", CONFIG, "m",
                                     session_id="s1", clock=clock)
    assert drive(on_store) > 0
    drive(on_file)
    assert observed(on_store) == observed(on_file)
    url = on_store.session_path
    assert parse_store_url(url).session_id == "s1"
    on_store.close()
    on_file.close()
    reopened = SessionCoordinator.open_existing(url, clock=clock)
    from_file = SessionCoordinator.open_existing(str(tmp_path / "jsonl" / "s1.jsonl"),
                                                 clock=clock)
    assert observed(reopened) == observed(from_file)
    assert reopened.recovery.clean
    # A leaf move off the tip reads the session back from the store (COORD-04x).
    first_answer = next(i.id for i in reopened.compaction_entries() if i.message is not None)
    reopened.append_leaf(first_answer)
    from_file.append_leaf(first_answer)
    assert observed(reopened) == observed(from_file)
    with pytest.raises(CallerError):
        reopened.fork()  # a database session forks into a directory only
    fork = reopened.fork(dir=str(tmp_path / "forks"), session_id="f1")
    assert Path(fork.path).exists() and fork.parent_session == "s1"
    reopened.close()
    from_file.close()


@pytest.mark.req("SQL-008")
def test_coordinator_on_sqlite_matches_jsonl(tmp_path: Path) -> None:
    round_trip(f"sqlite://{tmp_path}/sessions.db", tmp_path)


@pytest.mark.req("SQL-008")
def test_coordinator_on_postgres_matches_jsonl(pg_server: PostgresServer, tmp_path: Path) -> None:
    round_trip(pg_server.fresh_store(), tmp_path)


@pytest.mark.req("SQL-003", "SQL-008")
def test_two_coordinators_on_one_session_second_gets_head_conflict(tmp_path: Path) -> None:
    store = f"sqlite://{tmp_path}/sessions.db"
    first = SessionCoordinator.new(store, "/work", CONFIG, "m", session_id="s", clock=clock)
    second = SessionCoordinator.open_existing(first.session_path, clock=clock)
    first.on_turn_end([user("hi"), assistant("hello")])
    with pytest.raises(HeadConflictError):
        second.on_turn_end([user("stale"), assistant("writer")])
    first.close()
    second.close()
    with pytest.raises(SessionNotFoundError):
        SessionCoordinator.open_existing(f"{store}#nobody", clock=clock)


@pytest.mark.req("SQL-008")
def test_store_urls() -> None:
    parsed = parse_store_url("sqlite:///var/x/sessions.db#abc")
    assert (parsed.scheme, parsed.location, parsed.session_id) == (
        "sqlite", "/var/x/sessions.db", "abc")
    assert str(parsed) == "sqlite:///var/x/sessions.db#abc"
    pg = parse_store_url("postgresql://me@db.example:5433/agents#s-1")
    assert (pg.scheme, pg.location, pg.session_id) == (
        "postgresql", "postgresql://me@db.example:5433/agents", "s-1")
    assert parse_store_url("postgres://h/db").session_id is None
    for bad in ("sqlite://", "sqlite:///x.db#", "sqlite:///x.db#a/b", "/plain/path"):
        with pytest.raises(CallerError):
            parse_store_url(bad)


@pytest.mark.req("COORD-006", "SQL-007")
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_creators_in_one_millisecond_get_distinct_generated_ids(kind: str, tmp_path: Path) -> None:
    store = sqlite_url(str(tmp_path / "s.db")) if kind == "sqlite" else str(tmp_path / "dir")

    def frozen() -> float:
        return 1_700_000_000.123

    created = [SessionCoordinator.new(store, "/work", CONFIG, "m", clock=frozen)
               for _ in range(3)]
    ids = [c.session_id for c in created]
    base = format(1_700_000_000_123, "x")
    assert ids == [base, f"{base}-1", f"{base}-2"]
    for coordinator in created:
        coordinator.close()
    with pytest.raises(SessionExistsError):
        SessionCoordinator.new(store, "/work", CONFIG, "m", session_id=base, clock=frozen)
