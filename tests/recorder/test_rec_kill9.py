"""Real crashes: a journaled recorder process killed with SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.recorder.killable_recorder import PER_LOOP, event, recorded

from sessionspec import SessionRecorder

RECORDER = Path(__file__).with_name("killable_recorder.py")
ROUNDS = int(os.environ.get("SESSIONSPEC_KILL_ROUNDS", "6"))
ROOT = Path(__file__).parents[2]


def _run_and_kill(path: Path, rng: random.Random) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "statemachine")])}
    process = subprocess.Popen(
        [sys.executable, str(RECORDER), str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    last_ack = 0
    deadline = time.monotonic() + rng.uniform(0.01, 0.3)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            line = process.stdout.readline()
            if line.startswith("ack "):
                last_ack = int(line.split()[1])
    process.send_signal(signal.SIGKILL)
    for line in process.stdout.read().splitlines():
        if line.startswith("ack "):
            last_ack = int(line.split()[1])
    process.wait()
    assert process.returncode == -signal.SIGKILL
    return last_ack


@pytest.mark.slow
@pytest.mark.req("REC-070", "REC-071", "REC-031")
def test_sigkilled_recorders_lose_no_acknowledged_event(tmp_path: Path) -> None:
    path = tmp_path / "recorder.jsonl"
    rng = random.Random(20261129)
    acknowledged = 0
    for _ in range(ROUNDS):
        acknowledged = max(acknowledged, _run_and_kill(path, rng))
        recorder = SessionRecorder.open(str(path))
        count = recorded(recorder)
        assert count >= acknowledged, f"{acknowledged} acknowledged, {count} recorded"
        # The journal holds exactly a prefix of the stream, in order, with dense sequences.
        expected = [event(n) for n in range(count)]
        seen: list[dict[str, object]] = []
        for session in recorder.sessions():
            for loop in session.loops:
                assert [e.sequence for e in loop.events] == list(range(len(loop.events)))
                seen.extend(dict(e.event) for e in loop.events)
        for loop_id in recorder.running_loop_ids():
            record = recorder.current_loop(loop_id)
            assert record is not None and len(record.events) < PER_LOOP
            seen.extend(dict(e.event) for e in record.events)
        assert [e["type"] for e in seen] == [e["type"] for e in expected]
        assert [e.get("loop_id") for e in seen] == [e.get("loop_id") for e in expected]
        recorder.close()
    assert acknowledged > 0
