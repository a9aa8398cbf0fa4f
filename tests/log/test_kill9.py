"""Real crashes: a writer process killed with SIGKILL at random moments (LOG-018)."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from sessionspec.storage import read_log

WRITER = Path(__file__).with_name("killable_writer.py")
ROUNDS = int(os.environ.get("SESSIONSPEC_KILL_ROUNDS", "20"))


def _run_and_kill(path: Path, seed: int, rng: random.Random) -> int:
    """Start a writer, let it acknowledge some batches, SIGKILL it; return the last ack."""
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    last_ack = 0
    deadline = time.monotonic() + rng.uniform(0.005, 0.25)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            line = process.stdout.readline()
            if line.startswith("ack "):
                last_ack = int(line.split()[1])
    process.send_signal(signal.SIGKILL)
    # Acks already in the pipe were printed after their append returned: they count.
    for line in process.stdout.read().splitlines():
        if line.startswith("ack "):
            last_ack = int(line.split()[1])
    process.wait()
    assert process.returncode == -signal.SIGKILL
    return last_ack


@pytest.mark.slow
@pytest.mark.req("LOG-018", "LOG-003", "LOG-008", "LOG-011")
def test_sigkilled_writers_lose_no_acknowledged_batch_and_leave_no_partial_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "killed.jsonl"
    rng = random.Random(20261121)
    acknowledged = 0
    for round_number in range(ROUNDS):
        acknowledged = max(acknowledged, _run_and_kill(path, round_number, rng))
        snapshot = read_log(str(path))
        assert snapshot.report.only_crash_residue, snapshot.report.summary()
        batches: dict[int, list[int]] = defaultdict(list)
        sizes: dict[int, int] = {}
        for record in snapshot.records:
            state = record.entry["state"]
            batches[state["batch"]].append(state["index"])
            sizes[state["batch"]] = state["size"]
        numbers = sorted(batches)
        assert numbers == list(range(1, len(numbers) + 1)), "batches are consecutive"
        for number in numbers:
            assert batches[number] == list(range(sizes[number])), f"batch {number} is partial"
        # Every acknowledged batch is there; at most the one in flight beyond it.
        assert acknowledged <= len(numbers) <= acknowledged + 1
        acknowledged = len(numbers)
