"""Benchmarks of the session recorder (DESIGN §5), each against a baseline in the same run.

The stream is an agent at work as phi-core emits it: per loop an ``AgentStart``, then per
turn a ``TurnStart``, the user's ``MessageEnd``, 20 streaming ``MessageUpdate`` events
(dropped: streaming events are off by default), the assistant's ``MessageEnd``, a tool
execution (start and end) and the ``TurnEnd``; then the ``AgentEnd``; every event a dict in
phi-core's JSON form. The baseline is the least a recorder can do: a dict of open loops, each
event appended with a counter to its loop's list, the loop moved to its session at its end;
no validation, no turns, no translation.

* Recording, in memory: events per second, against the baseline (informative: the ratio is
  the price of strict validation, the message translation and the records).
* Recording, journaled without fsync (``Durability.NO_SYNC``): the cost of writing the journal.
* Recording, journaled with one fsync per recorded event (``Durability.SYNC``, the default):
  events per second on a shorter stream (it measures the disk).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from sessionspec.bench.common import BenchResult, measure, measure_pair
from sessionspec.conformance import recorder_events as build
from sessionspec.runtime.recorder import SessionRecorder
from sessionspec.storage.log import Durability

__all__ = ["agent_stream", "run"]

_UPDATES = 20


def agent_stream(loops: int, turns: int = 3) -> list[dict[str, Any]]:
    """An agent's event stream: ``loops`` loops of ``turns`` turns each, as wire dicts."""
    events: list[dict[str, Any]] = []
    second = 0
    for number in range(loops):
        loop = f"sess-{number // 10}.anthropic.claude.{number}"
        parent = None if number % 10 == 0 else f"sess-{number // 10}.anthropic.claude.{number - 1}"
        events.append(build.agent_start(loop, f"sess-{number // 10}", at=second, parent=parent))
        for turn in range(turns):
            second += 1
            events.append(
                build.turn_start(
                    loop, turn, at=second, trigger="User" if turn == 0 else "Continuation"
                )
            )
            events.append(build.message_end(loop, build.user(f"question {number}.{turn}")))
            partial = build.assistant("partial")
            events.extend(
                {
                    "type": "MessageUpdate",
                    "loop_id": loop,
                    "message": partial,
                    "delta": {"Text": {"delta": f"w{n} "}},
                }
                for n in range(_UPDATES)
            )
            call = f"call-{number}-{turn}"
            answer = build.assistant("an answer", tool_calls=(call,))
            events.append(build.message_end(loop, answer))
            events.append(
                {
                    "type": "ToolExecutionStart",
                    "loop_id": loop,
                    "tool_call_id": call,
                    "tool_name": "read",
                    "args": {"path": call},
                }
            )
            events.append(build.tool_end(loop, call, tool_name="read"))
            events.append(
                build.turn_end(loop, answer, at=second, tool_results=[build.tool_result(call)])
            )
        events.append(build.agent_end(loop, at=second, tokens=(100, 20)))
    return events


def _baseline(events: list[dict[str, Any]]) -> dict[str, list[Any]]:
    open_loops: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    sessions: dict[str, list[Any]] = {}
    for event in events:
        kind = event["type"]
        if kind == "AgentStart":
            open_loops[event["loop_id"]] = [(0, event)]
            continue
        if kind == "MessageUpdate":
            continue
        stream = open_loops.get(event.get("loop_id", ""))
        if stream is None:
            continue
        stream.append((len(stream), event))
        if kind == "AgentEnd":
            loop_id = event["loop_id"]
            sessions.setdefault(loop_id.partition(".")[0], []).append(open_loops.pop(loop_id))
    return sessions


def _record(events: list[dict[str, Any]], recorder: SessionRecorder) -> None:
    on_event = recorder.on_event
    for event in events:
        on_event(event)
    recorder.flush()
    recorder.drain_completed()


def run(quick: bool = False) -> list[BenchResult]:
    events = agent_stream(20 if quick else 200)
    count = len(events)
    rounds = 1 if quick else 3
    results: list[BenchResult] = []

    ours_s, base_s = measure_pair(
        lambda: _record(events, SessionRecorder()), lambda: _baseline(events), rounds=rounds
    )
    results.append(
        BenchResult(
            "recorder on_event, in memory (events/s)",
            count / ours_s,
            count / base_s,
            ours_s / base_s,
            "events/s",
            "informative: the price of validation and records (ratio: time ours / baseline)",
        )
    )

    with tempfile.TemporaryDirectory() as directory:
        serial = [0]

        def journaled(durability: Durability, stream: list[dict[str, Any]]) -> None:
            serial[0] += 1
            path = os.path.join(directory, f"journal-{serial[0]}.jsonl")
            recorder = SessionRecorder.create(path, durability=durability)
            _record(stream, recorder)
            recorder.close()

        nosync_s = measure(lambda: journaled(Durability.NO_SYNC, events), repeat=rounds)
        results.append(
            BenchResult(
                "recorder on_event, journaled without fsync (events/s)",
                count / nosync_s,
                count / ours_s,
                nosync_s / ours_s,
                "events/s",
                "informative: cost of the journal (ratio: time journaled / in memory)",
            )
        )
        short = agent_stream(2 if quick else 10)
        sync_s = measure(lambda: journaled(Durability.SYNC, short), repeat=1)
        results.append(
            BenchResult(
                "recorder on_event, journaled, fsync per recorded event (events/s)",
                len(short) / sync_s,
                count / ours_s,
                (sync_s / len(short)) / (ours_s / count),
                "events/s",
                "informative: one fsync per recorded event (ratio: time per event vs memory)",
            )
        )
    return results


if __name__ == "__main__":
    for result in run():
        print(result.line())
