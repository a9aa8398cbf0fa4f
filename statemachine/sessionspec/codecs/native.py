"""Reader of our own session files (opi's JSONL v1 with sessionspec's framing; spec §3-§4).

The rules are the log's and the coordinator's, so this reader reuses them rather than
restating them: :func:`sessionspec.storage.jsonl.scan_log_bytes` classifies every line
(LOG-007: torn and uncommitted tails, corrupt lines, unknown entries, repeated ids, sequence
gaps) and :func:`sessionspec.reference.coordinator.context_of` gives the context a resumed
coordinator sends (COORD-020, COORD-041). What it adds is the common report: findings with
requirement ids, the tree, leaf targets (FILES-006) and tool pairing (FILES-008).
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
    text_or_none,
)
from sessionspec.errors import BadHeaderError
from sessionspec.reference.coordinator import (
    NO_TIP,
    chain_entries,
    context_dicts,
    context_of,
)
from sessionspec.storage.jsonl import scan_log_bytes
from sessionspec.storage.log import CRASH_RESIDUE, DamageKind

__all__ = ["FORMAT", "looks_like", "read_native"]

FORMAT = "sessionspec"

_RULE = {
    DamageKind.DUPLICATE_ID: ("LOG-013", Severity.ERROR),
    DamageKind.UNKNOWN_ENTRY: ("LOG-009", Severity.INFO),
}


def looks_like(first: Mapping[str, Any], second: Mapping[str, Any] | None) -> bool:
    """Our header (opi v1 with snake-case fields) followed by entries that carry ids."""
    if first.get("type") != "session" or first.get("version") != 1:
        return False
    if "ss_seq" in first or "parent_session" in first:
        return True
    if "provider" in first or "modelId" in first:
        return False  # pi's v1 header
    return second is None or ("id" in second and "parent_id" in second)


def read_native(path: str, data: bytes) -> SessionRead:
    findings: list[Finding] = []
    try:
        snapshot = scan_log_bytes(data, path=path)
    except BadHeaderError as exc:
        findings.append(Finding(
            "LOG-008", "bad_header", Severity.ERROR, exc.line, exc.offset, exc.reason,
        ))
        return assemble(format=FORMAT, path=path, entries=(), leaf_id=None,
                        findings=findings, size=len(data))
    for damage in snapshot.report.damage:
        requirement, severity = _RULE.get(damage.kind, ("LOG-007", Severity.ERROR))
        if damage.kind in CRASH_RESIDUE:
            severity = Severity.WARNING
        findings.append(Finding(
            requirement, damage.kind.value, severity, damage.line, damage.offset, damage.detail,
        ))
    raw = [record.entry for record in snapshot.records]
    entries: list[Entry] = []
    pointers: list[Entry] = []
    usage: list[UsageRecord] = []
    model: str | None = None
    title: str | None = None
    session_id = str(snapshot.header.get("id", "")) or None
    for record in snapshot.records:
        entry = record.entry
        kind = entry.get("type")
        entry_id = str(entry.get("id"))
        parent = text_or_none(entry.get("parent_id"))
        stamp = text_or_none(entry.get("timestamp"))
        if kind == "message" and isinstance(entry.get("message"), Mapping):
            message = dict(entry["message"])
            label = build.label_of(message)
            if title is None and message.get("role") == "user":
                title = label.removeprefix("user: ")
            if message.get("role") == "assistant":
                model = f"{message.get('provider')}:{message.get('model')}"
                usage.append(assistant_usage(
                    message, model=model, fallback_key=f"{FORMAT}:{session_id}:{entry_id}",
                    timestamp=stamp, line=record.line,
                ))
            entries.append(Entry(entry_id, parent, EntryKind.MESSAGE, record.line,
                                 record.offset, label, stamp, (message,)))
        elif kind == "compaction":
            entries.append(Entry(
                entry_id, parent, EntryKind.COMPACTION, record.line, record.offset,
                f"compaction ({entry.get('tokens_before')} tokens before)", stamp,
                summary=str(entry.get("summary", "")),
                first_kept_entry_id=entry.get("first_kept_entry_id")
                if isinstance(entry.get("first_kept_entry_id"), str) else None,
            ))
        elif kind == "leaf":
            target = entry.get("entry_id")
            if isinstance(target, str) and target != NO_TIP:
                pointers.append(Entry(entry_id, parent, EntryKind.LEAF, record.line,
                                      record.offset, f"leaf {entry_id!r}", stamp,
                                      target_id=target))
        else:
            entries.append(Entry(entry_id, parent, EntryKind.META, record.line, record.offset,
                                 str(kind), stamp))
    selection, _ = chain_entries(raw)
    context = context_dicts(context_of(raw))
    content_ids = {e.id for e in entries if e.kind is not EntryKind.META}
    for compaction in (e for e in entries if e.kind is EntryKind.COMPACTION):
        if compaction.first_kept_entry_id not in content_ids:
            findings.append(Finding(
                "COORD-022", "first_kept_missing", Severity.ERROR, compaction.line,
                compaction.offset,
                f"compaction {compaction.id!r} keeps from {compaction.first_kept_entry_id!r}, "
                "which is not an entry of the file; nothing was dropped",
            ))
    return assemble(
        format=FORMAT,
        path=path,
        entries=entries,
        leaf_id=selection.tip,
        findings=findings,
        usage=usage,
        session_id=session_id,
        title=title,
        model=model,
        cwd=snapshot.header.get("cwd") if isinstance(snapshot.header.get("cwd"), str) else None,
        started=snapshot.header.get("timestamp")
        if isinstance(snapshot.header.get("timestamp"), str) else None,
        leaf_pointers=pointers,
        context=context,
        lines=len(snapshot.records) + 1,
        size=len(data),
    )
