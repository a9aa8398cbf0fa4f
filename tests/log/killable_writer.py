"""A writer process for the SIGKILL test: appends batches forever, announcing each ack.

Usage: ``python killable_writer.py PATH SEED``. Each entry's state records its batch
number, the batch size and its index, so the parent can check batch atomicity. After each
append returns, the writer prints ``ack <batch>`` and flushes: the parent then knows that
batch was acknowledged (LOG-018).
"""

from __future__ import annotations

import random
import sys

from sessionspec.storage import JsonlLog, read_log

HEADER = {
    "type": "session",
    "version": 1,
    "id": "killed",
    "timestamp": "2026-11-21T00:00:00Z",
    "cwd": "/",
    "parent_session": None,
}


def main() -> None:
    path, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    try:
        log = JsonlLog.open(path)
        records = read_log(path).records
        batch = records[-1].entry["state"]["batch"] if records else 0
    except FileNotFoundError:
        log = JsonlLog.create(path, HEADER)
        batch = 0
    print("ready", flush=True)
    while True:
        batch += 1
        size = rng.randint(1, 5)
        filler = "x" * rng.randint(0, 3000)
        entries = [
            {
                "type": "extension_state",
                "id": f"state-{batch}-{index}",
                "parent_id": None,
                "timestamp": "2026-11-21T00:00:00Z",
                "state": {"batch": batch, "size": size, "index": index, "filler": filler},
            }
            for index in range(size)
        ]
        log.append(entries)
        print(f"ack {batch}", flush=True)


if __name__ == "__main__":
    main()
