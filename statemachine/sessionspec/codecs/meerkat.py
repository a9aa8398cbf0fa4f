"""meerkat's session JSON <-> :class:`~sessionspec.Conversation` (spec §6.5, CONV-050).

The one message model stays inside (DESIGN §2); this codec is the edge. Mapping:

=====================================  ==================================================
meerkat (meerkat-core 0.6.23)          sessionspec
=====================================  ==================================================
``version`` 1 or 2, ``id``             the conversation id (written as version 2)
``created_at``/``updated_at``          integer nanoseconds (``secs_since_epoch`` * 1e9 +
  ``{secs_since_epoch, nanos_since_``    ``nanos_since_epoch``): exact both ways
  ``epoch}``
``metadata``                           metadata; our revision history travels as rewrite
                                       records under ``ss_transcript_history``
``usage`` ``{input_tokens,``           usage; ``cache_creation_tokens`` is cache write
  ``output_tokens, cache_creation_``
  ``tokens?, cache_read_tokens?}``
message 0 ``system{content}``          the system prompt (its ``created_at`` is kept in the
                                       metadata key ``ss_meerkat_system_created_at``)
``user{content}``: a string or         a user message; ``image`` with ``source: inline``
  ``text``/``image`` blocks              is a base64 image, ``source: blob`` an ``ss-blob:``
                                       URL image (CONV-061)
``block_assistant{blocks,``            an assistant message (api ``Anthropic``, provider
  ``stop_reason}``                       ``meerkat``): ``text`` -> text, ``transcript`` ->
                                       spoken text (``ss_lane``), ``reasoning`` ->
                                       thinking, ``tool_use{id, name, args}`` -> tool call
                                       (``args`` as a JSON string); the stop reason mapped
                                       as the realtime transcript maps it (RT-032), the
                                       original kept in ``ss_meerkat_stop_reason``
``tool_results{results}``              one tool result message per result
                                       (``ss_meerkat_group`` keeps the grouping)
=====================================  ==================================================

Every message's ``created_at`` is kept as ``ss_created_at`` (and sets ``timestamp_ms``);
fields this table does not name are kept in ``ss_meerkat_extra`` and written back. Where
meerkat has no field for something of ours (a model name, a usage, a tool name), the
written message also carries its exact wire form in ``ss_wire`` (meerkat ignores unknown
fields), which the reader prefers while the message still encodes to it. So reading what
was written gives the same conversation, and writing what was read gives the same JSON.
What cannot be expressed (a ``system`` message after the first,
``system_notice``, a legacy ``assistant``, video or structured blocks, an unknown block or
media type) is a :class:`~sessionspec.errors.CodecError` naming the message, never dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, get_args

from sessionspec.errors import CodecError, SessionSpecError
from sessionspec.reference.realtime import STOP_REASON_MAP
from sessionspec.runtime.conversation import BLOB_URL_PREFIX, Conversation
from sessionspec.runtime.revisions import TranscriptRewriteRecord, item_of
from sessionspec.usage import CumulativeUsage
from sessionspec.wire.messages import (
    AssistantMessage,
    Base64Source,
    ImageContent,
    Message,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolCallContent,
    ToolResultMessage,
    UrlSource,
    Usage,
    UserMessage,
)
from sessionspec.wire.messages import MediaType as _MediaType

__all__ = ["HISTORY_KEY", "conversation_from_meerkat", "conversation_to_meerkat"]

HISTORY_KEY = "ss_transcript_history"
WIRE_KEY = "ss_wire"
SYSTEM_TIME_KEY = "ss_meerkat_system_created_at"
_MEDIA_TYPES = frozenset(get_args(_MediaType))
_KNOWN = {
    "system": {"role", "content", "created_at"},
    "user": {"role", "content", "created_at"},
    "block_assistant": {"role", "blocks", "stop_reason", "created_at"},
    "tool_results": {"role", "results", "created_at"},
}
_RESULT_KNOWN = {"tool_use_id", "content", "is_error"}
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


# -- times ------------------------------------------------------------------------------


def _system_time_to_ns(value: Any, where: str) -> int:
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("secs_since_epoch"), int)
        or not isinstance(value.get("nanos_since_epoch"), int)
    ):
        raise CodecError(f"{where}: expected {{secs_since_epoch, nanos_since_epoch}}")
    return int(value["secs_since_epoch"]) * 1_000_000_000 + int(value["nanos_since_epoch"])


def _ns_to_system_time(ns: int) -> dict[str, int]:
    return {"secs_since_epoch": ns // 1_000_000_000, "nanos_since_epoch": ns % 1_000_000_000}


def _rfc3339_to_ms(value: Any, where: str) -> int:
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise CodecError(f"{where}: created_at must be an RFC 3339 time, not {value!r}")
    base, fraction, zone = match.groups()
    moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    millis = int(((fraction or ".0")[1:] + "000")[:3])
    return int(moment.timestamp()) * 1000 + millis


def _ms_to_rfc3339(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


# -- reading ----------------------------------------------------------------------------


def _extra(message: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    rest = {k: v for k, v in message.items() if k not in known}
    return {"ss_meerkat_extra": rest} if rest else {}


def _input_blocks(content: Any, where: str) -> list[Any]:
    if isinstance(content, str):
        return [TextContent(text=content)]
    if not isinstance(content, list):
        raise CodecError(f"{where}: content must be a string or a list of blocks")
    blocks: list[Any] = []
    for number, block in enumerate(content):
        at = f"{where} block {number}"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text" and isinstance(block.get("text"), str):
            blocks.append(TextContent(text=block["text"]))
        elif kind == "image":
            media_type = block.get("media_type")
            if media_type not in _MEDIA_TYPES:
                raise CodecError(f"{at}: media type {media_type!r} has no equivalent")
            if block.get("source") == "inline" and isinstance(block.get("data"), str):
                source: Any = Base64Source(data=block["data"])
            elif block.get("source") == "blob" and isinstance(block.get("blob_id"), str):
                source = UrlSource(url=BLOB_URL_PREFIX + block["blob_id"])
            else:
                raise CodecError(f"{at}: an image needs source inline+data or blob+blob_id")
            blocks.append(ImageContent(source=source, media_type=media_type))
        else:
            raise CodecError(f"{at}: block type {kind!r} cannot be expressed")
    return blocks


def _assistant_blocks(blocks: Any, where: str) -> list[Any]:
    if not isinstance(blocks, list):
        raise CodecError(f"{where}: blocks must be a list")
    out: list[Any] = []
    for number, block in enumerate(blocks):
        at = f"{where} block {number}"
        if not isinstance(block, Mapping) or not isinstance(block.get("data"), Mapping):
            raise CodecError(f"{at}: a block is {{block_type, data}}")
        kind, data = block.get("block_type"), block["data"]
        meta = {"ss_meerkat_meta": data["meta"]} if data.get("meta") is not None else {}
        if kind in ("text", "transcript", "reasoning") and isinstance(data.get("text"), str):
            if kind == "text":
                out.append(TextContent(text=data["text"], **meta))
            elif kind == "transcript":
                source = {"ss_meerkat_source": data["source"]} if "source" in data else {}
                out.append(TextContent(text=data["text"], ss_lane="spoken", **source, **meta))
            else:
                out.append(ThinkingContent(thinking=data["text"], **meta))
        elif kind == "tool_use" and isinstance(data.get("id"), str):
            name = data.get("name")
            if not isinstance(name, str):
                raise CodecError(f"{at}: a tool_use needs a string name")
            arguments = json.dumps(data.get("args"), separators=(",", ":"), ensure_ascii=False)
            out.append(ToolCallContent(tool_call=ToolCall(id=data["id"], name=name,
                                                          arguments=arguments), **meta))
        else:
            raise CodecError(f"{at}: block type {kind!r} cannot be expressed")
    return out


def _decode_one(
    message: Any, index: int, tool_names: dict[str, str]
) -> tuple[str | None, list[Message]]:
    """One meerkat message: ``(system prompt, [])`` for a system message, else messages."""
    where = f"message {index}"
    role = message.get("role") if isinstance(message, Mapping) else None
    if role not in _KNOWN:
        raise CodecError(f"{where}: role {role!r} cannot be expressed")
    assert isinstance(message, Mapping)
    stamp = message.get("created_at")
    extra = _extra(message, _KNOWN[role])
    if role == "system":
        if index != 0 or not isinstance(message.get("content"), str) or extra:
            raise CodecError(f"{where}: only a leading system message with a text content")
        return message["content"], []
    ms = _rfc3339_to_ms(stamp, where)
    times = {"timestamp_ms": ms, "ss_created_at": stamp}
    if role == "user":
        content = _input_blocks(message.get("content"), where)
        return None, [UserMessage(content=content, **times, **extra)]
    if role == "block_assistant":
        blocks = _assistant_blocks(message.get("blocks"), where)
        for block in blocks:
            if isinstance(block, ToolCallContent):
                tool_names[block.tool_call.id] = block.tool_call.name
        stop = message.get("stop_reason", "end_turn")
        if stop not in STOP_REASON_MAP:
            raise CodecError(f"{where}: stop reason {stop!r} is unknown")
        return None, [AssistantMessage(
            content=blocks, api="Anthropic", provider="meerkat", model="", usage=Usage(),
            stop_reason=STOP_REASON_MAP[stop], ss_meerkat_stop_reason=stop,
            **times, **extra,
        )]
    results = message.get("results")
    if not isinstance(results, list) or not results:
        raise CodecError(f"{where}: tool_results needs a non-empty list of results")
    out: list[Message] = []
    for number, result in enumerate(results):
        at = f"{where} result {number}"
        if not isinstance(result, Mapping) or not isinstance(result.get("tool_use_id"), str):
            raise CodecError(f"{at}: a result needs a tool_use_id")
        rest = {k: v for k, v in result.items() if k not in _RESULT_KNOWN}
        out.append(ToolResultMessage(
            tool_call_id=result["tool_use_id"],
            tool_name=tool_names.get(result["tool_use_id"], ""),
            content=_input_blocks(result.get("content", ""), at),
            is_error=bool(result.get("is_error", False)),
            ss_meerkat_group=index,
            **({"ss_meerkat_result_extra": rest} if rest else {}),
            **times, **extra,
        ))
    return None, out


def _messages_from_meerkat(
    messages: Any, metadata: dict[str, Any]
) -> tuple[str | None, list[Message]]:
    if not isinstance(messages, list):
        raise CodecError("messages must be a list")
    prompt: str | None = None
    out: list[Message] = []
    tool_names: dict[str, str] = {}
    for index, message in enumerate(messages):
        wire = message.get(WIRE_KEY) if isinstance(message, Mapping) else None
        if wire is not None:
            assert isinstance(message, Mapping)
            rest = {k: v for k, v in message.items() if k != WIRE_KEY}
            exact = _from_wire(wire, rest, index)
            if exact is not None:
                for model in exact:
                    if isinstance(model, AssistantMessage):
                        for block in model.content:
                            if isinstance(block, ToolCallContent):
                                tool_names[block.tool_call.id] = block.tool_call.name
                out.extend(exact)
                continue
            message = rest
        system, decoded = _decode_one(message, index, tool_names)
        if system is not None:
            prompt = system
            if message.get("created_at") is not None:
                metadata[SYSTEM_TIME_KEY] = message["created_at"]
        out.extend(decoded)
    return prompt, out


def _from_wire(wire: Any, rest: dict[str, Any], index: int) -> list[Message] | None:
    """The exact messages kept in ``ss_wire``, if they still encode to the message (CONV-050).

    A meerkat program that edited the message leaves a stale ``ss_wire``: then the message
    itself is read instead."""
    if not isinstance(wire, list) or not wire:
        return None
    try:
        models = [item_of(m)[0] for m in wire]
        encoded = _encode_group(models, index)
    except (SessionSpecError, ValueError, TypeError, AttributeError):
        return None
    return models if encoded == rest else None


def conversation_from_meerkat(
    data: Mapping[str, Any], *, clock: Callable[[], int] | None = None
) -> Conversation:
    """A conversation from meerkat's session JSON; :class:`CodecError` names what fails."""
    if not isinstance(data, Mapping):
        raise CodecError("a meerkat session is a JSON object")
    if data.get("version", 2) not in (1, 2):
        raise CodecError(f"meerkat session version {data.get('version')!r} is not supported")
    metadata = dict(data.get("metadata") or {})
    history = metadata.pop(HISTORY_KEY, None)
    try:
        prompt, messages = _messages_from_meerkat(data.get("messages", []), metadata)
        created = _system_time_to_ns(data.get("created_at"), "created_at")
        if metadata.get(SYSTEM_TIME_KEY) == _ms_to_rfc3339(created // 1_000_000):
            del metadata[SYSTEM_TIME_KEY]  # the time the writer derives: nothing to keep
        usage = data.get("usage") or {}
        counters = CumulativeUsage.from_dict({
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "cache_read_tokens": usage.get("cache_read_tokens"),
            "cache_write_tokens": usage.get("cache_creation_tokens"),
        })
        records = [TranscriptRewriteRecord.from_json(r) for r in history or []]
        return Conversation.restore(
            str(data.get("id", "")),
            messages=messages,
            system_prompt=prompt,
            created_at_ns=created,
            updated_at_ns=_system_time_to_ns(data.get("updated_at"), "updated_at"),
            metadata=metadata,
            usage=counters,
            history_records=records,
            clock=clock,
        )
    except CodecError:
        raise
    except (SessionSpecError, ValueError, TypeError, AttributeError) as exc:
        raise CodecError(f"not a meerkat session this codec can read: {exc}") from exc


# -- writing ----------------------------------------------------------------------------


def _input_to_meerkat(content: list[Any]) -> Any:
    if len(content) == 1 and isinstance(content[0], TextContent):
        return content[0].text
    out: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, TextContent):
            out.append({"type": "text", "text": block.text})
        elif isinstance(block.source, UrlSource) and block.source.url.startswith(
            BLOB_URL_PREFIX
        ):
            out.append({"type": "image", "media_type": block.media_type, "source": "blob",
                        "blob_id": block.source.url[len(BLOB_URL_PREFIX):]})
        elif isinstance(block.source, Base64Source):
            out.append({"type": "image", "media_type": block.media_type, "source": "inline",
                        "data": block.source.data})
        else:
            raise CodecError(f"an image source {block.source.type!r} has no meerkat form")
    return out


def _assistant_to_meerkat(block: Any) -> dict[str, Any]:
    extra = block.model_extra or {}
    meta = {"meta": extra["ss_meerkat_meta"]} if "ss_meerkat_meta" in extra else {}
    if isinstance(block, TextContent):
        if extra.get("ss_lane") == "spoken":
            source = {"source": extra["ss_meerkat_source"]} if "ss_meerkat_source" in extra else {}
            return {"block_type": "transcript", "data": {"text": block.text, **source, **meta}}
        return {"block_type": "text", "data": {"text": block.text, **meta}}
    if isinstance(block, ThinkingContent):
        return {"block_type": "reasoning", "data": {"text": block.thinking, **meta}}
    call = block.tool_call
    try:
        args = json.loads(call.arguments)
    except ValueError:
        raise CodecError(f"tool call {call.id!r}: arguments are not JSON") from None
    return {"block_type": "tool_use", "data": {"id": call.id, "name": call.name, "args": args,
                                               **meta}}


def _encode_group(models: list[Message], index: int) -> dict[str, Any]:
    """The meerkat message of one user or assistant message, or of a run of tool results."""
    first = models[0]
    extra = first.model_extra or {}
    stamp = extra.get("ss_created_at") or _ms_to_rfc3339(first.timestamp_ms)
    rest = extra.get("ss_meerkat_extra", {})
    if isinstance(first, UserMessage):
        return {"role": "user", "content": _input_to_meerkat(list(first.content)),
                "created_at": stamp, **rest}
    if isinstance(first, AssistantMessage):
        stop = extra.get("ss_meerkat_stop_reason") or _STOP_BACK[first.stop_reason]
        return {"role": "block_assistant",
                "blocks": [_assistant_to_meerkat(b) for b in first.content],
                "stop_reason": stop, "created_at": stamp, **rest}
    results = []
    for model in models:
        assert isinstance(model, ToolResultMessage)
        more = (model.model_extra or {}).get("ss_meerkat_result_extra", {})
        results.append({"tool_use_id": model.tool_call_id,
                        "content": _input_to_meerkat(list(model.content)),
                        "is_error": model.is_error, **more})
    return {"role": "tool_results", "results": results, "created_at": stamp, **rest}


_STOP_BACK = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_use": "tool_use",
    "aborted": "cancelled",
    "error": "content_filter",
}


def _groups(messages: tuple[Message, ...]) -> list[list[Message]]:
    """Consecutive tool results with the same ``ss_meerkat_group`` form one group."""
    groups: list[list[Message]] = []
    for message in messages:
        previous = groups[-1][-1] if groups else None
        if (
            isinstance(message, ToolResultMessage)
            and isinstance(previous, ToolResultMessage)
            and (message.model_extra or {}).get("ss_meerkat_group")
            == (previous.model_extra or {}).get("ss_meerkat_group")
        ):
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def conversation_to_meerkat(conversation: Conversation) -> dict[str, Any]:
    """meerkat's session JSON of ``conversation`` (version 2).

    A message whose meerkat form does not read back as the same message (meerkat has no
    place for a model name, a usage, a tool name, ...) also carries its exact wire form in
    ``ss_wire``, which meerkat ignores and this codec prefers while it still matches."""
    metadata = conversation.metadata
    out: list[dict[str, Any]] = []
    if conversation.system_prompt is not None:
        stamp = metadata.pop(SYSTEM_TIME_KEY, None) or _ms_to_rfc3339(
            conversation.created_at_ns // 1_000_000
        )
        out.append({"role": "system", "content": conversation.system_prompt, "created_at": stamp})
    else:
        metadata.pop(SYSTEM_TIME_KEY, None)
    tool_names: dict[str, str] = {}
    for group in _groups(conversation.messages):
        index = len(out)
        encoded = _encode_group(group, index)
        _, decoded = _decode_one(encoded, index, tool_names)
        if [m.to_json_dict() for m in decoded] != [m.to_json_dict() for m in group]:
            encoded[WIRE_KEY] = [m.to_json_dict() for m in group]
        out.append(encoded)
    records = conversation.transcript_rewrite_records()
    if records:
        metadata[HISTORY_KEY] = [r.to_json() for r in records]
    usage = conversation.total_usage()
    return {
        "version": 2,
        "id": conversation.id,
        "messages": out,
        "created_at": _ns_to_system_time(conversation.created_at_ns),
        "updated_at": _ns_to_system_time(conversation.updated_at_ns),
        "metadata": metadata,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_creation_tokens": usage.cache_write_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
        },
    }
