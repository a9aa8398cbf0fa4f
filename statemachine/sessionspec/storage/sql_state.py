"""State stores on SQLite and PostgreSQL: the head-revision compare-and-swap in the database
(SQL-014, STATE-014).

Rules
-----
* One row per session in table ``session_state`` (schema version 3, SQL-005): the session id
  (primary key), the head revision and the state's JSON text. The stores implement the same
  :class:`~sessionspec.storage.state_store.StateStore` interface as the file store and pass
  the same conformance machine (STATE-010, STATE-012).
* ``commit(session_id, state, expected)`` is one statement in one transaction:
  for ``expected == 0`` an ``INSERT ... ON CONFLICT (session_id) DO NOTHING``, otherwise an
  ``UPDATE ... SET head_revision = head_revision + 1 WHERE session_id = ? AND
  head_revision = ?``. The row count tells success (1) from conflict (0): the database
  compares and swaps, so two writers on different machines can never both commit at one
  head. On a conflict the actual head is read back for
  :class:`~sessionspec.errors.HeadRevisionConflict` and nothing was written.
* A database error is :class:`~sessionspec.errors.StateStoreError` naming the store; a row
  that does not hold a JSON object (written by someone else) is one too, on load.
* A store is named by the same URLs as the logs (SQL-008): :func:`open_state_store` takes
  ``sqlite:///path/sessions.db``, ``postgresql://...`` or a directory (the file store), and
  the log and the state of a session may share one database.

Theory of operation: the compare is inside the statement that writes, so no lock is held
between a read and a write; SQLite serializes writers on its database lock (``BEGIN
IMMEDIATE`` is implied by the single write statement in autocommit mode), PostgreSQL on the
row lock the ``UPDATE`` takes and on the primary key for the first ``INSERT``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from sessionspec.errors import CallerError, HeadRevisionConflict, StateStoreError
from sessionspec.storage.jsonl import validate_session_id
from sessionspec.storage.state_store import (
    FileStateStore,
    StateStore,
    StoredState,
    expected_head,
    state_object,
)

__all__ = ["PostgresStateStore", "SqliteStateStore", "open_state_store"]

_INSERT_FIRST = (
    "INSERT INTO session_state (session_id, head_revision, state) VALUES ({p}, 1, {p})"
    " ON CONFLICT (session_id) DO NOTHING"
)
_UPDATE_AT_HEAD = (
    "UPDATE session_state SET state = {p}, head_revision = head_revision + 1"
    " WHERE session_id = {p} AND head_revision = {p}"
)
_SELECT_ONE = "SELECT head_revision, state FROM session_state WHERE session_id = {p}"
_SELECT_IDS = "SELECT session_id FROM session_state ORDER BY session_id"


def _stored(store: str, session_id: str, row: Any) -> StoredState | None:
    if row is None:
        return None
    head, text = row
    try:
        state = state_object(_loads(text))
    except (CallerError, ValueError) as exc:
        raise StateStoreError(f"{store}#{session_id}: the stored state is not a JSON object: "
                              f"{exc}") from None
    if type(head) is not int or head < 1:
        raise StateStoreError(f"{store}#{session_id}: stored head revision {head!r}")
    return StoredState(session_id, head, state)


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        raise ValueError(f"a {type(text).__name__}, not JSON text")
    return json.loads(text)


def _dumps(state: dict[str, Any]) -> str:
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class SqliteStateStore:
    """Session states in a SQLite database file (the log's database may be the same file)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from sessionspec.storage.sqlite import connect, sqlite_url

        self.path = os.fspath(path)
        self.url = sqlite_url(self.path)
        self._lock = threading.Lock()  # one connection, shared by this store's threads
        self._connection = connect(self.path)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> SqliteStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, session_id: str) -> StoredState | None:
        validate_session_id(session_id)
        with self._lock:
            try:
                row = self._connection.execute(_SELECT_ONE.format(p="?"), (session_id,)).fetchone()
            except sqlite3.Error as exc:
                raise StateStoreError(f"{self.url}: cannot load {session_id!r}: {exc}") from exc
        return _stored(self.url, session_id, row)

    def commit(
        self, session_id: str, state: Mapping[str, Any], expected_head_revision: int
    ) -> int:
        validate_session_id(session_id)
        expected = expected_head(expected_head_revision)
        text = _dumps(state_object(state))
        with self._lock:
            try:
                if expected == 0:
                    cursor = self._connection.execute(
                        _INSERT_FIRST.format(p="?"), (session_id, text))
                else:
                    cursor = self._connection.execute(
                        _UPDATE_AT_HEAD.format(p="?"), (text, session_id, expected))
                written = cursor.rowcount == 1
                row = None if written else self._connection.execute(
                    _SELECT_ONE.format(p="?"), (session_id,)).fetchone()
            except sqlite3.Error as exc:
                raise StateStoreError(f"{self.url}: commit of {session_id!r} failed: {exc}") \
                    from exc
        if not written:
            raise HeadRevisionConflict(session_id, expected, 0 if row is None else int(row[0]))
        return expected + 1

    def sessions(self) -> list[str]:
        with self._lock:
            try:
                rows = self._connection.execute(_SELECT_IDS).fetchall()
            except sqlite3.Error as exc:
                raise StateStoreError(f"{self.url}: cannot list sessions: {exc}") from exc
        return [str(row[0]) for row in rows]


class PostgresStateStore:
    """Session states on a PostgreSQL server, through the logs' connection pool."""

    def __init__(self, conninfo: str) -> None:
        from sessionspec.storage.log import Durability
        from sessionspec.storage.postgres import pool_for

        self.url = conninfo
        self._pool = pool_for(conninfo, Durability.SYNC)

    def load(self, session_id: str) -> StoredState | None:
        import psycopg

        validate_session_id(session_id)
        try:
            with self._pool.connection() as connection:
                row = connection.execute(_SELECT_ONE.format(p="%s"), (session_id,)).fetchone()
        except psycopg.Error as exc:
            raise StateStoreError(f"{self.url}: cannot load {session_id!r}: {exc}") from exc
        return _stored(self.url, session_id, row)

    def commit(
        self, session_id: str, state: Mapping[str, Any], expected_head_revision: int
    ) -> int:
        import psycopg

        validate_session_id(session_id)
        expected = expected_head(expected_head_revision)
        text = _dumps(state_object(state))
        try:
            with self._pool.connection() as connection:
                if expected == 0:
                    cursor = connection.execute(_INSERT_FIRST.format(p="%s"), (session_id, text))
                else:
                    cursor = connection.execute(
                        _UPDATE_AT_HEAD.format(p="%s"), (text, session_id, expected))
                written = cursor.rowcount == 1
                row = None if written else connection.execute(
                    _SELECT_ONE.format(p="%s"), (session_id,)).fetchone()
        except psycopg.Error as exc:
            raise StateStoreError(f"{self.url}: commit of {session_id!r} failed: {exc}") from exc
        if not written:
            raise HeadRevisionConflict(session_id, expected, 0 if row is None else int(row[0]))
        return expected + 1

    def sessions(self) -> list[str]:
        import psycopg

        try:
            with self._pool.connection() as connection:
                rows = connection.execute(_SELECT_IDS).fetchall()
        except psycopg.Error as exc:
            raise StateStoreError(f"{self.url}: cannot list sessions: {exc}") from exc
        return [str(row[0]) for row in rows]


def open_state_store(location: str | os.PathLike[str]) -> StateStore:
    """The state store a location names: a SQLite or PostgreSQL URL, or a directory (SQL-014)."""
    from sessionspec.storage.urls import is_store_url, parse_store_url

    if not (isinstance(location, str) and is_store_url(location)):
        return FileStateStore(location)
    parsed = parse_store_url(location)
    if parsed.session_id is not None:
        raise CallerError(f"{location}: a state store is a database, not one session (drop "
                          f"#{parsed.session_id})")
    if parsed.scheme == "sqlite":
        return SqliteStateStore(parsed.location)
    return PostgresStateStore(parsed.location)
