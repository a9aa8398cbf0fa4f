"""Demo: an agent's events recorded into sessions, a restart mid-loop, a rotation (REC).

One event stream feeds a journaled :class:`SessionRecorder` and a :class:`SessionCoordinator`
through :class:`RecorderSink`. The agent calls a tool that spawns a sub-agent in its own
session; the process stops in the middle of the loop; the recorder reopens from its journal
and the loop goes on; the agent idles past its threshold and the rotator opens a new session
whose formation records why. Finally the sessions are saved atomically and read back.
"""

from __future__ import annotations

import pathlib
from datetime import UTC, datetime, timedelta
from typing import TextIO

from sessionspec.conformance import recorder_events as build
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.runtime.recorder import RecorderSink, SessionRecorder, SessionRotator
from sessionspec.storage.recorder_files import SessionFiles

__all__ = ["run"]


def run(workdir: pathlib.Path, out: TextIO) -> None:
    journal = str(workdir / "recorder.jsonl")
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    ids = iter(["morning", "afternoon"])
    recorder = SessionRecorder.create(journal)
    rotator = SessionRotator(recorder, clock=lambda: now[0], new_id=lambda: next(ids))
    coordinator = SessionCoordinator.new(
        str(workdir / "log"), cwd="/project", model="anthropic:claude-sonnet-4"
    )
    sink = RecorderSink(recorder, coordinator)

    rotator.mark_active()
    loop = rotator.next_loop_id("anthropic.claude-sonnet-4")
    child = "helper.openai.gpt-4o.1"
    print(f"1. The agent starts loop {loop} in session {rotator.session_id!r}.", file=out)
    for event in (
        build.agent_start(loop, rotator.session_id, at=0),
        build.turn_start(loop, 0, at=1),
        build.message_end(loop, build.user("Summarize the logs, ask a helper.")),
        build.turn_end(
            loop,
            build.assistant("", tool_calls=("call-1",), tokens=(900, 40)),
            at=2,
            tool_results=[build.tool_result("call-1", "helper says: 3 errors")],
        ),
        build.agent_start(child, "helper", at=2, parent=loop),
        build.agent_end(child, at=3, tokens=(200, 30)),
        build.tool_end(loop, "call-1", child_loop_id=child, tool_name="delegate"),
    ):
        outcome = sink.on_event(event)
        if outcome.turn is not None:
            print(
                f"   turn {outcome.turn.turn_index} recorded and persisted by the "
                f"coordinator ({coordinator.usage.turns} turn(s), "
                f"{coordinator.usage.input_tokens} input tokens)",
                file=out,
            )
    print("   the tool spawned a sub-agent in session 'helper'.", file=out)

    print(
        "2. The recorder stops in the middle of the loop, as a dying process leaves it "
        "(no flush, no save).",
        file=out,
    )
    recorder.close()
    recorder = SessionRecorder.open(journal)
    running = recorder.current_loop(loop)
    assert running is not None
    print(
        f"   reopened from the journal: loop {loop} is {running.status.value} with "
        f"{len(running.events)} events and {len(running.turns)} turn(s).",
        file=out,
    )
    sink = RecorderSink(recorder, coordinator)
    rotator.recorder = recorder
    for event in (
        build.turn_start(loop, 1, at=4, trigger="Continuation"),
        build.turn_end(loop, build.assistant("3 errors, all timeouts.", tokens=(1000, 12)), at=5),
        build.agent_end(loop, at=6, tokens=(1900, 52)),
    ):
        sink.on_event(event)
    print(
        f"   the loop went on and ended; the coordinator holds {coordinator.usage.turns} turns.",
        file=out,
    )

    now[0] += timedelta(hours=2)
    new_id = rotator.check_and_rotate(timedelta(minutes=30))
    print(f"3. Two idle hours later the rotator opens session {new_id!r}.", file=out)
    rotator.mark_active()
    later = rotator.next_loop_id("anthropic.claude-sonnet-4")
    for event in (
        build.agent_start(later, rotator.session_id, at=7200),
        build.agent_end(later, at=7201),
    ):
        sink.on_event(event)
    recorder.flush()

    files = SessionFiles(workdir / "sessions")
    for session in recorder.drain_completed():
        files.save(session)
    recorder.close()
    coordinator.close()
    print("4. Saved atomically (temporary file, fsync, rename, directory fsync):", file=out)
    for key in sorted(files.list_ids()):
        session = files.load(key)
        formation = session.formation
        reason = formation.kind
        if formation.kind == "InactivityTimeout":
            reason += (
                f" after {formation.threshold_secs} s (previous {formation.previous_session_id!r})"
            )
        spawn = session.parent_spawn_ref
        spawned = (
            "" if spawn is None else f", spawned by {spawn.parent_loop_id} via {spawn.tool_call_id}"
        )
        print(f"   {key}: {len(session.loops)} loop(s), formation {reason}{spawned}", file=out)
        for record in session.loops:
            refs = ", ".join(r.child_loop_id for r in record.child_loop_refs)
            print(
                f"     {record.loop_id}: {record.status.value}, {len(record.turns)} turn(s)"
                + (f", children {refs}" if refs else ""),
                file=out,
            )
