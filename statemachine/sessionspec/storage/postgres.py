"""The PostgreSQL log backend: sessions on a shared server (SQL-001..SQL-012).

Rules
-----
* The schema, the compare-and-swap append and the reading rules are those of
  :mod:`sessionspec.storage.sqlbase`. An append is one transaction on one connection:
  ``UPDATE sessions … WHERE head = expected`` takes the session row's lock, so a second
  writer at the same head waits, then sees the moved head, changes no row and gets
  :class:`HeadConflictError`; the primary key ``(session_id, seq)`` backs it up. Two writers
  on different machines can never both append at the same head (SQL-003).
* A lost connection before ``COMMIT`` was sent leaves no trace: the server rolls the
  transaction back (:class:`AppendFailedError`). A lost connection while committing leaves
  the outcome unknown to the writer (whole or absent on the server, never part): the writer
  enters ``failed`` (:class:`LogFailedError`) and a fresh open tells which (SQL-004).
* :attr:`Durability.SYNC` runs with ``synchronous_commit = on`` (the commit returns after the
  server flushed its WAL); ``NO_SYNC`` with ``off`` (SQL-009).
* Every commit of an append sends ``NOTIFY sessionspec, '<session id>'``; :func:`follow`
  tails a session with ``LISTEN``, and polls as a fallback (SQL-011).
* The URL is psycopg's own (``postgresql://user@host:port/db``, query parameters such as
  ``?host=/run/postgresql`` included); ``#<session id>`` names a session (SQL-008).

Theory of operation
-------------------
Connections come from a :class:`psycopg_pool.ConnectionPool` per (URL, durability), shared
by every writer of the process. A connection the server dropped while it sat in the pool
fails at ``BEGIN``, before anything of the batch was sent: the append then takes another
connection (a few times at most) instead of failing, and the pool replaces the dead one.
Connections are in autocommit mode; each append issues its own ``BEGIN`` and ``COMMIT`` so
that a failure *before* the commit (batch certainly absent) is told apart from a failure
*during* it (outcome unknown).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

from sessionspec.errors import (
    AppendFailedError,
    DuplicateEntryIdError,
    LogAccessError,
)
from sessionspec.storage.jsonl import validate_session_id
from sessionspec.storage.log import Durability, LogRecord, LogSnapshot
from sessionspec.storage.sqlbase import (
    SCHEMA_VERSION,
    DatabaseLog,
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
    "NOTIFY_CHANNEL",
    "PostgresLog",
    "close_pools",
    "follow",
    "list_sessions",
    "migrate",
    "pool_for",
    "read_session",
]

NOTIFY_CHANNEL = "sessionspec"
#: An arbitrary constant: the advisory lock that serializes migrations across processes.
_MIGRATION_LOCK = 0x5E55_1057

#: Each step takes the schema from version ``n`` to ``n + 1`` (SQL-005).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    0: (
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "INSERT INTO schema_version VALUES (0)",
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, header TEXT NOT NULL,"
        " head BIGINT NOT NULL)",
        "CREATE TABLE entries (session_id TEXT NOT NULL, seq BIGINT NOT NULL,"
        " entry_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (session_id, seq))",
    ),
    1: (
        "CREATE UNIQUE INDEX entries_by_id ON entries (session_id, entry_id)",
        "ALTER TABLE sessions ADD COLUMN created TIMESTAMPTZ DEFAULT now()",
    ),
    2: (
        "CREATE TABLE session_state (session_id TEXT PRIMARY KEY,"
        " head_revision BIGINT NOT NULL CHECK (head_revision >= 1), state TEXT NOT NULL)",
    ),
}

#: How many pooled connections an append tries when each one fails at ``BEGIN``.
_BEGIN_ATTEMPTS = 4

_pools: dict[tuple[str, Durability], ConnectionPool[psycopg.Connection[Any]]] = {}
_pools_lock = threading.Lock()


def _configure(durability: Durability) -> Any:
    setting = "on" if durability is Durability.SYNC else "off"

    def configure(connection: psycopg.Connection[Any]) -> None:
        connection.execute(f"SET synchronous_commit = {setting}")

    return configure


def _pool(conninfo: str, durability: Durability) -> ConnectionPool[psycopg.Connection[Any]]:
    key = (conninfo, durability)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=8,
                kwargs={"autocommit": True},
                configure=_configure(durability),
                open=False,
                name=f"sessionspec-{len(_pools)}",
            )
            try:
                pool.open(wait=True, timeout=30.0)
            except Exception as exc:
                pool.close()
                raise LogAccessError(f"cannot connect to the database: {exc}") from exc
            with pool.connection() as connection:
                migrate(connection)
            _pools[key] = pool
    return pool


def pool_for(conninfo: str, durability: Durability) -> ConnectionPool[psycopg.Connection[Any]]:
    """The process's shared pool for a server (its schema migrated), for other stores of the
    same database (the state store, SQL-014)."""
    return _pool(conninfo, durability)


def close_pools() -> None:
    """Close every connection pool of this process (also run at exit)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        # A worker may be sleeping in a reconnection backoff (its server gone or its
        # connections terminated); do not wait out the backoff at exit.
        pool.close(timeout=0.5)


atexit.register(close_pools)


def schema_version(connection: psycopg.Connection[Any]) -> int:
    """The schema version of a database: 0 when it has no ``schema_version`` table."""
    found = connection.execute("SELECT to_regclass('schema_version')").fetchone()
    if found is None or found[0] is None:
        return 0
    return schema_version_of(connection.execute("SELECT version FROM schema_version").fetchall())


def migrate(connection: psycopg.Connection[Any], target: int = SCHEMA_VERSION) -> int:
    """Run the migration steps up to ``target`` in one transaction; return the old version.

    Concurrent openers are serialized by an advisory lock; a database newer than this code
    is refused with :class:`SchemaVersionError` and left unchanged (SQL-005).
    """
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        found = schema_version(connection)
        refuse_newer_schema(found)
        for version in range(found, target):
            for statement in MIGRATIONS[version]:
                connection.execute(statement.encode())
            connection.execute("UPDATE schema_version SET version = %s", (version + 1,))
    return found


T = TypeVar("T")


def _idempotent(pool: ConnectionPool[psycopg.Connection[Any]],
                action: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run a read on a pooled connection; on a connection the server dropped, run it again
    on another (reads change nothing, so a retry is harmless)."""
    for _ in range(_BEGIN_ATTEMPTS - 1):
        with pool.connection() as connection:
            try:
                return action(connection)
            except psycopg.OperationalError:
                if not connection.broken:
                    raise
    with pool.connection() as connection:
        return action(connection)


def _session_url(conninfo: str, session_id: str) -> str:
    return f"{conninfo}#{session_id}"


def _read(
    connection: psycopg.Connection[Any],
    session_id: str,
    url: str,
    entry_types: frozenset[str] = ENTRY_TYPES,
) -> LogSnapshot:
    # REPEATABLE READ: the header, the head and the rows come from one snapshot.
    with connection.transaction():
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        row = connection.execute(
            "SELECT header, head FROM sessions WHERE session_id = %s", (session_id,)
        ).fetchone()
        if row is None:
            raise SessionNotFoundError(session_id, url)
        rows = connection.execute(
            "SELECT seq, body FROM entries WHERE session_id = %s ORDER BY seq", (session_id,)
        ).fetchall()
    return snapshot_from_rows(row[0], rows, int(row[1]), entry_types)


def read_session(conninfo: str, session_id: str) -> LogSnapshot:
    """Read one session, entries in order, without a writer (SQL-006)."""
    url = _session_url(conninfo, session_id)
    return _idempotent(_pool(conninfo, Durability.SYNC),
                       lambda connection: _read(connection, session_id, url))


def list_sessions(conninfo: str) -> list[tuple[str, int]]:
    """``(session id, head)`` of every session in the database, by id (SQL-007)."""
    rows = _idempotent(_pool(conninfo, Durability.SYNC), lambda connection: connection.execute(
        "SELECT session_id, head FROM sessions ORDER BY session_id"
    ).fetchall())
    return [(str(session_id), int(head)) for session_id, head in rows]


def follow(
    conninfo: str,
    session_id: str,
    *,
    after: int = 0,
    timeout: float | None = None,
    poll_interval: float = 1.0,
) -> Generator[LogRecord, None, None]:
    """Tail a session: yield its records with ``seq > after`` in order, as they commit.

    Waits on ``LISTEN sessionspec`` and re-reads on every notification for the session, and
    at least every ``poll_interval`` seconds (a notification sent while the follower was
    reading is not lost: the re-read covers it). Stops after ``timeout`` seconds without a
    new record; ``None`` follows forever (SQL-011).
    """
    url = _session_url(conninfo, session_id)
    try:
        connection = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise LogAccessError(f"{url}: cannot connect: {exc}") from exc
    try:
        connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
        last_new = time.monotonic()
        while True:
            rows = connection.execute(
                "SELECT seq, body FROM entries WHERE session_id = %s AND seq > %s ORDER BY seq",
                (session_id, after),
            ).fetchall()
            for seq, body in rows:
                for record in snapshot_from_rows("{}", [(seq, body)], seq).records:
                    yield LogRecord(int(seq), int(seq) + 1, record.offset, record.entry)
                after = int(seq)
            now = time.monotonic()
            if rows:
                last_new = now
            elif timeout is not None and now - last_new >= timeout:
                return
            wait = poll_interval
            if timeout is not None:
                wait = max(0.0, min(wait, timeout - (now - last_new)))
            for _ in connection.notifies(timeout=wait, stop_after=1):
                pass
    finally:
        connection.close()


class PostgresLog(DatabaseLog):
    """One session on a PostgreSQL server open for appending (SQL-002, SQL-003, SQL-004)."""

    def __init__(
        self,
        conninfo: str,
        session_id: str,
        *,
        head: int,
        durability: Durability,
        snapshot: LogSnapshot | None,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> None:
        super().__init__(
            _session_url(conninfo, session_id),
            session_id,
            head=head,
            durability=durability,
            entry_types=entry_types,
            snapshot=snapshot,
        )
        self.conninfo = conninfo
        self._pool = _pool(conninfo, durability)

    @classmethod
    def create(
        cls,
        conninfo: str,
        session_id: str,
        header: Mapping[str, Any],
        *,
        durability: Durability = Durability.SYNC,
        header_model: type[BaseModel] = SessionHeader,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> PostgresLog:
        """Add a session holding only ``header``; :class:`SessionExistsError` if it exists.
        ``header_model`` and ``entry_types`` make it another kind of log (a realtime
        journal, RT-045)."""
        text = check_new_session(session_id, header, header_model)
        with _pool(conninfo, durability).connection() as connection:
            try:
                connection.execute(
                    "INSERT INTO sessions (session_id, header, head) VALUES (%s, %s, 0)",
                    (session_id, text),
                )
            except psycopg.errors.UniqueViolation:
                raise SessionExistsError(
                    f"{_session_url(conninfo, session_id)}: the session already exists"
                ) from None
            except psycopg.Error as exc:
                raise LogAccessError(f"cannot create the session: {exc}") from exc
        return cls(conninfo, session_id, head=0, durability=durability, snapshot=None,
                   entry_types=entry_types)

    @classmethod
    def open(
        cls,
        conninfo: str,
        session_id: str,
        *,
        durability: Durability = Durability.SYNC,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> PostgresLog:
        """Open a session for appending; its entries are in :attr:`snapshot` (SQL-006)."""
        validate_session_id(session_id)
        snapshot = cls._read_with(conninfo, session_id, durability, entry_types)
        return cls(conninfo, session_id, head=snapshot.head, durability=durability,
                   snapshot=snapshot, entry_types=entry_types)

    @staticmethod
    def _read_with(
        conninfo: str,
        session_id: str,
        durability: Durability,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> LogSnapshot:
        url = _session_url(conninfo, session_id)
        try:
            return _idempotent(
                _pool(conninfo, durability),
                lambda connection: _read(connection, session_id, url, entry_types),
            )
        except psycopg.Error as exc:
            raise LogAccessError(f"cannot read the session: {exc}") from exc

    def read(self) -> LogSnapshot:
        """What the server holds for this session now (SQL-006)."""
        return self._read_with(
            self.conninfo, self.session_id, self._durability, self._entry_types
        )

    def _write_batch(self, expected: int, rows: list[tuple[str, str]]) -> int:
        try:
            for _ in range(_BEGIN_ATTEMPTS - 1):
                with self._pool.connection() as connection:
                    try:
                        connection.execute("BEGIN")
                    except psycopg.OperationalError:
                        if connection.broken:
                            continue  # dropped while idle; nothing of the batch was sent
                        raise
                    return self._transaction(connection, expected, rows)
            with self._pool.connection() as connection:
                connection.execute("BEGIN")
                return self._transaction(connection, expected, rows)
        except psycopg.Error as exc:
            # Raised before COMMIT was sent: the server rolls the transaction back, or
            # has already (a dropped connection ends it).
            raise AppendFailedError(
                f"{self.path}: append failed and was rolled back: {exc}"
            ) from exc

    def _transaction(
        self, connection: psycopg.Connection[Any], expected: int, rows: list[tuple[str, str]]
    ) -> int:
        session_id = self.session_id
        try:
            changed = connection.execute(
                "UPDATE sessions SET head = head + %s WHERE session_id = %s AND head = %s",
                (len(rows), session_id, expected),
            ).rowcount
            if changed != 1:
                found = connection.execute(
                    "SELECT head FROM sessions WHERE session_id = %s", (session_id,)
                ).fetchone()
                raise self._head_missed(expected, found)  # SQL-003
            duplicate = connection.execute(
                "SELECT entry_id FROM entries WHERE session_id = %s AND entry_id = ANY(%s)"
                " LIMIT 1",
                (session_id, [entry_id for entry_id, _ in rows]),
            ).fetchone()
            if duplicate is not None:
                raise DuplicateEntryIdError(str(duplicate[0]))  # LOG-013
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO entries (session_id, seq, entry_id, body)"
                    " VALUES (%s, %s, %s, %s)",
                    numbered_rows(session_id, expected, rows),
                )
            connection.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, session_id))
        except BaseException:
            if not connection.broken:
                connection.execute("ROLLBACK")
            raise
        try:
            connection.execute("COMMIT")
        except psycopg.Error as exc:
            if not connection.broken:  # the server answered: it rolled the batch back
                raise AppendFailedError(f"{self.path}: the commit was refused: {exc}") from exc
            raise self._fail(f"the connection failed while committing ({exc})") from exc
        return expected + len(rows)

    def _release(self) -> None:
        """The pool is shared by the process; nothing is held between appends."""
