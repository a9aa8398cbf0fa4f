"""Replay: a session's memory rebuilt from its log's entries (COORD-020..COORD-025, -045).

This is the reader side of the coordinator, the interface a resume uses: an open
(:meth:`SessionCoordinator.open_existing`), a leaf move to a branch that is not in memory
(COORD-040), a fork (COORD-050) and a resume from a snapshot
(:mod:`sessionspec.runtime.coordinator_snapshot`) all call :func:`replay` or
:func:`select_active_branch` and nothing else of it.

Rules
-----
1. **The reference decides** (COORD-020). :func:`replay` computes what
   :mod:`sessionspec.reference.coordinator` says a resume must give, in one pass over the
   raw entries instead of the reference's per-entry objects; tests/coordinator/
   test_resume.py and the stateful machine hold the two equal.
2. **Last valid leaf wins** (COORD-021): a leaf naming a missing entry is reported and the
   one before it used; a file without leaves is taken in file order (opi's legacy rule).
3. **Nothing is dropped on doubt** (COORD-022): a compaction whose first kept entry is not
   in the buffer keeps the whole buffer and says so.
4. **Figures from the record** (COORD-016, COORD-023): the accounting record of the last
   leaf that has one, plus messages written after it by someone else; without a record,
   opi's reconstruction from the active chain, reported.
5. **Only the active branch is validated** (COORD-024): a message on it that fails
   validation is skipped and reported; the rest of the file is never validated.

Theory of operation
-------------------
:func:`select_active_branch` indexes the content entries by id and walks parent links
back from the tip. :func:`replay` then folds the chain into the compaction buffer by id
only (a compaction replaces everything before its first kept entry with a summary slot),
and validates the messages that survive, once each, at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sessionspec.compaction import BufferItem
from sessionspec.reference.coordinator import (
    ACCOUNTING_FIELD,
    COUNTER_NAMES,
    NO_TIP,
    Figures,
    model_usage_of,
    summary_slot_id,
)
from sessionspec.runtime.coordinator.memory import Memory
from sessionspec.runtime.coordinator.messages import (
    MESSAGE_ADAPTER,
    normalized_as_is,
    plain_message,
)
from sessionspec.runtime.coordinator.results import ResumeReport
from sessionspec.storage.log import RecoveryReport

__all__ = [
    "CONTENT_KINDS",
    "Branch",
    "Replay",
    "active_extension_state",
    "replay",
    "select_active_branch",
]

#: The entry kinds a branch is made of (a leaf or an extension state only points into one).
CONTENT_KINDS = frozenset({"message", "compaction"})


@dataclass(frozen=True, slots=True)
class Replay:
    """What :func:`replay` rebuilt: the memory and the report of what it found."""

    memory: Memory
    report: ResumeReport


@dataclass(frozen=True, slots=True)
class Branch:
    chain: list[Mapping[str, Any]]
    dangling_leaves: tuple[str, ...]
    cycle: bool
    legacy_order: bool
    highest_seq: int
    #: The parent id at which the walk stopped because no content entry has it (COORD-045).
    broken_parent: str | None = None


def select_active_branch(entries: Sequence[Mapping[str, Any]]) -> Branch:
    """The active branch, by the rule of :func:`sessionspec.reference.branch.select_branch`
    (COORD-021), computed in one pass over the raw entries without building an
    :class:`EntryRef` per entry: resume cost is dominated by this loop (DESIGN §5). The
    tests check that both agree (test_resume.py, and the stateful machine, whose model uses
    ``select_branch``)."""
    content: dict[str, Mapping[str, Any]] = {}
    leaves: list[Mapping[str, Any]] = []
    highest = 0
    for entry in entries:
        entry_id = entry.get("id")
        kind = entry.get("type")
        if type(entry_id) is str:
            _, dash, suffix = entry_id.partition("-")
            if dash and suffix.isdigit() and suffix.isascii():
                number = int(suffix)
                if number > highest:
                    highest = number
        if kind == "message" or kind == "compaction":
            content.setdefault(str(entry_id), entry)  # the first with an id counts (COORD-124)
        elif kind == "leaf" and entry.get("entry_id") != NO_TIP:
            leaves.append(entry)
    if not leaves:
        return Branch(list(content.values()), (), False, True, highest)
    tip: str | None = None
    dangling: list[str] = []
    for leaf in reversed(leaves):
        target = leaf.get("entry_id")
        if isinstance(target, str) and target in content:
            tip = target
            break
        dangling.append(str(leaf.get("id")))
    if tip is None:
        for entry in reversed(entries):
            if entry.get("type") in CONTENT_KINDS:
                tip = str(entry.get("id"))
                break
    if tip is None:
        return Branch([], tuple(reversed(dangling)), False, False, highest)
    walk = [content[tip]]
    visited = {tip}
    cycle = False
    parent = content[tip].get("parent_id")
    while isinstance(parent, str) and parent in content:
        if parent in visited:
            cycle = True
            break
        visited.add(parent)
        walk.append(content[parent])
        parent = content[parent].get("parent_id")
    walk.reverse()
    broken = parent if isinstance(parent, str) and not cycle else None
    return Branch(walk, tuple(reversed(dangling)), cycle, False, highest, broken)


def replay(
    entries: Sequence[Mapping[str, Any]],
    log_report: RecoveryReport | None,
    lines: Sequence[int] | None = None,
) -> Replay:
    """Rebuild memory from a log's entries (file order); ``lines`` (their line numbers in
    the file) lets the report name the entries a broken branch lost (COORD-045)."""
    branch = select_active_branch(entries)
    chain = branch.chain
    highest = branch.highest_seq

    # The buffer, by id only; messages are validated once, at the end, only if they survive.
    ids: list[str] = []
    payloads: list[Mapping[str, Any]] = []
    missing: list[str] = []
    for entry in chain:
        entry_id = str(entry.get("id"))
        if entry.get("type") == "message":
            ids.append(entry_id)
            payloads.append(entry)
            continue
        first_kept = entry.get("first_kept_entry_id")
        try:
            start = ids.index(first_kept) if isinstance(first_kept, str) else -1
        except ValueError:
            start = -1
        if start < 0:
            missing.append(entry_id)  # COORD-022: drop nothing
            start = 0
        ids = [summary_slot_id(entry_id), *ids[start:]]
        payloads = [entry, *payloads[start:]]

    items: list[BufferItem] = []
    invalid: list[str] = []
    for item_id, payload in zip(ids, payloads, strict=True):
        if payload.get("type") == "compaction":
            items.append(BufferItem.of_summary(item_id, str(payload.get("summary", ""))))
            continue
        raw = payload.get("message")
        # A message already in its normalized form (what the coordinator writes) is kept as
        # it is; the plain normalizer gives pydantic's result for most others, at about
        # twice the speed (tests/coordinator/test_plain_message.py); the rest goes to
        # pydantic.
        message = raw if normalized_as_is(raw) else plain_message(raw)
        if message is None:
            try:
                message = MESSAGE_ADAPTER.validate_python(raw).to_json_dict()
            except ValueError:  # invalid, or nested beyond what can be serialized (GEN-009)
                invalid.append(item_id)
                continue
        items.append(BufferItem(item_id, message, None))  # of_message, without its call

    figures, reconstructed = _figures(entries, chain)
    tip = str(chain[-1].get("id")) if chain else None
    report = ResumeReport(
        log=log_report,
        dangling_leaves=branch.dangling_leaves,
        cycle=branch.cycle,
        legacy_order=branch.legacy_order and bool(chain),
        reconstructed=tuple((name, getattr(figures, name)) for name in reconstructed),
        missing_first_kept=tuple(missing),
        invalid_entries=tuple(invalid),
        broken_parent=branch.broken_parent,
        lost_entries=(
            _lost_entries(entries, lines, log_report, chain)
            if branch.broken_parent is not None and lines is not None
            else ()
        ),
    )
    return Replay(Memory(items, len(items), tip, figures, highest + 1), report)


def _lost_entries(
    entries: Sequence[Mapping[str, Any]],
    lines: Sequence[int],
    log_report: RecoveryReport | None,
    chain: Sequence[Mapping[str, Any]],
) -> tuple[tuple[str, int], ...]:
    """The entries the active branch lost behind a damaged line, as ``(id, line)`` from the
    root (COORD-045). Runs only when the walk from the tip stopped at a parent that no entry
    has. The missing parent is taken to be the damaged line nearest before the branch's
    root; the branch went on from the line just before that one (a message is the next
    one's parent within a batch; a leaf names the tip the next batch continued from), as
    the coordinator writes its batches. From there the parent links are walked as usual."""
    if log_report is None or not chain:
        return ()
    root = chain[0]
    root_line = next(line for entry, line in zip(entries, lines, strict=True) if entry is root)
    damaged = [d.line for d in log_report.damage if d.line < root_line]
    if not damaged:
        return ()
    at = max(damaged)
    before = [index for index, line in enumerate(lines) if line < at]
    if not before:
        return ()
    content: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.get("type") in CONTENT_KINDS:
            content.setdefault(str(entry.get("id")), index)
    bridge = entries[before[-1]]
    start = bridge.get("entry_id") if bridge.get("type") == "leaf" else bridge.get("id")
    on_chain = {str(entry.get("id")) for entry in chain}
    lost: list[tuple[str, int]] = []
    seen: set[str] = set()
    current = start
    while isinstance(current, str) and current in content and current not in seen:
        if current in on_chain:
            break
        seen.add(current)
        index = content[current]
        lost.append((current, lines[index]))
        current = entries[index].get("parent_id")
    return tuple(reversed(lost))


def _figures(
    entries: Sequence[Mapping[str, Any]], chain: Sequence[Mapping[str, Any]]
) -> tuple[Figures, tuple[str, ...]]:
    """The accounting record of the last leaf that has one, plus foreign messages after it;
    or, for a legacy file, opi's reconstruction from the active chain (COORD-016, -023)."""
    start = 0
    recorded: Figures | None = None
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.get("type") == "leaf" and ACCOUNTING_FIELD in entry:
            recorded = Figures.from_json(entry[ACCOUNTING_FIELD])
            if recorded is not None:
                start = index + 1
                break
    if recorded is None:
        counted: Iterable[Mapping[str, Any]] = chain
        base = Figures()
    else:
        counted = entries[start:]
        base = recorded
    counters = [
        base.input_tokens,
        base.output_tokens,
        base.cache_read_tokens,
        base.cache_write_tokens,
    ]
    turns = base.turns
    foreign: list[Mapping[str, Any]] = []
    for entry in counted:
        if entry.get("type") != "message":
            continue
        message = entry.get("message")
        if not isinstance(message, Mapping):
            continue
        foreign.append(message)
        if message.get("role") == "user":
            turns += 1
        elif message.get("role") == "assistant":
            usage = message.get("usage")
            if isinstance(usage, Mapping):
                for position, name in enumerate(COUNTER_NAMES):
                    value = usage.get(name, 0)
                    if type(value) is int and value >= 0:
                        counters[position] += value
    inp, out, cache_read, cache_write = counters
    by_model = model_usage_of(foreign)  # COORD-062: priced by each message's own model
    if recorded is None:
        rebuilt = Figures(inp, out, cache_read, cache_write, turns, sum(counters)).with_model_usage(
            by_model
        )
        return rebuilt, (*COUNTER_NAMES, "turns", "watermark")
    if not foreign:
        return recorded, ()
    extended = Figures(
        inp, out, cache_read, cache_write, turns, recorded.watermark, recorded.by_model
    ).with_model_usage(by_model)
    return extended, (*COUNTER_NAMES, "turns")


def active_extension_state(
    entries: Sequence[Mapping[str, Any]], chain_ids: frozenset[str]
) -> Mapping[str, Any] | None:
    for entry in reversed(entries):
        if entry.get("type") == "extension_state":
            parent = entry.get("parent_id")
            if parent is None or (type(parent) is str and parent in chain_ids):
                found: Mapping[str, Any] = entry
                return found
    return None
