"""The state stores and their head-revision compare-and-swap (spec §7.2).

Concurrency is tested with threads and with real processes (``multiprocessing`` with the
``spawn`` start method: fresh interpreters, no shared memory, only the file system).
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from tests.state.state_worker import increment, race_once

from sessionspec import (
    FileStateStore,
    HeadRevisionConflict,
    MemoryStateStore,
    StateStore,
    StateStoreError,
)
from sessionspec.errors import CallerError, InvalidSessionIdError

StoreFactory = Callable[[Path], StateStore]
FACTORIES: dict[str, StoreFactory] = {
    "memory": lambda _: MemoryStateStore(),
    "file": lambda path: FileStateStore(path),
}


@pytest.fixture(params=sorted(FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    return FACTORIES[request.param](tmp_path)


@pytest.mark.req("STATE-010", "STATE-014")
def test_commit_compares_and_swaps_integer_heads(store: StateStore) -> None:
    assert store.load("s1") is None
    assert store.commit("s1", {"n": 1}, 0) == 1
    assert store.commit("s1", {"n": 2}, 1) == 2
    with pytest.raises(HeadRevisionConflict) as stale:
        store.commit("s1", {"n": 99}, 1)
    assert (stale.value.expected, stale.value.actual) == (1, 2)
    with pytest.raises(HeadRevisionConflict):
        store.commit("s2", {"n": 1}, 3)
    loaded = store.load("s1")
    assert loaded is not None and loaded.head_revision == 2 and loaded.state == {"n": 2}
    assert store.sessions() == ["s1"]
    assert isinstance(store, StateStore)


@pytest.mark.req("STATE-010")
def test_bad_commits_are_caller_errors(store: StateStore) -> None:
    for bad in (-1, True, "1", None):
        with pytest.raises(CallerError):
            store.commit("s", {}, bad)  # type: ignore[arg-type]
    with pytest.raises(CallerError):
        store.commit("s", [1, 2], 0)  # type: ignore[arg-type]
    with pytest.raises(CallerError):
        store.commit("s", {"x": float("nan")}, 0)
    with pytest.raises(InvalidSessionIdError):
        store.commit("../escape", {}, 0)
    assert store.load("s") is None


@pytest.mark.req("STATE-012")
def test_threads_with_the_same_expected_head_exactly_one_wins(store: StateStore) -> None:
    store.commit("s", {"n": 0}, 0)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def writer(number: int) -> None:
        barrier.wait()
        try:
            store.commit("s", {"n": number}, 1)
            outcomes.append("won")
        except HeadRevisionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    loaded = store.load("s")
    assert loaded is not None and loaded.head_revision == 2


@pytest.mark.slow
@pytest.mark.req("STATE-011", "STATE-012")
def test_real_processes_exactly_one_stale_writer_wins(tmp_path: Path) -> None:
    FileStateStore(tmp_path).commit("s", {"start": True}, 0)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        for round_number in range(3):
            head = round_number + 1
            futures = [
                pool.submit(race_once, str(tmp_path), "s", head, f"{round_number}-{i}")
                for i in range(4)
            ]
            results = sorted(f.result() for f in futures)
            assert results == ["conflict", "conflict", "conflict", "won"]
    loaded = FileStateStore(tmp_path).load("s")
    assert loaded is not None and loaded.head_revision == 4


@pytest.mark.slow
@pytest.mark.req("STATE-012")
def test_real_processes_lose_no_update(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        futures = [pool.submit(increment, str(tmp_path), "counter", 25) for _ in range(4)]
        for future in futures:
            future.result()
    loaded = FileStateStore(tmp_path).load("counter")
    assert loaded is not None
    assert loaded.state == {"count": 100} and loaded.head_revision == 100


@pytest.mark.req("STATE-011")
def test_file_store_refuses_damaged_and_foreign_files(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    store.commit("s", {"a": 1}, 0)
    path = tmp_path / "s.state.json"
    document = json.loads(path.read_text())
    assert document["head_revision"] == 1 and document["state"] == {"a": 1}
    (tmp_path / "other.state.json").write_text(path.read_text())
    with pytest.raises(StateStoreError, match="another session"):
        store.load("other")
    path.write_text("{not json")
    with pytest.raises(StateStoreError, match="not JSON"):
        store.load("s")
    with pytest.raises(StateStoreError):
        store.commit("s", {"a": 2}, 1)
    path.write_text(json.dumps({"format": "x"}))
    with pytest.raises(StateStoreError, match="not a sessionspec state"):
        store.load("s")
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.req("STATE-011")
def test_file_store_commit_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    for head in range(5):
        store.commit("s", {"head": head}, head)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.state.json", "s.state.lock"]
