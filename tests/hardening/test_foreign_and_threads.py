"""Files that are not ours, threads, foreign writers, dropped objects, racing creation
(issue 7 items 6 and 7).
"""

from __future__ import annotations

import gc
import os
import random
import threading
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.hardening.damage import CLOCK, assistant, only_residue_cut, user

from sessionspec import (
    BadHeaderError,
    CompactionConfig,
    CompactionReason,
    ForeignFormatError,
    ForeignWriteError,
    IllegalTransitionError,
    LogFailedError,
    LogLockedError,
    LogNotFoundError,
    RealtimeTranscript,
    SessionCoordinator,
)
from sessionspec.storage import (
    Durability,
    JsonlLog,
    SimulatedCrash,
    SimulatedFileSystem,
    read_log,
)
from sessionspec.tables.coordinator import CoordinatorState
from sessionspec.wire.realtime import JOURNAL_ENTRY_TYPES, RealtimeJournalHeader

OPI_HEADER = {
    "type": "session",
    "version": 1,
    "id": "19e6",
    "timestamp": "2026-05-27T06:32:31Z",
    "cwd": "/w",
    "parent_session": None,
}


def jsonl(*objects: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(obj) + b"\n" for obj in objects)


def opi_message(text: str, entry_id: str | None, parent: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "message"}
    if entry_id is not None:
        entry |= {"id": entry_id, "parent_id": parent}
    return entry | {"timestamp": "2026-05-27T06:32:32Z", "message": user(text)}


# -- item 6: files that are not ours -----------------------------------------------------------


@pytest.mark.req("LOG-021", "COORD-003")
def test_an_opi_file_without_ids_is_foreign_and_never_written(tmp_path: Path) -> None:
    """Was: opened with 0 messages and 1,000 diagnostics, and the next turn appended our
    lines into it."""
    path = tmp_path / "old.jsonl"
    data = jsonl(OPI_HEADER, *(opi_message(f"m{n}", None, None) for n in range(1000)))
    path.write_bytes(data)
    for attempt in (
        lambda: read_log(str(path)),
        lambda: JsonlLog.open(str(path)),
        lambda: SessionCoordinator.open_existing(path),
    ):
        with pytest.raises(ForeignFormatError) as caught:
            attempt()
        assert caught.value.format == "opi-v1-without-ids" and caught.value.line == 2
    assert path.read_bytes() == data


@pytest.mark.req("LOG-021", "LOG-017", "COORD-003")
def test_an_opi_file_with_ids_stays_readable_and_writable(tmp_path: Path) -> None:
    path = tmp_path / "19e6.jsonl"
    data = jsonl(OPI_HEADER, opi_message("a", "msg-1", None), opi_message("b", "msg-2", "msg-1"))
    path.write_bytes(data)
    with SessionCoordinator.open_existing(path, clock=lambda: CLOCK) as coordinator:
        assert [m["content"][0]["text"] for m in coordinator.context()] == ["a", "b"]
        coordinator.on_turn_end([user("c"), assistant("d")])
    assert path.read_bytes().startswith(data)
    with SessionCoordinator.open_existing(path) as resumed:
        assert len(resumed.context()) == 4 and resumed.recovery.clean


FOREIGN_FIRST_LINES = [
    ({"type": "session", "version": 2, "id": "x", "timestamp": "t", "cwd": "/",
      "runtime_input_binding": {}}, "opi-session-v2"),
    ({"type": "session", "version": 3, "id": "x", "timestamp": "t", "cwd": "/"}, "pi-session-v3"),
    ({"type": "summary", "summary": "s", "leafUuid": "u"}, "claude-code-transcript"),
    ({"parentUuid": None, "sessionId": "s", "uuid": "u", "type": "user"},
     "claude-code-transcript"),
    ({"timestamp": "t", "type": "session_meta", "payload": {}}, "codex-rollout"),
    ({"id": "x", "timestamp": "t", "instructions": ""}, "codex-rollout"),
    ({"type": "sessionspec.realtime_journal", "version": 1, "id": "rt", "created": "c",
      "api": "OpenAi", "provider": "openai", "model": "m"}, "sessionspec-realtime-journal"),
]  # fmt: skip


@pytest.mark.req("LOG-021")
@pytest.mark.parametrize(
    "first,detected", FOREIGN_FIRST_LINES, ids=[d for _, d in FOREIGN_FIRST_LINES]
)
def test_another_formats_file_is_named_and_never_written(
    tmp_path: Path, first: dict[str, Any], detected: str
) -> None:
    path = tmp_path / "x.jsonl"
    data = jsonl(first, {"type": "user", "message": {"role": "user", "content": "hi"}})
    path.write_bytes(data)
    for attempt in (lambda: JsonlLog.open(str(path)), lambda: read_log(str(path))):
        with pytest.raises(ForeignFormatError) as caught:
            attempt()
        assert caught.value.format == detected
    assert path.read_bytes() == data


@pytest.mark.req("LOG-021")
def test_a_session_opened_as_a_journal_is_named(tmp_path: Path) -> None:
    with SessionCoordinator.new(tmp_path, "/w", session_id="s1") as coordinator:
        coordinator.on_turn_end([user("a")])
    path = tmp_path / "s1.jsonl"
    data = path.read_bytes()
    with pytest.raises(ForeignFormatError) as caught:
        RealtimeTranscript.open(str(path))
    assert caught.value.format == "opi-session-v1"
    assert path.read_bytes() == data


@pytest.mark.req("LOG-021")
def test_a_whole_file_json_session_is_named(tmp_path: Path) -> None:
    path = tmp_path / "meerkat.json"
    data = orjson.dumps(
        {"version": 2, "id": "s", "messages": [{"role": "user"}]}, option=orjson.OPT_INDENT_2
    )
    path.write_bytes(data)
    with pytest.raises(ForeignFormatError) as caught:
        SessionCoordinator.open_existing(path)
    assert caught.value.format == "json-session-document"
    assert isinstance(caught.value, BadHeaderError) and path.read_bytes() == data


# -- item 7: threads ---------------------------------------------------------------------------


@pytest.mark.req("COORD-070", "COORD-020")
def test_threads_sharing_a_coordinator_lose_no_acknowledged_turn(tmp_path: Path) -> None:
    """Was: 441 of 1,041 acknowledged turns lost, sequence gaps on disk, no error."""
    threads, turns = 4, 60
    coordinator = SessionCoordinator.new(
        tmp_path, "/w", CompactionConfig(enabled=False), session_id="s1",
        durability=Durability.NO_SYNC,
    )  # fmt: skip
    acknowledged: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        start.wait()
        try:
            for turn in range(turns):
                text = f"w{worker}-t{turn}"
                coordinator.on_turn_end([user(text), assistant("ok")], {"input_tokens": 1})
                acknowledged.append(text)
                if turn % 20 == 7:
                    coordinator.append_extension_state({"worker": worker, "turn": turn})
                if turn % 25 == 11 and worker == 0:
                    coordinator.execute_compaction(CompactionReason.MANUAL)
        except BaseException as exc:  # pragma: no cover - the failure is reported below
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures
    assert coordinator.usage.turns == threads * turns
    assert coordinator.usage.input_tokens == threads * turns
    running_context = coordinator.context()
    coordinator.close()
    snapshot = read_log(str(tmp_path / "s1.jsonl"), strict=True)
    assert snapshot.report.clean
    written = {
        r.entry["message"]["content"][0]["text"]
        for r in snapshot.records
        if r.entry["type"] == "message" and r.entry["message"]["role"] == "user"
    }
    assert written == set(acknowledged) and len(acknowledged) == threads * turns
    with SessionCoordinator.open_existing(tmp_path / "s1.jsonl") as resumed:
        assert resumed.usage.turns == threads * turns
        assert resumed.context() == running_context


@pytest.mark.req("LOG-023")
def test_threads_sharing_a_log_interleave_no_bytes(tmp_path: Path) -> None:
    header = dict(OPI_HEADER, id="s1")
    log = JsonlLog.create(str(tmp_path / "s1.jsonl"), header, durability=Durability.NO_SYNC)

    def work(worker: int) -> None:
        for n in range(100):
            log.append([{"type": "extension_state", "id": f"{worker}-{n}", "parent_id": None,
                         "timestamp": "t", "state": n}])  # fmt: skip

    workers = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log.close()
    snapshot = read_log(str(tmp_path / "s1.jsonl"), strict=True)
    assert snapshot.report.clean and snapshot.head == 400 and log.head == 400


# -- item 7: foreign writers ---------------------------------------------------------------------


@pytest.mark.req("LOG-022", "COORD-012")
@pytest.mark.parametrize("change", ["append", "truncate", "replace", "remove"])
def test_a_foreign_write_is_refused_and_never_overwritten(tmp_path: Path, change: str) -> None:
    """Was: the next turn wrote at its cached offset, over the foreign line."""
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s1", clock=lambda: CLOCK)
    coordinator.on_turn_end([user("a"), assistant("b")])
    path = tmp_path / "s1.jsonl"
    if change == "append":
        with open(path, "ab") as foreign:  # a plain `>>`, without the lock
            foreign.write(b'{"note":"appended by hand"}\n')
    elif change == "truncate":
        os.truncate(path, path.stat().st_size - 5)
    elif change == "replace":  # another file renamed over ours: same bytes, another file
        (tmp_path / "other").write_bytes(path.read_bytes())
        os.replace(tmp_path / "other", path)
    else:
        os.remove(path)
        with pytest.raises(ForeignWriteError):
            coordinator.on_turn_end([user("c")])
        assert not path.exists()
        coordinator.close()
        return
    changed = path.read_bytes()
    with pytest.raises(ForeignWriteError):
        coordinator.on_turn_end([user("c")])
    assert path.read_bytes() == changed
    assert isinstance(ForeignWriteError("x"), LogFailedError)
    assert coordinator.state is CoordinatorState.FAILED  # COORD-012: refuses until reopened
    with pytest.raises(IllegalTransitionError):
        coordinator.append_extension_state({"x": 1})
    assert path.read_bytes() == changed and coordinator.usage.turns == 1
    coordinator.close()
    with SessionCoordinator.open_existing(path) as reopened:
        assert only_residue_cut(changed, path.read_bytes()) is None
        assert reopened.usage.turns == (0 if change == "truncate" else 1)
        assert reopened.recovery.clean == (change == "replace")


@pytest.mark.req("LOG-022", "RT-042")
def test_a_foreign_append_to_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rt.jsonl"
    transcript = RealtimeTranscript.create(str(path))
    transcript.apply({"type": "item_skipped", "item_id": "a", "previous_item_id": None})
    with open(path, "ab") as foreign:
        foreign.write(b"garbage\n")
    changed = path.read_bytes()
    with pytest.raises(ForeignWriteError):
        transcript.apply({"type": "item_skipped", "item_id": "b", "previous_item_id": "a"})
    assert path.read_bytes() == changed
    transcript.close()


# -- item 7: dropped objects -------------------------------------------------------------------


def _drop_and_collect(make: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()  # the object is dropped at once, without close()
        gc.collect()
    assert any(issubclass(w.category, ResourceWarning) for w in caught), caught


@pytest.mark.req("LOG-015")
def test_a_dropped_coordinator_releases_its_lock_with_a_warning(tmp_path: Path) -> None:
    """Was: the lock was held for the life of the process, even after gc.collect()."""
    SessionCoordinator.new(tmp_path, "/w", session_id="s1").close()
    path = tmp_path / "s1.jsonl"
    _drop_and_collect(lambda: SessionCoordinator.open_existing(path))
    SessionCoordinator.open_existing(path).close()


@pytest.mark.req("LOG-015", "RT-043")
def test_a_dropped_transcript_and_log_release_their_locks(tmp_path: Path) -> None:
    path = str(tmp_path / "rt.jsonl")
    _drop_and_collect(lambda: RealtimeTranscript.create(path))
    RealtimeTranscript.open(path).close()
    _drop_and_collect(
        lambda: JsonlLog.open(
            path, header_model=RealtimeJournalHeader, entry_types=JOURNAL_ENTRY_TYPES
        )
    )
    RealtimeTranscript.open(path).close()


@pytest.mark.req("LOG-015")
def test_a_closed_log_is_collected_without_a_warning(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        SessionCoordinator.new(tmp_path, "/w", session_id="s1").close()
        gc.collect()


# -- item 7: creation is atomic ----------------------------------------------------------------


class _RacingFs(SimulatedFileSystem):
    """Runs ``hook`` once, at the first lock a creation takes: the moment a racing
    ``open_existing`` found the zero-byte stub before the fix."""

    def __init__(self) -> None:
        super().__init__()
        self.hook: Any = None

    def lock(self, path: str) -> Any:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return super().lock(path)


@pytest.mark.req("LOG-016", "COORD-006")
def test_a_racing_open_never_sees_a_stub_and_creation_never_fails_for_it() -> None:
    """Was: open_existing took the lock on the empty file first (BadHeaderError), new()
    then failed to lock, and the 0-byte file blocked the id for good."""
    fs = _RacingFs()
    seen: list[BaseException] = []

    def racing_open() -> None:
        try:
            SessionCoordinator.open_existing("/d/s1.jsonl", fs=fs).close()
        except (LogNotFoundError, LogLockedError) as exc:
            seen.append(exc)

    fs.makedirs("/d")
    fs.hook = racing_open
    with SessionCoordinator.new("/d", "/w", session_id="s1", fs=fs) as coordinator:
        coordinator.on_turn_end([user("a")])
    assert len(seen) == 1 and isinstance(seen[0], LogNotFoundError)
    with SessionCoordinator.open_existing("/d/s1.jsonl", fs=fs) as reopened:
        assert reopened.usage.turns == 1
    assert fs.listdir("/d") == ["s1.jsonl"]


@pytest.mark.req("LOG-016", "LOG-014")
def test_a_crash_at_any_step_of_creation_leaves_no_file_or_a_complete_one() -> None:
    """Was: a crash between the creation and the durable header could leave an empty file
    under the name, which no open and no new() would ever accept again."""
    for seed in range(8):
        step = 0
        while True:
            fs = SimulatedFileSystem()
            fs.makedirs("/d")
            fs.arm_crash(step)
            try:
                SessionCoordinator.new("/d", "/w", session_id="s1", fs=fs).close()
            except SimulatedCrash:
                pass
            else:
                break
            fs.crash(random.Random(seed * 1000 + step))
            if fs.exists("/d/s1.jsonl"):
                SessionCoordinator.open_existing("/d/s1.jsonl", fs=fs).close()
            else:
                SessionCoordinator.new("/d", "/w", session_id="s1", fs=fs).close()
            step += 1
        assert step >= 4  # the creation has that many crash points


@pytest.mark.req("LOG-016", "LOG-011")
def test_real_threads_racing_new_and_open_existing(tmp_path: Path) -> None:
    outcomes: list[str] = []
    for n in range(40):
        path = tmp_path / f"s{n}.jsonl"
        done = threading.Event()

        def opener(target: Path = path, finished: threading.Event = done) -> None:
            while not finished.is_set():
                try:
                    SessionCoordinator.open_existing(target).close()
                    outcomes.append("opened")
                except (LogNotFoundError, LogLockedError):
                    pass
                except BadHeaderError:  # an empty stub: the bug
                    outcomes.append("stub")

        thread = threading.Thread(target=opener)
        thread.start()
        try:
            SessionCoordinator.new(tmp_path, "/w", session_id=f"s{n}").close()
        finally:
            done.set()
            thread.join()
        assert path.stat().st_size > 0
    assert "stub" not in outcomes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"s{n}.jsonl" for n in range(40))
