"""What ``context()`` shares with the coordinator and what a caller may change (COORD-041)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.coordinator.coord_helpers import assistant, clock, user

from sessionspec import SessionCoordinator
from sessionspec.compaction import CompactionConfig
from sessionspec.runtime.async_coordinator import AsyncSessionCoordinator
from sessionspec.storage.log import Durability


def _session(tmp_path: Path) -> SessionCoordinator:
    coordinator = SessionCoordinator.new(
        tmp_path,
        "/work",
        CompactionConfig(threshold_tokens=10_000),
        session_id="s1",
        clock=clock,
        durability=Durability.NO_SYNC,
    )
    for n in range(4):
        coordinator.on_turn_end([user(f"q{n}"), assistant(f"a{n}")], {"input_tokens": 10})
    coordinator.execute_compaction("manual")
    coordinator.on_turn_end([user("after"), assistant("fine")], {"input_tokens": 10})
    return coordinator


def _ids(objects: list[dict[str, Any]]) -> set[int]:
    found: set[int] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict | list):
            found.add(id(value))
            for inner in value.values() if isinstance(value, dict) else value:
                walk(inner)

    for obj in objects:
        walk(obj)
    return found


@pytest.mark.req("COORD-041")
def test_the_list_and_summary_slots_are_new_and_the_messages_shared(tmp_path: Path) -> None:
    coordinator = _session(tmp_path)
    try:
        first, second = coordinator.context(), coordinator.context()
        assert first == second and first is not second
        assert first[0]["type"] == "compaction_summary" and first[0] is not second[0]
        assert all(a is b for a, b in zip(first[1:], second[1:], strict=True))
        entries = coordinator.compaction_entries()
        assert all(item.message is m for item, m in zip(entries[1:], first[1:], strict=True))
        # What a caller may change: the list and the summary slot.
        expected = coordinator.context(fresh=True)
        first.append(user("mine"))
        first.reverse()
        second[0]["summary"] = "mine"
        assert coordinator.context() == expected
    finally:
        coordinator.close()


@pytest.mark.req("COORD-041")
def test_a_fresh_context_shares_nothing_and_equals_the_shared_one(tmp_path: Path) -> None:
    coordinator = _session(tmp_path)
    try:
        shared = coordinator.context()
        fresh = coordinator.context(fresh=True)
        assert fresh == shared
        assert not _ids(fresh) & _ids(shared)
        assert not _ids(fresh) & _ids(coordinator.context(fresh=True))
        fresh[1]["content"][0]["text"] = "changed"
        fresh[1]["content"].append({"type": "text", "text": "more"})
        assert coordinator.context() == shared
        assert shared[1]["content"][0]["text"] == "q3"
    finally:
        coordinator.close()


@pytest.mark.req("COORD-041", "ASYNC-001")
def test_the_async_front_passes_fresh_through(tmp_path: Path) -> None:
    async def scenario() -> None:
        session = await AsyncSessionCoordinator.new(
            tmp_path, "/work", session_id="s1", clock=clock, durability=Durability.NO_SYNC
        )
        try:
            await session.on_turn_end([user("q"), assistant("a")], {"input_tokens": 1})
            shared, again = await session.context(), await session.context()
            fresh = await session.context(fresh=True)
            assert shared == fresh == again
            assert shared[0] is again[0] and fresh[0] is not shared[0]
        finally:
            await session.close()

    asyncio.run(scenario())
