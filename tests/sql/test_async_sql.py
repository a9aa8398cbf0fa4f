"""asyncio on the database stores (ASYNC-004, ASYNC-005): a coordinator on a store URL, the
state store's compare-and-swap under concurrent tasks, a follower as an async iterator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.sql.test_postgres import header

from sessionspec import HeadRevisionConflict, SqliteStateStore, open_state_store
from sessionspec.bench._sql_writer import entry
from sessionspec.runtime.async_coordinator import AsyncSessionCoordinator
from sessionspec.runtime.async_stores import AsyncStateStore, follow_async
from sessionspec.storage.postgres import PostgresLog
from sessionspec.storage.sqlite import sqlite_url

USER = {"role": "user", "content": [{"type": "text", "text": "hi"}], "timestamp_ms": 1}


@pytest.mark.req("ASYNC-003", "SQL-008")
def test_async_coordinator_on_a_sqlite_url(tmp_path: Path) -> None:
    store = sqlite_url(str(tmp_path / "s.db"))

    async def run() -> tuple[str, list[Any]]:
        coordinator = await AsyncSessionCoordinator.new(store, cwd="/w", session_id="a")
        async with coordinator:
            await coordinator.on_turn_end([USER])
            url = coordinator.session_path
        again = await AsyncSessionCoordinator.open_existing(url)
        async with again:
            return url, await again.context()

    url, context = asyncio.run(run())
    assert url.endswith("#a") and [m["role"] for m in context] == ["user"]


@pytest.mark.req("ASYNC-004", "STATE-012", "SQL-014")
def test_concurrent_tasks_at_one_head_exactly_one_commits(tmp_path: Path) -> None:
    url = sqlite_url(str(tmp_path / "states.db"))

    async def run() -> list[object]:
        stores = [AsyncStateStore(open_state_store(url)) for _ in range(4)]
        await stores[0].commit("s", {"n": 0}, 0)
        outcomes = await asyncio.gather(
            *(store.commit("s", {"n": i}, 1) for i, store in enumerate(stores)),
            return_exceptions=True,
        )
        loaded = await stores[0].load("s")
        assert loaded is not None and loaded.head_revision == 2
        assert await stores[1].sessions() == ["s"]
        for store in stores:
            await store.close()
        return list(outcomes)

    outcomes = asyncio.run(run())
    assert sum(isinstance(o, HeadRevisionConflict) for o in outcomes) == 3
    assert [o for o in outcomes if not isinstance(o, HeadRevisionConflict)] == [2]


@pytest.mark.req("ASYNC-004")
def test_async_state_store_raises_what_the_store_raises_and_closes_it(tmp_path: Path) -> None:
    inner = SqliteStateStore(str(tmp_path / "states.db"))

    async def run() -> None:
        async with AsyncStateStore(inner) as store:
            with pytest.raises(HeadRevisionConflict):
                await store.commit("s", {}, 5)

    asyncio.run(run())
    with pytest.raises(Exception, match="closed"):
        inner.load("s")


@pytest.mark.req("ASYNC-005", "SQL-011")
def test_follow_async_tails_a_postgres_session_while_the_loop_runs(pg_url: str) -> None:
    log = PostgresLog.create(pg_url, "tail", header("tail"))
    log.append([entry("e1", "")])

    async def run() -> tuple[list[str], int]:
        seen: list[str] = []
        ticks = 0

        async def tail() -> None:
            async for record in follow_async(pg_url, "tail", timeout=2.0, poll_interval=5.0):
                seen.append(record.entry["id"])
                if len(seen) == 3:
                    return

        async def ticker() -> None:
            nonlocal ticks
            while len(seen) < 3:
                ticks += 1
                await asyncio.sleep(0.01)

        async def write() -> None:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(log.append, [entry("e2", ""), entry("e3", "")])

        await asyncio.wait_for(asyncio.gather(tail(), ticker(), write()), timeout=20)
        return seen, ticks

    seen, ticks = asyncio.run(run())
    assert seen == ["e1", "e2", "e3"]
    assert ticks > 5  # the loop ran other tasks while the follower waited on LISTEN
    log.close()
