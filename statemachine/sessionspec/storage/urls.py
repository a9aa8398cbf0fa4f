"""Store URLs: where a session lives, named by one string (SQL-008).

Rules
-----
* ``sqlite://<path>`` names a SQLite database file (``sqlite:///abs/sessions.db`` for an
  absolute path, as ``file://`` URLs do); ``postgresql://user@host:port/db`` (or
  ``postgres://``) names a PostgreSQL database, in psycopg's own form, query parameters
  included (``?host=/run/postgresql`` for a Unix socket).
* ``#<session id>`` after either names one session in it. The store part never contains
  ``#``; everything after the first ``#`` is the session id.
* Anything else is a plain path: a JSONL directory or session file, as before.
* A coordinator on a database has ``session_path`` = ``<store URL>#<session id>``, which
  :func:`open_store_log` (and ``SessionCoordinator.open_existing``) accepts back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sessionspec.errors import CallerError
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog, read_log, validate_session_id
from sessionspec.storage.log import Durability, LogSnapshot
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.wire.log import ENTRY_TYPES, SessionHeader

__all__ = [
    "StoreUrl",
    "create_store_log",
    "is_store_url",
    "open_log_at",
    "open_store_log",
    "parse_store_url",
    "read_at",
]

_SCHEMES = {"sqlite://": "sqlite", "postgresql://": "postgresql", "postgres://": "postgresql"}


@dataclass(frozen=True, slots=True)
class StoreUrl:
    #: ``sqlite`` or ``postgresql``.
    scheme: str
    #: The database file's path (SQLite) or the connection URL (PostgreSQL).
    location: str
    #: The session named after ``#``, if any.
    session_id: str | None

    @property
    def store(self) -> str:
        """The URL of the store without the session."""
        if self.scheme == "sqlite":
            return "sqlite://" + self.location
        return self.location

    def session(self, session_id: str) -> StoreUrl:
        return StoreUrl(self.scheme, self.location, validate_session_id(session_id))

    def __str__(self) -> str:
        return self.store if self.session_id is None else f"{self.store}#{self.session_id}"


def is_store_url(text: object) -> bool:
    """True for a ``sqlite://`` or ``postgresql://`` URL (a string), False for anything else."""
    return type(text) is str and text.startswith(tuple(_SCHEMES))


def parse_store_url(text: str) -> StoreUrl:
    """Split a store URL into its scheme, its location and its session (SQL-008)."""
    if not is_store_url(text):
        raise CallerError(f"not a store URL (sqlite:// or postgresql://): {text!r}")
    prefix = next(p for p in _SCHEMES if text.startswith(p))
    store, hash_sign, session_id = text.partition("#")
    if hash_sign:
        validate_session_id(session_id)
    scheme = _SCHEMES[prefix]
    if scheme == "sqlite":
        location = store[len(prefix):]
        if not location:
            raise CallerError(f"a sqlite URL names a file (sqlite:///path/x.db), not {text!r}")
        location = os.path.abspath(location)
    else:
        location = store
    return StoreUrl(scheme, location, session_id if hash_sign else None)


def create_store_log(
    url: str | StoreUrl,
    session_id: str,
    header: Mapping[str, Any],
    durability: Durability = Durability.SYNC,
    *,
    header_model: type[BaseModel] = SessionHeader,
    entry_types: frozenset[str] = ENTRY_TYPES,
) -> DatabaseLog:
    """Add a session to the store named by ``url`` and open it for appending.
    ``header_model`` and ``entry_types`` make it another kind of log (a realtime journal,
    RT-045)."""
    parsed = parse_store_url(url) if isinstance(url, str) else url
    if parsed.session_id is not None and parsed.session_id != session_id:
        raise CallerError(f"the URL names session {parsed.session_id!r}, not {session_id!r}")
    if parsed.scheme == "sqlite":
        from sessionspec.storage.sqlite import SqliteLog

        return SqliteLog.create(
            parsed.location,
            session_id,
            header,
            durability=durability,
            header_model=header_model,
            entry_types=entry_types,
        )
    from sessionspec.storage.postgres import PostgresLog

    return PostgresLog.create(
        parsed.location,
        session_id,
        header,
        durability=durability,
        header_model=header_model,
        entry_types=entry_types,
    )


def open_store_log(
    url: str | StoreUrl,
    durability: Durability = Durability.SYNC,
    *,
    entry_types: frozenset[str] = ENTRY_TYPES,
) -> DatabaseLog:
    """Open the session named by ``<store URL>#<session id>`` for appending."""
    parsed = parse_store_url(url) if isinstance(url, str) else url
    if parsed.session_id is None:
        raise CallerError(f"{parsed}: a session URL ends in #<session id>")
    if parsed.scheme == "sqlite":
        from sessionspec.storage.sqlite import SqliteLog

        return SqliteLog.open(
            parsed.location, parsed.session_id, durability=durability, entry_types=entry_types
        )
    from sessionspec.storage.postgres import PostgresLog

    return PostgresLog.open(
        parsed.location, parsed.session_id, durability=durability, entry_types=entry_types
    )


def open_log_at(
    path: str, *, fs: FileSystem, durability: Durability
) -> JsonlLog | DatabaseLog:
    """A session URL opens its database session; a plain path its JSONL file."""
    if is_store_url(path):
        return open_store_log(path, durability)
    return JsonlLog.open(path, fs=fs, durability=durability)


def read_at(path: str, *, fs: FileSystem | None = None) -> LogSnapshot:
    """Read a session named by a session URL or a JSONL path, without a writer."""
    if not is_store_url(path):
        return read_log(path, fs=fs)
    parsed = parse_store_url(path)
    if parsed.session_id is None:
        raise CallerError(f"{parsed}: a session URL ends in #<session id>")
    if parsed.scheme == "sqlite":
        from sessionspec.storage.sqlite import read_session

        return read_session(parsed.location, parsed.session_id)
    from sessionspec.storage import postgres

    return postgres.read_session(parsed.location, parsed.session_id)
