"""asyncio fronts of the coordinator and the realtime transcript (spec §12, ASYNC).

Rules
-----
* **The event loop never waits on the disk** (ASYNC-001). Every operation that may read,
  write or fsync runs on the object's own worker thread; the coroutine awaits its result.
  Construction (``new``, ``open_existing``, ``create``, ``open``) reads and writes too and
  runs there as well.
* **One writer, one thread, one operation at a time** (ASYNC-002). Each object owns exactly
  one worker thread, so its operations run one after another in the order they were
  awaited: the synchronous object's single-writer rule (LOG-011) holds without a lock, and
  many objects (many sessions) run in parallel, each on its own thread.
* **Same guarantees** (ASYNC-003). An awaited operation returns what the synchronous one
  returns, after the same durable write, and raises the same typed errors. Cancelling the
  awaiting task does not cancel the operation: it has been handed to the worker and runs to
  its end (a half-done turn is exactly what the synchronous object never allows), and
  ``close()`` waits for it. Read-only views (``usage``, ``active_tip``, ...) show the state
  after the last completed operation.

Theory of operation: a ``ThreadPoolExecutor`` with one thread per object; each call is
``loop.run_in_executor(executor, bound_method, *args)`` under ``asyncio.shield`` so that a
cancellation reaches the awaiting task only. Nothing here knows the coordinator's rules.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sessionspec.compaction import CompactionReason
from sessionspec.pricing import CostBreakdown
from sessionspec.runtime.coordinator import (
    CompactionResult,
    ForkResult,
    ResumeReport,
    SessionCoordinator,
)
from sessionspec.runtime.realtime import ApplyOutcome, RealtimeTranscript
from sessionspec.usage import CumulativeUsage
from sessionspec.wire.messages import Usage, WireModel

__all__ = ["AsyncRealtimeTranscript", "AsyncSessionCoordinator", "Worker"]

T = TypeVar("T")


class Worker:
    """One thread that runs one object's operations in order."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._pending: set[asyncio.Future[Any]] = set()
        self._closed = False

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            # The object is closed: its own method raises the synchronous error
            # (IllegalTransitionError), still off the loop.
            return await asyncio.to_thread(function, *args, **kwargs)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait for every operation handed to the thread, whatever became of its caller."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def shutdown(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True)


class AsyncSessionCoordinator:
    """:class:`SessionCoordinator` for asyncio: the same operations, awaited (ASYNC-001..003).

    Create one with ``await AsyncSessionCoordinator.new(...)`` or
    ``await AsyncSessionCoordinator.open_existing(...)`` (same arguments as the synchronous
    constructors), use it as ``async with``, and ``await close()`` at the end.
    """

    def __init__(self, coordinator: SessionCoordinator, worker: Worker) -> None:
        self._coordinator = coordinator
        self._worker = worker

    @classmethod
    async def new(cls, dir: str | os.PathLike[str], cwd: str, *args: Any,
                  **kwargs: Any) -> AsyncSessionCoordinator:
        worker = Worker("sessionspec-session")
        try:
            coordinator = await worker.run(SessionCoordinator.new, dir, cwd, *args, **kwargs)
        except BaseException:
            worker.shutdown()
            raise
        return cls(coordinator, worker)

    @classmethod
    async def open_existing(cls, path: str | os.PathLike[str], *args: Any,
                            **kwargs: Any) -> AsyncSessionCoordinator:
        worker = Worker("sessionspec-session")
        try:
            coordinator = await worker.run(SessionCoordinator.open_existing, path, *args,
                                           **kwargs)
        except BaseException:
            worker.shutdown()
            raise
        return cls(coordinator, worker)

    @property
    def sync(self) -> SessionCoordinator:
        """The synchronous coordinator underneath; call it only from the worker's side."""
        return self._coordinator

    # -- operations (each on the worker thread) -------------------------------------------

    async def on_turn_end(
        self,
        new_messages: Sequence[WireModel | Mapping[str, Any]],
        usage: Usage | Mapping[str, Any] | None = None,
    ) -> CompactionReason | None:
        return await self._worker.run(self._coordinator.on_turn_end, new_messages, usage)

    async def on_turn_end_simple(
        self,
        new_messages: Sequence[WireModel | Mapping[str, Any]],
        usage: Usage | Mapping[str, Any] | None = None,
    ) -> CompactionResult | None:
        return await self._worker.run(self._coordinator.on_turn_end_simple, new_messages, usage)

    async def execute_compaction(self, reason: CompactionReason | str) -> CompactionResult | None:
        return await self._worker.run(self._coordinator.execute_compaction, reason)

    async def append_leaf(self, entry_id: str) -> None:
        await self._worker.run(self._coordinator.append_leaf, entry_id)

    async def append_extension_state(self, state: Any) -> str:
        return await self._worker.run(self._coordinator.append_extension_state, state)

    async def fork(self, *args: Any, **kwargs: Any) -> ForkResult:
        return await self._worker.run(self._coordinator.fork, *args, **kwargs)

    async def context(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """The context after every operation awaited before this call (COORD-041): its
        message objects are shared and must not be changed, unless ``fresh=True``."""
        return await self._worker.run(self._coordinator.context, fresh=fresh)

    async def close(self) -> None:
        """Wait for every operation handed over, then release the log and the thread."""
        await self._worker.drain()
        try:
            await self._worker.run(self._coordinator.close)
        finally:
            self._worker.shutdown()

    async def __aenter__(self) -> AsyncSessionCoordinator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- views of the last completed operation (no I/O) -----------------------------------

    @property
    def session_id(self) -> str:
        return self._coordinator.session_id

    @property
    def session_path(self) -> str:
        return self._coordinator.session_path

    @property
    def usage(self) -> CumulativeUsage:
        return self._coordinator.usage

    @property
    def active_tip(self) -> str | None:
        return self._coordinator.active_tip

    @property
    def recovery(self) -> ResumeReport:
        return self._coordinator.recovery

    def cost_summary(self) -> CostBreakdown | None:
        return self._coordinator.cost_summary()


class AsyncRealtimeTranscript:
    """:class:`RealtimeTranscript` for asyncio: events applied on the journal's own worker
    thread, in the order they were awaited (ASYNC-001, ASYNC-002)."""

    def __init__(self, transcript: RealtimeTranscript, worker: Worker) -> None:
        self._transcript = transcript
        self._worker = worker

    @classmethod
    async def create(cls, path: str, **kwargs: Any) -> AsyncRealtimeTranscript:
        worker = Worker("sessionspec-transcript")
        try:
            transcript = await worker.run(RealtimeTranscript.create, path, **kwargs)
        except BaseException:
            worker.shutdown()
            raise
        return cls(transcript, worker)

    @classmethod
    async def open(cls, path: str, **kwargs: Any) -> AsyncRealtimeTranscript:
        worker = Worker("sessionspec-transcript")
        try:
            transcript = await worker.run(RealtimeTranscript.open, path, **kwargs)
        except BaseException:
            worker.shutdown()
            raise
        return cls(transcript, worker)

    @property
    def sync(self) -> RealtimeTranscript:
        return self._transcript

    async def apply(self, event: WireModel | Mapping[str, Any]) -> ApplyOutcome:
        return await self._worker.run(self._transcript.apply, event)

    async def apply_batch(
        self, events: Sequence[WireModel | Mapping[str, Any]]
    ) -> list[ApplyOutcome]:
        return await self._worker.run(self._transcript.apply_batch, list(events))

    async def flush(self) -> None:
        await self._worker.run(self._transcript.flush)

    async def messages(self) -> list[Any]:
        return await self._worker.run(self._transcript.messages)

    async def unattached_usage(self) -> list[Any]:
        """The usage of responses without a message (RT-027)."""
        return await self._worker.run(self._transcript.unattached_usage)

    async def close(self) -> None:
        await self._worker.drain()
        try:
            await self._worker.run(self._transcript.close)
        finally:
            self._worker.shutdown()

    async def __aenter__(self) -> AsyncRealtimeTranscript:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
