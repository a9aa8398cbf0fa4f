"""Resume: what opening finds and reports, and the runtime's replay against the reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.coordinator.coord_helpers import (
    assistant,
    clock,
    compaction_entry,
    leaf_entry,
    message_entry,
    texts,
    user,
    write_opi_file,
)

from sessionspec import SessionCoordinator
from sessionspec.compaction import CompactionConfig
from sessionspec.reference import coordinator as ref
from sessionspec.reference.branch import select_branch
from sessionspec.runtime.coordinator import _replay, _select_active_branch


@pytest.mark.req("COORD-021", "COORD-025")
def test_a_torn_turn_is_cut_and_reported(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", session_id="s", clock=clock)
    coordinator.on_turn_end([user("kept")], {"input_tokens": 3})
    coordinator.close()
    path = Path(coordinator.session_path)
    intact = path.read_bytes()
    # Half of a later turn reached the disk: its message line whole, its leaf torn.
    with path.open("ab") as handle:
        handle.write(b'{"type":"message","id":"msg-3","parent_id":"msg-1","timestamp":"x",')
    resumed = SessionCoordinator.open_existing(path, clock=clock)
    assert [d.code for d in resumed.recovery.diagnostics()] == ["log_torn_tail"]
    assert texts(resumed.context()) == ["kept"] and resumed.usage.input_tokens == 3
    assert path.read_bytes() == intact  # only the torn tail was cut


@pytest.mark.req("COORD-024", "COORD-025")
def test_an_invalid_message_on_the_active_branch_is_skipped_and_reported(
    tmp_path: Path,
) -> None:
    broken = {"role": "user", "content": "not a list", "timestamp_ms": 1}
    path = write_opi_file(
        tmp_path / "s.jsonl",
        [
            message_entry("msg-1", None, user("fine")),
            message_entry("msg-2", "msg-1", broken),
            message_entry("msg-3", "msg-2", user("after")),
            leaf_entry("leaf-4", "msg-3"),
        ],
    )
    resumed = SessionCoordinator.open_existing(path)
    assert texts(resumed.context()) == ["fine", "after"]
    assert resumed.recovery.invalid_entries == ("msg-2",)


@pytest.mark.req("COORD-023")
def test_messages_a_foreign_writer_appended_after_the_last_record_are_added(
    tmp_path: Path,
) -> None:
    coordinator = SessionCoordinator.new(
        tmp_path, "/w", CompactionConfig(threshold_tokens=10_000), session_id="s", clock=clock
    )
    coordinator.on_turn_end([user("ours")], {"input_tokens": 100})
    coordinator.close()
    path = Path(coordinator.session_path)
    # An opi process appends a turn of its own: no framing, no accounting record.
    foreign = [
        message_entry("msg-9", "msg-1", user("theirs")),
        message_entry("msg-10", "msg-9", assistant("reply", usage={"input_tokens": 40,
                                                                     "output_tokens": 2})),
        leaf_entry("leaf-11", "msg-10"),
    ]
    with path.open("a") as handle:
        for entry in foreign:
            handle.write(json.dumps(entry) + "\n")
    resumed = SessionCoordinator.open_existing(path)
    figures = resumed.figures
    assert (figures.input_tokens, figures.output_tokens, figures.turns) == (140, 2, 2)
    assert figures.watermark == 0  # the recorded watermark stands
    assert [name for name, _ in resumed.recovery.reconstructed] == [
        *ref.COUNTER_NAMES, "turns"
    ]
    assert resumed.next_seq == 12


@pytest.mark.req("COORD-021")
def test_a_parent_cycle_terminates_and_is_reported(tmp_path: Path) -> None:
    path = write_opi_file(
        tmp_path / "s.jsonl",
        [
            message_entry("a", "b", user("a")),
            message_entry("b", "a", user("b")),
            leaf_entry("l", "b"),
        ],
    )
    resumed = SessionCoordinator.open_existing(path)
    assert resumed.recovery.cycle
    assert texts(resumed.context()) == ["a", "b"]


# -- the runtime's one-pass replay against the reference model ---------------------------

IDS = st.sampled_from(["e1", "e2", "e3", "e4", "c1", "msg-7"])
PARENTS = st.none() | IDS


@st.composite
def logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Small logs with every shape the selection must survive: branches, duplicate ids,
    dangling leaves, no-tip leaves, cycles, compactions naming missing entries."""
    entries: list[dict[str, Any]] = []
    for n in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["message", "message", "compaction", "leaf", "state"]))
        entry_id = draw(IDS) if kind != "leaf" else f"leaf-{n}"
        if kind == "message":
            entries.append(message_entry(entry_id, draw(PARENTS), user(entry_id)))
        elif kind == "compaction":
            entries.append(compaction_entry(entry_id, draw(PARENTS), draw(IDS)))
        elif kind == "leaf":
            entries.append(leaf_entry(entry_id, draw(IDS | st.just(ref.NO_TIP))))
        else:
            entries.append(
                {"type": "extension_state", "id": f"state-{n}", "parent_id": draw(PARENTS),
                 "timestamp": "t", "state": n}
            )
    return entries


@pytest.mark.req("COORD-020", "COORD-021", "COORD-022")
@settings(max_examples=300, deadline=None)
@given(logs())
def test_runtime_replay_agrees_with_the_reference_model(entries: list[dict[str, Any]]) -> None:
    # Duplicate ids never come from the log (it keeps the first, LOG-013); both sides must
    # still agree on them (the first with an id counts, COORD-124).
    unique = entries
    selection = select_branch(ref.entry_refs(unique))
    branch = _select_active_branch(unique)
    assert tuple(e["id"] for e in branch.chain) == selection.chain
    assert branch.dangling_leaves == selection.dangling_leaves
    assert (branch.cycle, branch.legacy_order) == (selection.cycle, selection.legacy_order)
    model = ref.replay(unique, CompactionConfig())
    ours = _replay(unique, None)
    assert [i.id for i in ours.memory.items] == [i.id for i in model.items]
    assert ours.memory.tip == model.tip and ours.memory.next_seq == model.next_seq
    assert ours.memory.figures == model.figures
    assert ours.report.missing_first_kept == model.missing_first_kept
