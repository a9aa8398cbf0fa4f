"""Anthropic Messages API shapes to and from the one message model (spec §11, CODEC).

Rules
-----
* Request messages (``to_anthropic``): a user message is ``{"role": "user", "content":
  [blocks]}`` with ``text`` and ``image`` blocks (base64 or URL source; an image held as bytes
  is sent as base64 of the same bytes); an assistant message carries ``text``, ``thinking``
  (with its ``signature`` when it has one) and ``tool_use`` blocks, in order; tool results go
  back as ``tool_result`` blocks in a user message, consecutive results in one message
  (CODEC-006). A tool call's arguments must be a JSON object (``tool_use.input``).
* Decoding (``from_anthropic``) accepts those request messages and response objects
  (``{"type": "message", "id", "model", "content", "stop_reason", "usage"}``). A response
  gives the assistant message its ``response_id``, model, stop reason and usage; a plain
  assistant message takes the ``model`` argument, ``tool_use`` or ``stop`` as its stop reason
  and zero usage (the turn's usage goes to ``on_turn_end(usage=...)``).
* Stop reasons: ``end_turn`` is ``stop``, ``max_tokens`` is ``length``, ``tool_use`` is
  ``tool_use``; the others (``stop_sequence``, ``pause_turn``, ``refusal``) are ``stop`` with
  the provider's own value kept in the extra field ``anthropic_stop_reason``, so encoding the
  response gives it back. ``error`` and ``aborted`` have no Anthropic form (CODEC-002).
* Usage names (CODEC-003): ``input_tokens``, ``output_tokens``, ``cache_read_input_tokens``
  (our ``cache_read_tokens``), ``cache_creation_input_tokens`` (our ``cache_write_tokens``).
* Refused with :class:`~sessionspec.errors.UnrepresentableError`, never dropped: blocks the
  message model has no type for (``redacted_thinking``, server tool blocks, documents), a URL
  image whose media type the URL does not tell, tool arguments that are not a JSON object.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from sessionspec.codecs.shapes import (
    as_dicts,
    now_ms,
    plain,
    refuse,
    tool_name_for,
    usage_dict,
    validated,
)
from sessionspec.wire.messages import Message, Usage, WireModel

__all__ = [
    "from_anthropic",
    "from_anthropic_usage",
    "to_anthropic",
    "to_anthropic_response",
    "to_anthropic_usage",
]

SHAPE = "Anthropic Messages"
_STOP_IN = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_use"}
_STOP_OUT = {"stop": "end_turn", "length": "max_tokens", "tool_use": "tool_use"}
_KEPT_STOP = frozenset({"stop_sequence", "pause_turn", "refusal"})
_EXTENSIONS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}


# -- encoding --------------------------------------------------------------------------------


def _image_out(block: Mapping[str, Any]) -> dict[str, Any]:
    source = block["source"]
    kind = source.get("type")
    if kind == "url":
        return {"type": "image", "source": {"type": "url", "url": source["url"]}}
    data = source["data"]
    if kind == "bytes":
        data = base64.b64encode(bytes(data)).decode()
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": block["media_type"], "data": data},
    }


def _input_blocks(content: Sequence[Mapping[str, Any]], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type")
        if kind == "text":
            out.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            out.append(_image_out(block))
        else:
            raise refuse(SHAPE, f"{where}.content[{index}]", f"a {kind!r} block in user content")
    return out


def _arguments_object(arguments: str, where: str) -> Any:
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise refuse(SHAPE, where, "tool call arguments that are not a JSON object")
    return value


def _assistant_blocks(content: Sequence[Mapping[str, Any]], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type")
        if kind == "text":
            out.append({"type": "text", "text": block["text"]})
        elif kind == "thinking":
            thinking: dict[str, Any] = {"type": "thinking", "thinking": block["thinking"]}
            if isinstance(block.get("signature"), str):
                thinking["signature"] = block["signature"]
            out.append(thinking)
        elif kind == "tool_call":
            call = block["tool_call"]
            out.append({
                "type": "tool_use",
                "id": call["id"],
                "name": call["name"],
                "input": _arguments_object(call["arguments"], f"{where}.content[{index}]"),
            })
        else:  # pragma: no cover - the wire model has no other assistant block
            raise refuse(SHAPE, f"{where}.content[{index}]", f"a {kind!r} block")
    return out


def to_anthropic(messages: Sequence[WireModel | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``messages`` parameter of the next request, from wire messages or a coordinator's
    ``context()`` (summary slots become user text, CODEC-004)."""
    out: list[dict[str, Any]] = []
    previous_results = False
    for index, message in enumerate(as_dicts(messages)):
        where = f"messages[{index}]"
        role = message.get("role")
        if role == "user":
            out.append({"role": "user", "content": _input_blocks(message["content"], where)})
            previous_results = False
        elif role == "assistant":
            out.append({
                "role": "assistant",
                "content": _assistant_blocks(message["content"], where),
            })
            previous_results = False
        elif role == "tool_result":
            block = {
                "type": "tool_result",
                "tool_use_id": message["tool_call_id"],
                "content": _input_blocks(message["content"], where),
                "is_error": bool(message.get("is_error")),
            }
            if previous_results:
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            previous_results = True
        else:
            raise refuse(SHAPE, where, f"a message with role {role!r}")
    return out


def to_anthropic_usage(usage: Usage | Mapping[str, Any]) -> dict[str, int]:
    counters = usage_dict(usage)
    return {
        "input_tokens": counters["input_tokens"],
        "output_tokens": counters["output_tokens"],
        "cache_read_input_tokens": counters["cache_read_tokens"],
        "cache_creation_input_tokens": counters["cache_write_tokens"],
    }


def to_anthropic_response(message: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    """An assistant message as an Anthropic response object."""
    data = as_dicts([message])[0]
    if data.get("role") != "assistant":
        raise refuse(SHAPE, "message", f"a {data.get('role')!r} message as a response")
    kept = data.get("anthropic_stop_reason")
    stop = kept if kept in _KEPT_STOP else _STOP_OUT.get(str(data["stop_reason"]))
    if stop is None:
        raise refuse(SHAPE, "message.stop_reason", f"the stop reason {data['stop_reason']!r}")
    if not isinstance(data.get("response_id"), str):
        raise refuse(SHAPE, "message.response_id", "a response without an id")
    return {
        "id": data["response_id"],
        "type": "message",
        "role": "assistant",
        "model": data["model"],
        "content": _assistant_blocks(data["content"], "message"),
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": to_anthropic_usage(data["usage"]),
    }


# -- decoding --------------------------------------------------------------------------------


def from_anthropic_usage(usage: Mapping[str, Any] | Any) -> Usage:
    """Anthropic's usage object (a dict or the SDK's model) as our :class:`Usage`."""
    data = usage if isinstance(usage, Mapping) else getattr(usage, "model_dump", dict)()

    def count(name: str) -> int:
        value = data.get(name) or 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise refuse("the message model", f"usage.{name}", f"the count {value!r}")
        return value

    return Usage(
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        cache_read_tokens=count("cache_read_input_tokens"),
        cache_write_tokens=count("cache_creation_input_tokens"),
    )


def _image_in(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        return {"type": "image", "source": {"type": "base64", "data": source.get("data")},
                "media_type": source.get("media_type")}
    if kind == "url":
        url = str(source.get("url", ""))
        path = url.split("?", 1)[0].lower()
        media = next((m for ext, m in _EXTENSIONS.items() if path.endswith(ext)), None)
        if media is None:
            raise refuse("the message model", where, "a URL image of unknown media type")
        return {"type": "image", "source": {"type": "url", "url": url}, "media_type": media}
    raise refuse("the message model", where, f"an image from a {kind!r} source")


def _content_in(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(content or ()):
        block = plain(raw)
        kind = block.get("type")
        if kind == "text":
            out.append({"type": "text", "text": block.get("text")})
        elif kind == "image":
            out.append(_image_in(block, f"{where}[{index}]"))
        else:
            raise refuse("the message model", f"{where}[{index}]", f"a {kind!r} block")
    return out


def from_anthropic(
    messages: Sequence[Mapping[str, Any] | Any],
    *,
    model: str = "",
    provider: str = "anthropic",
    timestamp_ms: int | None = None,
    tool_names: Mapping[str, str] | None = None,
) -> list[Message]:
    """Anthropic request messages and response objects as wire messages (CODEC-001).

    Pass ``on_turn_end(from_anthropic([*new messages]), usage=from_anthropic_usage(u))``.
    """
    stamp = now_ms() if timestamp_ms is None else timestamp_ms
    known: dict[str, str] = {}
    out: list[Message] = []
    for index, raw in enumerate(messages):
        item = plain(raw)
        where = f"messages[{index}]"
        role = item.get("role")
        if role == "assistant":
            blocks: list[dict[str, Any]] = []
            for position, raw_block in enumerate(item.get("content") or ()):
                block = plain(raw_block)
                kind = block.get("type")
                if kind == "text":
                    blocks.append({"type": "text", "text": block.get("text")})
                elif kind == "thinking":
                    thinking = {"type": "thinking", "thinking": block.get("thinking")}
                    if isinstance(block.get("signature"), str):
                        thinking["signature"] = block["signature"]
                    blocks.append(thinking)
                elif kind == "tool_use":
                    known[str(block.get("id"))] = str(block.get("name"))
                    blocks.append({"type": "tool_call", "tool_call": {
                        "id": block.get("id"), "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input", {})).decode(),
                    }})
                else:
                    raise refuse(
                        "the message model", f"{where}.content[{position}]", f"a {kind!r} block"
                    )
            data: dict[str, Any] = {
                "role": "assistant", "content": blocks, "api": "Anthropic",
                "provider": provider, "model": model, "usage": {},
                "stop_reason": "tool_use" if any(b["type"] == "tool_call" for b in blocks)
                else "stop",
                "timestamp_ms": stamp,
            }
            if item.get("type") == "message":  # a response object
                raw_stop = item.get("stop_reason")
                data["model"] = item.get("model", model)
                data["response_id"] = item.get("id")
                data["usage"] = from_anthropic_usage(item.get("usage") or {}).model_dump()
                if raw_stop in _KEPT_STOP:
                    data["stop_reason"] = "stop"
                    data["anthropic_stop_reason"] = raw_stop
                elif raw_stop is not None:
                    if raw_stop not in _STOP_IN:
                        raise refuse(
                            "the message model", f"{where}.stop_reason", f"{raw_stop!r}"
                        )
                    data["stop_reason"] = _STOP_IN[raw_stop]
            out.append(validated(data, SHAPE, where))
        elif role == "user":
            content = item.get("content")
            rest: list[Any] = []
            for position, raw_block in enumerate(
                content if isinstance(content, list) else [content]
            ):
                block = plain(raw_block)
                if isinstance(block, Mapping) and block.get("type") == "tool_result":
                    call_id = str(block.get("tool_use_id"))
                    out.append(validated({
                        "role": "tool_result",
                        "tool_call_id": call_id,
                        "tool_name": tool_name_for(call_id, known, tool_names, SHAPE,
                                                   f"{where}.content[{position}]"),
                        "content": _content_in(block.get("content", ""),
                                               f"{where}.content[{position}].content"),
                        "is_error": bool(block.get("is_error")),
                        "timestamp_ms": stamp,
                    }, SHAPE, where))
                else:
                    rest.append(block)
            results = len(content) - len(rest) if isinstance(content, list) else 0
            if rest or not results:  # an empty user message is kept, results alone are not
                blocks = [
                    b for part in rest for b in _content_in(
                        part if isinstance(part, str) else [part], f"{where}.content"
                    )
                ]
                out.append(validated(
                    {"role": "user", "content": blocks, "timestamp_ms": stamp}, SHAPE, where
                ))
        else:
            raise refuse("the message model", where, f"a message with role {role!r}")
    return out
