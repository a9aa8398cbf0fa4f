"""Import a session file of any known format into our log, verified by replay (FILES-014).

Rules
-----
* What is imported is the **active branch** of the source: its messages and compactions,
  in order, as our entries (``msg-N``, ``cmp-N``), closed by one leaf carrying the figures
  (usage summed over the branch's requests, one per request key; turns counted by user
  messages; the watermark at the total of the last compaction). Metadata entries (model
  changes, labels, hook progress) are not part of our format and are not written.
* A compaction that keeps from an entry keeps from that entry's first message. A history
  replaced wholesale (Codex ``replacement_history``, a rollback) is written as its messages
  followed by a compaction that keeps from the first of them; the summary slot this adds is
  the one difference verification allows, and only for those compactions.
* What our format cannot express is an :class:`~sessionspec.errors.UnrepresentableError`
  before anything is written: a compaction that keeps nothing while history precedes it, a
  history replaced by nothing, a message the message model rejects.
* **Verified**: the log is written as one batch under a new name, then opened with
  :meth:`SessionCoordinator.open_existing`; its context must equal the source's context. If
  it does not, the file is removed and :class:`~sessionspec.errors.ImportVerificationError`
  names the first difference. An existing file is never overwritten.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sessionspec.codecs import SessionRead, read_session
from sessionspec.codecs.model import Entry, EntryKind
from sessionspec.errors import CallerError, ImportVerificationError, UnrepresentableError
from sessionspec.reference.coordinator import (
    Figures,
    leaf_entry,
    message_entry,
)
from sessionspec.runtime.coordinator import SessionCoordinator, iso_timestamp
from sessionspec.storage.jsonl import JsonlLog, session_path, validate_session_id
from sessionspec.storage.log import Durability
from sessionspec.wire.log import SessionHeader
from sessionspec.wire.messages import Message

__all__ = ["ImportResult", "import_session", "verify_import"]

_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


@dataclass(frozen=True, slots=True)
class ImportResult:
    source: str
    format: str
    path: str
    session_id: str
    entries: int
    messages: int
    compactions: int


@dataclass(slots=True)
class _Plan:
    entries: list[dict[str, Any]]
    #: Compaction ids whose summary slot the source does not have (replaced histories).
    replaced: set[str]
    figures: Figures
    messages: int = 0
    compactions: int = 0


def _valid(message: Mapping[str, Any], entry: Entry) -> dict[str, Any]:
    try:
        return _MESSAGE.validate_python(message).to_json_dict()
    except ValidationError as exc:
        raise UnrepresentableError(
            "a sessionspec log", f"line {entry.line}", f"this message ({exc.errors()[0]['msg']})"
        ) from None


class _Writer:
    """Builds the batch: messages chained from the root, compactions, the figures."""

    def __init__(self, timestamp: str) -> None:
        self.timestamp = timestamp
        self.plan = _Plan([], set(), Figures())
        self.seq = 1
        self.parent: str | None = None
        self.counted: set[str] = set()
        self.usage = dict.fromkeys(
            ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"), 0
        )
        self.turns = 0
        self.watermark = 0
        #: A compaction with nothing before it, waiting for the message it keeps from.
        self.leading: Entry | None = None

    def message(self, message: dict[str, Any]) -> str:
        entry_id = f"msg-{self.seq}"
        self.seq += 1
        self.plan.entries.append(message_entry(entry_id, self.parent, self.timestamp, message))
        self.plan.messages += 1
        self.parent = entry_id
        if message["role"] == "user":
            self.turns += 1
        elif message["role"] == "assistant":
            key = message.get("response_id") or entry_id
            if key not in self.counted:  # one request, counted once (FILES-013)
                self.counted.add(key)
                for name in self.usage:
                    self.usage[name] += int(message["usage"][name])
        if self.leading is not None:
            # The summary opened the source's context; ours keeps from this first message.
            leading, self.leading = self.leading, None
            self.compaction(leading, entry_id)
        return entry_id

    def compaction(self, entry: Entry, kept: str) -> str:
        compaction_id = f"cmp-{self.seq}"
        self.seq += 1
        total = sum(self.usage.values())
        self.watermark = total
        self.plan.entries.append({
            "type": "compaction",
            "id": compaction_id,
            "parent_id": self.parent,
            "timestamp": self.timestamp,
            "summary": entry.summary or "",
            "first_kept_entry_id": kept,
            "tokens_before": total,
            "tokens_after": 0,
            "ss_reason": "manual",
            "ss_summary_source": "imported",
        })
        self.plan.compactions += 1
        self.parent = compaction_id
        return compaction_id


def _plan(read: SessionRead, timestamp: str) -> _Plan:
    by_id = {e.id: e for e in reversed(read.entries)}  # the first of a repeated id wins
    writer = _Writer(timestamp)
    #: The source entry id -> the id of the first message written for it.
    first_written: dict[str, str] = {}
    for entry_id in read.active_branch:
        entry = by_id[entry_id]
        if entry.kind is EntryKind.MESSAGE:
            for index, message in enumerate(entry.messages):
                written = writer.message(_valid(message, entry))
                if index == 0:
                    first_written[entry.id] = written
        elif entry.kind is EntryKind.COMPACTION:
            if entry.replacement is not None:
                if not entry.replacement:
                    raise UnrepresentableError(
                        "a sessionspec log", f"line {entry.line}", "a history replaced by nothing"
                    )
                replacement_ids = [writer.message(_valid(m, entry)) for m in entry.replacement]
                writer.plan.replaced.add(writer.compaction(entry, replacement_ids[0]))
            elif entry.first_kept_entry_id is None:
                if writer.plan.messages:
                    raise UnrepresentableError(
                        "a sessionspec log", f"line {entry.line}",
                        "a compaction that keeps nothing of the history before it",
                    )
                writer.leading = entry
            else:
                kept_id = first_written.get(entry.first_kept_entry_id)
                if kept_id is None:
                    raise UnrepresentableError(
                        "a sessionspec log", f"line {entry.line}",
                        f"a compaction keeping from {entry.first_kept_entry_id!r}, which is "
                        "not a message before it",
                    )
                writer.compaction(entry, kept_id)
    if writer.leading is not None:
        raise UnrepresentableError(
            "a sessionspec log", f"line {writer.leading.line}",
            "a compaction summary with no message before or after it",
        )
    usage = writer.usage
    figures = Figures(
        usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"],
        usage["cache_write_tokens"], writer.turns, writer.watermark,
    )
    writer.plan.figures = figures
    writer.plan.entries.append(leaf_entry(writer.seq, writer.parent, figures, timestamp))
    return writer.plan


def verify_import(
    source: Sequence[Mapping[str, Any]],
    imported: Sequence[Mapping[str, Any]],
    replaced: frozenset[str] | set[str] = frozenset(),
) -> str | None:
    """The first difference between the source's context and the imported one, or None.

    Messages must be equal; summary slots must carry the same text, except the slots of
    ``replaced`` compactions, which the source does not have."""
    ours = [
        item for item in imported
        if not (item.get("type") == "compaction_summary"
                and item.get("compaction_entry_id") in replaced)
    ]
    if len(ours) != len(source):
        return f"the source context has {len(source)} items, the imported one {len(ours)}"
    for index, (theirs, mine) in enumerate(zip(source, ours, strict=True)):
        if theirs.get("type") == "compaction_summary":
            if mine.get("type") != "compaction_summary" or mine.get("summary") != theirs.get(
                "summary"
            ):
                return f"item {index}: summary differs"
        elif dict(theirs) != dict(mine):
            return f"item {index}: {theirs.get('role')} message differs"
    return None


def import_session(
    source: str | os.PathLike[str],
    to_dir: str | os.PathLike[str],
    *,
    format: str | None = None,
    session_id: str | None = None,
) -> ImportResult:
    """Convert ``source`` into ``<to_dir>/<session_id>.jsonl`` and verify it (FILES-014)."""
    read = read_session(source, format)
    if not read.active_branch:
        raise CallerError(f"{read.path}: no active branch to import (the file has no entries)")
    name = session_id or read.session_id or os.path.splitext(os.path.basename(read.path))[0]
    validate_session_id(name)
    directory = os.fspath(to_dir)
    path = session_path(directory, name)
    if os.path.exists(path):
        raise CallerError(f"{path}: a session file already exists there; not overwritten")
    timestamp = iso_timestamp(time.time())
    plan = _plan(read, timestamp)
    header = SessionHeader(
        id=name, timestamp=read.started or timestamp, cwd=read.cwd or "",
    ).to_json_dict()
    header["ss_imported_from"] = {"format": read.format, "session_id": read.session_id}
    log = JsonlLog.create(path, header, durability=Durability.SYNC)
    try:
        log.append(plan.entries, expected_head=0)
    except BaseException:
        log.close()
        os.remove(path)
        raise
    log.close()
    coordinator = SessionCoordinator.open_existing(path)
    try:
        replayed = coordinator.context()
    finally:
        coordinator.close()
    difference = verify_import(read.context, replayed, plan.replaced)
    if difference is not None:
        os.remove(path)
        raise ImportVerificationError(
            f"{read.path}: the imported log does not replay to the source's context "
            f"({difference}); nothing was kept"
        )
    return ImportResult(
        source=read.path,
        format=read.format,
        path=path,
        session_id=name,
        entries=len(plan.entries),
        messages=plan.messages,
        compactions=plan.compactions,
    )
