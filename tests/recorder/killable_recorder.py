"""A recorder process for the SIGKILL test: records an agent's events forever, acking each.

Usage: ``python killable_recorder.py PATH``. Event ``n`` of the stream is a pure function of
``n`` (loop ``n // 5``: start, turn start, user message, turn end, end), so after a restart
the process counts the events its journal holds and goes on from there. After each
``on_event`` returns, it prints ``ack <count>``: the parent then knows the first ``count``
events were acknowledged (REC-071).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sessionspec.conformance import recorder_events as build
from sessionspec.runtime.recorder import SessionRecorder

PER_LOOP = 5


def event(number: int) -> dict[str, Any]:
    loop_number, step = divmod(number, PER_LOOP)
    session = f"s{loop_number // 4}"
    loop = f"{session}.c.{loop_number}"
    if step == 0:
        return build.agent_start(loop, session, at=number)
    if step == 1:
        return build.turn_start(loop, at=number)
    if step == 2:
        return build.message_end(loop, build.user(f"question {loop_number}"))
    if step == 3:
        return build.turn_end(loop, build.assistant("answer"), at=number)
    return build.agent_end(loop, at=number)


def recorded(recorder: SessionRecorder) -> int:
    """How many events of the stream the recorder holds."""
    total = sum(len(loop.events) for s in recorder.sessions() for loop in s.loops)
    for loop_id in recorder.running_loop_ids():
        record = recorder.current_loop(loop_id)
        assert record is not None
        total += len(record.events)
    return total


def main() -> None:
    path = sys.argv[1]
    recorder = SessionRecorder.open(path) if os.path.exists(path) else SessionRecorder.create(path)
    count = recorded(recorder)
    print("ready", flush=True)
    while True:
        recorder.on_event(event(count))
        count += 1
        print(f"ack {count}", flush=True)


if __name__ == "__main__":
    main()
