"""Reader of pi coding agent session files, versions 1, 2 and 3 (spec/formats/pi.md).

Rules
-----
* Line 1 is the header ``{"type": "session", "version"?, "id", "timestamp", "cwd",
  "parentSession"?}``; no ``version`` means 1. It is not part of the tree (FILES-003).
* Version 2 and 3 entries carry ``id`` and ``parentId``; version 1 entries have neither and
  form one line: each gets the id ``L<line>`` and the entry before it as parent, and a v1
  compaction's ``firstKeptEntryIndex`` (an index into the entries after the header) is
  translated to the id of that entry, as pi's own migration does.
* Version 3 renamed the message role ``hookMessage`` to ``custom``; both are read.
* The active leaf is the last entry in file order (pi never persists its leaf; FILES-011).
* What goes into the context: ``message`` entries (user, assistant, toolResult; a
  ``bashExecution`` and a ``custom``/``hookMessage`` are sent as user text, as pi sends
  them), ``custom_message`` and ``branch_summary`` entries (user text), and ``compaction``
  entries (summary, then the entries from ``firstKeptEntryId`` on). ``model_change``,
  ``thinking_level_change``, ``custom``, ``label`` and ``session_info`` are metadata.
* Usage: every assistant message's ``usage`` is one request; the file states its own
  ``totalTokens`` and dollar ``cost``, which FILES-009 checks against the counters.
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
    SourceLine,
    UsageRecord,
    assemble,
    epoch_ms,
    mapping,
    session_header,
    text_or_none,
)

__all__ = ["FORMAT", "looks_like", "read_pi"]

FORMAT = "pi"

_STOP = {"stop": "stop", "length": "length", "toolUse": "tool_use", "error": "error",
         "aborted": "aborted"}
_META_TYPES = frozenset({
    "model_change", "thinking_level_change", "custom", "label", "session_info",
})


def looks_like(first: Mapping[str, Any]) -> bool:
    """A pi header: ``type: session`` with a version other than opi's framed form.

    opi's (and so our) header has ``version: 1`` and snake-case fields; pi's v1 header has
    no version, v2 and v3 say so. A v1 pi header and an opi header are told apart by
    ``provider``/``modelId`` (pi) and by the entries; :func:`sessionspec.codecs.detect`
    asks the native reader first."""
    return first.get("type") == "session" and first.get("version") in (None, 1, 2, 3)


def _content(
    value: Any, where: SourceLine, findings: list[Finding]
) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [build.text(value)]
    blocks: list[dict[str, Any]] = []
    for block in value if isinstance(value, list) else ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            blocks.append(build.text(str(block.get("text", ""))))
        elif kind == "image":
            media = block.get("mimeType")
            if media in build.IMAGE_TYPES and isinstance(block.get("data"), str):
                blocks.append(build.image(block["data"], str(media)))
            else:
                findings.append(_unrepresentable(where, f"an image of type {media!r}"))
                blocks.append(build.text(f"[image: {media}]"))
        else:
            findings.append(_unrepresentable(where, f"a content block of type {kind!r}"))
    return blocks


def _unrepresentable(where: SourceLine, what: str) -> Finding:
    return Finding(
        "FILES-010", "unrepresentable", Severity.WARNING, where.number, where.offset,
        f"the message model cannot express {what}; shown as text or left out of the context",
    )


def _assistant(
    message: Mapping[str, Any], where: SourceLine, findings: list[Finding]
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            blocks.append(build.text(str(block.get("text", ""))))
        elif kind == "thinking":
            blocks.append(build.thinking(str(block.get("thinking", ""))))
        elif kind == "toolCall":
            blocks.append(
                build.tool_call(str(block.get("id")), str(block.get("name")),
                                block.get("arguments", {}))
            )
        else:
            findings.append(_unrepresentable(where, f"an assistant block of type {kind!r}"))
    usage = mapping(message.get("usage"))
    api = build.api_kind(message.get("api"), message.get("provider"))
    if api is None:
        findings.append(_unrepresentable(where, f"the provider API {message.get('api')!r}"))
        api = "OpenAi"
    stop = _STOP.get(str(message.get("stopReason")), "stop")
    built = build.assistant(
        blocks,
        api=api,
        provider=str(message.get("provider", "")),
        model=str(message.get("model", "")),
        usage={
            "input_tokens": _count(usage, "input"),
            "output_tokens": _count(usage, "output"),
            "cache_read_tokens": _count(usage, "cacheRead"),
            "cache_write_tokens": _count(usage, "cacheWrite"),
        },
        stop_reason=stop,
        timestamp_ms=epoch_ms(message.get("timestamp")),
        response_id=text_or_none(message.get("responseId")),
        error_message=text_or_none(message.get("errorMessage")),
    )
    return built


def _count(usage: Mapping[str, Any], name: str) -> int:
    value = usage.get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _check_usage(
    usage: Mapping[str, Any], where: SourceLine, findings: list[Finding]
) -> float | None:
    """FILES-009: counters are non-negative integers; the stated total and cost add up."""
    for name in ("input", "output", "cacheRead", "cacheWrite", "totalTokens"):
        value = usage.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            findings.append(Finding(
                "FILES-009", "bad_usage_counter", Severity.ERROR, where.number, where.offset,
                f"usage.{name} is {value!r}, not a non-negative integer",
            ))
    parts = sum(_count(usage, n) for n in ("input", "output", "cacheRead", "cacheWrite"))
    total = usage.get("totalTokens")
    if isinstance(total, int) and total != parts:
        findings.append(Finding(
            "FILES-009", "usage_total_mismatch", Severity.WARNING, where.number, where.offset,
            f"usage.totalTokens is {total}, the counters add up to {parts}",
        ))
    cost = usage.get("cost")
    if not isinstance(cost, Mapping):
        return None
    stated = cost.get("total")
    pieces = [cost.get(n, 0) for n in ("input", "output", "cacheRead", "cacheWrite")]
    if isinstance(stated, int | float) and all(isinstance(p, int | float) for p in pieces):
        if abs(float(stated) - float(sum(pieces))) > 1e-9 + 1e-6 * abs(float(stated)):
            findings.append(Finding(
                "FILES-009", "cost_total_mismatch", Severity.WARNING, where.number, where.offset,
                f"usage.cost.total is {stated}, its parts add up to {sum(pieces)}",
            ))
        return float(stated)
    return None


def _messages(
    entry: Mapping[str, Any], where: SourceLine, findings: list[Finding],
    usage: list[UsageRecord],
) -> tuple[list[dict[str, Any]], str]:
    message = entry.get("message")
    if not isinstance(message, Mapping):
        findings.append(Finding(
            "FILES-003", "bad_entry", Severity.ERROR, where.number, where.offset,
            "a message entry without a message object",
        ))
        return [], "message?"
    role = message.get("role")
    stamp = epoch_ms(message.get("timestamp")) or epoch_ms(entry.get("timestamp"))
    if role == "user":
        built = build.user(_content(message.get("content"), where, findings), stamp)
    elif role == "assistant":
        built = _assistant(message, where, findings)
        raw_usage = mapping(message.get("usage"))
        stated = _check_usage(raw_usage, where, findings)
        counters = built["usage"]
        key = built["response_id"] or (
            f"pi:{message.get('provider')}:{message.get('model')}:{stamp}:"
            f"{counters['input_tokens']}:{counters['output_tokens']}"
        )
        usage.append(UsageRecord(
            key=key,
            timestamp=text_or_none(entry.get("timestamp")),
            model=f"{message.get('provider')}:{message.get('model')}",
            stated_cost=stated,
            line=where.number,
            **counters,
        ))
    elif role == "toolResult":
        built = build.tool_result(
            str(message.get("toolCallId")), str(message.get("toolName")),
            _content(message.get("content"), where, findings),
            is_error=bool(message.get("isError")), timestamp_ms=stamp,
            details=message.get("details"),
        )
    elif role == "bashExecution":
        if message.get("excludeFromContext"):
            return [], f"bash (not sent): {message.get('command')}"
        output = str(message.get("output", ""))
        body = f"Ran `{message.get('command')}`\n```\n{output}\n```"
        if message.get("exitCode") not in (0, None):
            body += f"\nCommand exited with code {message.get('exitCode')}"
        built = build.user([build.text(body)], stamp)
    elif role in ("custom", "hookMessage"):
        built = build.user(_content(message.get("content"), where, findings), stamp)
    else:
        findings.append(_unrepresentable(where, f"a message of role {role!r}"))
        return [], f"{role}?"
    return [built], build.label_of(built)


def read_pi(path: str, data: bytes) -> SessionRead:
    """Read a pi session file (any version) from its bytes."""
    findings: list[Finding] = []
    header, lines = session_header(path, data, findings, "pi")
    version = header.get("version", 1)
    if version not in (1, 2, 3):
        findings.append(Finding(
            "FILES-003", "unsupported_version", Severity.ERROR, 1, 0,
            f"pi session version {version!r} is not 1, 2 or 3",
        ))
    session_id = str(header.get("id", "")) or None
    entries: list[Entry] = []
    pointers: list[Entry] = []
    usage: list[UsageRecord] = []
    title: str | None = None
    model = (
        f"{header['provider']}:{header['modelId']}"
        if isinstance(header.get("provider"), str) and isinstance(header.get("modelId"), str)
        else None
    )
    linear = version == 1
    previous: str | None = None
    by_index: list[str] = []
    count = 1
    for source in lines:
        count = source.number
        obj = source.obj
        assert obj is not None
        kind = obj.get("type")
        if linear:
            entry_id = f"L{source.number}"
            parent = previous
        else:
            raw_id, parent_raw = obj.get("id"), obj.get("parentId")
            if not isinstance(raw_id, str) or not raw_id:
                findings.append(Finding(
                    "FILES-005", "missing_id", Severity.ERROR, source.number, source.offset,
                    f"a version {version} entry without an id; skipped",
                ))
                continue
            entry_id = raw_id
            parent = parent_raw if isinstance(parent_raw, str) else None
        by_index.append(entry_id)
        previous = entry_id
        stamp = text_or_none(obj.get("timestamp"))
        if kind == "message":
            messages, label = _messages(obj, source, findings, usage)
            entries.append(Entry(entry_id, parent, EntryKind.MESSAGE, source.number,
                                 source.offset, label, stamp, tuple(messages)))
            if messages and messages[0]["role"] == "assistant" and messages[0]["model"]:
                model = f"{messages[0]['provider']}:{messages[0]['model']}"
        elif kind == "compaction":
            first_kept = obj.get("firstKeptEntryId")
            if linear and isinstance(obj.get("firstKeptEntryIndex"), int):
                index = obj["firstKeptEntryIndex"]
                first_kept = by_index[index] if 0 <= index < len(by_index) else f"#{index}"
            entries.append(Entry(
                entry_id, parent, EntryKind.COMPACTION, source.number, source.offset,
                f"compaction ({obj.get('tokensBefore', '?')} tokens before)", stamp,
                summary=str(obj.get("summary", "")),
                first_kept_entry_id=first_kept if isinstance(first_kept, str) else None,
            ))
        elif kind in ("branch_summary", "custom_message"):
            if kind == "branch_summary":
                body = str(obj.get("summary", ""))
                content = [build.text(body)]
                label = "branch summary"
                if isinstance(obj.get("fromId"), str):
                    pointers.append(Entry(entry_id, parent, EntryKind.META, source.number,
                                          source.offset, "branch_summary.fromId",
                                          target_id=obj["fromId"]))
            else:
                content = _content(obj.get("content"), source, findings)
                label = f"custom message {obj.get('customType')}"
            message = build.user(content, epoch_ms(stamp))
            entries.append(Entry(entry_id, parent, EntryKind.MESSAGE, source.number,
                                 source.offset, label, stamp, (message,)))
        elif kind in _META_TYPES:
            label = str(kind)
            if kind == "model_change":
                model = f"{obj.get('provider')}:{obj.get('modelId')}"
                label = f"model → {model}"
            elif kind == "session_info" and isinstance(obj.get("name"), str):
                title = obj["name"]
            elif kind == "label" and isinstance(obj.get("targetId"), str):
                pointers.append(Entry(entry_id, parent, EntryKind.META, source.number,
                                      source.offset, "label.targetId", target_id=obj["targetId"]))
                label = f"label {obj.get('label')!r}"
            entries.append(Entry(entry_id, parent, EntryKind.META, source.number,
                                 source.offset, label, stamp))
        else:
            findings.append(Finding(
                "FILES-002", "unknown_entry", Severity.INFO, source.number, source.offset,
                f"entry type {kind!r} is not one pi {version} defines; kept in the tree",
            ))
            entries.append(Entry(entry_id, parent, EntryKind.META, source.number,
                                 source.offset, f"{kind}?", stamp))
    if title is None:
        title = next(
            (e.label.removeprefix("user: ") for e in entries
             if e.messages and e.messages[0]["role"] == "user"),
            None,
        )
    return assemble(
        format=FORMAT if version in (1, 2, 3) else f"{FORMAT}?",
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
        leaf_pointers=pointers,
        lines=count,
        size=len(data),
    )
