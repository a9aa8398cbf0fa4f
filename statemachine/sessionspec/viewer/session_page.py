"""The session page: one session file of any known format as a self-contained HTML page.

Rules (spec §16, VIEW)
----------------------
* The page is built from the :class:`~sessionspec.codecs.SessionRead` of the file, the same
  read ``check``, ``replay`` and ``tree`` print (VIEW-001): entries, active branch, context,
  usage and findings are never recomputed by other rules here.
* The tree holds every entry once, by its index in file order; an entry that repeats an id
  (FILES-004) is not a node (the first one wins) and shows as its finding. An entry whose
  parent is not in the file is a root (VIEW-002).
* Each compaction states its summary, the entries it cut (the ones in the context just
  before it that are not in the context after it) and the entry it keeps from (VIEW-003).
* Each tool call names the entry holding its result and each result the entry holding its
  call (VIEW-004). Each usage record is placed at the entry of its line, with its cost from
  the pricing table, or the cost the file states, or none (FILES-013, VIEW-005).
* Every finding keeps its requirement id, severity, line and byte offset (VIEW-006).
* Texts longer than ``max_text`` characters are cut, saying how much was left out; every
  string is stored once (VIEW-008).

Theory of operation
-------------------
:func:`session_view_data` turns the read into column arrays (one list per field, one item
per entry) with every string interned in one table, so a 100,000-entry session embeds as a
few integers per entry plus its distinct texts; the page's script builds the children lists
and the branch it shows from the parent column and renders only the rows in view.
:func:`render_session_page` puts that data, the script and the styles into one HTML file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.codecs import SessionRead
from sessionspec.codecs.model import Entry, EntryKind
from sessionspec.pricing import PricingTable
from sessionspec.viewer.page import render_page

__all__ = ["DEFAULT_MAX_TEXT", "render_session_page", "session_view_data"]

#: Characters of one text kept in the page (VIEW-008); ``0`` keeps every character.
DEFAULT_MAX_TEXT = 4000

#: One character per entry kind in the page's ``kind`` column.
KIND_CODES = {
    EntryKind.MESSAGE: "m",
    EntryKind.COMPACTION: "c",
    EntryKind.LEAF: "l",
    EntryKind.META: "x",
}

#: The finding codes the page marks as recovery findings (what a reader skipped or repaired).
RECOVERY_REQUIREMENTS = frozenset({"FILES-002", "FILES-005", "FILES-006", "LOG-007", "LOG-008"})


class _Strings:
    """An interning table: each distinct string stored once, referred to by its index."""

    __slots__ = ("index", "items", "max_text")

    def __init__(self, max_text: int) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}
        self.max_text = max_text

    def __call__(self, text: str) -> int:
        if self.max_text and len(text) > self.max_text:
            left_out = len(text) - self.max_text
            text = f"{text[: self.max_text]}… [{left_out} more characters not shown]"
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        return found


def _json_text(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def _block_text(block: Mapping[str, Any]) -> tuple[str, str]:
    """A content block as (part kind, text) for the page."""
    kind = block.get("type")
    if kind == "text":
        return "text", str(block.get("text", ""))
    if kind == "thinking":
        return "thinking", str(block.get("thinking", ""))
    if kind == "image":
        return "image", f"[image {block.get('media_type', '?')}]"
    return "other", _json_text(block)


def _message_parts(
    message: Mapping[str, Any],
    intern: _Strings,
    results: Mapping[str, int],
    calls: Mapping[str, int],
) -> list[list[Any]]:
    """The parts of one wire message.

    ``["u"|"a"|"s"|"o", text]`` user, assistant, system or other text; ``["t", text]``
    thinking; ``["c", name, arguments, call id, result entry or -1]``;
    ``["r", tool name, call id, text, is_error, call entry or -1]``; ``["i", text]`` image.
    """
    role = str(message.get("role", "?"))
    if message.get("type") == "compaction_summary":
        return [["s", intern(str(message.get("summary", "")))]]
    texts: list[str] = []
    parts: list[list[Any]] = []
    text_kind = {"user": "u", "assistant": "a", "system": "o", "developer": "o"}.get(role, "o")
    for block in message.get("content", ()) or ():
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "tool_call" and isinstance(block.get("tool_call"), Mapping):
            call = block["tool_call"]
            call_id = str(call.get("id", ""))
            parts.append(
                [
                    "c",
                    intern(str(call.get("name", "?"))),
                    intern(_json_text(call.get("arguments"))),
                    intern(call_id),
                    results.get(call_id, -1),
                ]
            )
            continue
        kind, text = _block_text(block)
        if role == "tool_result":
            texts.append(text)
        elif kind == "thinking":
            parts.append(["t", intern(text)])
        elif kind == "image":
            parts.append(["i", intern(text)])
        else:
            parts.append([text_kind, intern(text)])
    if role == "tool_result":
        call_id = str(message.get("tool_call_id", ""))
        parts.insert(
            0,
            [
                "r",
                intern(str(message.get("tool_name", "?"))),
                intern(call_id),
                intern("\n".join(texts)),
                1 if message.get("is_error") else 0,
                calls.get(call_id, -1),
            ],
        )
    elif role not in ("user", "assistant") and not parts:
        parts.append(["o", intern(f"({role})")])
    return parts


def _tool_index(entries: Sequence[Entry]) -> tuple[dict[str, int], dict[str, int]]:
    """Where each tool call and each tool result is: call id -> entry index (VIEW-004)."""
    calls: dict[str, int] = {}
    results: dict[str, int] = {}
    for position, entry in enumerate(entries):
        for message in entry.messages:
            role = message.get("role")
            if role == "tool_result":
                results.setdefault(str(message.get("tool_call_id", "")), position)
            elif role == "assistant":
                for block in message.get("content", ()) or ():
                    if isinstance(block, Mapping) and block.get("type") == "tool_call":
                        calls.setdefault(str(block["tool_call"].get("id", "")), position)
    return calls, results


def _compaction_cuts(
    entries: Sequence[Entry], parent: Sequence[int], by_id: Mapping[str, int]
) -> dict[int, list[int]]:
    """For each compaction: ``[kept from entry or -1, entries cut, first cut entry or -1,
    last cut entry or -1, messages in its replacement or -1]`` (VIEW-003).

    The context just before a compaction ``C`` (at entry granularity, as FILES-012 builds
    it) is the summary of the nearest compaction ``P`` above it, if any, followed by the
    messages of the branch from where ``P`` kept from (or from just after ``P`` if it kept
    nothing, or from the root without ``P``) down to ``C``. ``C`` cuts what precedes its
    first kept entry in that list (``P``'s summary included), or all of it when it keeps
    nothing or replaces the history. A first kept entry not in the list cuts nothing
    (FILES-007). Each compaction walks back only to where its context begins, so a branch
    is walked about once per compaction interval, not once per compaction from the root."""
    cuts: dict[int, list[int]] = {}
    #: Per compaction: where the context after it begins, as (entry, inclusive); ``(c,
    #: False)`` begins just after ``c``.
    begins: dict[int, tuple[int, bool]] = {}
    for position, entry in enumerate(entries):
        if entry.kind is not EntryKind.COMPACTION:
            continue
        previous = parent[position]
        guard: set[int] = set()
        while previous != -1 and previous not in guard:
            if entries[previous].kind is EntryKind.COMPACTION:
                break
            guard.add(previous)
            previous = parent[previous]
        if previous in guard:  # a parent cycle (FILES-005): no previous compaction
            previous = -1
        boundary, inclusive = (
            begins.get(previous, (previous, False)) if previous != -1 else (-1, False)
        )
        region: list[int] = []
        walk = parent[position]
        guard.clear()
        while walk != -1 and walk not in guard:
            guard.add(walk)
            if walk == boundary and not inclusive:
                break
            region.append(walk)
            if walk == boundary:
                break
            walk = parent[walk]
        region.reverse()
        keeps_nothing = entry.replacement is not None or entry.first_kept_entry_id is None
        kept = -1 if keeps_nothing else by_id.get(str(entry.first_kept_entry_id), -1)
        cut: list[int] = []
        if keeps_nothing:
            cut = [i for i in region if entries[i].kind is EntryKind.MESSAGE]
            if previous != -1:
                cut.insert(0, previous)
            begins[position] = (position, False)
        elif kept in region:
            start = region.index(kept)
            cut = [i for i in region[:start] if entries[i].kind is EntryKind.MESSAGE]
            if previous != -1 and kept != previous:
                cut.insert(0, previous)
            begins[position] = (kept, True)
        else:  # FILES-007: nothing dropped; the context goes on from where it began
            kept = -1
            begins[position] = (boundary, inclusive) if previous != -1 else (-1, False)
        cuts[position] = [
            kept,
            len(cut),
            cut[0] if cut else -1,
            cut[-1] if cut else -1,
            -1 if entry.replacement is None else len(entry.replacement),
        ]
    return cuts


def _deltas(values: Sequence[int]) -> list[int]:
    previous = 0
    out = []
    for value in values:
        out.append(value - previous)
        previous = value
    return out


def session_view_data(
    read: SessionRead, *, max_text: int = DEFAULT_MAX_TEXT, table: PricingTable | None = None
) -> dict[str, Any]:
    """The page's data for one read (VIEW-001..VIEW-008): column arrays and a string table.

    ``id``, ``parent`` (index, ``-1`` for a root), ``kind`` (one character per entry, see
    :data:`KIND_CODES`), ``line``, ``offset``, ``label`` (string index), ``time`` (string
    index or ``-1``), ``parts`` (per entry, see :func:`_message_parts`), ``side`` (indices
    of sub-agent entries), ``leaf`` (index or ``-1``), ``branch`` (the active branch, as
    indices, root first), ``compactions`` (see :func:`_compaction_cuts`), ``usage`` (per
    record ``[entry, input, output, cache read, cache write, cost in micro-USD or -1,
    model]``), ``findings`` (``[severity, requirement, code, line, offset, message, entry
    or -1, recovery 0/1]``), ``strings`` and ``meta``."""
    from sessionspec.reports import record_cost

    table = table or PricingTable.default()
    intern = _Strings(max_text)
    entries: list[Entry] = []
    by_id: dict[str, int] = {}
    for entry in read.entries:
        if entry.id in by_id:  # FILES-004: the first one wins; the repeat is a finding
            continue
        by_id[entry.id] = len(entries)
        entries.append(entry)
    parent = [
        by_id.get(entry.parent_id, -1) if entry.parent_id is not None else -1 for entry in entries
    ]
    calls, results = _tool_index(entries)
    parts: list[list[list[Any]]] = []
    for entry in entries:
        entry_parts: list[list[Any]] = []
        for message in entry.messages:
            entry_parts.extend(_message_parts(message, intern, results, calls))
        if entry.kind is EntryKind.COMPACTION:
            if entry.summary is not None or entry.replacement is None:
                entry_parts.insert(0, ["s", intern(entry.summary or "(no summary)")])
            for message in entry.replacement or ():
                entry_parts.extend(_message_parts(message, intern, results, calls))
        parts.append(entry_parts)
    by_line = {entry.line: position for position, entry in enumerate(entries)}
    usage: list[list[Any]] = []
    for record in read.usage:
        cost = record_cost(record, table)
        usage.append(
            [
                by_line.get(record.line, -1),
                record.input_tokens,
                record.output_tokens,
                record.cache_read_tokens,
                record.cache_write_tokens,
                -1 if cost is None else int((cost * 1_000_000).to_integral_value()),
                intern(record.model),
            ]
        )
    findings = [
        [
            finding.severity.value,
            finding.requirement,
            finding.code,
            finding.line,
            finding.offset,
            intern(finding.message),
            by_line.get(finding.line, -1),
            1 if finding.requirement in RECOVERY_REQUIREMENTS else 0,
        ]
        for finding in read.findings
    ]
    return {
        "version": 1,
        "meta": {
            "path": read.path,
            "name": os.path.basename(read.path),
            "format": read.format,
            "session_id": read.session_id,
            "title": read.title,
            "model": read.model,
            "cwd": read.cwd,
            "started": read.started,
            "lines": read.lines,
            "size": read.size,
            "entries": len(read.entries),
            "context_items": len(read.context),
            "recovery": read.recovery,
            "errors": len(read.errors),
            "pricing": table.version,
        },
        "id": [entry.id for entry in entries],
        # Deltas, so the common case (parent just before, lines in order) is one digit.
        "parent": [0 if up == -1 else position - up for position, up in enumerate(parent)],
        "kind": "".join(KIND_CODES[entry.kind] for entry in entries),
        "line": _deltas([entry.line for entry in entries]),
        "offset": _deltas([entry.offset for entry in entries]),
        "label": [intern(entry.label) for entry in entries],
        "time": [-1 if entry.timestamp is None else intern(entry.timestamp) for entry in entries],
        "parts": parts,
        "side": [position for position, entry in enumerate(entries) if entry.sidechain],
        "leaf": by_id.get(read.leaf_id, -1) if read.leaf_id is not None else -1,
        "branch": [by_id[entry_id] for entry_id in read.active_branch if entry_id in by_id],
        "compactions": {str(k): v for k, v in _compaction_cuts(entries, parent, by_id).items()},
        "usage": usage,
        "findings": findings,
        "strings": intern.items,
    }


def render_session_page(
    read: SessionRead, *, max_text: int = DEFAULT_MAX_TEXT, table: PricingTable | None = None
) -> str:
    """The self-contained HTML page of one session file (VIEW-001, VIEW-007)."""
    data = session_view_data(read, max_text=max_text, table=table)
    title = read.title or read.session_id or os.path.basename(read.path)
    return render_page(
        title=f"{title} — sessionspec view",
        body="session.html",
        styles=("base.css", "session.css"),
        scripts=("session.js",),
        data=data,
    )
