"""A writer process for the SQL crash tests, scale-out test and benchmark.

Run as ``python -m sessionspec.bench._sql_writer``.

``append URL SESSION`` appends batches of 1-4 entries forever and prints the head after each
acknowledged batch (``ack <head> <batch>``), flushed, so the parent knows exactly what was
acknowledged when it kills this process.
``turns URL SECONDS SEED SESSION...`` appends one-entry turns to random sessions for a bounded
time; it sometimes appends at a stale head on purpose. It prints one JSON line per
acknowledged turn and per conflict, then ``done``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

from sessionspec.errors import AppendFailedError, HeadConflictError, LogFailedError
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.storage.urls import open_store_log


def entry(entry_id: str, text: str) -> dict[str, Any]:
    return {"type": "extension_state", "id": entry_id, "parent_id": None,
            "timestamp": "2026-01-01T00:00:00Z", "state": {"text": text}}


def append_forever(url: str) -> None:
    log = open_store_log(url)
    assert isinstance(log, DatabaseLog)
    batch_number = 0
    rng = random.Random()
    while True:
        batch_number += 1
        size = rng.randint(1, 4)
        batch = [entry(f"p{os.getpid()}b{batch_number}-{i}-of-{size}", "x" * rng.randint(0, 2000))
                 for i in range(size)]
        try:
            head = log.append(batch)
        except AppendFailedError:  # rolled back: nothing written; retry with a new batch
            sys.stdout.write(f"failed {log.head}\n")
            sys.stdout.flush()
            continue
        except LogFailedError:  # outcome unknown: open again to learn the head
            log.close()
            log = open_store_log(url)
            assert isinstance(log, DatabaseLog)
            sys.stdout.write(f"reopened {log.head}\n")
            sys.stdout.flush()
            continue
        sys.stdout.write(f"ack {head} {batch_number} {size}\n")
        sys.stdout.flush()


def turns(url: str, seconds: float, seed: int, sessions: list[str]) -> None:
    rng = random.Random(seed)
    logs = {sid: open_store_log(f"{url}#{sid}") for sid in sessions}
    known = {sid: log.head for sid, log in logs.items()}
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    counter = 0
    while time.monotonic() < deadline:
        sid = rng.choice(sessions)
        counter += 1
        turn_id = f"w{seed}-t{counter}"
        # Now and then a writer appends at a head it knows is stale.
        stale = known[sid] > 0 and rng.random() < 0.05
        expected = known[sid] - 1 if stale else known[sid]
        try:
            known[sid] = logs[sid].append([entry(turn_id, sid)], expected_head=expected)
        except HeadConflictError as exc:
            print(json.dumps({"conflict": sid, "expected": exc.expected,
                              "actual": exc.actual}), flush=True)
            known[sid] = exc.actual  # catch up and carry on
            continue
        print(json.dumps({"ack": sid, "id": turn_id, "head": known[sid]}), flush=True)
    for log in logs.values():
        log.close()
    print("done", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "append":
        append_forever(sys.argv[2])
    else:
        turns(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
