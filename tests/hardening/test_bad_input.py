"""A typed error for every bad input, and nothing written (issue 7 items 3 and 4).

Each case is one the outside harness found: before the fix each raised a bare ``TypeError``,
``KeyError``, ``ValueError``, ``RecursionError``, ``OSError``, a pydantic error, blocked
forever, or silently coerced or dropped a value. Each must now raise a
:class:`SessionSpecError` subclass (a :class:`CallerError` for a bad argument, a storage
error for a bad file) and change nothing on disk.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.hardening.damage import (
    CLOCK,
    assistant,
    base_journal,
    base_session,
    dump_deep,
    user,
)

import sessionspec
from sessionspec import (
    BadHeaderError,
    CallerError,
    CompactionConfig,
    InvalidSessionIdError,
    LogCreateError,
    PathKindError,
    RealtimeTranscript,
    SessionCoordinator,
    SessionSpecError,
)
from sessionspec.cli import main as cli_main
from sessionspec.storage import JsonlLog, read_log, scan_log_bytes
from sessionspec.storage.framing import frame_line
from sessionspec.wire.realtime import JOURNAL_ENTRY_TYPES, RealtimeJournalHeader


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def new_session(directory: Path, **kwargs: Any) -> SessionCoordinator:
    return SessionCoordinator.new(
        directory, "/work", CompactionConfig(enabled=False), "", session_id="s1",
        clock=lambda: CLOCK, **kwargs
    )  # fmt: skip


def deep_list(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def framed_lines(*objects: dict[str, Any]) -> bytes:
    return b"".join(frame_line(orjson.dumps(obj), seq, True) for seq, obj in enumerate(objects))


HEADER = {"type": "session", "version": 1, "id": "s1", "timestamp": "t", "cwd": "/"}


# -- item 3: bad files -------------------------------------------------------------------------


@pytest.mark.req("GEN-009", "LOG-007")
@pytest.mark.parametrize("bad_type", [["message"], {"k": "message"}, 5, None])
def test_an_entry_type_that_is_a_list_or_object_is_a_corrupt_entry(
    tmp_path: Path, bad_type: Any
) -> None:
    """Was ``TypeError: unhashable type`` on every read path."""
    path = tmp_path / "s1.jsonl"
    path.write_bytes(framed_lines(HEADER, {"type": bad_type, "id": "x", "parent_id": None}))
    before = path.read_bytes()
    findings = read_log(str(path)).report.corrupt_entries
    assert [d.line for d in findings] == [2]
    with SessionCoordinator.open_existing(path) as coordinator:
        assert coordinator.context() == []
        assert any(d.code == "log_corrupt_entry" for d in coordinator.recovery.diagnostics())
    assert path.read_bytes() == before


def journal_with(*events: dict[str, Any]) -> bytes:
    header = RealtimeJournalHeader(
        id="rt", created="2026-01-01T00:00:00", api="OpenAi", provider="openai", model="m"
    ).to_json_dict()
    return framed_lines(header, *events)


@pytest.mark.req("GEN-009", "RT-049")
@pytest.mark.parametrize(
    "entry",
    [
        {"type": "event", "id": "1", "event": {"type": "item_skipped", "item_id": "a"}},
        {"type": "event", "id": "1", "ts": 5},
        {"type": "event", "id": "1", "ts": "5", "event": {"type": "item_skipped", "item_id": "a"}},
        {"type": "event", "id": "1", "ts": 1.5, "event": {"type": "item_skipped", "item_id": "a"}},
        {"type": "event", "id": "1", "ts": True, "event": {"type": "item_skipped", "item_id": "a"}},
        {"type": "event", "id": "1", "ts": -1, "event": {"type": "item_skipped", "item_id": "a"}},
        {"type": "event", "id": "1", "ts": 5, "event": ["item_skipped"]},
        {"type": "event", "id": "1", "ts": 5, "event": {"type": "nine_is_not_ten"}},
        {"type": "event", "id": "1", "ts": 5, "event": {"type": "item_skipped", "item_id": 7}},
    ],
)
def test_a_bad_journal_entry_is_skipped_and_reported(tmp_path: Path, entry: dict[str, Any]) -> None:
    """Was ``KeyError``/``ValueError``, or a journal that could never be opened again."""
    good = {
        "type": "event",
        "id": "2",
        "ts": 7,
        "event": {"type": "user_transcript_final", "item_id": "u1", "previous_item_id": None,
                  "content_index": 0, "text": "hello"},
    }  # fmt: skip
    path = tmp_path / "rt.jsonl"
    path.write_bytes(journal_with(entry, good))
    before = path.read_bytes()
    with RealtimeTranscript.open(str(path)) as transcript:
        assert [m.content[0].text for m in transcript.messages()] == ["hello"]  # type: ignore[union-attr]
        skipped = transcript.recovery.skipped
        assert [(s.line, s.entry_id) for s in skipped] == [(2, "1")]
        assert not transcript.recovery.clean
    assert path.read_bytes() == before


@pytest.mark.req("GEN-009", "RT-049")
def test_a_journal_header_with_an_unknown_api_is_a_bad_header(tmp_path: Path) -> None:
    header = {"type": "sessionspec.realtime_journal", "version": 1, "id": "rt", "created": "c",
              "api": "Nonsense", "provider": "p", "model": "m"}  # fmt: skip
    path = tmp_path / "rt.jsonl"
    path.write_bytes(framed_lines(header))
    with pytest.raises(BadHeaderError):
        RealtimeTranscript.open(str(path))
    assert path.read_bytes() == framed_lines(header)


@pytest.mark.req("GEN-009", "COORD-024")
def test_deep_nesting_in_a_file_is_an_invalid_entry_not_a_crash(tmp_path: Path) -> None:
    """Was ``ValueError: Maximum serialization depth exceeded`` from open_existing."""
    message = {"role": "user", "content": [{"type": "text", "text": "x"}], "timestamp_ms": 1,
               "extra": deep_list(400)}  # fmt: skip
    entry = {"type": "message", "id": "msg-1", "parent_id": None, "timestamp": "t",
             "message": message}  # fmt: skip
    body = orjson.dumps({k: v for k, v in entry.items() if k != "message"})
    text = body[:-1] + b',"message":' + dump_deep(message).encode() + b"}"
    path = tmp_path / "s1.jsonl"
    path.write_bytes(framed_lines(HEADER) + frame_line(text, 1, True))
    before = path.read_bytes()
    with SessionCoordinator.open_existing(path) as coordinator:
        assert coordinator.recovery.invalid_entries == ("msg-1",)
    assert path.read_bytes() == before


@pytest.mark.req("GEN-009")
def test_a_directory_or_a_fifo_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    """Was ``IsADirectoryError``; on a FIFO, open_existing blocked forever."""
    directory = tmp_path / "dir.jsonl"
    directory.mkdir()
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    for target in (directory, fifo):
        for attempt in (
            lambda p: read_log(str(p)),
            lambda p: JsonlLog.open(str(p)),
            lambda p: SessionCoordinator.open_existing(p),
            lambda p: RealtimeTranscript.open(str(p)),
        ):
            with pytest.raises(PathKindError):
                attempt(target)
    assert sorted(os.listdir(tmp_path)) == ["dir.jsonl", "fifo.jsonl"]


@pytest.mark.req("GEN-009")
def test_a_directory_argument_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """Was ``FileExistsError`` from new and fork."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_bytes(b"mine")
    with pytest.raises(PathKindError):
        new_session(blocker)
    with pytest.raises(PathKindError):
        new_session(blocker / "below")
    with new_session(tmp_path / "sessions") as coordinator:
        coordinator.on_turn_end([user("a")])
        with pytest.raises(PathKindError):
            coordinator.fork(dir=blocker)
    assert blocker.read_bytes() == b"mine"


@pytest.mark.req("GEN-009")
@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_directory_that_cannot_be_created_is_a_typed_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(LogCreateError):
        new_session(locked / "sessions")


@pytest.mark.req("GEN-009")
def test_a_directory_that_cannot_be_created_is_a_typed_error_in_the_simulation() -> None:
    from sessionspec.storage import SimulatedFileSystem

    class RefusingFs(SimulatedFileSystem):
        def makedirs(self, path: str) -> None:
            raise PermissionError(13, "permission denied", path)

    with pytest.raises(LogCreateError):
        new_session(Path("/nowhere"), fs=RefusingFs())


@pytest.mark.req("GEN-009", "LOG-016")
def test_a_path_without_a_directory_part_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was ``FileNotFoundError`` from ``RealtimeTranscript.create("j.jsonl")`` and
    ``new("", ...)``."""
    monkeypatch.chdir(tmp_path)
    RealtimeTranscript.create("j.jsonl").close()
    new_session(Path("")).close()
    with SessionCoordinator.new("", "/w", session_id="s2", clock=lambda: CLOCK):
        pass
    assert sorted(os.listdir(tmp_path)) == ["j.jsonl", "s1.jsonl", "s2.jsonl"]


@pytest.mark.req("GEN-009", "LOG-012")
@pytest.mark.parametrize("session_id", ["x" * 255, "x" * 223, "é" * 120, "a\ud800b", "\udcff"])
def test_a_session_id_too_long_or_not_text_is_refused(tmp_path: Path, session_id: str) -> None:
    """Was ``OSError: File name too long`` or ``UnicodeEncodeError``."""
    with pytest.raises(InvalidSessionIdError):
        SessionCoordinator.new(tmp_path, "/w", session_id=session_id)
    assert os.listdir(tmp_path) == []


@pytest.mark.req("LOG-012")
def test_the_longest_session_id_fits_a_file_name_and_forks(tmp_path: Path) -> None:
    longest = "x" * 222
    with SessionCoordinator.new(tmp_path, "/w", session_id=longest) as coordinator:
        coordinator.on_turn_end([user("a")])
        fork = coordinator.fork(session_id="y" * 222)
    assert Path(fork.path).is_file()


# -- item 3: bad arguments -----------------------------------------------------------------


def _turn_cases() -> list[tuple[str, Callable[[SessionCoordinator], object]]]:
    deep_message = {**user("x"), "extra": deep_list(400)}
    return [
        ("on_turn_end(None)", lambda c: c.on_turn_end(None)),
        ("on_turn_end(a string)", lambda c: c.on_turn_end("hello")),
        ("on_turn_end([None])", lambda c: c.on_turn_end([None])),
        ("deep message", lambda c: c.on_turn_end([deep_message])),
        ("deep extension state", lambda c: c.append_extension_state(deep_list(400))),
        ("non-JSON extra", lambda c: c.on_turn_end([{**user("x"), "extra": object()}])),
        ("non-JSON state", lambda c: c.append_extension_state({"s": {1, 2}})),
        ("bogus compaction reason", lambda c: c.execute_compaction("bogus")),
        ("compaction reason None", lambda c: c.execute_compaction(None)),
        ("leaf at a list", lambda c: c.append_leaf(["msg-1"])),
        ("fork id surrogate", lambda c: c.fork(session_id="\ud800")),
        ("fork id too long", lambda c: c.fork(session_id="z" * 300)),
        ("fork dir int", lambda c: c.fork(dir=5)),
        ("usage not a mapping", lambda c: c.on_turn_end([], 5)),
    ]


@pytest.mark.req("GEN-009", "GEN-002")
@pytest.mark.parametrize("name,call", _turn_cases(), ids=[name for name, _ in _turn_cases()])
def test_a_bad_argument_is_a_caller_error_and_nothing_is_written(
    tmp_path: Path, name: str, call: Callable[[SessionCoordinator], object]
) -> None:
    with new_session(tmp_path) as coordinator:
        coordinator.on_turn_end([user("a"), assistant("b")], {"input_tokens": 3})
        before = snapshot(tmp_path)
        context, usage = coordinator.context(), coordinator.usage
        with pytest.raises(CallerError):
            call(coordinator)
        assert snapshot(tmp_path) == before
        assert coordinator.context() == context and coordinator.usage == usage
        coordinator.on_turn_end([user("still usable")])


@pytest.mark.req("GEN-009", "GEN-002")
@pytest.mark.parametrize(
    "kwargs",
    [{"cwd": 5}, {"cwd": "\ud800"}, {"model": None}, {"parent_session": 3}, {"dir": 7}],
    ids=["cwd-int", "cwd-surrogate", "model-none", "parent-int", "dir-int"],
)
def test_bad_arguments_to_new_create_nothing(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"dir": tmp_path / "s", "cwd": "/w", "session_id": "s1", **kwargs}
    with pytest.raises(CallerError):
        SessionCoordinator.new(**arguments)
    assert os.listdir(tmp_path) == []


@pytest.mark.req("GEN-009", "COORD-100")
@pytest.mark.parametrize(
    "kwargs", [{"threshold_tokens": "100"}, {"threshold_tokens": 1.5}, {"enabled": "yes"}]
)
def test_a_compaction_config_of_the_wrong_type_is_a_caller_error(kwargs: dict[str, Any]) -> None:
    """Was ``TypeError: '<' not supported``."""
    with pytest.raises(CallerError):
        CompactionConfig(**kwargs)


@pytest.mark.req("GEN-009")
@pytest.mark.parametrize("command", [["generate", "--check"], ["pins"], ["proofs", "--check"]])
def test_a_cli_command_outside_the_repository_prints_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli_main(command) != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in captured.err


# -- item 4: no silent coercion ------------------------------------------------------------


@pytest.mark.req("COORD-131", "WIRE-003")
@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": "5"},
        {"input_tokens": 1.0},
        {"input_tokens": True},
        {"output_tokens": -1},
        {"input_token": 5},
        {"prompt_tokens": 5},
        {"cache_read_input_tokens": 5},
        {"input_tokens": 5, "completion_tokens": 2},
    ],
)
def test_usage_is_never_coerced_and_an_unknown_counter_is_named(
    tmp_path: Path, usage: dict[str, Any]
) -> None:
    with new_session(tmp_path) as coordinator:
        before = snapshot(tmp_path)
        with pytest.raises(CallerError) as raised:
            coordinator.on_turn_end([user("a")], usage)
        unknown = [k for k in usage if k not in ("input_tokens", "output_tokens")]
        for key in unknown:
            assert repr(key) in str(raised.value)
        assert snapshot(tmp_path) == before and coordinator.usage.turns == 0


@pytest.mark.req("COORD-131", "WIRE-003")
def test_a_usage_model_with_an_unknown_counter_is_refused(tmp_path: Path) -> None:
    from sessionspec.wire.messages import Usage

    with new_session(tmp_path) as coordinator, pytest.raises(CallerError, match="prompt_tokens"):
        coordinator.on_turn_end([user("a")], Usage.model_validate({"prompt_tokens": 5}))


@pytest.mark.req("COORD-015", "WIRE-003")
@pytest.mark.parametrize(
    "change",
    [
        {"timestamp_ms": "5"},
        {"timestamp_ms": True},
        {"timestamp_ms": 1.0},
        {"usage": {"input_tokens": "5"}},
        {"usage": {"input_tokens": True}},
        {"usage": {"input_tokens": 2.0}},
    ],
)
def test_assistant_message_fields_are_never_coerced(tmp_path: Path, change: dict[str, Any]) -> None:
    with new_session(tmp_path) as coordinator:
        before = snapshot(tmp_path)
        with pytest.raises(CallerError):
            coordinator.on_turn_end([{**assistant("b"), **change}])
        assert snapshot(tmp_path) == before


@pytest.mark.req("COORD-015")
@pytest.mark.parametrize("value", ["no", "false", 0, 1, None])
def test_is_error_is_a_bool(tmp_path: Path, value: Any) -> None:
    result = {"role": "tool_result", "tool_call_id": "c", "tool_name": "t", "is_error": value,
              "content": [{"type": "text", "text": "x"}], "timestamp_ms": 1}  # fmt: skip
    with new_session(tmp_path) as coordinator, pytest.raises(CallerError):
        coordinator.on_turn_end([result])


# -- every public error is importable from sessionspec -----------------------------------------


LIBRARY_MODULES = (
    "sessionspec.errors",
    "sessionspec.compaction",
    "sessionspec.pricing",
    "sessionspec.redaction",
    "sessionspec.usage",
    "sessionspec.lifecycle",
    "sessionspec.runtime.coordinator",
    "sessionspec.runtime.coordinator.results",
    "sessionspec.runtime.realtime",
    "sessionspec.runtime.realtime.records",
    "sessionspec.storage.jsonl",
    "sessionspec.storage.files",
    "sessionspec.storage.log",
    "sessionspec.storage.simfs",
    "sessionspec.wire.messages",
    "sessionspec.wire.log",
    "sessionspec.wire.realtime",
    "sessionspec.tables.base",
)


@pytest.mark.req("GEN-010", "GEN-001")
def test_every_public_error_class_is_importable_from_sessionspec() -> None:
    import importlib

    found: set[type[BaseException]] = set()
    for name in LIBRARY_MODULES:
        module = importlib.import_module(name)
        for attribute in vars(module).values():
            if (
                isinstance(attribute, type)
                and issubclass(attribute, SessionSpecError)
                and attribute.__module__ == name
                and not attribute.__name__.startswith("_")
            ):
                found.add(attribute)
    errors_module = sys.modules["sessionspec.errors"]
    assert set(errors_module.__all__) <= {cls.__name__ for cls in found}
    for cls in found:
        assert getattr(sessionspec, cls.__name__, None) is cls, cls.__name__
        assert cls.__name__ in sessionspec.__all__, cls.__name__


# -- the writer's cut (item 5) -----------------------------------------------------------------


@pytest.mark.req("LOG-008")
@pytest.mark.parametrize("prefix", [b"\n", b"\r\n", b"\n\n"])
def test_a_header_after_blank_lines_and_a_final_cr_is_not_cut(
    tmp_path: Path, prefix: bytes
) -> None:
    """Was: the header parsed from the whole file (``startswith(b"\\r", -1)`` looked at the
    last byte), a torn tail reported at byte 1, and the file cut to one byte."""
    header = orjson.dumps(HEADER)
    data = prefix + header + b"\r"
    path = tmp_path / "s1.jsonl"
    path.write_bytes(data)
    for attempt in (
        lambda: read_log(str(path)),
        lambda: JsonlLog.open(str(path)).close(),
        lambda: SessionCoordinator.open_existing(path).close(),
    ):
        with pytest.raises(BadHeaderError):
            attempt()
        assert path.read_bytes() == data
    with pytest.raises(BadHeaderError):
        scan_log_bytes(data)


@pytest.mark.req("LOG-008")
def test_a_header_with_crlf_still_reads(tmp_path: Path) -> None:
    data = framed_lines(HEADER).replace(b"\n", b"\r\n")
    path = tmp_path / "s1.jsonl"
    path.write_bytes(data)
    with JsonlLog.open(str(path)) as log:
        assert log.head == 0
    assert path.read_bytes() == data


@pytest.mark.req("GEN-009")
def test_the_bases_read_clean() -> None:
    assert scan_log_bytes(base_session()).report.clean
    journal = scan_log_bytes(
        base_journal(), header_model=RealtimeJournalHeader, entry_types=JOURNAL_ENTRY_TYPES
    )
    assert journal.report.clean and len(journal.records) == 6


@pytest.mark.req("GEN-009", "RT-002", "RT-042")
@pytest.mark.parametrize("group_commit", [False, True])
@pytest.mark.parametrize("extra", [deep_list(400), {1, 2}], ids=["deep", "not-json"])
def test_an_event_the_journal_cannot_write_is_refused_before_it_counts(
    tmp_path: Path, group_commit: bool, extra: Any
) -> None:
    """Was: in group commit, accepted in memory and then every flush (and close) failed."""
    path = tmp_path / "rt.jsonl"
    transcript = RealtimeTranscript.create(str(path), group_commit=group_commit)
    skipped = {"type": "item_skipped", "item_id": "s1", "previous_item_id": None}
    with pytest.raises(CallerError):
        transcript.apply({**skipped, "extra": extra})
    transcript.flush()
    before = path.read_bytes()
    transcript.apply(skipped)  # the same event, writable: accepted, as if never seen
    transcript.close()
    assert len(path.read_bytes()) > len(before)
    with RealtimeTranscript.open(str(path)) as reopened:
        assert reopened.recovery.clean


@pytest.mark.req("GEN-009")
def test_a_path_the_system_refuses_is_a_typed_error(tmp_path: Path) -> None:
    """A name longer than the file system takes: ``LogAccessError``, never a raw OSError."""
    from sessionspec import LogAccessError

    too_long = tmp_path / ("x" * 300)
    for attempt in (
        lambda: SessionCoordinator.open_existing(too_long / "s.jsonl"),
        lambda: SessionCoordinator.new(too_long, "/w", session_id="s1"),
        lambda: read_log(str(too_long)),
        lambda: RealtimeTranscript.create(str(too_long)),
    ):
        with pytest.raises(LogAccessError):
            attempt()
    assert os.listdir(tmp_path) == []
