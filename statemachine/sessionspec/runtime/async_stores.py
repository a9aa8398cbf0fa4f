"""asyncio fronts of the stores: the state store, and the PostgreSQL follower (ASYNC-004,
ASYNC-005).

Rules
-----
* :class:`AsyncStateStore` wraps any :class:`~sessionspec.storage.state_store.StateStore`
  (file, SQLite, PostgreSQL, memory) under ASYNC-001..003: each call runs on the wrapper's
  one worker thread, in the order awaited, and returns or raises exactly what the store
  does (a stale commit is :class:`~sessionspec.errors.HeadRevisionConflict`). Several
  wrappers on one database are several writers, and the database decides between them.
* :func:`follow_async` is :func:`sessionspec.storage.postgres.follow` as an async
  iterator: the blocking wait on ``LISTEN`` runs on a thread of its own, so a task can tail
  a session while the loop serves others; leaving the ``async for`` (or ``aclose()``)
  closes the follower's connection.

Theory of operation: the same one-thread worker as the coordinator's front; the follower is
a synchronous generator advanced with ``next`` on its thread, one record per hop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any

from sessionspec.runtime.async_coordinator import Worker
from sessionspec.storage.log import LogRecord
from sessionspec.storage.state_store import StateStore, StoredState

__all__ = ["AsyncStateStore", "follow_async"]


class AsyncStateStore:
    """A state store for asyncio: ``await load``, ``await commit``, ``await sessions``."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._worker = Worker("sessionspec-state")

    async def load(self, session_id: str) -> StoredState | None:
        return await self._worker.run(self.store.load, session_id)

    async def commit(
        self, session_id: str, state: Mapping[str, Any], expected_head_revision: int
    ) -> int:
        return await self._worker.run(self.store.commit, session_id, state, expected_head_revision)

    async def sessions(self) -> list[str]:
        return await self._worker.run(self.store.sessions)

    async def close(self) -> None:
        """Wait for the operations handed to the worker, then stop it (and close the store if
        it has a ``close``)."""
        await self._worker.drain()
        closer = getattr(self.store, "close", None)
        if callable(closer):
            await self._worker.run(closer)
        self._worker.shutdown()

    async def __aenter__(self) -> AsyncStateStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


_END = object()


def _advance(records: Iterator[LogRecord]) -> object:
    return next(records, _END)


async def follow_async(
    conninfo: str,
    session_id: str,
    *,
    after: int = 0,
    timeout: float | None = None,
    poll_interval: float = 1.0,
) -> AsyncIterator[LogRecord]:
    """Tail a PostgreSQL session from asyncio (SQL-011 as an async iterator, ASYNC-005)."""
    from sessionspec.storage.postgres import follow

    worker = Worker("sessionspec-follow")
    records: Generator[LogRecord, None, None] = follow(
        conninfo, session_id, after=after, timeout=timeout, poll_interval=poll_interval
    )
    try:
        while True:
            record = await worker.run(_advance, records)
            if record is _END:
                return
            assert isinstance(record, LogRecord)
            yield record
    finally:
        await worker.run(records.close)  # the generator's finally closes its connection
        worker.shutdown()
