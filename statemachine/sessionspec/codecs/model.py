"""What a reader of a session file returns, and the rules every reader shares (spec §10, FILES).

Rules
-----
* A reader turns one file of another tool (or ours) into **entries**: nodes of a tree, each
  with an id, a parent id, the line and byte offset it came from, and what it means in the
  one message model (messages in their wire form, a compaction, a leaf pointer, or nothing
  the model sends: metadata). Formats without ids (Codex, pi v1, opi's older layout) get ids
  derived from their line numbers, ``L<line>``, and each entry's parent is the one before it.
* The reader names the **active leaf** by its format's own rule (FILES-011); everything else
  is common and lives here: the active branch is the parent walk from that leaf; the
  **context** is the branch with its compactions applied (FILES-012); the **checks** are
  duplicate ids (FILES-004), parent links and cycles (FILES-005), leaf targets (FILES-006),
  first kept entries (FILES-007), tool call/result pairing in the context (FILES-008).
* Every finding carries a requirement id, a severity, the 1-based line and the byte offset of
  the line it is about (0/0 for the file as a whole). ``error`` findings are violations of
  the format's own rules or of ours; ``warning`` findings are what a crash or a newer writer
  leaves and what the message model cannot express; ``info`` findings are facts.

Theory of operation
-------------------
Readers are single passes over the lines (:func:`iter_lines`) that build :class:`Entry`
values and :class:`UsageRecord` values; :func:`assemble` then indexes the entries once,
walks the branch iteratively (no recursion: a file may hold 100,000 entries) and replays the
compactions on it. Nothing here validates messages with pydantic: readers build wire dicts,
and :func:`assemble` checks them in one pass with the wire adapter only when asked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from sessionspec.errors import UnknownFormatError

__all__ = [
    "CRASH_RESIDUE_CODES",
    "Entry",
    "EntryKind",
    "Finding",
    "SessionRead",
    "Severity",
    "SourceLine",
    "UsageRecord",
    "assemble",
    "assistant_usage",
    "epoch_ms",
    "iter_lines",
    "mapping",
    "session_header",
    "summary_item",
    "text_or_none",
]


#: Finding codes a crash leaves behind (a writer cuts them; nothing else is wrong).
CRASH_RESIDUE_CODES = frozenset({"torn_tail", "unterminated_tail", "uncommitted_tail"})


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a reader or a check found, with the rule it is about (FILES-002)."""

    requirement: str
    code: str
    severity: Severity
    line: int
    offset: int
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement,
            "code": self.code,
            "severity": self.severity.value,
            "line": self.line,
            "offset": self.offset,
            "message": self.message,
        }


class EntryKind(enum.Enum):
    #: One or more messages that go into the context.
    MESSAGE = "message"
    #: A compaction: a summary, and either a first kept entry or a replacement history.
    COMPACTION = "compaction"
    #: A pointer that selects the active leaf (ours; not part of the context).
    LEAF = "leaf"
    #: In the tree, but sends nothing (model changes, hook progress, labels, ...).
    META = "meta"


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    parent_id: str | None
    kind: EntryKind
    line: int
    offset: int
    #: A short description for ``tree`` (``user: fix the tests``).
    label: str
    timestamp: str | None = None
    #: Messages in the wire form (``sessionspec.wire.messages``), in order.
    messages: tuple[dict[str, Any], ...] = ()
    #: Compaction: the summary sent in place of what was compacted (``None``: no summary).
    summary: str | None = None
    #: Compaction: the first entry kept from before it; ``None`` keeps nothing.
    first_kept_entry_id: str | None = None
    #: Compaction: the history that replaces everything before it (Codex); ``None`` if not.
    replacement: tuple[dict[str, Any], ...] | None = None
    #: Leaf: the entry it selects.
    target_id: str | None = None
    #: A sub-agent's entry (Claude Code sidechains): never on the main branch.
    sidechain: bool = False


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """The token usage of one provider request, as the file states it (FILES-013)."""

    #: What makes two records the same request (a provider request id where there is one).
    key: str
    timestamp: str | None
    #: ``provider:model`` as the pricing table looks it up.
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    #: A cost the file itself records (pi), in USD; ``None`` if it records none.
    stated_cost: float | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class SessionRead:
    """Everything a reader found in one file."""

    format: str
    path: str
    session_id: str | None
    title: str | None
    model: str | None
    cwd: str | None
    started: str | None
    entries: tuple[Entry, ...]
    #: Ids of the active branch, root first; empty when the file has no entries.
    active_branch: tuple[str, ...]
    leaf_id: str | None
    #: What an agent resumes with: wire messages and summary slots
    #: (``{"type": "compaction_summary", "compaction_entry_id", "summary"}``), as the
    #: coordinator's ``context()`` gives them (COORD-041).
    context: tuple[dict[str, Any], ...]
    usage: tuple[UsageRecord, ...]
    findings: tuple[Finding, ...]
    lines: int = 0
    size: int = 0

    @property
    def recovery(self) -> str:
        """The file's recovery class (FILES-002): ``clean``; ``crash residue`` (only a torn,
        unterminated or uncommitted tail: what a crash leaves and a writer cuts); or
        ``damaged`` (lines in the middle that cannot be read: not what a crash leaves)."""
        kinds = {
            f.code for f in self.findings if f.requirement in ("FILES-002", "LOG-007", "LOG-008")
        } - {"unknown_entry"}
        if not kinds:
            return "clean"
        if kinds <= CRASH_RESIDUE_CODES:
            return "crash residue"
        return "damaged"

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors

    def turns(self) -> int:
        """User messages in the file, on every branch, sub-agents left out (what a listing
        shows as turns, FILES-015)."""
        return sum(
            1
            for entry in self.entries
            if not entry.sidechain and entry.kind is EntryKind.MESSAGE
            for message in entry.messages
            if message.get("role") == "user"
        )


@dataclass(frozen=True, slots=True)
class SourceLine:
    number: int
    offset: int
    raw: bytes
    #: The decoded JSON object, or ``None`` when the line is not one.
    obj: dict[str, Any] | None
    #: True when this is the last line and the file does not end with a newline.
    torn: bool


def iter_lines(data: bytes, findings: list[Finding]) -> Iterator[SourceLine]:
    """Each non-blank line with its number and offset, decoded (FILES-002).

    A last line without its newline that does not decode is a torn tail (a crash cut the
    write short): a warning, and the line is skipped. Any other line that is not a JSON
    object is a corrupt line: an error, and the line is skipped. A last line without its
    newline that does decode is kept and reported as an unterminated tail (warning).
    """
    offset = 0
    number = 0
    size = len(data)
    while offset < size:
        end = data.find(b"\n", offset)
        last = end < 0
        stop = size if last else end
        number += 1
        raw = data[offset:stop]
        start = offset
        offset = stop + 1
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            if last:
                findings.append(Finding(
                    "FILES-002", "torn_tail", Severity.WARNING, number, start,
                    "the last line is cut short (no newline, not JSON): crash residue, skipped",
                ))
            else:
                findings.append(Finding(
                    "FILES-002", "corrupt_line", Severity.ERROR, number, start,
                    "not a JSON object; skipped",
                ))
            continue
        if last:
            findings.append(Finding(
                "FILES-002", "unterminated_tail", Severity.WARNING, number, start,
                "the last line has no newline (the write may not have finished)",
            ))
        yield SourceLine(number, start, raw, obj, last)


def epoch_ms(value: Any) -> int:
    """Milliseconds since the epoch of an ISO 8601 string or a number; 0 if neither."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return 0
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return 0


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (readers never trust a shape)."""
    if type(value) is dict:  # what orjson builds: skip the slower ABC check
        return value
    return value if isinstance(value, Mapping) else {}


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def session_header(
    path: str, data: bytes, findings: list[Finding], product: str
) -> tuple[dict[str, Any], Iterator[SourceLine]]:
    """The ``type: session`` header object on line 1 and the lines after it (FILES-002).

    :class:`~sessionspec.errors.UnknownFormatError` (naming ``product``) when line 1 is not
    such a header."""
    lines = iter_lines(data, findings)
    header_line = next(lines, None)
    if header_line is None or header_line.obj is None or header_line.obj.get("type") != "session":
        raise UnknownFormatError(path, f"no {product} session header on line 1")
    return header_line.obj, lines


def assistant_usage(
    message: Mapping[str, Any], *, model: str, fallback_key: str, timestamp: str | None, line: int
) -> UsageRecord:
    """The usage record of an assistant message in the snake-case (opi/native) form: keyed by
    its ``response_id``, else by ``fallback_key`` (FILES-013)."""
    counters = mapping(message.get("usage"))
    return UsageRecord(
        key=str(message.get("response_id") or fallback_key),
        timestamp=timestamp,
        model=model,
        input_tokens=int(counters.get("input_tokens", 0)),
        output_tokens=int(counters.get("output_tokens", 0)),
        cache_read_tokens=int(counters.get("cache_read_tokens", 0)),
        cache_write_tokens=int(counters.get("cache_write_tokens", 0)),
        line=line,
    )


def summary_item(entry_id: str, summary: str) -> dict[str, Any]:
    """A summary slot as the coordinator's context shows it (COORD-041)."""
    return {"type": "compaction_summary", "compaction_entry_id": entry_id, "summary": summary}


@dataclass(slots=True)
class _Index:
    by_id: dict[str, Entry] = field(default_factory=dict)
    children: dict[str | None, list[str]] = field(default_factory=dict)


def _index(entries: Sequence[Entry], findings: list[Finding]) -> _Index:
    index = _Index()
    for entry in entries:
        if entry.id in index.by_id:  # FILES-004: the first one wins
            first = index.by_id[entry.id]
            findings.append(Finding(
                "FILES-004", "duplicate_id", Severity.ERROR, entry.line, entry.offset,
                f"id {entry.id!r} already used by line {first.line}; the first one wins",
            ))
            continue
        index.by_id[entry.id] = entry
    for entry in entries:
        if index.by_id.get(entry.id) is entry:
            index.children.setdefault(entry.parent_id, []).append(entry.id)
    for entry in entries:
        parent = entry.parent_id
        if parent is not None and parent not in index.by_id:
            findings.append(Finding(
                "FILES-005", "missing_parent", Severity.ERROR, entry.line, entry.offset,
                f"entry {entry.id!r} names parent {parent!r}, which is not in the file",
            ))
    return index


def _branch(index: _Index, leaf: Entry, findings: list[Finding]) -> list[Entry]:
    path: list[Entry] = []
    seen: set[str] = set()
    current: Entry | None = leaf
    while current is not None:
        if current.id in seen:  # FILES-005: a cycle
            findings.append(Finding(
                "FILES-005", "parent_cycle", Severity.ERROR, current.line, current.offset,
                f"the parent walk from {leaf.id!r} met {current.id!r} twice; stopped there",
            ))
            break
        seen.add(current.id)
        path.append(current)
        parent = current.parent_id
        current = index.by_id.get(parent) if parent is not None else None
    path.reverse()
    return path


def _context(path: Sequence[Entry], findings: list[Finding]) -> list[dict[str, Any]]:
    """The branch with its compactions applied (FILES-012, FILES-007)."""
    items: list[tuple[str, dict[str, Any]]] = []
    for entry in path:
        if entry.kind is EntryKind.MESSAGE:
            items.extend((entry.id, message) for message in entry.messages)
        elif entry.kind is EntryKind.COMPACTION:
            if entry.replacement is not None:
                kept = [(entry.id, message) for message in entry.replacement]
            elif entry.first_kept_entry_id is None:
                kept = []
            else:
                start = next(
                    (i for i, (eid, _) in enumerate(items) if eid == entry.first_kept_entry_id),
                    None,
                )
                if start is None:
                    findings.append(Finding(
                        "FILES-007", "first_kept_missing", Severity.ERROR, entry.line,
                        entry.offset,
                        f"compaction {entry.id!r} keeps from {entry.first_kept_entry_id!r}, "
                        "which is not before it on its branch; nothing was dropped",
                    ))
                    kept = items
                else:
                    kept = items[start:]
            items = kept
            if entry.summary is not None:
                items = [(entry.id, summary_item(entry.id, entry.summary)), *kept]
    return _merge_responses([message for _, message in items])


def _merge_responses(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive assistant messages with the same response id are one response (Claude
    Code writes one line per content block): their content joins; the usage, which every
    line repeats, is taken once (FILES-012)."""
    merged: list[dict[str, Any]] = []
    for item in items:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and item.get("role") == "assistant"
            and previous.get("role") == "assistant"
            and item.get("response_id") is not None
            and item.get("response_id") == previous.get("response_id")
        ):
            joined = dict(item)
            joined["content"] = [*previous["content"], *item["content"]]
            merged[-1] = joined
        else:
            merged.append(item)
    return merged


def check_tool_pairing(
    context: Sequence[Mapping[str, Any]],
    where: Mapping[str, tuple[int, int]],
    results_where: Mapping[str, tuple[int, int]] | None = None,
) -> list[Finding]:
    """Every tool call in the context is answered by exactly one result after it, and every
    result answers a call before it (FILES-008). A call still open at the very end of the
    context is a turn the writer did not finish: a warning, not an error."""
    found: list[Finding] = []
    open_calls: dict[str, int] = {}
    answered: set[str] = set()
    line, offset = 0, 0
    for position, item in enumerate(context):
        role = item.get("role")
        if role == "assistant":
            for block in item.get("content", ()):
                if isinstance(block, Mapping) and block.get("type") == "tool_call":
                    call_id = str(block["tool_call"]["id"])
                    open_calls[call_id] = position
        elif role == "tool_result":
            call_id = str(item.get("tool_call_id"))
            line, offset = (results_where or where).get(call_id, (0, 0))
            if call_id in answered:
                found.append(Finding(
                    "FILES-008", "duplicate_tool_result", Severity.ERROR, line, offset,
                    f"tool call {call_id!r} has more than one result in the context",
                ))
            elif call_id not in open_calls:
                found.append(Finding(
                    "FILES-008", "orphan_tool_result", Severity.ERROR, line, offset,
                    f"tool result for {call_id!r} answers no earlier tool call in the context",
                ))
            else:
                del open_calls[call_id]
                answered.add(call_id)
    if open_calls:
        last_position = len(context) - 1
        for call_id, position in open_calls.items():
            line, offset = where.get(call_id, (0, 0))
            trailing = all(
                context[p].get("role") == "tool_result"
                for p in range(position + 1, last_position + 1)
            )
            found.append(Finding(
                "FILES-008",
                "pending_tool_call" if trailing else "unanswered_tool_call",
                Severity.WARNING if trailing else Severity.ERROR,
                line,
                offset,
                f"tool call {call_id!r} has no result in the context"
                + (" (the session ends before it was answered)" if trailing else ""),
            ))
    return found


def assemble(
    *,
    format: str,
    path: str,
    entries: Sequence[Entry],
    leaf_id: str | None,
    findings: list[Finding],
    usage: Sequence[UsageRecord] = (),
    session_id: str | None = None,
    title: str | None = None,
    model: str | None = None,
    cwd: str | None = None,
    started: str | None = None,
    leaf_pointers: Sequence[Entry] = (),
    context: Sequence[dict[str, Any]] | None = None,
    lines: int = 0,
    size: int = 0,
) -> SessionRead:
    """Index the entries, walk the active branch, replay it and run the common checks.

    ``leaf_pointers`` are entries whose ``target_id`` must name an entry (FILES-006).
    ``context``, when given, is the format's own replay (ours uses the reference model)."""
    index = _index(entries, findings)
    for pointer in leaf_pointers:
        if pointer.target_id is not None and pointer.target_id not in index.by_id:
            findings.append(Finding(
                "FILES-006", "dangling_leaf", Severity.ERROR, pointer.line, pointer.offset,
                f"{pointer.label} points at {pointer.target_id!r}, which is not in the file",
            ))
    branch: list[Entry] = []
    if leaf_id is not None:
        leaf = index.by_id.get(leaf_id)
        if leaf is not None:
            branch = _branch(index, leaf, findings)
    replayed = list(context) if context is not None else _context(branch, findings)
    calls_where: dict[str, tuple[int, int]] = {}
    results_where: dict[str, tuple[int, int]] = {}
    for entry in entries:
        for message in (*entry.messages, *(entry.replacement or ())):
            role = message.get("role")
            if role == "tool_result":
                results_where[str(message.get("tool_call_id"))] = (entry.line, entry.offset)
            elif role == "assistant":
                for block in message.get("content", ()):
                    if isinstance(block, Mapping) and block.get("type") == "tool_call":
                        calls_where[str(block["tool_call"]["id"])] = (entry.line, entry.offset)
    findings.extend(check_tool_pairing(replayed, calls_where, results_where))
    findings.sort(key=lambda f: (f.line, f.offset))
    return SessionRead(
        format=format,
        path=path,
        session_id=session_id,
        title=title,
        model=model,
        cwd=cwd,
        started=started,
        entries=tuple(entries),
        active_branch=tuple(e.id for e in branch),
        leaf_id=leaf_id if branch else None,
        context=tuple(replayed),
        usage=tuple(usage),
        findings=tuple(findings),
        lines=lines,
        size=size,
    )
