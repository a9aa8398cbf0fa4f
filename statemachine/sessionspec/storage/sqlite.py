"""The SQLite log backend: many sessions in one database file (SQL-001..SQL-010).

Rules
-----
* The schema, the compare-and-swap append and the reading rules are those of
  :mod:`sessionspec.storage.sqlbase`. An append is one ``BEGIN IMMEDIATE`` … ``COMMIT``
  transaction: the write lock is taken before the head is compared, so two writers (threads
  or processes) on one file can never both append at the same head (SQL-003).
* The database runs in WAL mode. Under :attr:`Durability.SYNC` it uses
  ``synchronous=FULL``: the WAL is fsynced at every commit, so an acknowledged batch survives
  a power cut; under ``NO_SYNC`` it uses ``synchronous=OFF`` (a batch survives the death of
  the process, not of the machine) (SQL-009).
* Opening a database file runs the schema migration (SQL-005) in one transaction.

Why the standard library's :mod:`sqlite3` and not ``apsw``: this backend needs explicit
transactions (``isolation_level=None`` and ``BEGIN IMMEDIATE``), pragmas and one connection
per writer, which :mod:`sqlite3` gives without a compiled dependency; ``apsw``'s extra reach
(virtual tables, VFS hooks, full SQLite API) serves nothing here.

Theory of operation
-------------------
Each :class:`SqliteLog` owns one connection in autocommit mode and issues its own
``BEGIN``/``COMMIT``. SQLite either commits a transaction entirely or not at all, also when
the process is killed (the WAL frame of an uncommitted transaction is ignored on recovery),
so the "whole or absent" rule of a batch is the database's own.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from sessionspec.errors import (
    AppendFailedError,
    CallerError,
    DuplicateEntryIdError,
    LogAccessError,
)
from sessionspec.storage.jsonl import validate_session_id
from sessionspec.storage.log import Durability, LogSnapshot
from sessionspec.storage.sqlbase import (
    SCHEMA_VERSION,
    DatabaseLog,
    SchemaVersionError,
    SessionExistsError,
    SessionNotFoundError,
    check_new_session,
    numbered_rows,
    refuse_newer_schema,
    schema_version_of,
    snapshot_from_rows,
)
from sessionspec.wire.log import ENTRY_TYPES, SessionHeader

__all__ = [
    "MIGRATIONS",
    "SqliteLog",
    "connect",
    "list_sessions",
    "migrate",
    "read_session",
    "schema_version",
    "sqlite_url",
]

#: Each step takes the schema from version ``n`` to ``n + 1`` (SQL-005).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: (
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "INSERT INTO schema_version VALUES (0)",
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, header TEXT NOT NULL,"
        " head INTEGER NOT NULL)",
        "CREATE TABLE entries (session_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " entry_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (session_id, seq))"
        " WITHOUT ROWID",
    ),
    1: (
        "CREATE UNIQUE INDEX entries_by_id ON entries (session_id, entry_id)",
        "ALTER TABLE sessions ADD COLUMN created REAL",
    ),
    2: (
        "CREATE TABLE session_state (session_id TEXT PRIMARY KEY,"
        " head_revision INTEGER NOT NULL CHECK (head_revision >= 1), state TEXT NOT NULL)",
    ),
}


def sqlite_url(path: str, session_id: str | None = None) -> str:
    """The store URL of a database file, and of one session in it (SQL-008)."""
    url = "sqlite://" + os.path.abspath(path)
    return url if session_id is None else f"{url}#{session_id}"


def connect(path: str, durability: Durability = Durability.SYNC) -> sqlite3.Connection:
    """Open (or create) a database file in WAL mode and migrate its schema (SQL-005, SQL-009)."""
    if type(path) is not str or not path:
        raise CallerError(f"a database path is a non-empty string, not {path!r}")
    if os.path.isdir(path):
        raise CallerError(f"{path}: is a directory, not a database file")
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=60.0,
                                     check_same_thread=False)
    except sqlite3.Error as exc:
        raise LogAccessError(f"{path}: cannot open the database: {exc}") from exc
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        mode = "FULL" if durability is Durability.SYNC else "OFF"
        connection.execute(f"PRAGMA synchronous={mode}")
        migrate(connection)
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise LogAccessError(f"{path}: not a usable session database: {exc}") from exc
    except BaseException:
        connection.close()
        raise
    return connection


def schema_version(connection: sqlite3.Connection) -> int:
    """The schema version of a database: 0 when it has no ``schema_version`` table."""
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if found is None:
        return 0
    return schema_version_of(connection.execute("SELECT version FROM schema_version").fetchall())


def migrate(connection: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Run the migration steps up to ``target`` in one transaction; return the old version.

    A database newer than this code is refused with :class:`SchemaVersionError` and left as
    it is; a failed step rolls every step back (SQL-005).
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(connection)
        refuse_newer_schema(found)
        for version in range(found, target):
            for statement in MIGRATIONS[version]:
                connection.execute(statement)
            connection.execute("UPDATE schema_version SET version = ?", (version + 1,))
        connection.execute("COMMIT")
    except sqlite3.IntegrityError as exc:
        connection.execute("ROLLBACK")
        raise SchemaVersionError(f"the migration failed and was rolled back: {exc}") from exc
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return found


def _read(
    connection: sqlite3.Connection,
    session_id: str,
    url: str,
    entry_types: frozenset[str] = ENTRY_TYPES,
) -> LogSnapshot:
    connection.execute("BEGIN")  # one consistent view of the header, head and rows
    try:
        row = connection.execute(
            "SELECT header, head FROM sessions WHERE session_id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise SessionNotFoundError(session_id, url)
        rows: Iterator[tuple[int, str]] = iter(connection.execute(
            "SELECT seq, body FROM entries WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall())
        snapshot = snapshot_from_rows(row[0], rows, int(row[1]), entry_types)
    finally:
        connection.execute("COMMIT")
    return snapshot


def read_session(path: str, session_id: str) -> LogSnapshot:
    """Read one session without a writer (SQL-006)."""
    connection = connect(path)
    try:
        return _read(connection, session_id, sqlite_url(path, session_id))
    finally:
        connection.close()


def list_sessions(path: str) -> list[tuple[str, int]]:
    """``(session id, head)`` of every session in the database, by id (SQL-007)."""
    connection = connect(path)
    try:
        rows = connection.execute(
            "SELECT session_id, head FROM sessions ORDER BY session_id"
        ).fetchall()
    finally:
        connection.close()
    return [(str(session_id), int(head)) for session_id, head in rows]


class SqliteLog(DatabaseLog):
    """One session of a SQLite database open for appending (SQL-002, SQL-003)."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        database: str,
        session_id: str,
        *,
        head: int,
        durability: Durability,
        snapshot: LogSnapshot | None,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> None:
        super().__init__(
            sqlite_url(database, session_id),
            session_id,
            head=head,
            durability=durability,
            entry_types=entry_types,
            snapshot=snapshot,
        )
        self.database = database
        self._connection = connection

    @classmethod
    def create(
        cls,
        database: str,
        session_id: str,
        header: Mapping[str, Any],
        *,
        durability: Durability = Durability.SYNC,
        header_model: type[BaseModel] = SessionHeader,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> SqliteLog:
        """Add a session holding only ``header``; :class:`SessionExistsError` if it exists.
        ``header_model`` and ``entry_types`` make it another kind of log (a realtime
        journal, RT-045)."""
        text = check_new_session(session_id, header, header_model)
        connection = connect(database, durability)
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(
                    "INSERT INTO sessions (session_id, header, head, created) VALUES (?, ?, 0, ?)",
                    (session_id, text, time.time()),
                )
            except sqlite3.IntegrityError:
                connection.execute("ROLLBACK")
                raise SessionExistsError(
                    f"{sqlite_url(database, session_id)}: the session already exists"
                ) from None
            connection.execute("COMMIT")
        except BaseException:
            connection.close()
            raise
        return cls(connection, database, session_id, head=0, durability=durability,
                   snapshot=None, entry_types=entry_types)

    @classmethod
    def open(
        cls,
        database: str,
        session_id: str,
        *,
        durability: Durability = Durability.SYNC,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> SqliteLog:
        """Open a session for appending; its entries are in :attr:`snapshot` (SQL-006)."""
        validate_session_id(session_id)
        if not os.path.exists(database):
            raise SessionNotFoundError(session_id, f"{database} (no such database file)")
        connection = connect(database, durability)
        try:
            snapshot = _read(
                connection, session_id, sqlite_url(database, session_id), entry_types
            )
        except BaseException:
            connection.close()
            raise
        return cls(connection, database, session_id, head=snapshot.head,
                   durability=durability, snapshot=snapshot, entry_types=entry_types)

    def read(self) -> LogSnapshot:
        """What the database holds for this session now (SQL-006)."""
        return _read(self._connection, self.session_id, self.path, self._entry_types)

    def _write_batch(self, expected: int, rows: list[tuple[str, str]]) -> int:
        execute: Callable[..., sqlite3.Cursor] = self._connection.execute
        try:
            execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise AppendFailedError(f"{self.path}: could not begin the append: {exc}") from exc
        try:
            changed = execute(
                "UPDATE sessions SET head = head + ? WHERE session_id = ? AND head = ?",
                (len(rows), self.session_id, expected),
            ).rowcount
            if changed != 1:
                found = execute(
                    "SELECT head FROM sessions WHERE session_id = ?", (self.session_id,)
                ).fetchone()
                raise self._head_missed(expected, found)  # SQL-003
            self._check_new_ids(rows)
            self._connection.executemany(
                "INSERT INTO entries (session_id, seq, entry_id, body) VALUES (?, ?, ?, ?)",
                numbered_rows(self.session_id, expected, rows),
            )
            execute("COMMIT")
        except BaseException as exc:
            try:
                if self._connection.in_transaction:
                    execute("ROLLBACK")
            except sqlite3.Error as rollback_error:
                raise self._fail(f"the append failed ({exc}) and so did its rollback "
                                 f"({rollback_error})") from exc
            if isinstance(exc, sqlite3.Error):
                raise AppendFailedError(
                    f"{self.path}: append failed and was rolled back: {exc}"
                ) from exc
            raise
        return expected + len(rows)

    def _check_new_ids(self, rows: list[tuple[str, str]]) -> None:
        """LOG-013: an id the session already holds is refused (inside the transaction)."""
        ids = [entry_id for entry_id, _ in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found = self._connection.execute(
                f"SELECT entry_id FROM entries WHERE session_id = ? AND entry_id IN ({marks})",
                (self.session_id, *chunk),
            ).fetchone()
            if found is not None:
                raise DuplicateEntryIdError(str(found[0]))

    def _release(self) -> None:
        self._connection.close()
