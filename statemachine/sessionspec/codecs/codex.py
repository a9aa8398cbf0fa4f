"""Reader of OpenAI Codex CLI rollouts (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``;
spec/formats/codex.md).

Rules
-----
* Every line is ``{"timestamp", "type", "payload"}`` with ``type`` one of ``session_meta``,
  ``turn_context``, ``response_item``, ``event_msg`` and ``compacted``. The first
  ``session_meta`` names the session (id, cwd, provider); a ``turn_context`` names the model
  of the turns after it.
* A rollout is linear: it has no ids, so each entry gets ``L<line>`` and the entry before it
  as parent, and the active leaf is the last entry (FILES-011).
* ``response_item`` payloads are Responses API items: ``message`` (user and assistant; a
  ``developer`` or ``system`` message is an instruction the message model has no role for,
  metadata here), ``reasoning`` (its summary and reasoning text become thinking; encrypted
  content alone is opaque), ``function_call`` / ``custom_tool_call`` / ``local_shell_call``
  (a tool call) and their ``*_output`` items (a tool result, linked by ``call_id``).
* ``compacted`` replaces the whole history with its ``replacement_history``; an older
  ``compacted`` without it rebuilds the history as the user messages so far followed by the
  summary ``message`` as user text. An ``event_msg`` of type ``thread_rolled_back`` drops the
  last ``num_turns`` user turns. Both are compactions whose replacement is the new history.
* Usage: ``event_msg`` ``token_count`` carries the cumulative ``total_token_usage`` and the
  request's ``last_token_usage`` (whose ``input_tokens`` include ``cached_input_tokens``). A
  repeated event (same cumulative total) is the same request; the key is the cumulative
  total and the timestamp, so a fork that copies its parent's lines counts them once
  (FILES-013); a total that does not grow by the last usage is a FILES-009 warning.
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

__all__ = ["FORMAT", "looks_like", "read_codex"]

FORMAT = "codex"
_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
_CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})
_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})
_ZERO = {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0}


def looks_like(first: Mapping[str, Any]) -> bool:
    return first.get("type") in _TYPES and isinstance(first.get("payload"), Mapping)


class _Reader:
    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        self.provider = "openai"
        self.model = ""
        self.tool_names: dict[str, str] = {}
        self.history: list[dict[str, Any]] = []
        self.opaque = 0
        self.instructions = 0

    def unrepresentable(self, where: SourceLine, what: str) -> None:
        self.findings.append(Finding(
            "FILES-010", "unrepresentable", Severity.WARNING, where.number, where.offset,
            f"the message model cannot express {what}; left out of the context",
        ))

    def assistant(self, blocks: list[dict[str, Any]], stamp: int) -> dict[str, Any]:
        calls = any(b["type"] == "tool_call" for b in blocks)
        return build.assistant(
            blocks, api="OpenAi", provider=self.provider, model=self.model, usage=_ZERO,
            stop_reason="tool_use" if calls else "stop", timestamp_ms=stamp,
        )

    def item(self, item: Mapping[str, Any], where: SourceLine, stamp: int) -> dict[str, Any] | None:
        """One Responses API item as a wire message, or None (reported or metadata)."""
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            blocks: list[dict[str, Any]] = []
            for part in item.get("content") or ():
                if not isinstance(part, Mapping):
                    continue
                part_type = part.get("type")
                if part_type in ("input_text", "output_text", "text"):
                    blocks.append(build.text(str(part.get("text", ""))))
                elif part_type == "input_image":
                    url = str(part.get("image_url", ""))
                    media, _, data = url.removeprefix("data:").partition(";base64,")
                    if url.startswith("data:") and media in build.IMAGE_TYPES and data:
                        blocks.append(build.image(data, media))
                    else:
                        self.unrepresentable(where, "an image given by URL")
                else:
                    self.unrepresentable(where, f"message content of type {part_type!r}")
            if role == "user":
                return build.user(blocks, stamp)
            if role == "assistant":
                return self.assistant(blocks, stamp)
            self.instructions += 1
            return None
        if kind == "reasoning":
            texts = [
                str(part.get("text", ""))
                for key in ("summary", "content")
                for part in (item.get(key) or ())
                if isinstance(part, Mapping)
            ]
            if not texts:
                self.opaque += 1
                return None
            return self.assistant([build.thinking("\n\n".join(texts))], stamp)
        if kind in _CALLS:
            call_id = str(item.get("call_id") or item.get("id"))
            if kind == "function_call":
                name, arguments = str(item.get("name")), item.get("arguments", "{}")
            elif kind == "custom_tool_call":
                name, arguments = str(item.get("name")), {"input": item.get("input", "")}
            else:
                name, arguments = "local_shell", item.get("action", {})
            self.tool_names[call_id] = name
            return self.assistant([build.tool_call(call_id, name, arguments)], stamp)
        if kind in _OUTPUTS:
            call_id = str(item.get("call_id"))
            output = item.get("output", "")
            if isinstance(output, Mapping):
                output = output.get("content", output)
            text = output if isinstance(output, str) else build.arguments_json(output)
            return build.tool_result(
                call_id, self.tool_names.get(call_id, "unknown"), [build.text(text)],
                is_error=False, timestamp_ms=stamp,
            )
        self.unrepresentable(where, f"a response item of type {kind!r}")
        return None


def _rolled_back(history: list[dict[str, Any]], turns: int) -> list[dict[str, Any]]:
    """The history without its last ``turns`` user turns (a turn starts at a user message)."""
    starts = [i for i, m in enumerate(history) if m.get("role") == "user"]
    if turns <= 0 or not starts:
        return list(history)
    cut = starts[-turns] if turns <= len(starts) else starts[0]
    return history[:cut]


def _tokens(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, Mapping):
        return None
    values = {}
    for name in ("input_tokens", "cached_input_tokens", "output_tokens", "total_tokens"):
        value = raw.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None
        values[name] = value
    return values


def read_codex(path: str, data: bytes) -> SessionRead:
    """Read a Codex rollout from its bytes."""
    findings: list[Finding] = []
    reader = _Reader(findings)
    entries: list[Entry] = []
    usage: list[UsageRecord] = []
    session_id: str | None = None
    cwd: str | None = None
    started: str | None = None
    title: str | None = None
    previous: str | None = None
    previous_total: int | None = None
    model_spec: str | None = None
    count = 0

    def add(entry: Entry) -> None:
        nonlocal previous
        entries.append(entry)
        previous = entry.id

    for source in iter_lines(data, findings):
        count = source.number
        line = source.obj
        assert line is not None
        kind = line.get("type")
        payload = line.get("payload")
        stamp_text = text_or_none(line.get("timestamp"))
        stamp = epoch_ms(stamp_text)
        entry_id = f"L{source.number}"
        if not isinstance(payload, Mapping) or kind not in _TYPES:
            findings.append(Finding(
                "FILES-002", "unknown_entry", Severity.INFO, source.number, source.offset,
                f"a line of type {kind!r} this reader does not know; skipped",
            ))
            continue
        if kind == "session_meta":
            meta = mapping(payload.get("meta")) or payload
            if session_id is None:
                session_id = str(meta.get("id")) if meta.get("id") else None
                cwd = text_or_none(meta.get("cwd"))
                started = text_or_none(meta.get("timestamp")) or stamp_text
                if isinstance(meta.get("model_provider"), str):
                    reader.provider = meta["model_provider"]
            add(Entry(entry_id, previous, EntryKind.META, source.number, source.offset,
                      f"session {meta.get('id')}", stamp_text))
        elif kind == "turn_context":
            if isinstance(payload.get("model"), str):
                reader.model = payload["model"]
                model_spec = f"{reader.provider}:{reader.model}"
            add(Entry(entry_id, previous, EntryKind.META, source.number, source.offset,
                      f"turn context ({payload.get('model')})", stamp_text))
        elif kind == "response_item":
            message = reader.item(payload, source, stamp)
            if message is None:
                add(Entry(entry_id, previous, EntryKind.META, source.number, source.offset,
                          f"{payload.get('type')} {payload.get('role') or ''}".strip(), stamp_text))
                continue
            reader.history.append(message)
            label = build.label_of(message)
            if title is None and message["role"] == "user" and not label.startswith("user: <"):
                title = label.removeprefix("user: ")
            add(Entry(entry_id, previous, EntryKind.MESSAGE, source.number, source.offset,
                      label, stamp_text, (message,)))
        elif kind == "compacted":
            replacement_raw = payload.get("replacement_history")
            if isinstance(replacement_raw, list):
                history = []
                for item in replacement_raw:
                    if isinstance(item, Mapping):
                        built = reader.item(item, source, stamp)
                        if built is not None:
                            history.append(built)
                label = f"compacted ({len(history)} items kept)"
            else:
                summary = str(payload.get("message", ""))
                history = [m for m in reader.history if m["role"] == "user"]
                history.append(build.user([build.text(summary)], stamp))
                label = "compacted (summary)"
            reader.history = history
            add(Entry(entry_id, previous, EntryKind.COMPACTION, source.number, source.offset,
                      label, stamp_text, replacement=tuple(history)))
        else:  # event_msg
            event = payload.get("type")
            if event == "thread_rolled_back":
                turns = payload.get("num_turns", 0)
                turns = turns if isinstance(turns, int) else 0
                reader.history = _rolled_back(reader.history, turns)
                add(Entry(entry_id, previous, EntryKind.COMPACTION, source.number, source.offset,
                          f"rolled back {turns} turn(s)", stamp_text,
                          replacement=tuple(reader.history)))
            elif event == "token_count":
                info = payload.get("info") if isinstance(payload.get("info"), Mapping) else None
                if info is None:
                    continue
                total = _tokens(info.get("total_token_usage"))
                last = _tokens(info.get("last_token_usage"))
                if total is None or last is None:
                    findings.append(Finding(
                        "FILES-009", "bad_usage_counter", Severity.ERROR, source.number,
                        source.offset, "token_count usage is not a set of non-negative integers",
                    ))
                    continue
                if total["total_tokens"] == previous_total:
                    continue  # the same request reported again
                if previous_total is not None and (
                    total["total_tokens"] != previous_total + last["total_tokens"]
                ):
                    findings.append(Finding(
                        "FILES-009", "usage_total_mismatch", Severity.WARNING, source.number,
                        source.offset,
                        f"total_token_usage grew from {previous_total} to "
                        f"{total['total_tokens']}, but the last request used "
                        f"{last['total_tokens']}",
                    ))
                previous_total = total["total_tokens"]
                cached = min(last["cached_input_tokens"], last["input_tokens"])
                usage.append(UsageRecord(
                    key=f"codex:{stamp_text}:{total['total_tokens']}",
                    timestamp=stamp_text,
                    model=model_spec or f"{reader.provider}:unknown",
                    input_tokens=last["input_tokens"] - cached,
                    output_tokens=last["output_tokens"],
                    cache_read_tokens=cached,
                    line=source.number,
                ))
    if count and not entries and not usage:
        raise UnknownFormatError(path, "no line of this file is a Codex rollout line")
    if reader.instructions:
        findings.append(Finding(
            "FILES-010", "instructions_not_in_context", Severity.INFO, 0, 0,
            f"{reader.instructions} developer/system message(s): instructions the message "
            "model has no role for; shown in the tree, not in the context",
        ))
    if reader.opaque:
        findings.append(Finding(
            "FILES-010", "opaque_reasoning", Severity.INFO, 0, 0,
            f"{reader.opaque} reasoning item(s) hold only encrypted content; not in the context",
        ))
    return assemble(
        format=FORMAT,
        path=path,
        entries=entries,
        leaf_id=entries[-1].id if entries else None,
        findings=findings,
        usage=usage,
        session_id=session_id,
        title=title,
        model=model_spec,
        cwd=cwd,
        started=started,
        lines=count,
        size=len(data),
    )
