"""Branch selection: which entries of a session log form the active branch (COORD-120..124).

Rules (spec/SPEC.md §4.2):

* **The last leaf wins** (COORD-120). A ``leaf`` entry names the tip of the active branch;
  the last leaf in file order whose target is a ``message`` or ``compaction`` entry of the
  file selects the tip, whatever the timestamps say.
* **Dangling leaves fall back** (COORD-121). A leaf whose target is not a content entry of
  the file is skipped and reported in ``dangling_leaves``; the selection falls back to the
  previous valid leaf, or, when no leaf is valid, to the last content entry in file order.
  opi returns an empty branch here (its known bug M1), so a single corrupt leaf silently
  empties the context; we never do that while the file holds content (§9).
* **No leaf: file order** (COORD-122). A session without any leaf (opi's legacy linear
  sessions) uses every content entry in file order, parent links ignored.
* **A repeated id** (COORD-124): the first content entry with an id is the one that counts,
  everywhere (the log's reading rule LOG-013); opi lets a later one replace it.
* **The parent walk terminates** (COORD-123). From the tip, ``parent_id`` is followed over
  content entries only; the walk stops at a null parent, at a parent that is not a
  content entry, or at an id already visited (a cycle, reported in ``cycle``). The chain
  runs root to tip, is parent-linked, repeats no id, and ends at the tip.

Theory of operation: a pure function over a tuple of :class:`EntryRef` (id, parent, kind,
leaf target), so that the same function serves the runtime's resume, the reference model's
``context_of`` and CrossHair (proofs/registry_coordinator.py). ``pre: len(entries) <= 4``
in the contract is CrossHair's search bound only; the Hypothesis properties in
tests/coordinator/test_pure_branch.py check random graphs with cycles of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONTENT_KINDS",
    "BranchSelection",
    "EntryRef",
    "chain_is_maximal",
    "content_index",
    "is_parent_linked",
    "last_valid_leaf_target",
    "select_branch",
]

#: Entry kinds that carry conversation content and can be a branch tip.
CONTENT_KINDS = ("message", "compaction")


@dataclass(frozen=True, slots=True)
class EntryRef:
    """The part of a log entry that branch selection looks at."""

    id: str
    parent_id: str | None
    #: "message" | "compaction" | "leaf" | "extension_state" (or a later entry type)
    kind: str
    #: A leaf's ``entry_id`` (None for other kinds).
    target: str | None = None


@dataclass(frozen=True, slots=True)
class BranchSelection:
    """The active branch of a log."""

    #: Id of the tip (a message or compaction id), None when the log has no content.
    tip: str | None
    #: Content ids from the root to the tip.
    chain: tuple[str, ...]
    #: Ids of leaves later than the selected one whose target is missing (skipped).
    dangling_leaves: tuple[str, ...]
    #: The parent walk met an id it had already visited and stopped there.
    cycle: bool
    #: The log has no leaf at all: ``chain`` is every content entry in file order.
    legacy_order: bool


def content_index(entries: tuple[EntryRef, ...]) -> dict[str, EntryRef]:
    """Content entries by id; the first entry with an id counts (COORD-124, LOG-013)."""
    index: dict[str, EntryRef] = {}
    for entry in entries:
        if entry.kind in CONTENT_KINDS and entry.id not in index:
            index[entry.id] = entry
    return index


def is_parent_linked(entries: tuple[EntryRef, ...], chain: tuple[str, ...]) -> bool:
    """Every chain id is a content entry, none repeats, and each one's parent is its
    predecessor in the chain."""
    index = content_index(entries)
    if len(set(chain)) != len(chain) or any(i not in index for i in chain):
        return False
    return all(index[chain[i]].parent_id == chain[i - 1] for i in range(1, len(chain)))


def chain_is_maximal(entries: tuple[EntryRef, ...], chain: tuple[str, ...]) -> bool:
    """The walk stopped for a reason: the root's parent is null, not content, or in the
    chain (a cycle)."""
    if not chain:
        return True
    index = content_index(entries)
    parent = index[chain[0]].parent_id
    return parent is None or parent not in index or parent in chain


def last_valid_leaf_target(entries: tuple[EntryRef, ...]) -> str | None:
    """The target of the last leaf whose target is a content entry (the definition)."""
    index = content_index(entries)
    targets = [e.target for e in entries if e.kind == "leaf" and e.target in index]
    return targets[-1] if targets else None


def select_branch(entries: tuple[EntryRef, ...]) -> BranchSelection:
    """Select the active branch of a log (COORD-120..COORD-124).

    pre: len(entries) <= 4
    post: __return__.tip is None or (len(__return__.chain) > 0 and __return__.chain[-1] == __return__.tip)
    post: __return__.tip is None or __return__.tip in content_index(entries)
    post: (__return__.tip is None) == (len(content_index(entries)) == 0)
    post: __return__.legacy_order or is_parent_linked(entries, __return__.chain)
    post: __return__.legacy_order or chain_is_maximal(entries, __return__.chain)
    post: __return__.legacy_order == all(e.kind != "leaf" for e in entries)
    post: not __return__.legacy_order or __return__.chain == tuple(content_index(entries))
    post: last_valid_leaf_target(entries) is None or __return__.tip == last_valid_leaf_target(entries)
    """  # noqa: E501  (contract lines are single expressions)
    index = content_index(entries)
    leaves = [e for e in entries if e.kind == "leaf"]
    if not leaves:
        chain = tuple(index)  # file order of first occurrences (dicts keep insertion order)
        return BranchSelection(
            tip=chain[-1] if chain else None,
            chain=chain,
            dangling_leaves=(),
            cycle=False,
            legacy_order=True,
        )
    tip: str | None = None
    dangling: list[str] = []
    for leaf in reversed(leaves):
        if leaf.target is not None and leaf.target in index:
            tip = leaf.target
            break
        dangling.append(leaf.id)
    if tip is None and index:
        # COORD-121: no valid leaf; fall back to the most recent content entry.
        tip = next(e.id for e in reversed(entries) if e.kind in CONTENT_KINDS)
    if tip is None:
        return BranchSelection(
            tip=None,
            chain=(),
            dangling_leaves=tuple(reversed(dangling)),
            cycle=False,
            legacy_order=False,
        )
    walk: list[str] = [tip]
    visited = {tip}
    cycle = False
    parent = index[tip].parent_id
    while parent is not None and parent in index:
        if parent in visited:
            cycle = True
            break
        visited.add(parent)
        walk.append(parent)
        parent = index[parent].parent_id
    walk.reverse()
    return BranchSelection(
        tip=tip,
        chain=tuple(walk),
        dangling_leaves=tuple(reversed(dangling)),
        cycle=cycle,
        legacy_order=False,
    )
