"""COORD-071: the entries the last acknowledged operation appended, and the tip after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionspec import SessionCoordinator, WrittenEntries
from sessionspec.errors import SessionSpecError
from sessionspec.storage.simfs import SimulatedFileSystem


def _user(text: str) -> dict[str, object]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "timestamp_ms": 1}


def _assistant(text: str) -> dict[str, object]:
    return {
        "role": "assistant", "content": [{"type": "text", "text": text}],
        "api": "Anthropic", "provider": "anthropic", "model": "claude-sonnet-4-5",
        "usage": {"input": 10, "output": 2, "cache_read": 0, "cache_write": 0},
        "stop_reason": "stop", "timestamp_ms": 2,
    }


@pytest.mark.req("COORD-071")
def test_a_turn_names_its_messages_then_its_leaf_and_the_new_tip(tmp_path: Path) -> None:
    session = SessionCoordinator.new(str(tmp_path), cwd="/")
    assert session.last_written == WrittenEntries((), None)
    session.on_turn_end([_user("hi"), _assistant("hello")])
    written = session.last_written
    assert len(written.entry_ids) == 3
    messages = list(written.entry_ids[:2])
    assert written.tip == messages[-1] == session.active_tip
    first_tip = written.tip
    session.on_turn_end([_user("again"), _assistant("yes")])
    assert session.last_written.entry_ids[0] not in written.entry_ids
    assert first_tip is not None
    session.append_leaf(first_tip)  # move back to the end of the first turn
    assert len(session.last_written.entry_ids) == 1
    assert session.last_written.tip == first_tip
    reopened_path = session.session_path
    session.close()
    reopened = SessionCoordinator.open_existing(reopened_path)
    assert reopened.last_written.entry_ids == ()
    assert reopened.last_written.tip == first_tip
    reopened.close()


@pytest.mark.req("COORD-071")
def test_a_failed_turn_leaves_the_last_acknowledged_write() -> None:
    fs = SimulatedFileSystem()
    session = SessionCoordinator.new("/s", cwd="/", fs=fs)
    session.on_turn_end([_user("hi"), _assistant("hello")])
    before = session.last_written
    fs.arm("write")
    with pytest.raises(SessionSpecError):
        session.on_turn_end([_user("lost"), _assistant("never")])
    assert session.last_written == before
