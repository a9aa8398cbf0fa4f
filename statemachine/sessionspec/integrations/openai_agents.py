"""The OpenAI Agents SDK ``Session`` protocol on the coordinator (optional extra ``agents``).

Swap ``SQLiteSession("user-1", "conversations.db")`` for
``CoordinatorSession("user-1", "sessions/")`` and an agent's history becomes a verified,
durable, compacting sessionspec log: one JSONL file per session id in that folder.

Rules (spec §12 ASYNC and §11 CODEC apply; AGENTS-001..004 below them)
----------------------------------------------------------------------
* ``add_items(items)`` decodes the Responses API input items with the Responses codec and
  appends them as **one** coordinator turn: one write, one fsync, all or nothing
  (AGENTS-001). An item the message model cannot express is refused with
  ``UnrepresentableError`` and nothing is written.
* ``get_items(limit)`` is the coordinator's context encoded back as input items, the
  latest ``limit`` of them in order (AGENTS-002); after a compaction its summary comes first,
  as a user message.
* ``pop_item()`` removes the last item by moving the leaf back (the log keeps the abandoned
  entry on a side branch); when the last message held several items, the rest is written
  again on the new branch. An item kept by a compaction cannot be popped this way and is an
  ``UnrepresentableError`` (AGENTS-003).
* ``clear_session()`` renames the session's file to ``<id>.cleared-<n>.jsonl`` (history is
  never deleted) and starts an empty session under the same id (AGENTS-003).
* The protocol carries no token usage. ``store_run_usage(result)`` records a run's usage as
  a turn without messages (COORD-014); when the compaction threshold is reached the session
  compacts at the start of the next ``add_items``, so the items just added are never inside
  a compaction and ``pop_item`` can always take them back (AGENTS-004).

Theory of operation: one :class:`AsyncSessionCoordinator` per session, opened on first use
(the SDK constructs sessions synchronously), so every file operation runs on that session's
worker thread and the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from sessionspec.codecs.model import EntryKind
from sessionspec.codecs.native import read_native
from sessionspec.codecs.openai_responses import from_openai_responses, to_openai_responses
from sessionspec.compaction import CompactionConfig
from sessionspec.errors import UnrepresentableError
from sessionspec.runtime.async_coordinator import AsyncSessionCoordinator
from sessionspec.storage.jsonl import session_path
from sessionspec.storage.log import Durability

__all__ = ["CoordinatorSession"]


class CoordinatorSession:
    """An Agents SDK session (``get_items``, ``add_items``, ``pop_item``, ``clear_session``)
    backed by a sessionspec coordinator."""

    session_settings: Any = None

    def __init__(
        self,
        session_id: str,
        directory: str | os.PathLike[str],
        *,
        model: str = "",
        compaction_config: CompactionConfig | None = None,
        durability: Durability = Durability.SYNC,
        cwd: str = "",
    ) -> None:
        self.session_id = session_id
        self.directory = os.fspath(directory)
        self.model = model
        self._config = compaction_config
        self._durability = durability
        self._cwd = cwd
        self._coordinator: AsyncSessionCoordinator | None = None
        self._lock = asyncio.Lock()
        self._compaction_due = False

    @property
    def path(self) -> str:
        return session_path(self.directory, self.session_id)

    async def coordinator(self) -> AsyncSessionCoordinator:
        """The session's coordinator, opened (or created) on first use."""
        if self._coordinator is None:
            options: dict[str, Any] = {
                "compaction_config": self._config, "model": self.model,
                "durability": self._durability,
            }
            if os.path.exists(self.path):
                self._coordinator = await AsyncSessionCoordinator.open_existing(
                    self.path, **options
                )
            else:
                self._coordinator = await AsyncSessionCoordinator.new(
                    self.directory, self._cwd, session_id=self.session_id, **options
                )
        return self._coordinator

    # -- the Session protocol ------------------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[Any]:
        async with self._lock:
            coordinator = await self.coordinator()
            items = to_openai_responses(await coordinator.context())
        if limit is not None:
            return items[-limit:] if limit > 0 else []
        return items

    async def add_items(self, items: list[Any]) -> None:
        if not items:
            return
        async with self._lock:
            coordinator = await self.coordinator()
            context = await coordinator.context()
            names = _tool_names(context)
            messages = from_openai_responses(items, model=self.model, tool_names=names)
            if self._compaction_due:
                await coordinator.execute_compaction("threshold")
                self._compaction_due = False
            reason = await coordinator.on_turn_end(messages)
            self._compaction_due = reason is not None

    async def pop_item(self) -> Any | None:
        async with self._lock:
            coordinator = await self.coordinator()
            context = await coordinator.context()
            if not context:
                return None
            items = to_openai_responses(context[-1:])
            popped = items[-1] if items else None
            await self._drop_last(coordinator, context, items)
            return popped

    async def clear_session(self) -> None:
        async with self._lock:
            coordinator = await self.coordinator()
            await self._archive(coordinator)

    # -- usage -------------------------------------------------------------------------

    async def store_run_usage(self, result: Any) -> None:
        """Record a run's token usage (``RunResult`` or an Agents SDK ``Usage``)."""
        usage = getattr(getattr(result, "context_wrapper", None), "usage", result)
        details = getattr(usage, "input_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)
        counters = {
            "input_tokens": max(0, int(getattr(usage, "input_tokens", 0) or 0) - cached),
            "output_tokens": int(getattr(usage, "output_tokens", 0) or 0),
            "cache_read_tokens": cached,
        }
        async with self._lock:
            coordinator = await self.coordinator()
            reason = await coordinator.on_turn_end([], usage=counters)
            self._compaction_due = self._compaction_due or reason is not None

    async def close(self) -> None:
        async with self._lock:
            if self._coordinator is not None:
                await self._coordinator.close()
                self._coordinator = None

    # -- helpers -----------------------------------------------------------------------

    async def _drop_last(
        self, coordinator: AsyncSessionCoordinator, context: list[dict[str, Any]],
        items: list[dict[str, Any]],
    ) -> None:
        tip = coordinator.active_tip
        read = await asyncio.to_thread(_read_file, coordinator.session_path)
        by_id = {entry.id: entry for entry in read.entries}
        entry = by_id.get(tip or "")
        if entry is None or entry.kind is not EntryKind.MESSAGE or context[-1].get(
            "type"
        ) == "compaction_summary":
            raise UnrepresentableError(
                "a sessionspec log", "pop_item", "removing an item kept by a compaction"
            )
        if entry.parent_id is None:
            remaining: list[Any] = []
            await self._archive(coordinator)
            coordinator = await self.coordinator()
        else:
            await coordinator.append_leaf(entry.parent_id)
            remaining = items[:-1]
        if remaining:  # the rest of a message that held several items
            names = _tool_names(await coordinator.context())
            await coordinator.on_turn_end(
                from_openai_responses(remaining, model=self.model, tool_names=names)
            )

    async def _archive(self, coordinator: AsyncSessionCoordinator) -> None:
        path = coordinator.session_path
        await coordinator.close()
        self._coordinator = None
        number = 1
        while os.path.exists(f"{path[: -len('.jsonl')]}.cleared-{number}.jsonl"):
            number += 1
        await asyncio.to_thread(
            os.replace, path, f"{path[: -len('.jsonl')]}.cleared-{number}.jsonl"
        )
        self._compaction_due = False


def _read_file(path: str) -> Any:
    with open(path, "rb") as handle:
        return read_native(path, handle.read())


def _tool_names(context: list[dict[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in context:
        for block in message.get("content", ()) if message.get("role") == "assistant" else ():
            if isinstance(block, Mapping) and block.get("type") == "tool_call":
                names[str(block["tool_call"]["id"])] = str(block["tool_call"]["name"])
    return names
