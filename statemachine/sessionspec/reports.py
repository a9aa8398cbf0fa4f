"""Views over session files of any format: usage and cost, the listing of a folder, the entry
tree (spec §10, FILES-013, FILES-015, FILES-016).

Rules
-----
* **Usage is counted once per request** (FILES-013). Every reader names each request by a
  key (a provider request id where the file has one: Claude Code's ``message.id`` with
  ``requestId``, an assistant message's ``response_id``; otherwise what the format makes
  unique); across all the files of one report a key is counted the first time it is seen,
  so resumed, forked and copied sessions do not count a request twice.
* **Cost comes from the pricing table** (COORD-140..COORD-142) through its public
  functions; a request whose model the table does not price takes the cost the file itself
  states (pi records one), and otherwise is counted as unpriced, never as zero.
* **A listing is newest first** (FILES-015): sessions ordered by the modification time of
  their file, each with its title, model, turns and cost; a file no reader recognizes is
  listed apart with the reason, never dropped silently.
* **The tree** (FILES-016) shows every entry once, children in file order; a chain without
  branches stays at one indentation; the active branch is marked.

Theory of operation: pure functions over :class:`~sessionspec.codecs.SessionRead` values,
so the CLI, the tests and an embedder share them; no I/O except :func:`list_sessions`, which
reads the files it lists.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sessionspec.codecs import SessionRead, read_session
from sessionspec.codecs.model import EntryKind, UsageRecord
from sessionspec.errors import SessionSpecError
from sessionspec.pricing import PricingTable, cost_of
from sessionspec.usage import CumulativeUsage

__all__ = [
    "SessionListing",
    "SessionSummary",
    "UsageReport",
    "UsageRow",
    "entry_tree",
    "find_session_files",
    "list_sessions",
    "record_cost",
    "tree_lines",
    "usage_report",
]


@dataclass(slots=True)
class UsageRow:
    """Token and cost totals of one group (a day, a session, a model, or everything)."""

    name: str
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal = Decimal(0)
    #: Requests whose cost is unknown (no price in the table and none stated in the file).
    unpriced: int = 0

    def add(self, record: UsageRecord, cost: Decimal | None) -> None:
        self.requests += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cache_read_tokens += record.cache_read_tokens
        self.cache_write_tokens += record.cache_write_tokens
        if cost is None:
            self.unpriced += 1
        else:
            self.cost += cost

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens + self.output_tokens + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": str(self.cost),  # a decimal string: money is never a float (COORD-145)
            "unpriced_requests": self.unpriced,
        }


@dataclass(slots=True)
class UsageReport:
    pricing_version: str
    total: UsageRow = field(default_factory=lambda: UsageRow("total"))
    by_day: dict[str, UsageRow] = field(default_factory=dict)
    by_session: dict[str, UsageRow] = field(default_factory=dict)
    by_model: dict[str, UsageRow] = field(default_factory=dict)
    files: int = 0
    #: Records skipped because their request was already counted (FILES-013).
    duplicates: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "pricing_version": self.pricing_version,
            "files": self.files,
            "duplicate_requests": self.duplicates,
            "total": self.total.to_json(),
            "by_day": [row.to_json() for _, row in sorted(self.by_day.items())],
            "by_session": [row.to_json() for _, row in sorted(self.by_session.items())],
            "by_model": [row.to_json() for _, row in sorted(self.by_model.items())],
        }


def record_cost(record: UsageRecord, table: PricingTable) -> Decimal | None:
    """The cost of one request: the table's price, else the file's own figure, else None.

    Money is a ``Decimal``; a figure the file states as a JSON number is taken by its decimal
    text, so ``0.1`` stays ``0.1``."""
    usage = CumulativeUsage(
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cache_read_tokens=record.cache_read_tokens,
        cache_write_tokens=record.cache_write_tokens,
    )
    breakdown = cost_of(usage, record.model, table)
    if breakdown is not None:
        return breakdown.total
    if record.stated_cost is None:
        return None
    return Decimal(str(record.stated_cost))


def usage_report(reads: Iterable[SessionRead], table: PricingTable | None = None) -> UsageReport:
    """Tokens and cost by day, session and model, each request counted once (FILES-013)."""
    table = table or PricingTable.default()
    report = UsageReport(pricing_version=table.version)
    seen: set[str] = set()
    for read in reads:
        report.files += 1
        session = read.session_id or os.path.basename(read.path)
        for record in read.usage:
            if record.key in seen:
                report.duplicates += 1
                continue
            seen.add(record.key)
            cost = record_cost(record, table)
            day = record.timestamp[:10] if record.timestamp else "unknown"
            report.total.add(record, cost)
            for groups, name in (
                (report.by_day, day),
                (report.by_session, session),
                (report.by_model, record.model),
            ):
                row = groups.get(name)
                if row is None:
                    row = groups[name] = UsageRow(name)
                row.add(record, cost)
    return report


def find_session_files(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The ``*.jsonl`` files named or found under the given paths, sorted, each once."""
    found: set[str] = set()
    for path in paths:
        name = os.fspath(path)
        if os.path.isdir(name):
            for root, _dirs, files in os.walk(name):
                found.update(os.path.join(root, f) for f in files if f.endswith(".jsonl"))
        else:
            found.add(name)
    return sorted(found)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One line of a listing (FILES-015)."""

    path: str
    format: str
    session_id: str | None
    title: str | None
    model: str | None
    turns: int
    entries: int
    cost: Decimal | None
    modified: float
    errors: int


@dataclass(frozen=True, slots=True)
class SessionListing:
    sessions: tuple[SessionSummary, ...]
    #: Files that could not be read, with the reason.
    skipped: tuple[tuple[str, str], ...]


def list_sessions(
    folder: str | os.PathLike[str], table: PricingTable | None = None
) -> SessionListing:
    """The sessions under ``folder``, newest first, with title, model, turns and cost."""
    table = table or PricingTable.default()
    sessions: list[SessionSummary] = []
    skipped: list[tuple[str, str]] = []
    for path in find_session_files([folder]):
        try:
            read = read_session(path)
        except (SessionSpecError, OSError) as exc:
            skipped.append((path, str(exc)))
            continue
        costs = [record_cost(r, table) for r in read.usage]
        known = [c for c in costs if c is not None]
        sessions.append(SessionSummary(
            path=path,
            format=read.format,
            session_id=read.session_id,
            title=read.title,
            model=read.model,
            turns=read.turns(),
            entries=len(read.entries),
            cost=sum(known, Decimal(0)) if known else None,
            modified=os.stat(path).st_mtime,
            errors=len(read.errors),
        ))
    sessions.sort(key=lambda s: (s.modified, s.path), reverse=True)
    return SessionListing(tuple(sessions), tuple(skipped))


def entry_tree(source: Any) -> SessionRead:
    """The entry tree of a session (FILES-016): ``source`` is a coordinator (its own file is
    read) or the path of a session file of any known format. The result's ``entries`` are
    the nodes (id, parent, kind, line), ``active_branch`` the ids from the root to the leaf."""
    path = getattr(source, "session_path", source)
    return read_session(path)


def tree_lines(read: SessionRead) -> list[str]:
    """The entry tree, one line per entry (FILES-016): ``*`` marks the active branch, the
    leaf says so, sub-agent entries are marked; children in file order; a node with one
    child keeps its indentation, a branch point indents each child under a ``├─``/``└─``."""
    children: dict[str | None, list[int]] = {}
    ids = {entry.id for entry in read.entries}
    seen: set[str] = set()
    for position, entry in enumerate(read.entries):
        if entry.id in seen:
            continue
        seen.add(entry.id)
        parent = entry.parent_id if entry.parent_id in ids else None
        children.setdefault(parent, []).append(position)
    active = set(read.active_branch)
    out: list[str] = []
    stack: list[tuple[int, str, str]] = [
        (position, "", "") for position in reversed(children.get(None, []))
    ]
    visited: set[int] = set()
    while stack:
        position, prefix, marker = stack.pop()
        if position in visited:
            continue
        visited.add(position)
        entry = read.entries[position]
        flag = "*" if entry.id in active else " "
        notes = []
        if entry.id == read.leaf_id:
            notes.append("◀ leaf")
        if entry.kind is EntryKind.COMPACTION:
            notes.append("(compaction)")
        suffix = ("  " + " ".join(notes)) if notes else ""
        out.append(f"{flag} {prefix}{marker}{entry.label}  [{entry.id} L{entry.line}]{suffix}")
        kids = children.get(entry.id, [])
        inner = prefix + _CONTINUATION[marker]
        if len(kids) == 1:
            stack.append((kids[0], inner, ""))
        else:
            for index in reversed(range(len(kids))):
                stack.append((kids[index], inner, "└─ " if index == len(kids) - 1 else "├─ "))
    return out


#: What a child's lines carry under its parent's branch marker.
_CONTINUATION = {"": "", "├─ ": "│  ", "└─ ": "   "}
