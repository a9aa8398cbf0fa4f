"""Resuming a coordinator from a snapshot equals resuming from the whole log (§7.4).

Random sessions are built through the coordinator (turns, leaf moves to earlier messages,
compactions, extension state) and then, sometimes, given foreign entries appended by hand
(a leaf to a missing entry, messages after the last leaf); a snapshot is taken at a random
position and the two resumes are compared through the coordinator's API.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.coordinator.coord_helpers import assistant, clock, user

from sessionspec import SessionCoordinator
from sessionspec.runtime.coordinator_snapshot import (
    open_with_snapshot,
    reduce_entries,
    write_snapshot,
)
from sessionspec.storage.jsonl import JsonlLog, read_log
from sessionspec.storage.log import Durability

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("turn"), st.integers(0, 30)),
        st.tuples(st.just("leaf"), st.integers(0, 50)),
        st.tuples(st.just("compact"), st.just(0)),
        st.tuples(st.just("state"), st.integers(0, 9)),
    ),
    min_size=1,
    max_size=14,
)
FOREIGN = st.lists(st.sampled_from(["dangling_leaf", "foreign_message", "plain_leaf"]),
                   max_size=3)
COUNTER = itertools.count()


def observe(coordinator: SessionCoordinator) -> dict[str, Any]:
    report = coordinator.recovery
    return {
        "context": coordinator.context(),
        "tip": coordinator.active_tip,
        "figures": coordinator.figures,
        "next_seq": coordinator.next_seq,
        "head": coordinator.head,
        "state": coordinator.state,
        "compaction_entries": coordinator.compaction_entries(),
        "dangling": report.dangling_leaves,
        "reconstructed": report.reconstructed,
        "missing_first_kept": report.missing_first_kept,
        "invalid": report.invalid_entries,
        "legacy": report.legacy_order,
    }


def build(
    directory: Path,
    ops: list[tuple[str, int]],
    foreign: list[str],
    session_id: str = "s",
    legacy: bool = False,
) -> str:
    coordinator = SessionCoordinator.new(
        directory, cwd="/", model="anthropic:claude-sonnet-4", clock=clock,
        durability=Durability.NO_SYNC, session_id=session_id,
    )
    message_ids: list[str] = []
    for op, value in ops:
        if op == "turn":
            before = {e.get("id") for e in _entries(coordinator.session_path)}
            coordinator.on_turn_end(
                [user(f"u{value}"), assistant(f"a{value}", usage={"input_tokens": value})],
                {"input_tokens": value, "output_tokens": 1},
            )
            message_ids += [
                str(e["id"]) for e in _entries(coordinator.session_path)
                if e.get("type") == "message" and e.get("id") not in before
            ]
        elif op == "leaf" and message_ids:
            coordinator.append_leaf(message_ids[value % len(message_ids)])
        elif op == "compact":
            coordinator.execute_compaction("manual")
        elif op == "state":
            coordinator.append_extension_state({"n": value})
    path = coordinator.session_path
    coordinator.close()
    if legacy:  # as opi writes it: leaves carry no accounting figures
        snapshot = read_log(path)
        entries = [{k: v for k, v in r.entry.items() if k != "ss_accounting"}
                   for r in snapshot.records]
        Path(path).unlink()
        log = JsonlLog.create(path, snapshot.header, durability=Durability.NO_SYNC)
        for stripped in entries:
            log.append([stripped])
        log.close()
    if foreign:
        log = JsonlLog.open(path, durability=Durability.NO_SYNC)
        for number, kind in enumerate(foreign):
            entry: dict[str, Any] = {"id": f"x-{number}", "parent_id": None,
                                     "timestamp": "2026-01-01T00:00:00Z"}
            if kind == "dangling_leaf":
                entry.update(type="leaf", entry_id="msg-404")
            elif kind == "plain_leaf" and message_ids:
                entry.update(type="leaf", entry_id=message_ids[0])
            else:
                entry.update(type="message", message=user(f"foreign {number}"),
                             parent_id=message_ids[-1] if message_ids else None)
            log.append([entry])
        log.close()
    return path


def _entries(path: str) -> list[dict[str, Any]]:
    return [r.entry for r in read_log(path).records]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(OPS, FOREIGN, st.floats(0, 1), st.booleans())
# opi's leaves (no figures): a dangling leaf after the last valid one must stay dangling
@example(ops=[("turn", 1), ("turn", 2)], foreign=["plain_leaf", "dangling_leaf"], where=1.0,
         legacy=True)
@example(ops=[("turn", 1), ("leaf", 0), ("turn", 2)], foreign=["dangling_leaf"], where=0.5,
         legacy=False)
@pytest.mark.req("STATE-040", "STATE-041")
def test_snapshot_resume_equals_full_resume(
    tmp_path: Path, ops: list[tuple[str, int]], foreign: list[str], where: float, legacy: bool
) -> None:
    directory = tmp_path / f"case-{next(COUNTER)}"
    directory.mkdir()
    path = build(directory, ops, foreign, legacy=legacy)
    count = len(read_log(path).records)
    position = round(where * count)
    snapshot = directory / "snapshot.json"
    write_snapshot(path, snapshot, position)
    full = SessionCoordinator.open_existing(path, clock=clock)
    expected = observe(full)
    full.close()
    resumed, outcome = open_with_snapshot(path, snapshot, clock=clock)
    try:
        assert observe(resumed) == expected
        if outcome.used:
            assert outcome.position == position and outcome.replayed_records == count - position
        else:  # only the compact form may refuse, when the log leaves its branch
            assert str(outcome.diagnostic).startswith("branch"), outcome
    finally:
        resumed.close()


@pytest.mark.req("STATE-040")
def test_the_reduction_drops_what_cannot_decide(tmp_path: Path) -> None:
    path = build(tmp_path, [("turn", 1), ("state", 1), ("turn", 2), ("state", 2),
                            ("turn", 3), ("leaf", 0)], [])
    entries = _entries(path)
    reduced = reduce_entries(entries)
    assert len(reduced) < len(entries)
    kinds = [e["type"] for e in reduced]
    assert kinds.count("message") == sum(1 for e in entries if e["type"] == "message")
    assert "extension_state" not in kinds[: kinds.index("leaf")]


@pytest.mark.req("STATE-042")
def test_damaged_stale_and_foreign_snapshots_fall_back_to_the_log(tmp_path: Path) -> None:
    path = build(tmp_path, [("turn", 1), ("turn", 2), ("leaf", 0)], [])
    full = SessionCoordinator.open_existing(path, clock=clock)
    expected = observe(full)
    full.close()
    snapshot = tmp_path / "snapshot.json"

    def resume() -> str | None:
        coordinator, outcome = open_with_snapshot(path, snapshot, clock=clock)
        try:
            assert observe(coordinator) == expected
        finally:
            coordinator.close()
        assert not outcome.used or outcome.diagnostic is None
        return outcome.diagnostic

    assert resume() is not None and str(resume()).startswith("missing")
    write_snapshot(path, snapshot)
    assert resume() is None
    snapshot.write_text(snapshot.read_text().replace('"turn', '"TURN'))
    assert str(resume()).startswith("damaged")
    snapshot.write_text("{")
    assert str(resume()).startswith("damaged")
    write_snapshot(path, snapshot)
    document = json.loads(snapshot.read_text())
    document["body"]["position"] += 5
    text = json.dumps(document["body"], separators=(",", ":"), ensure_ascii=False)
    document["digest"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    snapshot.write_text(json.dumps(document))
    assert str(resume()).startswith("stale")
    other = tmp_path / "other"
    other.mkdir()
    write_snapshot(build(other, [("turn", 1)], [], session_id="other"), snapshot)
    assert str(resume()).startswith("foreign")


@pytest.mark.req("STATE-040", "STATE-041", "STATE-042")
def test_compact_snapshot_serves_a_linear_tail_and_refuses_a_branch_switch(
    tmp_path: Path,
) -> None:
    ops = [("turn", n) for n in range(6)] + [("compact", 0)] + [("turn", n) for n in range(3)]
    path = build(tmp_path, ops, [])
    count = len(read_log(path).records)
    snapshot = tmp_path / "snapshot.json"
    write_snapshot(path, snapshot, count)
    body = json.loads(snapshot.read_text())["body"]
    assert body["compact"] is True
    assert len(body["entries"]) < count // 2
    coordinator = SessionCoordinator.open_existing(path, clock=clock)
    first_message = next(e["id"] for e in _entries(path) if e["type"] == "message")
    coordinator.on_turn_end([user("more"), assistant("fine")], {"input_tokens": 1})
    coordinator.close()

    def both() -> tuple[dict[str, Any], Any]:
        full = SessionCoordinator.open_existing(path, clock=clock)
        expected = observe(full)
        full.close()
        resumed, outcome = open_with_snapshot(path, snapshot, clock=clock)
        try:
            assert observe(resumed) == expected
        finally:
            resumed.close()
        return expected, outcome

    _, outcome = both()
    assert outcome.used and outcome.replayed_records == 3
    coordinator = SessionCoordinator.open_existing(path, clock=clock)
    coordinator.append_leaf(first_message)  # back to a message the compact form left out
    coordinator.close()
    _, outcome = both()
    assert not outcome.used and str(outcome.diagnostic).startswith("branch")
