"""Session files (REC-060..REC-063), the journal (REC-070..REC-072) and the sink (REC-080)."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sessionspec import (
    BadSessionFileError,
    RecordedSession,
    RecorderConfig,
    RecorderSink,
    SessionCoordinator,
    SessionLockedError,
    SessionNotFoundError,
    SessionRecorder,
)
from sessionspec.conformance.recorder_events import (
    agent_end,
    agent_start,
    assistant,
    message_end,
    tool_result,
    turn_end,
    turn_start,
    user,
)
from sessionspec.errors import AppendFailedError, InvalidAgentEventError, InvalidSessionIdError
from sessionspec.storage.recorder_files import SessionFiles
from sessionspec.storage.simfs import SimulatedFileSystem
from sessionspec.tables.recorder import LoopState

FIXTURES = Path(__file__).parent / "fixtures"


def recorded_session(session_id: str = "s1", agent: str = "agent-1") -> RecordedSession:
    recorder = SessionRecorder()
    loop = f"{session_id}.anthropic.1"
    for event in (
        agent_start(loop, session_id, agent_id=agent),
        turn_start(loop),
        message_end(loop, user("hi")),
        turn_end(loop, assistant("yo", tool_calls=("c",)), tool_results=[tool_result("c")]),
        agent_end(loop, messages=[user("hi"), assistant("yo")]),
    ):
        recorder.on_event(event)
    recorder.flush()
    (session,) = recorder.drain_completed()
    return session


# -- storage ---------------------------------------------------------------------------------


@pytest.mark.req("REC-060", "REC-062")
def test_save_load_list_delete(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path / "sessions")
    assert files.list_ids() == []  # a missing directory is empty
    first = recorded_session("s1")
    files.save(first)
    time.sleep(0.01)
    files.save(recorded_session("s2", agent="agent-2"))
    assert files.list_ids() == ["s2", "s1"]  # newest first
    loaded = files.load("s1")
    assert loaded.to_json() == first.to_json()
    assert [s.session_id for s in files.list_for_agent("agent-2")] == ["s2"]
    files.delete("s1")
    assert files.list_ids() == ["s2"]
    with pytest.raises(SessionNotFoundError):
        files.load("s1")
    with pytest.raises(SessionNotFoundError):
        files.delete("s1")
    for bad in ("", "..", "a/b"):
        with pytest.raises(InvalidSessionIdError):
            files.load(bad)
    assert not [n for n in os.listdir(tmp_path / "sessions") if ".tmp." in n]


@pytest.mark.req("REC-061")
def test_a_failed_save_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = SessionFiles(tmp_path)
    session = recorded_session()
    files.save(session)
    before = (tmp_path / "s1.json").read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk gone")

    session.loops.clear()
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        files.save(session)
    monkeypatch.undo()
    assert (tmp_path / "s1.json").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["s1.json", "s1.json.lock"]


@pytest.mark.req("REC-061")
def test_concurrent_saves_are_serialized_and_a_held_lock_times_out(tmp_path: Path) -> None:
    import fcntl

    files = SessionFiles(tmp_path, lock_timeout=0.2)
    session = recorded_session()
    files.save(session)
    fd = os.open(tmp_path / "s1.json.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(SessionLockedError, match="s1"):
            files.save(session)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                SessionFiles(tmp_path).save(session)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert files.load("s1").to_json() == session.to_json()


@pytest.mark.req("REC-063")
@pytest.mark.parametrize("name", ["phi_legacy_no_turns.json", "phi_full.json"])
def test_phi_core_files_load(name: str, tmp_path: Path) -> None:
    (tmp_path / "legacy.json").write_bytes((FIXTURES / name).read_bytes())
    session = SessionFiles(tmp_path).load("legacy")
    assert session.scope in ("ephemeral", "persistent")
    assert session.loops and all(loop.continuation_kind for loop in session.loops)
    again = RecordedSession.from_json(json.loads(json.dumps(session.to_json())))
    assert again.to_json() == session.to_json()


@pytest.mark.req("REC-063")
def test_phi_legacy_fields() -> None:
    data = json.loads((FIXTURES / "phi_legacy_no_turns.json").read_text())
    session = RecordedSession.from_json(data)
    assert session.scope == "ephemeral" and session.segment == 0
    (first, second) = session.loops
    assert first.turns == [] and first.continuation_kind == "Initial"
    assert second.status is LoopState.RUNNING  # "Pending"
    full = RecordedSession.from_json(json.loads((FIXTURES / "phi_full.json").read_text()))
    assert full.loops[0].turns[1].triggered_by == "Continuation"  # "FollowUp"
    assert full.formation.kind == "InactivityTimeout"


@pytest.mark.req("REC-063")
@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("session_id"),
        lambda d: d.update(formation={"Sometime": {}}),
        lambda d: d.update(created_at="yesterday"),
        lambda d: d["loops"][0].update(status="Sleeping"),
        lambda d: d.update(scope="forever"),
    ],
)
def test_bad_session_files_are_typed_errors(mutate: Any, tmp_path: Path) -> None:
    data = recorded_session().to_json()
    mutate(data)
    with pytest.raises(BadSessionFileError):
        RecordedSession.from_json(data)
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(BadSessionFileError, match="not JSON"):
        SessionFiles(tmp_path).load("x")


# -- journal ---------------------------------------------------------------------------------


def _script(loop: str, session: str) -> list[dict[str, Any]]:
    return [
        agent_start(loop, session),
        turn_start(loop),
        message_end(loop, user("hi")),
        turn_end(loop, assistant("yo")),
    ]


@pytest.mark.req("REC-070", "REC-071", "REC-017")
def test_a_crashed_recorder_resumes_with_every_acknowledged_event() -> None:
    fs = SimulatedFileSystem()
    fs.makedirs("/j")
    path = "/j/journal.jsonl"
    config = RecorderConfig(include_streaming_events=True)
    live = SessionRecorder.create(path, config, fs=fs)
    for event in _script("s1.c.1", "s1") + _script("s2.c.1", "s2"):
        live.on_event(event)
    live.on_event(agent_end("s1.c.1"))
    assert live.checkpoint() == 1
    live.note_rotation("s3", previous_session_id="s2", threshold_secs=60)
    fs.crash(random.Random(7))  # a power cut: only what was fsynced survives
    resumed = SessionRecorder.open(path, fs=fs)
    assert resumed.config.include_streaming_events
    assert [s.to_json() for s in resumed.sessions()] == [s.to_json() for s in live.sessions()]
    loop = resumed.current_loop("s2.c.1")
    assert loop is not None and loop == live.current_loop("s2.c.1")
    # the loop goes on in the resumed recorder
    resumed.on_event(turn_start("s2.c.1", 1))
    resumed.on_event(turn_end("s2.c.1", assistant("more")))
    resumed.on_event(agent_end("s2.c.1"))
    resumed.on_event(agent_start("s3.c.1", "s3"))
    resumed.flush()
    sessions = {s.session_id: s for s in resumed.drain_completed()}
    assert len(sessions["s2"].loops[0].turns) == 2
    assert sessions["s3"].formation.kind == "InactivityTimeout"
    resumed.close()
    assert list(SessionRecorder.open(path, fs=fs).sessions()) == []  # drained stays drained


@pytest.mark.req("REC-072", "REC-012")
def test_replay_fires_no_callback_and_keeps_the_verdicts(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.jsonl")
    calls: list[str] = []

    def before(session: RecordedSession) -> bool:
        calls.append("before")
        return session.session_id != "no"

    def noting(word: str) -> Any:
        def note(session: RecordedSession) -> bool:
            calls.append(word)
            return True

        return note

    live = SessionRecorder.create(
        path, RecorderConfig(before_task=before, after_task=noting("after"))
    )
    live.on_event(agent_start("no.c.1", "no"))
    live.on_event(agent_start("yes.c.1", "yes"))
    live.on_event(agent_end("yes.c.1"))
    live.checkpoint()
    live.close()
    assert calls == ["before", "before", "after", "after"]
    resumed = SessionRecorder.open(
        path,
        before_task=noting("before again"),
        after_task=noting("after again"),
    )
    assert calls == ["before", "before", "after", "after"]
    no = next(s for s in resumed.sessions() if s.session_id == "no")
    assert no.rejection is not None
    resumed.on_event(agent_start("no.c.2", "no"))  # a new segment: no new verdict asked
    resumed.flush()
    assert calls[-1] == "after again"
    assert "before again" not in calls
    resumed.close()


@pytest.mark.req("REC-070", "REC-030")
def test_dropped_and_refused_events_are_not_journaled(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    recorder = SessionRecorder.create(str(path))
    recorder.on_event(turn_start("nobody"))
    with pytest.raises(Exception, match="unknown agent event"):
        recorder.on_event({"type": "Nope"})
    recorder.close()
    assert len(path.read_bytes().splitlines()) == 1


# -- the coordinator sink ----------------------------------------------------------------------


@pytest.mark.req("REC-080")
def test_one_stream_feeds_recorder_and_coordinator(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(
        str(tmp_path / "log"), cwd="/", model="anthropic:claude-sonnet-4"
    )
    recorder = SessionRecorder.create(str(tmp_path / "journal.jsonl"))
    sink = RecorderSink(recorder, coordinator)
    loop = "s1.anthropic.1"
    results = [
        sink.on_event(e)
        for e in (
            agent_start(loop, "s1"),
            turn_start(loop),
            message_end(loop, user("list files")),
            turn_end(
                loop,
                assistant("", tool_calls=("c1",), tokens=(100, 10)),
                tool_results=[tool_result("c1", "a.txt")],
            ),
            turn_start(loop, 1, trigger="Continuation"),
            turn_end(loop, assistant("a.txt", tokens=(150, 5))),
            turn_end("s9.x.1", assistant("stray")),  # not running: recorded nowhere
            agent_end(loop),
        )
    ]
    assert [r.turn is not None for r in results] == [False] * 3 + [True, False, True] + [False] * 2
    assert sink.turns_handed == 2
    assert coordinator.usage.turns == 2
    assert coordinator.usage.input_tokens == 250
    assert [m["role"] for m in coordinator.context()] == [
        "user",
        "assistant",
        "tool_result",
        "assistant",
    ]
    path = coordinator.session_path
    coordinator.close()
    recorder.close()
    resumed = SessionCoordinator.open_existing(path, model="anthropic:claude-sonnet-4")
    assert resumed.usage.turns == 2
    resumed.close()
    recorder = SessionRecorder.open(str(tmp_path / "journal.jsonl"))
    recorder.flush()
    (session,) = recorder.drain_completed()
    assert len(session.loops[0].turns) == 2
    recorder.close()


@pytest.mark.req("REC-070", "GEN-006")
def test_a_failed_journal_append_changes_nothing() -> None:
    fs = SimulatedFileSystem()
    fs.makedirs("/j")
    recorder = SessionRecorder.create("/j/journal.jsonl", fs=fs)
    recorder.on_event(agent_start("s1.c.1", "s1"))
    before = recorder.current_loop("s1.c.1")
    fs.arm("write")
    with pytest.raises(AppendFailedError):
        recorder.on_event(turn_start("s1.c.1"))
    assert recorder.current_loop("s1.c.1") == before
    fs.arm("fsync")
    with pytest.raises(AppendFailedError):
        recorder.flush()
    assert recorder.current_loop("s1.c.1") == before  # still running: flush did nothing
    recorder.on_event(turn_start("s1.c.1"))  # the journal is usable again
    recorder.close()
    reopened = SessionRecorder.open("/j/journal.jsonl", fs=fs)
    loop = reopened.current_loop("s1.c.1")
    assert loop is not None and [e.event["type"] for e in loop.events] == [
        "AgentStart",
        "TurnStart",
    ]


@pytest.mark.req("REC-017", "REC-043", "REC-061")
def test_bad_arguments_are_caller_errors(tmp_path: Path) -> None:
    from datetime import timedelta

    from sessionspec import SessionRotator
    from sessionspec.errors import CallerError

    with pytest.raises(CallerError, match="before_task"):
        RecorderConfig(before_task="yes")  # type: ignore[arg-type]
    with pytest.raises(CallerError, match="include_streaming_events"):
        RecorderConfig(include_streaming_events=1)  # type: ignore[arg-type]
    with pytest.raises(CallerError, match="timedelta"):
        SessionRotator().check_and_rotate(30)  # type: ignore[arg-type]
    with pytest.raises(CallerError, match="negative"):
        SessionRotator().check_and_rotate(timedelta(seconds=-1))
    with pytest.raises(CallerError, match="RecordedSession"):
        SessionFiles(tmp_path).save({"session_id": "x"})  # type: ignore[arg-type]
    with pytest.raises(CallerError, match="threshold_secs"):
        SessionRecorder().note_rotation("s", previous_session_id=None, threshold_secs=-1)
    with pytest.raises(CallerError, match="session id"):
        SessionRecorder().note_rotation("", previous_session_id=None, threshold_secs=1)
    with pytest.raises(CallerError, match="config id"):
        SessionRotator().next_loop_id("")


@pytest.mark.req("REC-070")
def test_journal_entry_ids_are_positions_across_reopens(tmp_path: Path) -> None:
    from sessionspec.runtime.recorder.recorder import (
        JOURNAL_ENTRY_TYPES,
        RecorderJournalHeader,
    )
    from sessionspec.storage import read_log

    path = str(tmp_path / "journal.jsonl")
    with SessionRecorder.create(path) as recorder:
        recorder.on_event(agent_start("s1.c.1", "s1"))
        recorder.on_event(turn_start("s1.c.1"))
    with SessionRecorder.open(path) as recorder:  # the lock was released by the with block
        recorder.on_event(agent_end("s1.c.1"))
        recorder.checkpoint()
    snapshot = read_log(
        path, header_model=RecorderJournalHeader, entry_types=JOURNAL_ENTRY_TYPES, strict=True
    )
    assert [r.entry["id"] for r in snapshot.records] == ["1", "2", "3", "4"]
    assert [r.entry["type"] for r in snapshot.records] == ["event"] * 3 + ["checkpoint"]


@pytest.mark.req("REC-071", "REC-002")
def test_a_journal_with_a_bad_event_fails_to_open_and_releases_its_lock(tmp_path: Path) -> None:
    from sessionspec.runtime.recorder.recorder import JOURNAL_ENTRY_TYPES, RecorderJournalHeader
    from sessionspec.storage import JsonlLog

    path = str(tmp_path / "journal.jsonl")
    SessionRecorder.create(path).close()
    log = JsonlLog.open(path, header_model=RecorderJournalHeader, entry_types=JOURNAL_ENTRY_TYPES)
    log.append([{"type": "event", "id": "1", "event": {"type": "AgentStart"}}])
    log.close()
    for _ in range(2):  # the second attempt sees the same error, not a held lock
        with pytest.raises(InvalidAgentEventError, match="AgentStart"):
            SessionRecorder.open(path)


@pytest.mark.req("REC-080")
def test_a_failing_coordinator_leaves_the_turn_recorded_and_not_counted() -> None:
    class Refusing:
        def on_turn_end(self, new_messages: Any, usage: Any = None) -> None:
            raise OSError("disk full")

    recorder = SessionRecorder()
    sink = RecorderSink(recorder, Refusing())
    loop = "s1.c.1"
    sink.on_event(agent_start(loop, "s1"))
    sink.on_event(turn_start(loop))
    with pytest.raises(OSError, match="disk full"):
        sink.on_event(turn_end(loop, assistant("x")))
    record = recorder.current_loop(loop)
    assert record is not None and len(record.turns) == 1
    assert sink.turns_handed == 0
