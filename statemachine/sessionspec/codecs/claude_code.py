"""Reader of Claude Code transcripts (``~/.claude/projects/<cwd>/<session>.jsonl``;
spec/formats/claude_code.md).

Rules
-----
* No header: every line is an object with a ``type``. Lines with a ``uuid`` are nodes of the
  tree, linked by ``parentUuid`` (``null`` for a root). ``user`` and ``assistant`` lines carry
  an Anthropic Messages API ``message``; other node lines (``system``, hook ``progress``, ...)
  are metadata. Lines without a ``uuid`` (``summary``, ``file-history-snapshot``,
  ``queue-operation``) are not in the tree.
* One API response is written as several ``assistant`` lines, one per content block, each
  repeating ``message.id``, ``requestId`` and the full ``usage``: the context joins them back
  into one message (FILES-012) and usage counts the request once (FILES-013).
* A user line's ``tool_result`` blocks become tool result messages (the tool's name is taken
  from its ``tool_use``); its text and images become one user message, after the results.
* Compaction: a ``system`` line with ``subtype: compact_boundary`` starts a new root
  (``parentUuid: null``, ``logicalParentUuid`` naming the last message before it); the next
  user line, marked ``isCompactSummary``, holds the summary. Everything before the boundary
  stays in the file but is off the active branch.
* Sub-agents: lines with ``isSidechain: true`` (in the file, or a sub-agent's own file under
  ``<session>/subagents/``) are never the main branch's leaf.
* The active leaf is the last non-sidechain ``user`` or ``assistant`` line in file order; a
  file of sidechain lines only (a sub-agent file) uses its last one (FILES-011). A
  ``summary`` line's ``leafUuid`` names a leaf that may be in another file: a missing one is
  a warning, not an error.
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
    iter_lines,
    mapping,
    text_or_none,
)
from sessionspec.errors import UnknownFormatError

__all__ = ["FORMAT", "looks_like", "read_claude_code"]

FORMAT = "claude-code"

_STOP = {
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_use",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "refusal": "stop",
}
_NODE_MESSAGES = frozenset({"user", "assistant"})


def looks_like(first: Mapping[str, Any]) -> bool:
    """A Claude Code line: ``sessionId``/``uuid``/``leafUuid`` fields and no pi/opi header."""
    if first.get("type") == "session":
        return False
    return any(key in first for key in ("sessionId", "uuid", "leafUuid", "parentUuid")) or (
        first.get("type") in ("file-history-snapshot", "summary", "queue-operation")
    )


def _unrepresentable(where: SourceLine, what: str) -> Finding:
    return Finding(
        "FILES-010", "unrepresentable", Severity.WARNING, where.number, where.offset,
        f"the message model cannot express {what}; left out of the context",
    )


def _blocks(value: Any, where: SourceLine, findings: list[Finding]) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [build.text(value)]
    out: list[dict[str, Any]] = []
    for block in value if isinstance(value, list) else ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            out.append(build.text(str(block.get("text", ""))))
        elif kind == "image":
            source = mapping(block.get("source"))
            media = source.get("media_type")
            if source.get("type") == "base64" and media in build.IMAGE_TYPES:
                out.append(build.image(str(source.get("data", "")), str(media)))
            else:
                findings.append(_unrepresentable(where, f"an image from {source.get('type')!r}"))
        else:
            findings.append(_unrepresentable(where, f"a content block of type {kind!r}"))
    return out


class _State:
    def __init__(self) -> None:
        self.tool_names: dict[str, str] = {}
        self.seen_requests: set[str] = set()
        self.model: str | None = None


def _user(
    line: Mapping[str, Any], where: SourceLine, state: _State, findings: list[Finding]
) -> list[dict[str, Any]]:
    message = mapping(line.get("message"))
    stamp = epoch_ms(line.get("timestamp"))
    content = message.get("content")
    results: list[dict[str, Any]] = []
    rest: list[Any] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "tool_result":
                call_id = str(block.get("tool_use_id"))
                results.append(build.tool_result(
                    call_id,
                    state.tool_names.get(call_id, "unknown"),
                    _blocks(block.get("content", ""), where, findings),
                    is_error=bool(block.get("is_error")),
                    timestamp_ms=stamp,
                ))
            else:
                rest.append(block)
    else:
        rest = [content] if isinstance(content, str) else []
    out = results
    blocks = [b for part in rest for b in _blocks(part if isinstance(part, str) else [part],
                                                   where, findings)]
    if blocks:
        out.append(build.user(blocks, stamp))
    return out


def _assistant(
    line: Mapping[str, Any], where: SourceLine, state: _State, findings: list[Finding],
    usage: list[UsageRecord],
) -> list[dict[str, Any]]:
    message = mapping(line.get("message"))
    blocks: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            blocks.append(build.text(str(block.get("text", ""))))
        elif kind == "thinking":
            blocks.append(build.thinking(str(block.get("thinking", ""))))
        elif kind == "tool_use":
            call_id = str(block.get("id"))
            state.tool_names[call_id] = str(block.get("name"))
            blocks.append(build.tool_call(call_id, str(block.get("name")), block.get("input", {})))
        else:
            findings.append(_unrepresentable(where, f"an assistant block of type {kind!r}"))
    raw = mapping(message.get("usage"))
    counters = {
        "input_tokens": _count(raw, "input_tokens", where, findings),
        "output_tokens": _count(raw, "output_tokens", where, findings),
        "cache_read_tokens": _count(raw, "cache_read_input_tokens", where, findings),
        "cache_write_tokens": _count(raw, "cache_creation_input_tokens", where, findings),
    }
    model = str(message.get("model", ""))
    response_id = text_or_none(message.get("id"))
    request_id = text_or_none(line.get("requestId"))
    if model and model != "<synthetic>":
        state.model = f"anthropic:{model}"
        key = f"{response_id}:{request_id}"
        if response_id is None and request_id is None:
            key = f"claude-code:{line.get('uuid')}"
        if key not in state.seen_requests:  # FILES-013: one request, many lines
            state.seen_requests.add(key)
            usage.append(UsageRecord(
                key=key,
                timestamp=text_or_none(line.get("timestamp")),
                model=f"anthropic:{model}",
                line=where.number,
                **counters,
            ))
    raw_stop = message.get("stop_reason")
    has_call = any(b["type"] == "tool_call" for b in blocks)
    stop = _STOP.get(str(raw_stop), "tool_use" if has_call else "stop")
    if line.get("isApiErrorMessage"):
        stop = "error"
    return [build.assistant(
        blocks,
        api="Anthropic",
        provider="anthropic",
        model=model,
        usage=counters,
        stop_reason=stop,
        timestamp_ms=epoch_ms(line.get("timestamp")),
        response_id=response_id,
    )]


def _count(raw: Mapping[str, Any], name: str, where: SourceLine, findings: list[Finding]) -> int:
    value = raw.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        findings.append(Finding(
            "FILES-009", "bad_usage_counter", Severity.ERROR, where.number, where.offset,
            f"usage.{name} is {value!r}, not a non-negative integer",
        ))
        return 0
    return value


def read_claude_code(path: str, data: bytes) -> SessionRead:
    """Read a Claude Code transcript (a session or a sub-agent file) from its bytes."""
    findings: list[Finding] = []
    entries: list[Entry] = []
    usage: list[UsageRecord] = []
    state = _State()
    session_id: str | None = None
    cwd: str | None = None
    started: str | None = None
    title: str | None = None
    first_user: str | None = None
    summaries: list[tuple[SourceLine, str]] = []
    logical_parents: list[tuple[SourceLine, str]] = []
    leaf: str | None = None
    side_leaf: str | None = None
    count = 0
    recognized = 0
    for source in iter_lines(data, findings):
        count = source.number
        line = source.obj
        assert line is not None
        kind = line.get("type")
        if kind == "summary":
            recognized += 1
            if title is None and isinstance(line.get("summary"), str):
                title = line["summary"]
            if isinstance(line.get("leafUuid"), str):
                summaries.append((source, line["leafUuid"]))
            continue
        uuid = line.get("uuid")
        if not isinstance(uuid, str):
            if looks_like(line):
                recognized += 1
            continue  # snapshots, queue operations: not in the tree
        recognized += 1
        if session_id is None and isinstance(line.get("sessionId"), str):
            session_id = line["sessionId"]
        if cwd is None and isinstance(line.get("cwd"), str):
            cwd = line["cwd"]
        stamp = text_or_none(line.get("timestamp"))
        if started is None:
            started = stamp
        parent = text_or_none(line.get("parentUuid"))
        sidechain = bool(line.get("isSidechain"))
        if kind in _NODE_MESSAGES:
            if kind == "user":
                messages = _user(line, source, state, findings)
            else:
                messages = _assistant(line, source, state, findings, usage)
            if sidechain:
                side_leaf = uuid
            else:
                leaf = uuid
            if kind == "user" and line.get("isCompactSummary"):
                summary = " ".join(
                    b["text"] for m in messages for b in m["content"] if b.get("type") == "text"
                )
                entries.append(Entry(uuid, parent, EntryKind.COMPACTION, source.number,
                                     source.offset, "compaction summary", stamp,
                                     summary=summary, sidechain=sidechain))
                continue
            label = " + ".join(build.label_of(m) for m in messages) or f"{kind} (empty)"
            if first_user is None and messages and messages[-1]["role"] == "user":
                first_user = build.label_of(messages[-1]).removeprefix("user: ")
            entries.append(Entry(uuid, parent, EntryKind.MESSAGE, source.number, source.offset,
                                 ("⎇ " if sidechain else "") + label, stamp, tuple(messages),
                                 sidechain=sidechain))
        else:
            subtype = line.get("subtype")
            label = f"{kind}" + (f" {subtype}" if isinstance(subtype, str) else "")
            if subtype == "compact_boundary":
                meta = line.get("compactMetadata")
                if isinstance(meta, Mapping):
                    label += f" ({meta.get('trigger')}, {meta.get('preTokens')} tokens before)"
                if isinstance(line.get("logicalParentUuid"), str):
                    logical_parents.append((source, line["logicalParentUuid"]))
            entries.append(Entry(uuid, parent, EntryKind.META, source.number, source.offset,
                                 label, stamp, sidechain=sidechain))
    if count and not recognized:
        raise UnknownFormatError(path, "no line of this file is a Claude Code transcript line")
    ids = {e.id for e in entries}
    for source, target in summaries:
        if target not in ids:
            findings.append(Finding(
                "FILES-006", "summary_leaf_elsewhere", Severity.WARNING, source.number,
                source.offset,
                f"summary.leafUuid {target!r} is not in this file (it may be in another one)",
            ))
    for source, target in logical_parents:
        if target not in ids:
            findings.append(Finding(
                "FILES-005", "missing_logical_parent", Severity.ERROR, source.number,
                source.offset,
                f"compact boundary's logicalParentUuid {target!r} is not in the file",
            ))
    return assemble(
        format=FORMAT,
        path=path,
        entries=entries,
        leaf_id=leaf if leaf is not None else side_leaf,
        findings=findings,
        usage=usage,
        session_id=session_id,
        title=title or first_user,
        model=state.model,
        cwd=cwd,
        started=started,
        lines=count,
        size=len(data),
    )
