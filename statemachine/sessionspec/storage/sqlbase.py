"""What the SQL log backends share: schema, batch checks, reading rows back (SQL-001..SQL-012).

Rules
-----
* A database holds many sessions. Table ``sessions`` has one row per session: its id, its
  header (JSON text) and its ``head``, the number of entries. Table ``entries`` has one row
  per entry: ``(session_id, seq)`` is the primary key, ``(session_id, entry_id)`` is
  unique, ``body`` is the entry's JSON text (SQL-001).
* An append is ONE transaction (SQL-002): ``UPDATE sessions SET head = head + n WHERE
  session_id = ? AND head = ?`` (the compare-and-swap, SQL-003), the duplicate-id check, and
  the inserts of rows ``head+1 .. head+n``. If the update changes no row, the head moved: the
  transaction is rolled back and the writer gets :class:`HeadConflictError`. The primary key
  is the second line of defence: two rows at one ``(session_id, seq)`` cannot exist.
* A database log is shared: other writers may append to the same session. Every append is
  therefore a compare-and-swap, on ``expected_head`` when given, else on the head this
  writer last saw; a stale writer gets :class:`HeadConflictError` and nothing is written
  (SQL-003).
* A failed transaction is rolled back by the database; the writer stays usable and its head
  unchanged (:class:`AppendFailedError`, LOG-005). If the outcome of a commit is unknown
  (the connection was lost while committing) the writer enters ``failed`` and refuses writes
  until it is opened again (:class:`LogFailedError`, LOG-006): the batch is either wholly
  there or wholly absent, and only a fresh read can tell which (SQL-004).
* The schema is versioned: table ``schema_version`` holds one row; opening a database runs
  the migration steps from the version found up to :data:`SCHEMA_VERSION` in one
  transaction (SQL-005). A database newer than this code is refused.
* Reading returns the same :class:`LogSnapshot` as the JSONL log: records in ``seq`` order,
  and a :class:`RecoveryReport` whose findings are rows that are not JSON objects, rows of
  an unknown type, repeated ids and gaps in ``seq`` (SQL-006). A database never has a torn
  tail: a transaction is whole or absent.

Theory of operation
-------------------
:class:`DatabaseLog` owns the writer lifecycle (the log table of :mod:`.log`), the checks
of a batch before any statement runs, and the bookkeeping of the head; a backend supplies
``_write_batch`` (run the transaction) and ``_release`` (give the connection back).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from sessionspec.errors import (
    CallerError,
    DuplicateEntryIdError,
    HeadConflictError,
    IllegalTransitionError,
    LogFailedError,
    SchemaVersionError,
    SessionExistsError,
    SessionNotFoundError,
)
from sessionspec.lifecycle import Lifecycle
from sessionspec.storage.jsonl import FRAMING_FIELDS, validate_session_id
from sessionspec.storage.log import (
    LOG_TABLE,
    Damage,
    DamageKind,
    Durability,
    LogEvent,
    LogRecord,
    LogSnapshot,
    LogState,
    RecoveryReport,
)
from sessionspec.wire.log import ENTRY_TYPES, SessionHeader

__all__ = [
    "SCHEMA_VERSION",
    "DatabaseLog",
    "SchemaVersionError",
    "SessionExistsError",
    "SessionNotFoundError",
    "check_header",
    "check_new_session",
    "encode_batch",
    "numbered_rows",
    "refuse_newer_schema",
    "schema_version_of",
    "snapshot_from_rows",
]

#: The schema this code writes (SQL-005). Version 1 had no unique entry ids; version 2
#: adds the ``(session_id, entry_id)`` unique index and the ``created`` column; version 3
#: the ``session_state`` table of the state stores (SQL-014).
SCHEMA_VERSION = 3


def check_header(
    header: Mapping[str, Any], header_model: type[BaseModel] = SessionHeader
) -> str:
    """Validate a header (a session's, or another kind of log's: ``header_model``) as the
    JSONL log does; return its JSON text (LOG-019)."""
    try:
        header_model.model_validate(header, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CallerError(f"invalid header: {where}: {first['msg']}") from None
    for name in FRAMING_FIELDS:
        if name in header:
            raise CallerError(f"field {name!r} is reserved for the log's framing")
    try:
        return orjson.dumps(dict(header)).decode()
    except TypeError as exc:
        raise CallerError(f"header is not JSON-serializable: {exc}") from exc


def check_new_session(
    session_id: str, header: Mapping[str, Any], header_model: type[BaseModel] = SessionHeader
) -> str:
    """Check a new session's id (LOG-012) and header (LOG-019); return the header's JSON text."""
    validate_session_id(session_id)
    text = check_header(header, header_model)
    if header.get("id") != session_id:
        raise CallerError(f"the header's id {header.get('id')!r} is not {session_id!r}")
    return text


def schema_version_of(rows: Sequence[Sequence[Any]]) -> int:
    """The version the ``schema_version`` table's rows hold: exactly one integer (SQL-005)."""
    if len(rows) != 1 or type(rows[0][0]) is not int:
        raise SchemaVersionError(f"the schema_version table holds {rows!r}, not one version")
    return int(rows[0][0])


def refuse_newer_schema(found: int) -> None:
    """:class:`SchemaVersionError` for a database newer than this code (SQL-005)."""
    if found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the database has schema version {found}; this code knows up to "
            f"{SCHEMA_VERSION}"
        )


def numbered_rows(
    session_id: str, expected: int, rows: Sequence[tuple[str, str]]
) -> list[tuple[str, int, str, str]]:
    """``(session_id, seq, entry_id, body)`` for a batch appended after head ``expected``."""
    return [
        (session_id, expected + 1 + index, entry_id, body)
        for index, (entry_id, body) in enumerate(rows)
    ]


def encode_batch(
    entries: Sequence[Mapping[str, Any]], entry_types: frozenset[str] = ENTRY_TYPES
) -> list[tuple[str, str]]:
    """Check a batch before any statement runs; return ``(entry id, JSON text)`` pairs.

    The same refusals as the JSONL log (LOG-019): an empty batch, an entry that is not an
    object, an unknown type, no non-empty string id, a framing field, a value that is not
    JSON; and an id repeated inside the batch (LOG-013).
    """
    if isinstance(entries, Mapping | str | bytes) or not entries:
        raise CallerError("a batch is a non-empty sequence of entry objects")
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise CallerError(f"entry {index} is not a JSON object")
        entry_type, entry_id = entry.get("type"), entry.get("id")
        if not isinstance(entry_type, str) or entry_type not in entry_types:
            raise CallerError(f"entry {index}: unknown entry type {entry_type!r}")
        if not isinstance(entry_id, str) or not entry_id:
            raise CallerError(f"entry {index}: an entry needs a non-empty string id")
        if entry_id in seen:
            raise DuplicateEntryIdError(entry_id)
        for name in FRAMING_FIELDS:
            if name in entry:
                raise CallerError(f"field {name!r} is reserved for the log's framing")
        try:
            body = orjson.dumps(dict(entry)).decode()
        except TypeError as exc:
            raise CallerError(f"entry {entry_id!r} is not JSON-serializable: {exc}") from exc
        seen.add(entry_id)
        rows.append((entry_id, body))
    return rows


def snapshot_from_rows(
    header_text: str,
    rows: Iterable[tuple[int, str]],
    head: int,
    entry_types: frozenset[str] = ENTRY_TYPES,
) -> LogSnapshot:
    """Build a :class:`LogSnapshot` from ``(seq, body)`` rows in ``seq`` order (SQL-006).

    ``line`` of a record is ``seq + 1`` (the header counts as line 1, as in a file) and
    ``offset`` is the byte offset the entry would have in the equivalent JSONL export.
    """
    header = orjson.loads(header_text)
    records: list[LogRecord] = []
    damage: list[Damage] = []
    seen: set[str] = set()
    offset = len(header_text) + 1
    expected_seq = 1
    loads = orjson.loads
    for seq, body in rows:
        length = len(body.encode()) + 1
        line = seq + 1
        if seq != expected_seq:
            damage.append(
                Damage(DamageKind.SEQUENCE_GAP, line, offset, length,
                       f"seq {seq} where {expected_seq} was expected")
            )
        expected_seq = seq + 1
        try:
            entry = loads(body)
        except orjson.JSONDecodeError as exc:
            damage.append(Damage(DamageKind.CORRUPT_ENTRY, line, offset, length, str(exc)))
            offset += length
            continue
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry_id, str):
            damage.append(Damage(DamageKind.CORRUPT_ENTRY, line, offset, length,
                                 "not an entry object with a string id"))
        elif entry.get("type") not in entry_types:
            damage.append(Damage(DamageKind.UNKNOWN_ENTRY, line, offset, length,
                                 f"unknown entry type {entry.get('type')!r}"))
        elif entry_id in seen:
            damage.append(Damage(DamageKind.DUPLICATE_ID, line, offset, length,
                                 f"entry id {entry_id!r} repeats an earlier entry"))
        else:
            seen.add(entry_id)
            records.append(LogRecord(seq, line, offset, entry))
        offset += length
    report = RecoveryReport(damage=tuple(damage), file_bytes=offset, kept_bytes=offset)
    return LogSnapshot(header=header, records=records, report=report, head=head)


class DatabaseLog:
    """A session in a database, open for appending; the base of the SQL backends.

    ``path`` is the session's URL (``sqlite:///…#id``, ``postgresql://…#id``), which
    :func:`sessionspec.storage.urls.open_store_log` accepts back (SQL-008).
    """

    def __init__(
        self,
        path: str,
        session_id: str,
        *,
        head: int,
        durability: Durability,
        entry_types: frozenset[str],
        snapshot: LogSnapshot | None,
    ) -> None:
        self.path = path
        self.session_id = session_id
        self._head = head
        self._durability = durability
        self._entry_types = entry_types
        self._lifecycle: Lifecycle[LogState, LogEvent] = Lifecycle(LOG_TABLE)
        self._mutex = threading.Lock()  # LOG-023
        #: What :meth:`open` read (``None`` after ``create``). Drop it after replay.
        self.snapshot = snapshot

    # -- LogStore ---------------------------------------------------------------------------

    @property
    def head(self) -> int:
        return self._head

    @property
    def state(self) -> LogState:
        return self._lifecycle.state

    @property
    def durability(self) -> Durability:
        return self._durability

    def append(
        self, entries: Sequence[Mapping[str, Any]], *, expected_head: int | None = None
    ) -> int:
        """Append one batch in one transaction; return the new head (SQL-002, SQL-003).

        Raises :class:`HeadConflictError` when the session's head in the database is not
        ``expected_head`` (or, without it, not the head this writer last saw),
        :class:`DuplicateEntryIdError` or :class:`CallerError` for a bad batch,
        :class:`AppendFailedError` when the transaction failed and was rolled back, and
        :class:`LogFailedError` when the commit's outcome is unknown.
        """
        with self._mutex:
            self._check_writable()
            rows = encode_batch(entries, self._entry_types)
            expected = self._head if expected_head is None else expected_head
            self._head = self._write_batch(expected, rows)
            return self._head

    def close(self) -> None:
        """Give the connection back. Closing twice is harmless (LOG-015)."""
        with self._mutex:
            if self._lifecycle.state is LogState.CLOSED:
                return
            self._lifecycle.commit(LogEvent.CLOSE)
            self._release()

    def __enter__(self) -> DatabaseLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- for backends -----------------------------------------------------------------------

    def _write_batch(self, expected: int, rows: list[tuple[str, str]]) -> int:
        raise NotImplementedError  # pragma: no cover - every backend overrides it

    def _release(self) -> None:
        raise NotImplementedError  # pragma: no cover - every backend overrides it

    def _head_missed(
        self, expected: int, found: Sequence[Any] | None
    ) -> SessionNotFoundError | HeadConflictError:
        """Why the head compare-and-swap changed no row: the session is gone (``found`` is
        no row) or its head is not ``expected`` (SQL-003)."""
        if found is None:
            return SessionNotFoundError(self.session_id, f"{self.path} (the session is gone)")
        return HeadConflictError(expected, int(found[0]))

    def _fail(self, detail: str) -> LogFailedError:
        """The commit's outcome is unknown: enter ``failed`` (LOG-006, SQL-004)."""
        self._lifecycle.commit(LogEvent.CUT_BACK_FAILED)
        return LogFailedError(
            f"{self.path}: {detail}; the batch is wholly there or wholly absent, and the log "
            "refuses writes until it is opened again"
        )

    def _check_writable(self) -> None:
        state = self._lifecycle.state
        if state is LogState.OPEN:
            return
        if state is LogState.FAILED:
            raise LogFailedError(f"{self.path}: the log failed earlier; open it again")
        raise IllegalTransitionError("log", state.value, LogEvent.APPEND.value, "closed")
