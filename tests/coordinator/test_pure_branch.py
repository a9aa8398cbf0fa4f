"""Branch selection (spec §4.2, COORD-120..COORD-123), with opi's test names.

opi's tests live in crates/opi-agent/tests/session_branching.rs and
crates/opi-coding-agent/tests/session_runtime.rs; where our rule differs (a leaf to a
missing entry), the test shows both outcomes.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionspec.reference.branch import (
    BranchSelection,
    EntryRef,
    chain_is_maximal,
    content_index,
    is_parent_linked,
    last_valid_leaf_target,
    select_branch,
)

DEEP = bool(os.environ.get("SESSIONSPEC_DEEP"))
EXAMPLES = 1000 if DEEP else 200


def msg(id: str, parent: str | None) -> EntryRef:
    return EntryRef(id=id, parent_id=parent, kind="message")


def cmp(id: str, parent: str | None) -> EntryRef:
    return EntryRef(id=id, parent_id=parent, kind="compaction")


def leaf(id: str, target: str) -> EntryRef:
    return EntryRef(id=id, parent_id=target, kind="leaf", target=target)


def state(id: str, parent: str | None) -> EntryRef:
    return EntryRef(id=id, parent_id=parent, kind="extension_state")


BRANCHED = (
    msg("e1", None),
    msg("e2a", "e1"),
    msg("e3a", "e2a"),
    msg("e2b", "e1"),
)


@pytest.mark.req("COORD-120")
def test_reconstruct_context_follows_last_leaf_to_active_branch() -> None:
    selection = select_branch((*BRANCHED, leaf("l1", "e3a")))
    assert selection.chain == ("e1", "e2a", "e3a")  # sibling e2b dropped
    assert selection.tip == "e3a"
    assert not selection.legacy_order and not selection.cycle


@pytest.mark.req("COORD-120")
def test_branched_session_last_leaf_wins() -> None:
    selection = select_branch((*BRANCHED, leaf("l1", "e3a"), leaf("l2", "e2b")))
    assert selection.tip == "e2b"
    assert selection.chain == ("e1", "e2b")


@pytest.mark.req("COORD-120")
def test_reconstruct_context_uses_last_leaf_when_multiple_present() -> None:
    entries = (*BRANCHED, leaf("l1", "e2b"), leaf("l2", "e3a"))
    assert select_branch(entries).chain == ("e1", "e2a", "e3a")


@pytest.mark.req("COORD-120")
def test_open_existing_with_branched_leaf_excludes_sibling_from_compaction_buffer() -> None:
    entries = (msg("e1", None), msg("e2a", "e1"), msg("e2b", "e1"), leaf("l", "e2a"))
    assert select_branch(entries).chain == ("e1", "e2a")


@pytest.mark.req("COORD-120", "COORD-123")
def test_reconstruct_context_active_branch_with_compaction() -> None:
    entries = (
        msg("e1", None),
        msg("e2", "e1"),
        cmp("c1", "e2"),
        msg("e3", "c1"),
        msg("x", "e1"),
        state("s1", "e3"),
        leaf("l", "e3"),
    )
    assert select_branch(entries).chain == ("e1", "e2", "c1", "e3")


@pytest.mark.req("COORD-122")
def test_reconstruct_context_without_leaf_falls_back_to_file_order() -> None:
    selection = select_branch(BRANCHED)
    assert selection.legacy_order
    assert selection.chain == ("e1", "e2a", "e3a", "e2b")  # siblings interleave, as in opi
    assert selection.tip == "e2b"


@pytest.mark.req("COORD-123")
def test_cycle_in_parent_id_detected() -> None:
    entries = (msg("a", "c"), msg("b", "a"), msg("c", "b"), leaf("l", "c"))
    selection = select_branch(entries)
    assert selection.cycle
    assert selection.chain == ("a", "b", "c")
    assert selection.tip == "c"


@pytest.mark.req("COORD-123")
def test_self_parent_is_a_cycle() -> None:
    selection = select_branch((msg("a", "a"), leaf("l", "a")))
    assert selection.cycle and selection.chain == ("a",)


@pytest.mark.req("COORD-123")
def test_walk_stops_at_missing_parent() -> None:
    selection = select_branch((msg("b", "gone"), msg("c", "b"), leaf("l", "c")))
    assert selection.chain == ("b", "c") and not selection.cycle


@pytest.mark.req("COORD-124")
def test_repeated_id_first_entry_counts_differs_from_opi() -> None:
    entries = (msg("r1", None), msg("r2", None), msg("x", "r1"), msg("x", "r2"), leaf("l", "x"))
    # opi indexes later duplicates over earlier ones and would walk x -> r2.
    assert select_branch(entries).chain == ("r1", "x")
    legacy = select_branch(entries[:4])
    assert legacy.legacy_order and legacy.chain == ("r1", "r2", "x")


@pytest.mark.req("COORD-121")
def test_leaf_pointing_to_nonexistent_entry_handled_differs_from_opi() -> None:
    entries = (*BRANCHED, leaf("l1", "e3a"), leaf("l2", "missing"))
    selection = select_branch(entries)
    # opi (v0.6.3 select_ordered_entries): the last leaf names no entry -> EMPTY context.
    opi_chain: tuple[str, ...] = ()
    assert selection.chain != opi_chain
    # ours: fall back to the last valid leaf, and report the dangling one.
    assert selection.chain == ("e1", "e2a", "e3a")
    assert selection.dangling_leaves == ("l2",)


@pytest.mark.req("COORD-121")
def test_no_valid_leaf_falls_back_to_last_content_entry() -> None:
    entries = (*BRANCHED, leaf("l1", "nope"), state("s", "e2b"), leaf("l2", "s"))
    selection = select_branch(entries)
    assert selection.tip == "e2b"
    assert selection.chain == ("e1", "e2b")
    assert selection.dangling_leaves == ("l1", "l2")  # a leaf to an extension state dangles
    assert not selection.legacy_order


@pytest.mark.req("COORD-121", "COORD-122")
def test_only_leaf_entries_produces_no_branches() -> None:
    selection = select_branch((leaf("l1", "x"), leaf("l2", "y")))
    assert selection == BranchSelection(
        tip=None, chain=(), dangling_leaves=("l1", "l2"), cycle=False, legacy_order=False
    )
    assert select_branch(()) == BranchSelection(
        tip=None, chain=(), dangling_leaves=(), cycle=False, legacy_order=True
    )


# --- property: random graphs, cycles included ----------------------------------------------

IDS = tuple(f"n{i}" for i in range(8))


@st.composite
def logs(draw: st.DrawFn) -> tuple[EntryRef, ...]:
    """Random logs over a small id space, so duplicates, cycles and dangling targets occur."""
    size = draw(st.integers(0, 16))
    out: list[EntryRef] = []
    for _ in range(size):
        kind = draw(st.sampled_from(("message", "compaction", "leaf", "extension_state")))
        id = draw(st.sampled_from((*IDS, "leaf-x", "state-y")))
        parent = draw(st.none() | st.sampled_from((*IDS, "missing")))
        target = draw(st.sampled_from((*IDS, "missing"))) if kind == "leaf" else None
        out.append(EntryRef(id=id, parent_id=parent, kind=kind, target=target))
    return tuple(out)


@pytest.mark.req("COORD-120", "COORD-121", "COORD-122", "COORD-123", "COORD-124")
@settings(max_examples=EXAMPLES, deadline=None)
@given(logs())
def test_property_select_branch_terminates_and_links(entries: tuple[EntryRef, ...]) -> None:
    selection = select_branch(entries)
    index = content_index(entries)
    has_leaf = any(e.kind == "leaf" for e in entries)
    assert selection.legacy_order == (not has_leaf)
    assert (selection.tip is None) == (not index)
    if selection.legacy_order:
        assert selection.chain == tuple(index)
    if selection.tip is not None:
        assert selection.chain[-1] == selection.tip
        assert selection.tip in index
    if not selection.legacy_order:
        assert is_parent_linked(entries, selection.chain)
        assert chain_is_maximal(entries, selection.chain)
        assert len(selection.chain) <= len(index)
        if selection.chain:
            root_parent = index[selection.chain[0]].parent_id
            assert selection.cycle == (root_parent in selection.chain)
    target = last_valid_leaf_target(entries)
    if target is not None:
        assert selection.tip == target
    # every reported dangling leaf is a leaf whose target is not content
    leaf_ids = {e.id for e in entries if e.kind == "leaf" and e.target not in index}
    assert set(selection.dangling_leaves) <= leaf_ids
