"""Branches and forks: what a leaf move and a fork read from the file (COORD-040..COORD-051).

Other branches, and the messages an earlier compaction summarized, are not in memory
(COORD-024). A leaf move to an entry off the active tip therefore reads the file once and
replays it with the new leaf added: the memory a resume would compute after the leaf
(COORD-040), refused if the id is no content entry (:class:`UnknownEntryError`) or if the
branch leaves a tool call unanswered (COORD-044). A fork reads the file too: the active
branch's content entries as persisted, the active extension state, and a leaf with fresh
accounting (COORD-051); :func:`write_fork` makes it visible all at once (COORD-050).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.compaction import BufferItem, unanswered_tool_calls
from sessionspec.errors import SessionSpecError, UnpairedToolCallError
from sessionspec.reference.coordinator import Figures, leaf_entry, seq_of
from sessionspec.runtime.coordinator.memory import Memory
from sessionspec.runtime.coordinator.replay import (
    CONTENT_KINDS,
    active_extension_state,
    replay,
    select_active_branch,
)
from sessionspec.runtime.coordinator.results import ForkFailedError, UnknownEntryError
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog
from sessionspec.storage.log import Durability
from sessionspec.storage.urls import read_at

__all__ = ["fork_entries", "memory_after_leaf", "refuse_unanswered", "write_fork"]


def memory_after_leaf(path: str, fs: FileSystem, entry_id: str, leaf: dict[str, Any]) -> Memory:
    """The memory a resume computes once ``leaf`` (at ``entry_id``) is appended (COORD-040).

    Not a table rule: the target must exist. Other branches are not in memory, so the file
    is read once and replayed with the new leaf."""
    entries = [r.entry for r in read_at(path, fs=fs).records]
    if not any(e.get("id") == entry_id and e.get("type") in CONTENT_KINDS for e in entries):
        raise UnknownEntryError(entry_id)
    replayed = replay([*entries, leaf], None).memory
    refuse_unanswered(entry_id, replayed.items)
    return replayed


def fork_entries(path: str, fs: FileSystem, timestamp: str) -> list[dict[str, Any]]:
    """The entries of a fork of the session at ``path`` (COORD-051): its active branch's
    message and compaction entries exactly as persisted, the active extension state, and
    a leaf at the tip with fresh accounting (the parent's usage stays with the parent)."""
    entries = [r.entry for r in read_at(path, fs=fs).records]
    chain = select_active_branch(entries).chain
    copied: list[dict[str, Any]] = [dict(e) for e in chain]
    tip = str(copied[-1]["id"]) if copied else None
    extension = active_extension_state(entries, frozenset(str(e["id"]) for e in chain))
    if extension is not None:
        copied.append(dict(extension))
    seq = 1 + max((seq_of(str(e["id"])) for e in copied), default=0)
    copied.append(leaf_entry(seq, tip, Figures(), timestamp))
    return copied


def refuse_unanswered(entry_id: str, items: Sequence[BufferItem]) -> None:
    """COORD-044: a leaf move must not select a branch whose context holds a tool call that
    no tool result on it answers (every provider rejects such a context)."""
    unanswered = unanswered_tool_calls(items)
    if unanswered:
        raise UnpairedToolCallError(entry_id, unanswered)


def write_fork(
    fs: FileSystem,
    temporary: str,
    final: str,
    header: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
) -> None:
    """Write a complete session under ``temporary``, then rename it to ``final`` (COORD-050)."""
    directory = posixpath.dirname(final)
    renamed = False
    try:
        if fs.exists(temporary):
            fs.remove(temporary)  # residue of an earlier crashed fork
        log = JsonlLog.create(temporary, header, fs=fs, durability=Durability.SYNC)
        try:
            log.append(list(entries), expected_head=0)
        finally:
            log.close()
        fs.rename(temporary, final)
        renamed = True
        fs.fsync_dir(directory)
    except (OSError, SessionSpecError) as exc:
        # Best effort: take back whatever became visible, so a retry starts clean.
        for leftover in (final,) if renamed else (temporary,):
            try:
                if fs.exists(leftover):
                    fs.remove(leftover)
                    fs.fsync_dir(directory)
            except OSError:
                pass
        raise ForkFailedError(f"fork to {final} failed: {exc}") from exc
