"""Log adapters that run :class:`~sessionspec.conformance.log_machine.LogCrashMachine` against
the SQL backends (SQL-010).

The machine names one log by a path on its simulated file system; these adapters map that
path to a session id of their own in a real database (one fresh session per adapter, so
examples never see each other's entries). The simulated file system's faults and power cuts
never reach a database: there the machine checks the compare-and-swap, the batch rules, and
that closing and reopening (or dropping a writer without closing it, as after a crash)
shows exactly the acknowledged batches. Real crashes are the crash tests' business
(a SIGKILLed writer, a terminated server connection).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Mapping
from typing import Any

from sessionspec.storage.files import FileSystem
from sessionspec.storage.log import LogStore
from sessionspec.storage.sqlbase import DatabaseLog

__all__ = ["PostgresAdapter", "SqliteAdapter"]

_counter = itertools.count()


class _DatabaseAdapter:
    def __init__(self) -> None:
        self.session_id = f"s-{uuid.uuid4().hex[:12]}"
        self._writers: list[DatabaseLog] = []

    def _header(self, header: Mapping[str, Any]) -> dict[str, Any]:
        return {**header, "id": self.session_id}

    def _keep(self, log: DatabaseLog) -> DatabaseLog:
        # A reopen after a simulated crash abandons the old writer; close it for it.
        for old in self._writers:
            old.close()
        self._writers = [log]
        return log


class SqliteAdapter(_DatabaseAdapter):
    """One session in a SQLite database file under ``folder``."""

    def __init__(self, folder: str) -> None:
        super().__init__()
        self.database = os.path.join(folder, f"log-{os.getpid()}-{next(_counter)}.db")

    def create(self, fs: FileSystem, path: str, header: Mapping[str, Any]) -> LogStore:
        from sessionspec.storage.sqlite import SqliteLog

        return self._keep(SqliteLog.create(self.database, self.session_id, self._header(header)))

    def open(self, fs: FileSystem, path: str) -> LogStore:
        from sessionspec.storage.sqlite import SqliteLog

        return self._keep(SqliteLog.open(self.database, self.session_id))

    def read_entries(self, fs: FileSystem, path: str) -> list[dict[str, Any]]:
        from sessionspec.storage.sqlite import read_session

        return [r.entry for r in read_session(self.database, self.session_id).records]


class PostgresAdapter(_DatabaseAdapter):
    """One session in a PostgreSQL database named by ``url``."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def create(self, fs: FileSystem, path: str, header: Mapping[str, Any]) -> LogStore:
        from sessionspec.storage.postgres import PostgresLog

        return self._keep(PostgresLog.create(self.url, self.session_id, self._header(header)))

    def open(self, fs: FileSystem, path: str) -> LogStore:
        from sessionspec.storage.postgres import PostgresLog

        return self._keep(PostgresLog.open(self.url, self.session_id))

    def read_entries(self, fs: FileSystem, path: str) -> list[dict[str, Any]]:
        from sessionspec.storage.postgres import read_session

        return [r.entry for r in read_session(self.url, self.session_id).records]
