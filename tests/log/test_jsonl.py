"""The JSONL log, one rule at a time: damage is reported, typed, located, and never spreads."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from sessionspec.errors import (
    AppendFailedError,
    BadHeaderError,
    CallerError,
    CorruptLogError,
    DuplicateEntryIdError,
    HeadConflictError,
    IllegalTransitionError,
    InvalidSessionIdError,
    LogFailedError,
    LogLockedError,
    SessionSpecError,
    StorageError,
)
from sessionspec.storage import (
    DamageKind,
    Durability,
    JsonlLog,
    LogCreateError,
    LogNotFoundError,
    LogState,
    SimulatedCrash,
    SimulatedFileSystem,
    read_log,
    session_path,
    validate_session_id,
)
from sessionspec.storage.framing import frame_line
from sessionspec.storage.log import LOG_TABLE, LogEvent

HEADER: dict[str, Any] = {
    "type": "session",
    "version": 1,
    "id": "s1",
    "timestamp": "2026-11-21T10:00:00Z",
    "cwd": "/work",
    "parent_session": None,
}


def entry(n: int, parent: str | None = None, text: str = "hi") -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg-{n}",
        "parent_id": parent,
        "timestamp": "2026-11-21T10:00:01Z",
        "message": {"role": "user", "content": [{"type": "text", "text": text}], "timestamp_ms": n},
    }


def leaf(n: int, target: str) -> dict[str, Any]:
    return {
        "type": "leaf",
        "id": f"leaf-{n}",
        "parent_id": target,
        "timestamp": "2026-11-21T10:00:01Z",
        "entry_id": target,
    }


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "sessions" / "s1.jsonl")


def write_two_turns(path: str) -> None:
    with JsonlLog.create(path, HEADER) as log:
        log.append([entry(1), leaf(2, "msg-1")])
        log.append([entry(3, "msg-1"), leaf(4, "msg-3")])


def ids(path: str) -> list[str]:
    return [r.entry["id"] for r in read_log(path).records]


# -- the happy path -----------------------------------------------------------------------


@pytest.mark.req("LOG-001", "LOG-002", "LOG-016")
def test_create_append_and_read_back(path: str) -> None:
    write_two_turns(path)
    snapshot = read_log(path)
    assert snapshot.header == HEADER
    assert snapshot.report.clean and snapshot.head == 4
    assert [r.seq for r in snapshot.records] == [1, 2, 3, 4]
    assert [r.line for r in snapshot.records] == [2, 3, 4, 5]
    assert snapshot.records[0].entry == entry(1)  # framing fields are stripped
    lines = Path(path).read_bytes().splitlines()
    assert orjson.loads(lines[2])["ss_end"] is True and "ss_end" not in orjson.loads(lines[1])


@pytest.mark.req("LOG-002")
def test_frame_line_layout() -> None:
    line = frame_line(b'{"a":1}', 7, True)
    assert line.startswith(b'{"a":1,"ss_seq":7,"ss_end":true,"ss_crc":"')
    assert line.endswith(b'"}\n')
    assert frame_line(b"{}", 0, False).startswith(b'{"ss_seq":0,"ss_crc":"')


@pytest.mark.req("LOG-010", "LOG-003")
def test_one_write_and_one_fsync_per_batch() -> None:
    fs = SimulatedFileSystem()
    log = JsonlLog.create("/d/s.jsonl", HEADER, fs=fs)
    before = fs.operation_count
    log.append([entry(1), entry(2, "msg-1"), leaf(3, "msg-2")])
    assert fs.operation_count - before == 2  # one write, one fsync
    before = fs.operation_count
    unsafe = JsonlLog.create("/d/t.jsonl", HEADER, fs=fs, durability=Durability.NO_SYNC)
    before = fs.operation_count
    unsafe.append([entry(1)])
    assert fs.operation_count - before == 1  # NO_SYNC: the write only


@pytest.mark.req("LOG-016")
def test_create_fsyncs_the_file_and_its_directory() -> None:
    fs = SimulatedFileSystem()
    JsonlLog.create("/d/s.jsonl", HEADER, fs=fs).close()
    fs.crash(random.Random(0))
    assert read_log("/d/s.jsonl", fs=fs).header == HEADER


@pytest.mark.req("LOG-016")
@pytest.mark.parametrize("operation", ["write", "fsync", "fsync_dir"])
def test_a_failed_create_leaves_no_file(operation: str) -> None:
    fs = SimulatedFileSystem()
    fs.arm(operation)
    with pytest.raises(LogCreateError):
        JsonlLog.create("/d/s.jsonl", HEADER, fs=fs)
    assert not fs.exists("/d/s.jsonl")
    JsonlLog.create("/d/s.jsonl", HEADER, fs=fs).close()  # and the name is free again


@pytest.mark.req("LOG-016", "LOG-008")
def test_a_crash_at_any_step_of_create_leaves_nothing_or_a_typed_error() -> None:
    for step in range(6):
        for seed in range(8):
            fs = SimulatedFileSystem()
            fs.makedirs("/d")
            fs.arm_crash(step)
            with contextlib.suppress(SimulatedCrash):
                JsonlLog.create("/d/s.jsonl", HEADER, fs=fs).close()
            fs.crash(random.Random(seed))
            if not fs.exists("/d/s.jsonl"):
                continue
            try:
                assert read_log("/d/s.jsonl", fs=fs).header == HEADER
            except BadHeaderError as exc:  # a name that outlived its unsynced bytes
                assert (exc.line, exc.offset) == (1, 0)


@pytest.mark.req("LOG-016")
def test_create_over_an_existing_log_is_refused(path: str) -> None:
    write_two_turns(path)
    with pytest.raises(CallerError):
        JsonlLog.create(path, HEADER)
    assert ids(path) == ["msg-1", "leaf-2", "msg-3", "leaf-4"]


# -- compare-and-swap, bad batches, duplicates ------------------------------------------------


@pytest.mark.req("LOG-004")
def test_stale_expected_head_is_refused_and_nothing_is_written(path: str) -> None:
    with JsonlLog.create(path, HEADER) as log:
        assert log.append([entry(1)], expected_head=0) == 1
        size = Path(path).stat().st_size
        with pytest.raises(HeadConflictError) as caught:
            log.append([entry(2)], expected_head=0)
        assert (caught.value.expected, caught.value.actual) == (0, 1)
        assert Path(path).stat().st_size == size and log.head == 1


@pytest.mark.req("LOG-019")
@pytest.mark.parametrize(
    "batch",
    [
        [],
        [{"type": "message"}],
        [{"type": "message", "id": ""}],
        [{"type": "mystery", "id": "x-1"}],
        [["not", "an", "object"]],
        [{**entry(1), "ss_seq": 3}],
        [{**entry(1), "blob": object()}],
    ],
    ids=["empty", "no-id", "empty-id", "unknown-type", "not-object", "framing", "not-json"],
)
def test_bad_batches_are_refused_before_writing(path: str, batch: list[Any]) -> None:
    with JsonlLog.create(path, HEADER) as log:
        size = Path(path).stat().st_size
        with pytest.raises(CallerError):
            log.append(batch)
        assert Path(path).stat().st_size == size and log.head == 0


@pytest.mark.req("LOG-013")
def test_duplicate_ids_are_refused_on_append(path: str) -> None:
    with JsonlLog.create(path, HEADER) as log:
        log.append([entry(1)])
        with pytest.raises(DuplicateEntryIdError):
            log.append([entry(1)])
        with pytest.raises(DuplicateEntryIdError):
            log.append([entry(2), entry(2)])
        assert log.head == 1
    with JsonlLog.open(path) as again, pytest.raises(DuplicateEntryIdError):
        again.append([entry(1)])  # the id index is rebuilt on open


@pytest.mark.req("LOG-013", "LOG-007")
def test_duplicate_ids_in_a_file_keep_the_first_and_are_reported(path: str) -> None:
    write_two_turns(path)
    with open(path, "ab") as handle:  # a foreign writer repeats msg-1 (as a legacy line)
        handle.write(orjson.dumps(entry(1, text="again")) + b"\n")
    snapshot = read_log(path)
    assert [r.entry["id"] for r in snapshot.records] == ["msg-1", "leaf-2", "msg-3", "leaf-4"]
    (duplicate,) = snapshot.report.damage
    assert duplicate.kind is DamageKind.DUPLICATE_ID and duplicate.line == 6
    assert snapshot.records[0].entry["message"]["content"][0]["text"] == "hi"
    with pytest.raises(CorruptLogError) as caught:
        read_log(path, strict=True)
    assert caught.value.line == 6 and caught.value.offset == duplicate.offset


# -- damage -----------------------------------------------------------------------------------


@pytest.mark.req("LOG-007", "LOG-008")
def test_torn_tail_is_reported_then_cut_by_the_writer(path: str) -> None:
    write_two_turns(path)
    intact = Path(path).read_bytes()
    with open(path, "ab") as handle:
        handle.write(frame_line(orjson.dumps(entry(5)), 5, True)[:-9])
    snapshot = read_log(path)
    (torn,) = snapshot.report.damage
    assert torn.kind is DamageKind.TORN_TAIL and torn.offset == len(intact) and torn.line == 6
    assert snapshot.report.kept_bytes == len(intact) and snapshot.report.only_crash_residue
    assert read_log(path, strict=True).head == 4  # crash residue is not an error
    with JsonlLog.open(path) as log:
        assert log.snapshot is not None and log.snapshot.report.torn_tail
        assert Path(path).read_bytes() == intact
        log.append([entry(5, "msg-3")])
    assert read_log(path).report.clean


@pytest.mark.req("LOG-007", "LOG-008", "LOG-003")
def test_uncommitted_tail_is_reported_then_cut(path: str) -> None:
    write_two_turns(path)
    intact = Path(path).read_bytes()
    with open(path, "ab") as handle:  # two lines of a batch whose commit record never came
        handle.write(frame_line(orjson.dumps(entry(5)), 5, False))
        handle.write(frame_line(orjson.dumps(entry(6)), 6, False))
    snapshot = read_log(path)
    assert [d.kind for d in snapshot.report.damage] == [DamageKind.UNCOMMITTED_TAIL] * 2
    assert [d.line for d in snapshot.report.damage] == [6, 7]
    assert snapshot.head == 4 and ids(path)[-1] == "leaf-4"
    JsonlLog.open(path).close()
    assert Path(path).read_bytes() == intact


@pytest.mark.req("LOG-007", "LOG-008")
def test_garbage_in_the_middle_is_reported_skipped_and_never_cut(path: str) -> None:
    write_two_turns(path)
    lines = Path(path).read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"hi"', b'"ho"')  # a changed byte: the checksum fails
    Path(path).write_bytes(b"".join(lines[:3]) + b"\x00\x00garbage\n" + b"".join(lines[3:]))
    snapshot = read_log(path)
    kinds = [(d.kind, d.line) for d in snapshot.report.damage]
    assert kinds == [
        (DamageKind.CORRUPT_ENTRY, 2),
        (DamageKind.CORRUPT_ENTRY, 4),
        (DamageKind.SEQUENCE_GAP, 5),  # the inserted line shifted every later position
    ]
    assert snapshot.report.damage[0].offset == len(lines[0])
    assert "checksum" in snapshot.report.damage[0].detail
    assert [r.entry["id"] for r in snapshot.records] == ["leaf-2", "msg-3", "leaf-4"]
    with pytest.raises(CorruptLogError) as caught:
        read_log(path, strict=True)
    assert (caught.value.line, caught.value.offset) == (2, len(lines[0]))
    before = Path(path).read_bytes()
    with JsonlLog.open(path) as log:
        assert log.head == 5  # the garbage line still occupies a position
        log.append([entry(7, "msg-3")])
    assert Path(path).read_bytes().startswith(before)


@pytest.mark.req("LOG-007")
def test_a_lost_line_shows_as_a_sequence_gap(path: str) -> None:
    write_two_turns(path)
    lines = Path(path).read_bytes().splitlines(keepends=True)
    del lines[2]  # leaf-2 vanishes
    Path(path).write_bytes(b"".join(lines))
    (gap,) = read_log(path).report.damage
    assert gap.kind is DamageKind.SEQUENCE_GAP and gap.line == 3


@pytest.mark.req("LOG-007", "LOG-003")
def test_batch_lines_without_commit_followed_by_other_lines_are_orphaned(path: str) -> None:
    write_two_turns(path)
    with open(path, "ab") as handle:
        handle.write(frame_line(orjson.dumps(entry(5)), 5, False))
        handle.write(b"not json at all\n")
    snapshot = read_log(path)
    assert [d.kind for d in snapshot.report.damage] == [
        DamageKind.UNCOMMITTED_ENTRY,
        DamageKind.CORRUPT_ENTRY,
    ]
    size = Path(path).stat().st_size
    JsonlLog.open(path).close()
    assert Path(path).stat().st_size == size  # not crash residue: nothing is cut


@pytest.mark.req("LOG-009")
def test_unknown_entry_types_are_skipped_reported_and_kept(path: str) -> None:
    write_two_turns(path)
    with open(path, "ab") as handle:
        handle.write(frame_line(orjson.dumps({"type": "label", "id": "label-5"}), 5, True))
    snapshot = read_log(path)
    (unknown,) = snapshot.report.damage
    assert unknown.kind is DamageKind.UNKNOWN_ENTRY and "label" in unknown.detail
    with JsonlLog.open(path) as log:
        assert log.head == 5
    assert b'"label-5"' in Path(path).read_bytes()


@pytest.mark.req("LOG-008")
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b'{"type":"session","version":1', "incomplete"),
        (b"garbage\n", "not JSON"),
        (b'{"type":"session","version":2,"id":"x","timestamp":"t","cwd":"/"}\n', "version"),
        (b'{"type":"message","id":"m"}\n', "type"),
    ],
)
def test_bad_header_is_a_typed_error_and_the_file_is_untouched(
    path: str, content: bytes, reason: str
) -> None:
    Path(path).parent.mkdir(parents=True)
    Path(path).write_bytes(content)
    for attempt in (read_log, JsonlLog.open):
        with pytest.raises(BadHeaderError) as caught:
            attempt(path)
        assert reason in str(caught.value) and caught.value.line == 1
        assert caught.value.offset == 0 and isinstance(caught.value, StorageError)
    assert Path(path).read_bytes() == content


@pytest.mark.req("LOG-008")
def test_missing_log_is_a_typed_error(path: str) -> None:
    with pytest.raises(LogNotFoundError):
        read_log(path)
    with pytest.raises(LogNotFoundError):
        JsonlLog.open(path)


# -- one writer, lifecycle ----------------------------------------------------------------------


@pytest.mark.req("LOG-011")
def test_a_second_writer_gets_a_typed_error(path: str) -> None:
    with JsonlLog.create(path, HEADER) as first:
        first.append([entry(1)])
        with pytest.raises(LogLockedError):
            JsonlLog.open(path)
        assert ids(path) == ["msg-1"]  # readers need no lock
    with JsonlLog.open(path) as again:
        again.append([entry(2, "msg-1")])


@pytest.mark.req("LOG-015", "GEN-003")
def test_a_closed_log_refuses_appends(path: str) -> None:
    log = JsonlLog.create(path, HEADER)
    log.close()
    log.close()
    assert log.state is LogState.CLOSED
    with pytest.raises(IllegalTransitionError) as caught:
        log.append([entry(1)])
    assert (caught.value.state, caught.value.event) == ("closed", "append")


@pytest.mark.req("GEN-003", "LOG-006", "LOG-015")
def test_log_table_covers_every_pair() -> None:
    for state, event in LOG_TABLE.pairs():
        outcome = LOG_TABLE.decide(state, event)
        assert isinstance(outcome, LogState) or outcome.code in ("failed", "closed")
    assert LOG_TABLE.decide(LogState.OPEN, LogEvent.CUT_BACK_FAILED) is LogState.FAILED


# -- failures while appending -----------------------------------------------------------------


@pytest.mark.req("LOG-005")
@pytest.mark.parametrize(
    ("operation", "partial"), [("write", 0.5), ("write", None), ("fsync", None)]
)
def test_failed_append_is_cut_back_and_the_log_stays_usable(
    operation: str, partial: float | None
) -> None:
    fs = SimulatedFileSystem()
    log = JsonlLog.create("/d/s.jsonl", HEADER, fs=fs)
    log.append([entry(1)])
    before = fs.read_bytes("/d/s.jsonl")
    fs.arm(operation, partial=partial)
    with pytest.raises(AppendFailedError):
        log.append([entry(2, "msg-1"), leaf(3, "msg-2")])
    assert fs.read_bytes("/d/s.jsonl") == before and log.head == 1
    assert log.state is LogState.OPEN
    log.append([entry(2, "msg-1")])  # the refused ids were never taken
    fs.crash(random.Random(1))
    assert [r.entry["id"] for r in read_log("/d/s.jsonl", fs=fs).records] == ["msg-1", "msg-2"]


@pytest.mark.req("LOG-006")
@pytest.mark.parametrize("second", ["truncate", "fsync"])
def test_a_failed_cut_back_fails_the_log_until_reopened(second: str) -> None:
    fs = SimulatedFileSystem()
    log = JsonlLog.create("/d/s.jsonl", HEADER, fs=fs)
    fs.arm("fsync")
    fs.arm(second, 1 if second == "fsync" else 0)
    with pytest.raises(LogFailedError) as caught:
        log.append([entry(1)])
    assert isinstance(caught.value, SessionSpecError)
    assert log.state is LogState.FAILED
    with pytest.raises(LogFailedError):
        log.append([entry(2)])
    log.close()
    reopened = JsonlLog.open("/d/s.jsonl", fs=fs)
    assert reopened.state is LogState.OPEN and reopened.head in (0, 1)


# -- session ids ------------------------------------------------------------------------------


@pytest.mark.req("LOG-012")
@pytest.mark.parametrize("bad", ["", "  ", ".", "..", "a/b", "../x", "a\\b", "nul\0"])
def test_unsafe_session_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSessionIdError):
        validate_session_id(bad)
    with pytest.raises(InvalidSessionIdError):
        session_path("/tmp", bad)


@pytest.mark.req("LOG-012")
def test_safe_session_ids_name_files() -> None:
    assert session_path("/d", "19e68227eb4") == "/d/19e68227eb4.jsonl"
    assert validate_session_id("a.b-c_d") == "a.b-c_d"


# -- opi files --------------------------------------------------------------------------------


OPI_FILE = (
    b'{"type":"session","version":1,"id":"19e6","timestamp":"2026-05-27T06:32:31Z",'
    b'"cwd":"/w","parent_session":null}\n'
    + orjson.dumps(entry(1))
    + b"\n"
    + orjson.dumps(leaf(2, "msg-1"))
    + b"\n\n"  # opi skips blank lines
    + b'{"type":"message","id":"msg-3","parent_id":"msg-1"\n'  # corrupt middle line
    + orjson.dumps(entry(4, "msg-1"))
    + b"\n"
    + b'{"type":"leaf","id":"leaf-5","par'  # torn tail
)


@pytest.mark.req("LOG-017", "LOG-007")
def test_a_file_opi_wrote_reads_and_resumes(path: str) -> None:
    Path(path).parent.mkdir(parents=True)
    Path(path).write_bytes(OPI_FILE)
    snapshot = read_log(path)
    assert [r.entry["id"] for r in snapshot.records] == ["msg-1", "leaf-2", "msg-4"]
    assert [(d.kind, d.line) for d in snapshot.report.damage] == [
        (DamageKind.CORRUPT_ENTRY, 5),
        (DamageKind.TORN_TAIL, 7),
    ]
    with JsonlLog.open(path) as log:  # only the torn tail is cut
        assert log.head == 4
        log.append([leaf(6, "msg-4")])
    assert Path(path).read_bytes().startswith(OPI_FILE[: OPI_FILE.rindex(b"\n") + 1])
    assert ids(path)[-1] == "leaf-6"


@pytest.mark.req("LOG-017", "WIRE-005")
def test_our_lines_read_in_an_opi_style_reader(path: str) -> None:
    """An opi v1 reader ignores unknown fields: each of our lines parses as opi's entry."""
    from sessionspec.wire import SessionHeader, parse_entry

    write_two_turns(path)
    header_line, *entry_lines = Path(path).read_bytes().splitlines()
    header = orjson.loads(header_line)
    assert SessionHeader.model_validate(header).version == 1
    for line in entry_lines:
        obj = orjson.loads(line)
        opi_view = {k: v for k, v in obj.items() if not k.startswith("ss_")}
        assert parse_entry(obj).to_json_dict() == obj  # extras kept on our side
        assert set(obj) - set(opi_view) <= {"ss_seq", "ss_end", "ss_crc"}
        assert parse_entry(opi_view).to_json_dict() == opi_view


# -- edges found by mutation testing (tests/mutation/mutate.py) --------------------------------


@pytest.mark.req("LOG-008")
@pytest.mark.parametrize(
    "framing",
    [(0, False), (5, True)],
    ids=["header-without-commit-record", "header-with-wrong-seq"],
)
def test_a_framed_header_must_be_a_whole_batch_at_position_zero(
    path: str, framing: tuple[int, bool]
) -> None:
    seq, end = framing
    Path(path).parent.mkdir(parents=True)
    content = frame_line(orjson.dumps(HEADER), seq, end)
    Path(path).write_bytes(content)
    with pytest.raises(BadHeaderError, match="ss_seq 0"):
        read_log(path)
    assert Path(path).read_bytes() == content


@pytest.mark.req("LOG-017", "LOG-007")
def test_crlf_line_endings_are_tolerated(path: str) -> None:
    write_two_turns(path)
    crlf = Path(path).read_bytes().replace(b"\n", b"\r\n")
    Path(path).write_bytes(crlf)
    snapshot = read_log(path)
    assert snapshot.report.clean and [r.entry["id"] for r in snapshot.records] == [
        "msg-1",
        "leaf-2",
        "msg-3",
        "leaf-4",
    ]


@pytest.mark.req("LOG-007")
def test_findings_carry_the_exact_length_of_their_line(path: str) -> None:
    write_two_turns(path)
    garbage = b"not json\n"
    with open(path, "ab") as handle:
        handle.write(garbage)
        handle.write(frame_line(orjson.dumps(entry(6)), 6, True))
        handle.write(b'{"torn')
    first, second = read_log(path).report.damage
    assert (first.kind, first.length) == (DamageKind.CORRUPT_ENTRY, len(garbage))
    assert (second.kind, second.length) == (DamageKind.TORN_TAIL, len(b'{"torn'))


@pytest.mark.req("LOG-007", "LOG-002")
def test_a_line_with_a_valid_checksum_but_no_json_is_corrupt(path: str) -> None:
    write_two_turns(path)
    with open(path, "ab") as handle:  # framing computed over a body that is not JSON
        handle.write(frame_line(b"{not json}", 5, True))
    (finding,) = read_log(path).report.damage
    assert finding.kind is DamageKind.CORRUPT_ENTRY and "not JSON" in finding.detail


@pytest.mark.req("LOG-008", "LOG-020")
def test_opening_a_clean_log_writes_nothing() -> None:
    fs = SimulatedFileSystem()
    JsonlLog.create("/d/s.jsonl", HEADER, fs=fs).close()
    before = fs.operation_count
    fs.arm("truncate")  # would fail the open if it tried to cut anything
    JsonlLog.open("/d/s.jsonl", fs=fs).close()
    assert fs.operation_count - before == 2  # the open and its fsync (LOG-020)


@pytest.mark.req("LOG-017", "LOG-002")
def test_crlf_lines_read_exactly_like_lf_lines(path: str) -> None:
    write_two_turns(path)
    lf_entries = [r.entry for r in read_log(path).records]
    Path(path).write_bytes(Path(path).read_bytes().replace(b"\n", b"\r\n"))
    snapshot = read_log(path)
    assert [r.entry for r in snapshot.records] == lf_entries  # framing stripped too
    assert snapshot.header == HEADER


@pytest.mark.req("LOG-007", "LOG-002")
def test_a_checksummed_line_without_a_sequence_number_is_corrupt(path: str) -> None:
    from sessionspec.storage.framing import CRC_MARKER, crc_hex

    write_two_turns(path)
    body = orjson.dumps(entry(5))[:-1]
    with open(path, "ab") as handle:
        handle.write(body + CRC_MARKER + crc_hex(body) + b'"}\n')
    (finding,) = read_log(path).report.damage
    assert finding.kind is DamageKind.CORRUPT_ENTRY and "ss_seq" in finding.detail


@pytest.mark.req("LOG-007")
@pytest.mark.parametrize(
    "obj", [{"type": "message"}, {"id": "x-1"}, {"type": 3, "id": "x-1"}, {"type": "leaf", "id": 4}]
)
def test_an_entry_without_a_string_type_and_id_is_corrupt(path: str, obj: dict[str, Any]) -> None:
    write_two_turns(path)
    with open(path, "ab") as handle:
        handle.write(frame_line(orjson.dumps(obj), 5, True))
    (finding,) = read_log(path).report.damage
    assert finding.kind is DamageKind.CORRUPT_ENTRY and "string type and id" in finding.detail


@pytest.mark.req("LOG-016", "LOG-019")
@pytest.mark.parametrize(
    "header",
    [{**HEADER, "version": 2}, {**HEADER, "type": "sessions"}, {**HEADER, "ss_seq": 0}],
    ids=["version", "type", "framing-field"],
)
def test_create_refuses_a_bad_header_and_writes_nothing(path: str, header: dict[str, Any]) -> None:
    with pytest.raises(CallerError):
        JsonlLog.create(path, header)
    assert not Path(path).exists()


@pytest.mark.req("LOG-011", "LOG-008")
def test_a_failed_open_releases_the_lock(path: str) -> None:
    Path(path).parent.mkdir(parents=True)
    Path(path).write_bytes(b"garbage\n")
    with pytest.raises(BadHeaderError):
        JsonlLog.open(path)
    good = frame_line(orjson.dumps(HEADER), 0, True)
    with open(path, "r+b") as handle:  # repaired in place: the same file, the same lock
        handle.truncate(0)
        handle.write(good)
    with JsonlLog.open(path) as log:
        assert log.head == 0
    fs = SimulatedFileSystem()
    JsonlLog.create("/d/s.jsonl", HEADER, fs=fs).close()
    fs.arm("open")
    with pytest.raises(OSError):
        JsonlLog.open("/d/s.jsonl", fs=fs)
    JsonlLog.open("/d/s.jsonl", fs=fs).close()  # the lock was released


@pytest.mark.req("LOG-013")
def test_the_writer_knows_every_id_in_the_log(path: str) -> None:
    write_two_turns(path)
    with JsonlLog.open(path) as log:
        assert log.contains("msg-3") and not log.contains("msg-5")
        log.append([entry(5, "msg-3")])
        assert log.contains("msg-5")


@pytest.mark.req("LOG-001", "LOG-019")
def test_any_sequence_of_mappings_is_a_batch(path: str) -> None:
    from types import MappingProxyType

    with JsonlLog.create(path, HEADER) as log:
        assert log.append((entry(1), MappingProxyType(leaf(2, "msg-1")))) == 2
        with pytest.raises(CallerError):
            log.append(entry(3))  # type: ignore[arg-type]  # one entry is not a batch
    assert ids(path) == ["msg-1", "leaf-2"]


@pytest.mark.req("LOG-007")
def test_reading_restores_the_collector_as_it_found_it(path: str) -> None:
    import gc

    write_two_turns(path)
    assert gc.isenabled()
    read_log(path)
    assert gc.isenabled()
    gc.disable()
    try:
        read_log(path)
        assert not gc.isenabled()
    finally:
        gc.enable()
    Path(path).write_bytes(b"garbage\n")
    with pytest.raises(BadHeaderError):
        read_log(path)
    assert gc.isenabled()
