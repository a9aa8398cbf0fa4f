"""A snapshot's trusted prefix (STATE-043) and the log's trusted-prefix read (LOG-024).

A resume that trusts the snapshot's bytes by their SHA-256 must give the coordinator a
whole read gives; a prefix that no longer matches the file is never trusted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.coordinator.coord_helpers import clock, user
from tests.state.test_state_snapshot import build, observe

from sessionspec import SessionCoordinator
from sessionspec.errors import DuplicateEntryIdError
from sessionspec.runtime.coordinator_snapshot import (
    SnapshotResume,
    open_with_snapshot,
    write_snapshot,
)
from sessionspec.storage.framing import frame_line
from sessionspec.storage.jsonl import (
    JsonlLog,
    prefix_digest,
    prefix_matches,
    read_log,
    scan_log_bytes,
)
from sessionspec.storage.log import DamageKind, Durability, TrustedPrefix

TURNS = [("turn", n) for n in range(5)]


def _full(path: str) -> dict[str, Any]:
    coordinator = SessionCoordinator.open_existing(path, clock=clock)
    try:
        return {**observe(coordinator), "log": coordinator.recovery.log}
    finally:
        coordinator.close()


def _resume(path: str, snapshot: Path) -> tuple[dict[str, Any], SnapshotResume]:
    coordinator, outcome = open_with_snapshot(path, snapshot, clock=clock)
    try:
        return {**observe(coordinator), "log": coordinator.recovery.log}, outcome
    finally:
        coordinator.close()


def _prefix(snapshot: Path) -> TrustedPrefix:
    raw = json.loads(snapshot.read_text())["body"]["prefix"]
    return TrustedPrefix(raw["length"], raw["digest"], raw["head"], tuple(raw["ids"]))


def _rewrite_body(snapshot: Path, change: dict[str, Any]) -> None:
    """Change the snapshot's prefix and give the body a digest that matches again, so only
    the prefix check can notice."""
    document = json.loads(snapshot.read_text())
    document["body"]["prefix"].update(change)
    text = orjson.dumps(document["body"])
    document["digest"] = prefix_digest(text)
    snapshot.write_bytes(orjson.dumps(document))


def _more_turns(path: str, count: int) -> None:
    coordinator = SessionCoordinator.open_existing(path, clock=clock)
    for n in range(count):
        coordinator.on_turn_end([user(f"later {n}")], {"input_tokens": 1})
    coordinator.close()


@pytest.mark.req("STATE-043", "STATE-041")
def test_a_matching_prefix_is_trusted_and_the_resume_equals_a_full_one(tmp_path: Path) -> None:
    path = build(tmp_path, TURNS, [])
    snapshot = tmp_path / "snapshot.json"
    position = write_snapshot(path, snapshot)
    _more_turns(path, 3)
    expected = _full(path)
    got, outcome = _resume(path, snapshot)
    assert got == expected
    assert outcome.used and outcome.diagnostic is None
    assert outcome.trusted_records == _prefix(snapshot).head > 0
    assert outcome.trusted_records <= position
    assert outcome.replayed_records == len(read_log(path).records) - position


@pytest.mark.req("STATE-043", "LOG-024")
def test_a_prefix_whose_digest_differs_is_ignored_and_the_log_read_whole(tmp_path: Path) -> None:
    path = build(tmp_path, TURNS, [])
    snapshot = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot)
    _more_turns(path, 2)
    expected = _full(path)
    _rewrite_body(snapshot, {"digest": prefix_digest(b"other bytes\n")})
    got, outcome = _resume(path, snapshot)
    assert got == expected
    assert not outcome.used and outcome.trusted_records == 0
    assert str(outcome.diagnostic).startswith("stale") and "SHA-256" in str(outcome.diagnostic)


def _flip(data: bytes) -> bytes:
    """One letter of the first message's text: its line's checksum now fails."""
    spot = data.index(b'"u0"') + 1
    return data[:spot] + b"U" + data[spot + 1 :]


def _rewrite(data: bytes) -> bytes:
    """The first message's line rewritten with other text and a valid frame, as a tool that
    edits the file would: every record is still there, so only the prefix can tell."""
    start = data.index(b'"u0"')
    start = data.rindex(b"\n", 0, start) + 1
    end = data.index(b"\n", start) + 1
    obj = orjson.loads(data[start:end])
    seq, last = obj.pop("ss_seq"), obj.pop("ss_end", False)
    del obj["ss_crc"]
    body = orjson.dumps(obj).replace(b'"u0"', b'"X0"')
    return data[:start] + frame_line(body, seq, last is True) + data[end:]


@pytest.mark.parametrize("damage", [_flip, _rewrite], ids=["flip", "rewrite"])
@pytest.mark.req("STATE-043", "STATE-042", "LOG-024")
def test_a_change_inside_the_prefix_falls_back_to_a_whole_read(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    path = build(tmp_path, TURNS, [])
    snapshot = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot)
    Path(path).write_bytes(damage(Path(path).read_bytes()))
    assert not prefix_matches(Path(path).read_bytes(), _prefix(snapshot))
    expected = _full(path)
    got, outcome = _resume(path, snapshot)
    assert got == expected
    assert not outcome.used and outcome.trusted_records == 0
    assert str(outcome.diagnostic).startswith("stale")


@pytest.mark.req("STATE-043", "LOG-024")
def test_a_log_with_damage_below_the_position_gives_a_snapshot_no_prefix(tmp_path: Path) -> None:
    path = build(tmp_path, TURNS[:2], [])
    records = read_log(path).records
    # A line repeating the first entry's id, framed as this package frames a batch.
    entry = dict(records[0].entry)
    with open(path, "ab") as handle:
        handle.write(frame_line(orjson.dumps(entry), len(records) + 1, True))
    _more_turns(path, 2)
    assert read_log(path).report.count(DamageKind.DUPLICATE_ID) == 1
    snapshot = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot)
    assert json.loads(snapshot.read_text())["body"]["prefix"] is None
    expected = _full(path)
    got, outcome = _resume(path, snapshot)
    assert got == expected
    assert outcome.used and outcome.trusted_records == 0


@pytest.mark.req("LOG-024", "LOG-013")
def test_ids_inside_a_trusted_prefix_are_still_refused_and_reported(tmp_path: Path) -> None:
    path = build(tmp_path, TURNS, [])
    snapshot = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot)
    prefix = _prefix(snapshot)
    first_id = prefix.ids[0]
    log = JsonlLog.open(path, durability=Durability.NO_SYNC, trusted_prefix=prefix)
    try:
        assert log.snapshot is not None and log.snapshot.prefix == prefix
        assert log.snapshot.records == [] and log.head == prefix.head
        duplicate = {
            "type": "message",
            "id": first_id,
            "parent_id": None,
            "timestamp": "2026-01-01T00:00:00Z",
            "message": user("again"),
        }
        with pytest.raises(DuplicateEntryIdError):
            log.append([duplicate])
        assert log.head == prefix.head
    finally:
        log.close()
    # The same repeat written by hand after the prefix is reported as a whole read does.
    with open(path, "ab") as handle:
        handle.write(frame_line(orjson.dumps(duplicate), prefix.head + 1, True))
    data = Path(path).read_bytes()
    whole = scan_log_bytes(data)
    trusted = scan_log_bytes(data, prefix=prefix)
    assert trusted.prefix == prefix and whole.prefix is None
    assert trusted.report == whole.report
    assert trusted.report.count(DamageKind.DUPLICATE_ID) == 1
    assert trusted.head == whole.head
    assert trusted.records == whole.records[prefix.head :]


@pytest.mark.req("LOG-024")
def test_a_prefix_that_does_not_fit_the_file_is_not_trusted(tmp_path: Path) -> None:
    path = build(tmp_path, TURNS, [])
    snapshot = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot)
    prefix = _prefix(snapshot)
    data = Path(path).read_bytes()
    assert prefix_matches(data, prefix)
    length = prefix.length
    cases = [
        TrustedPrefix(len(data) + 1, prefix.digest, prefix.head, prefix.ids),  # too long
        TrustedPrefix(0, prefix_digest(b""), 0, ()),  # empty
        TrustedPrefix(length - 1, prefix_digest(data[: length - 1]), prefix.head, prefix.ids),
        TrustedPrefix(length, prefix_digest(data[: length - 1] + b" "), prefix.head, prefix.ids),
    ]
    for wrong in cases:
        assert not prefix_matches(data, wrong), wrong
        log = JsonlLog.open(path, durability=Durability.NO_SYNC, trusted_prefix=wrong)
        try:
            assert log.snapshot is not None and log.snapshot.prefix is None
            assert log.snapshot.records == read_log(path).records
        finally:
            log.close()
