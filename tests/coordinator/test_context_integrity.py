"""Context integrity (issue 7, item 8): COORD-044, COORD-045.

A damaged entry in the middle of the active branch makes the messages before it leave the
context: the resume report names them, by id and line. A leaf move that would leave a tool
call without its results is refused with a typed error and writes nothing, as compaction
refuses to split a pair.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.coordinator.coord_helpers import assistant, clock, texts, tool_result, user

from sessionspec import SessionCoordinator, UnpairedToolCallError
from sessionspec.errors import CallerError


def two_call_turn() -> list[dict[str, object]]:
    return [
        user("check both"),
        assistant("calling", calls=(("c1", '{"n": 1}'), ("c2", '{"n": 2}'))),
        tool_result("c1", "one"),
        tool_result("c2", "two"),
        assistant("both fine"),
    ]


@pytest.mark.req("COORD-044")
def test_a_leaf_move_onto_an_unanswered_tool_call_is_refused_and_writes_nothing(
    tmp_path: Path,
) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s", clock=clock)
    coordinator.on_turn_end(two_call_turn())  # msg-1 .. msg-5, leaf-6
    before = Path(coordinator.session_path).read_bytes()
    context = coordinator.context()
    for target, unanswered in (
        ("msg-2", (("msg-2", "c1"), ("msg-2", "c2"))),  # the call itself
        ("msg-3", (("msg-2", "c2"),)),  # one result of two
    ):
        with pytest.raises(UnpairedToolCallError) as refused:
            coordinator.append_leaf(target)
        assert isinstance(refused.value, CallerError)
        assert refused.value.unanswered == unanswered
        assert Path(coordinator.session_path).read_bytes() == before  # nothing written
        assert coordinator.context() == context and coordinator.active_tip == "msg-5"
    # Every call answered on the branch: accepted.
    coordinator.append_leaf("msg-4")
    assert texts(coordinator.context()) == ["check both", "calling", "one", "two"]
    coordinator.append_leaf("msg-1")
    assert texts(coordinator.context()) == ["check both"]


@pytest.mark.req("COORD-044")
def test_a_move_onto_the_tip_is_checked_too(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s", clock=clock)
    # A turn that ends on a call (its results come with the next turn).
    coordinator.on_turn_end([user("go"), assistant("calling", calls=(("c9", "{}"),))])
    with pytest.raises(UnpairedToolCallError):
        coordinator.append_leaf("msg-2")
    coordinator.on_turn_end([tool_result("c9", "done")])
    coordinator.append_leaf("msg-4")  # answered now
    assert coordinator.active_tip == "msg-4"


def _flip_line(path: Path, line_number: int) -> None:
    lines = path.read_bytes().split(b"\n")
    damaged = bytearray(lines[line_number - 1])
    damaged[len(damaged) // 2] ^= 0x20  # one flipped bit: the checksum fails
    lines[line_number - 1] = bytes(damaged)
    path.write_bytes(b"\n".join(lines))


@pytest.mark.req("COORD-025", "COORD-045")
@pytest.mark.parametrize(
    ("damaged_line", "lost"),
    [
        # line 1 is the header; turn 1: msg-1 (2), msg-2 (3), leaf-3 (4);
        # turn 2: msg-4 (5), msg-5 (6), leaf-6 (7); turn 3: msg-7 (8), msg-8 (9), leaf-9 (10)
        (5, (("msg-1", 2), ("msg-2", 3))),  # first message of a turn: bridged by the leaf
        (6, (("msg-1", 2), ("msg-2", 3), ("msg-4", 5))),  # inside a batch
    ],
)
def test_a_damaged_entry_in_the_middle_names_what_the_context_lost(
    tmp_path: Path, damaged_line: int, lost: tuple[tuple[str, int], ...]
) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s", clock=clock)
    for number in range(1, 4):
        coordinator.on_turn_end([user(f"question {number}"), assistant(f"answer {number}")])
    coordinator.close()
    path = tmp_path / "s.jsonl"
    _flip_line(path, damaged_line)
    resumed = SessionCoordinator.open_existing(path, clock=clock)
    report = resumed.recovery
    assert report.lost_entries == lost
    missing = "msg-4" if damaged_line == 5 else "msg-5"
    assert report.broken_parent == missing
    codes = {d.code: d.message for d in report.diagnostics()}
    assert "log_corrupt_entry" in codes
    described = codes["context_lost"]
    assert missing in described
    assert all(f"{entry} (line {line})" in described for entry, line in lost)
    # What survives is what the walk from the tip reaches: the messages after the damage.
    assert "question 1" not in json.dumps(resumed.context())


@pytest.mark.req("COORD-045")
def test_an_intact_file_reports_no_loss(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s", clock=clock)
    coordinator.on_turn_end([user("a"), assistant("b")])
    coordinator.close()
    resumed = SessionCoordinator.open_existing(tmp_path / "s.jsonl", clock=clock)
    assert resumed.recovery.clean
    assert (resumed.recovery.broken_parent, resumed.recovery.lost_entries) == (None, ())
