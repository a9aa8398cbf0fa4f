"""Reader of opi's older session layout: the v1 header, entries without ids
(spec/formats/opi_legacy.md).

Rules
-----
* Line 1 is opi's header (``type: session``, ``version: 1``); every later line is an opi
  entry object (``message``, ``compaction``, ``leaf``, ``extension_state``) written before
  entries carried ``id`` and ``parent_id``. Messages are already in the one message model's
  form (opi's JSON is the one we persist, WIRE-001).
* Without ids the session is one line of entries in file order: each gets ``L<line>`` and the
  entry before it as parent; the active leaf is the last entry (FILES-011).
* A compaction keeps from its ``first_kept_entry_id`` when that names an entry (an id this
  layout can only hold if a later writer added ids); otherwise nothing is dropped and
  FILES-007 reports it. ``leaf`` entries of this layout name nothing resolvable and are
  metadata.
* Usage: each assistant message's ``usage`` is one request, keyed by ``response_id`` when
  the message has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessionspec.codecs import build
from sessionspec.codecs.model import (
    Entry,
    EntryKind,
    Finding,
    SessionRead,
    Severity,
    UsageRecord,
    assemble,
    assistant_usage,
    session_header,
    text_or_none,
)

__all__ = ["FORMAT", "looks_like", "read_opi_legacy"]

FORMAT = "opi-legacy"
_ENTRY_TYPES = frozenset({"message", "compaction", "leaf", "extension_state"})


def looks_like(first: Mapping[str, Any], second: Mapping[str, Any] | None) -> bool:
    return (
        first.get("type") == "session"
        and first.get("version") == 1
        and second is not None
        and second.get("type") in _ENTRY_TYPES
        and "id" not in second
    )


def read_opi_legacy(path: str, data: bytes) -> SessionRead:
    findings: list[Finding] = []
    header, lines = session_header(path, data, findings, "opi")
    session_id = str(header.get("id", "")) or None
    entries: list[Entry] = []
    usage: list[UsageRecord] = []
    previous: str | None = None
    model: str | None = None
    title: str | None = None
    count = 1
    for source in lines:
        count = source.number
        obj = source.obj
        assert obj is not None
        kind = obj.get("type")
        entry_id = obj["id"] if isinstance(obj.get("id"), str) else f"L{source.number}"
        stamp = text_or_none(obj.get("timestamp"))
        if kind == "message" and isinstance(obj.get("message"), Mapping):
            message = dict(obj["message"])
            label = build.label_of(message)
            if title is None and message.get("role") == "user":
                title = label.removeprefix("user: ")
            if message.get("role") == "assistant":
                model = f"{message.get('provider')}:{message.get('model')}"
                usage.append(assistant_usage(
                    message, model=model, fallback_key=f"{FORMAT}:{session_id}:{entry_id}",
                    timestamp=stamp, line=source.number,
                ))
            entries.append(Entry(entry_id, previous, EntryKind.MESSAGE, source.number,
                                 source.offset, label, stamp, (message,)))
        elif kind == "compaction":
            first_kept = obj.get("first_kept_entry_id")
            entries.append(Entry(
                entry_id, previous, EntryKind.COMPACTION, source.number, source.offset,
                f"compaction ({obj.get('tokens_before')} tokens before)", stamp,
                summary=str(obj.get("summary", "")),
                first_kept_entry_id=first_kept if isinstance(first_kept, str) else "",
            ))
        elif kind in _ENTRY_TYPES:
            entries.append(Entry(entry_id, previous, EntryKind.META, source.number,
                                 source.offset, str(kind), stamp))
        else:
            findings.append(Finding(
                "FILES-002", "unknown_entry", Severity.INFO, source.number, source.offset,
                f"entry type {kind!r} is not an opi v1 entry; skipped",
            ))
            continue
        previous = entry_id
    return assemble(
        format=FORMAT,
        path=path,
        entries=entries,
        leaf_id=entries[-1].id if entries else None,
        findings=findings,
        usage=usage,
        session_id=session_id,
        title=title,
        model=model,
        cwd=text_or_none(header.get("cwd")),
        started=text_or_none(header.get("timestamp")),
        lines=count,
        size=len(data),
    )
