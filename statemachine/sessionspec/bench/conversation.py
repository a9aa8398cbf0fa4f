"""Benchmarks of the conversation and the state store (DESIGN §5), each against a baseline.

* Fork cost: ``fork()`` of a 100,000-message conversation against ``fork()`` of a
  10-message one (CONV-010: O(1), target ratio <= 1.5).
* Push throughput: ``push`` of prepared messages (validation, canonical form, running
  digest) against appending the same dicts to a list after one ``rfc8785.dumps`` each (the
  least work that still canonicalizes every message).
* CAS commits per second with 4 competing processes on one file store session (each
  commit retried on ``HeadRevisionConflict``), against one process committing alone.
* Resume of a 100,000-entry session from a snapshot covering all but its last 100 records,
  against ``SessionCoordinator.open_existing`` (the whole log). The snapshot names the
  log bytes it covers by their SHA-256 (STATE-043, LOG-024): opening hashes them instead
  of decoding them, and only the tail is read and replayed (target of issue 9: 10x).
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import rfc8785

from sessionspec.bench.common import BenchResult, measure_interleaved, measure_pair
from sessionspec.compaction import CompactionConfig, CompactionReason
from sessionspec.errors import HeadRevisionConflict
from sessionspec.runtime.conversation import Conversation
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.runtime.coordinator_snapshot import open_with_snapshot, write_snapshot
from sessionspec.storage.log import Durability
from sessionspec.storage.state_store import FileStateStore

__all__ = ["run"]


def _user(n: int) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "text", "text": f"message number {n}"}],
        "timestamp_ms": 1_700_000_000_000 + n,
    }


def _fork_benchmark(big: int, rounds: int) -> BenchResult:
    small_conv = Conversation.new()
    small_conv.push_batch([_user(n) for n in range(10)])
    big_conv = Conversation.new()
    big_conv.push_batch([_user(n) for n in range(big)])
    forks: list[Conversation] = []

    def fork_big(_: int) -> None:
        forks.append(big_conv.fork())

    def fork_small(_: int) -> None:
        forks.append(small_conv.fork())

    ours, baseline = measure_interleaved(rounds, fork_big, fork_small)
    return BenchResult(
        f"fork of a {big:,}-message conversation against a 10-message one (median)",
        ours * 1e6,
        baseline * 1e6,
        ours / baseline,
        "us",
        "ratio <= 1.5 (O(1) fork)",
        limit=1.5,
    )


def _push_benchmark(count: int) -> BenchResult:
    messages = [_user(n) for n in range(count)]
    conv = Conversation.new()
    start = time.perf_counter()
    for message in messages:
        conv.push(message)
    ours = time.perf_counter() - start
    plain: list[tuple[dict[str, Any], bytes]] = []
    start = time.perf_counter()
    for message in messages:
        plain.append((message, rfc8785.dumps(message)))
    baseline = time.perf_counter() - start
    return BenchResult(
        "push throughput (messages/s)",
        count / ours,
        count / baseline,
        baseline / ours,
        "msg/s",
        "reported (baseline: list append after canonicalizing each message)",
    )


def _committer(directory: str, commits: int) -> int:
    store = FileStateStore(directory)
    conflicts = 0
    for _ in range(commits):
        while True:
            current = store.load("bench")
            head = 0 if current is None else current.head_revision
            try:
                store.commit("bench", {"head_seen": head}, head)
                break
            except HeadRevisionConflict:
                conflicts += 1
    return conflicts


def _cas_benchmark(commits_per_process: int) -> BenchResult:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="sessionspec-bench-") as solo:
        start = time.perf_counter()
        _committer(solo, commits_per_process * 4)
        alone = time.perf_counter() - start
    with (
        tempfile.TemporaryDirectory(prefix="sessionspec-bench-") as shared,
        ProcessPoolExecutor(max_workers=4, mp_context=context) as pool,
    ):
        pool.submit(int, 0).result()  # start the workers before timing
        start = time.perf_counter()
        futures = [pool.submit(_committer, shared, commits_per_process) for _ in range(4)]
        conflicts = sum(f.result() for f in futures)
        together = time.perf_counter() - start
        final = FileStateStore(shared).load("bench")
        assert final is not None and final.head_revision == commits_per_process * 4
    total = commits_per_process * 4
    return BenchResult(
        f"CAS commits/s, 4 competing processes ({conflicts} conflicts retried)",
        total / together,
        total / alone,
        alone / together,
        "commits/s",
        "reported (baseline: one process committing alone; every commit is fsynced)",
    )


def _session(directory: str, entries: int) -> str:
    coordinator = SessionCoordinator.new(
        directory,
        "/bench",
        CompactionConfig(enabled=False),
        session_id="snap",
        durability=Durability.NO_SYNC,
        clock=lambda: 1_700_000_000.0,
    )
    usage = {"input_tokens": 100, "output_tokens": 10}
    n = 0
    while coordinator.head < entries:
        coordinator.on_turn_end(
            [_user(n), {**_user(n + 1), "content": [{"type": "text", "text": "ok"}]}], usage
        )
        n += 1
        if n % 40 == 0:
            coordinator.execute_compaction(CompactionReason.MANUAL)
    path = coordinator.session_path
    coordinator.close()
    return path


def _snapshot_benchmark(entries: int) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="sessionspec-bench-") as directory:
        path = _session(directory, entries)
        snapshot = f"{directory}/snap.snapshot.json"
        count = entries  # the head is the number of records
        write_snapshot(path, snapshot, max(0, count - 100))

        def with_snapshot() -> None:
            coordinator, outcome = open_with_snapshot(path, snapshot)
            assert outcome.used and outcome.trusted_records > 0, outcome
            coordinator.close()

        def whole_log() -> None:
            SessionCoordinator.open_existing(path).close()

        ours, baseline = measure_pair(with_snapshot, whole_log, rounds=3)
    return BenchResult(
        f"resume of a {entries:,}-entry session from a snapshot, against the whole log",
        ours * 1000,
        baseline * 1000,
        ours / baseline,
        "ms",
        "ratio <= 0.1 (issue 9: 10x faster)",
        limit=0.1,
    )


def run(quick: bool = False) -> list[BenchResult]:
    return [
        _fork_benchmark(10_000 if quick else 100_000, 200 if quick else 2_000),
        _push_benchmark(1_000 if quick else 20_000),
        _cas_benchmark(5 if quick else 50),
        _snapshot_benchmark(2_000 if quick else 100_000),
    ]
