"""The realtime journal's format version (RT-044): version 2 is written, version 1 is read.

``fixtures/journal_v1.jsonl`` is a version-1 journal as the code before the playback events
wrote it (written once by hand for this test with the log's own framing): a spoken answer, a
barge-in without usage, and user items.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.realtime.rt_cases import interrupted, playback_started, text_delta, user

from sessionspec import (
    BadHeaderError,
    InvalidRealtimeEventError,
    JournalVersionError,
    RealtimeTranscript,
)
from sessionspec.storage.framing import frame_line
from sessionspec.wire.messages import AssistantMessage
from sessionspec.wire.realtime import JOURNAL_FORMAT_VERSION

pytestmark = pytest.mark.req("RT-044")

FIXTURE = Path(__file__).parent / "fixtures" / "journal_v1.jsonl"


def header_of(path: Path) -> dict[str, Any]:
    header = orjson.loads(path.read_bytes().split(b"\n", 1)[0])
    assert isinstance(header, dict)
    return header


def v1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "v1.jsonl"
    shutil.copy(FIXTURE, path)
    return path


def test_a_new_journal_is_written_in_version_2(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    RealtimeTranscript.create(str(path), clock=lambda: 0).close()
    assert JOURNAL_FORMAT_VERSION == 2
    assert header_of(path)["version"] == 2


@pytest.mark.req("RT-041")
def test_a_version_1_journal_is_read(tmp_path: Path) -> None:
    path = v1_copy(tmp_path)
    assert header_of(path)["version"] == 1
    with RealtimeTranscript.open(str(path), clock=lambda: 9) as transcript:
        assert transcript.recovery.clean
        got = [
            (m.role, [block.to_json_dict()["text"] for block in m.content], m.timestamp_ms)
            for m in transcript.messages()
        ]
        assert got == [
            ("user", ["What is the weather?"], 1793527202000),
            ("assistant", ["It is sunny."], 1793527206000),
            ("user", ["And tomorrow?"], 1793527207000),
            ("assistant", ["Tomorrow it"], 1793527209000),
            ("user", ["Thanks."], 1793527210000),
        ]
        first = transcript.messages()[1]
        assert isinstance(first, AssistantMessage)
        assert (first.usage.input_tokens, first.usage.cache_read_tokens) == (120, 64)
        # Replaying the provider's events is inert; new events of version 1 are journaled.
        assert transcript.apply(text_delta("r2", "e3", "a2", "Tomorrow it", "u2")).status.value == (
            "duplicate"
        )
        assert transcript.apply(user("u4", "Bye.", "u3")).status.value == "accepted"
    with RealtimeTranscript.open(str(path)) as reopened:
        assert len(reopened.messages()) == 6
        assert header_of(path)["version"] == 1  # never rewritten


@pytest.mark.parametrize(
    "event",
    [playback_started("r9"), interrupted("r9", inp=3, out=1)],
    ids=["playback", "interruption-usage"],
)
def test_a_version_1_journal_refuses_what_version_1_cannot_hold(
    tmp_path: Path, event: dict[str, Any]
) -> None:
    path = v1_copy(tmp_path)
    before = path.read_bytes()
    with RealtimeTranscript.open(str(path)) as transcript:
        transcript.apply(text_delta("r9", "e9", "a9", "x", "u3"))
        grown = path.read_bytes()
        with pytest.raises(InvalidRealtimeEventError, match="version-1 journal"):
            transcript.apply(event)
        assert path.read_bytes() == grown != before
        assert transcript.in_flight_response_ids() == ["r9"]  # nothing changed
        assert transcript.apply(interrupted("r9")).status.value == "accepted"


def test_a_newer_journal_is_refused_with_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "v3.jsonl"
    header = {**header_of(FIXTURE), "version": 3}
    path.write_bytes(frame_line(orjson.dumps(header), 0, True))
    before = path.read_bytes()
    with pytest.raises(JournalVersionError) as raised:
        RealtimeTranscript.open(str(path))
    assert raised.value.version == 3 and raised.value.supported == (1, 2)
    assert isinstance(raised.value, BadHeaderError)
    assert "newer" in str(raised.value)
    assert path.read_bytes() == before


def test_an_unknown_older_or_malformed_version_is_a_bad_header(tmp_path: Path) -> None:
    for version in (0, "2", None):
        path = tmp_path / f"bad-{version}.jsonl"
        header = {**header_of(FIXTURE), "version": version}
        path.write_bytes(frame_line(orjson.dumps(header), 0, True))
        with pytest.raises(BadHeaderError) as raised:
            RealtimeTranscript.open(str(path))
        assert not isinstance(raised.value, JournalVersionError)
