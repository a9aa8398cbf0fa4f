"""Benchmarks of the JSONL log (DESIGN §5), each against a baseline in the same run.

* Durable append: batches of one message entry, one write and one fsync each, against a
  bare loop that writes and fsyncs exactly the same bytes to another file.
* Read: a 100,000-entry log read with recovery classification, against reading the same
  file and decoding every line with orjson.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from sessionspec.bench.common import BenchResult, measure_interleaved, measure_pair
from sessionspec.collector import collector_paused
from sessionspec.storage.framing import frame_line
from sessionspec.storage.jsonl import JsonlLog, read_log
from sessionspec.storage.log import Durability

__all__ = ["run"]

HEADER: dict[str, Any] = {
    "type": "session",
    "version": 1,
    "id": "bench",
    "timestamp": "2026-11-21T00:00:00Z",
    "cwd": "/bench",
    "parent_session": None,
}


def _message(n: int) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg-{n}",
        "parent_id": f"msg-{n - 1}" if n > 1 else None,
        "timestamp": "2026-11-21T00:00:00Z",
        "message": {
            "role": "user",
            "content": [{"type": "text", "text": f"turn {n}: " + "lorem ipsum " * 16}],
            "timestamp_ms": 1_790_000_000_000 + n,
        },
    }


def _append_benchmark(directory: Path, batches: int) -> BenchResult:
    log = JsonlLog.create(str(directory / "append.jsonl"), HEADER)
    bare_fd = os.open(directory / "bare.jsonl", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    entries = [_message(n) for n in range(1, batches + 1)]
    # The baseline writes the very bytes the log writes, one batch at a time.
    lines = [frame_line(orjson.dumps(item), n, True) for n, item in enumerate(entries, 1)]

    def ours(index: int) -> None:
        log.append([entries[index]])

    def bare(index: int) -> None:
        os.write(bare_fd, lines[index])
        os.fsync(bare_fd)

    ours_time, bare_time = measure_interleaved(batches, ours, bare)
    log.close()
    os.close(bare_fd)
    ours_rate, bare_rate = 1 / ours_time, 1 / bare_time
    return BenchResult(
        "durable append (1-entry batches, fsync each; median per batch)",
        ours_rate,
        bare_rate,
        ours_rate / bare_rate,
        "batches/s",
        "ratio >= 0.8",
        limit=0.8,
        at_least=True,
    )


def _read_benchmark(directory: Path, entries: int) -> list[BenchResult]:
    path = directory / "read.jsonl"
    log = JsonlLog.create(str(path), HEADER, durability=Durability.NO_SYNC)
    for start in range(1, entries + 1, 1000):
        log.append([_message(n) for n in range(start, min(start + 1000, entries + 1))])
    log.close()

    def ours() -> None:
        snapshot = read_log(str(path))
        assert snapshot.head == entries

    def bare() -> None:
        data = path.read_bytes()
        parsed = [orjson.loads(line) for line in data.splitlines()]
        assert len(parsed) == entries + 1

    def bare_without_collector() -> None:
        with collector_paused():
            bare()

    elapsed, baseline = measure_pair(ours, bare, rounds=3)
    _, baseline_paused = measure_pair(ours, bare_without_collector, rounds=3)
    name = f"read {entries:,}-entry log with recovery report"
    return [
        BenchResult(
            name,
            elapsed * 1000,
            baseline * 1000,
            elapsed / baseline,
            "ms",
            "ratio <= 2.0 (time against an orjson parse of every line)",
            limit=2.0,
        ),
        BenchResult(
            name + ", against orjson with the collector paused too",
            elapsed * 1000,
            baseline_paused * 1000,
            elapsed / baseline_paused,
            "ms",
            "(the read pauses the cyclic collector; this baseline does too)",
        ),
    ]


def run(quick: bool = False) -> list[BenchResult]:
    with tempfile.TemporaryDirectory(prefix="sessionspec-bench-") as tmp:
        directory = Path(tmp)
        return [
            _append_benchmark(directory, 50 if quick else 1000),
            *_read_benchmark(directory, 2_000 if quick else 100_000),
        ]
