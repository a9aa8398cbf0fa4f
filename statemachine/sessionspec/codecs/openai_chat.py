"""OpenAI Chat Completions shapes to and from the one message model (spec §11, CODEC).

Rules
-----
* A user message is ``{"role": "user", "content": ...}``: one text block as a string, else a
  list of ``text`` and ``image_url`` parts (an image as a ``data:`` URL, or its URL).
* An assistant message is ``{"role": "assistant", "content", "tool_calls"}``: its text
  blocks as ``content`` (one as a string, several as text parts, none as ``null``) and its
  tool calls as ``tool_calls`` of ``type: function``. The shape orders tool calls after the
  text, so an assistant message whose text follows a tool call is refused; the shape has no
  place for thinking, which is refused too (CODEC-002).
* A tool result is ``{"role": "tool", "tool_call_id", "content"}`` with text only; the shape
  has no error flag, so a result with ``is_error`` is refused, as are images in results.
* A response object (``{"id", "object": "chat.completion", "model", "choices", "usage"}``)
  decodes its first choice with its id, model, usage and ``finish_reason`` (``stop``,
  ``length``; ``tool_calls`` is ``tool_use``; ``content_filter`` is ``stop`` with the
  provider's value kept in ``openai_finish_reason``).
* Usage names (CODEC-003): ``prompt_tokens`` counts cached tokens too, so our
  ``input_tokens`` is ``prompt_tokens - prompt_tokens_details.cached_tokens`` and
  ``cache_read_tokens`` is the cached count; ``completion_tokens`` is ``output_tokens``. The
  shape has no cache-write count: a usage with one is refused on encoding.
* ``system`` and ``developer`` messages have no role in the message model: refused when
  decoding; pass the system prompt to the request yourself.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

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
    "from_openai_chat",
    "from_openai_chat_usage",
    "to_openai_chat",
    "to_openai_chat_response",
    "to_openai_chat_usage",
]

SHAPE = "OpenAI Chat Completions"
_FINISH_IN = {"stop": "stop", "length": "length", "tool_calls": "tool_use"}
_FINISH_OUT = {"stop": "stop", "length": "length", "tool_use": "tool_calls"}
_KEPT_FINISH = frozenset({"content_filter", "function_call"})


def image_url(block: Mapping[str, Any]) -> str:
    """An image block as the URL OpenAI shapes take (a ``data:`` URL unless it is one)."""
    source = block["source"]
    if source["type"] == "url":
        return str(source["url"])
    data = source["data"]
    if source["type"] == "bytes":
        data = base64.b64encode(bytes(data)).decode()
    return f"data:{block['media_type']};base64,{data}"


def image_from_url(url: str, where: str, media_hint: str | None = None) -> dict[str, Any]:
    """The inverse of :func:`image_url`: a ``data:`` URL back to base64, a URL kept."""
    if url.startswith("data:"):
        media, sep, data = url[5:].partition(";base64,")
        if not sep:
            raise refuse("the message model", where, "a data URL that is not base64")
        return {"type": "image", "source": {"type": "base64", "data": data}, "media_type": media}
    lowered = url.split("?", 1)[0].lower()
    for ext, media in ((".png", "image/png"), (".jpg", "image/jpeg"), (".jpeg", "image/jpeg"),
                       (".gif", "image/gif"), (".webp", "image/webp")):
        if lowered.endswith(ext):
            return {"type": "image", "source": {"type": "url", "url": url}, "media_type": media}
    if media_hint is not None:
        return {"type": "image", "source": {"type": "url", "url": url}, "media_type": media_hint}
    raise refuse("the message model", where, "a URL image of unknown media type")


def _text_only(content: Sequence[Mapping[str, Any]], where: str, what: str) -> list[str]:
    texts: list[str] = []
    for index, block in enumerate(content):
        if block.get("type") != "text":
            raise refuse(SHAPE, f"{where}.content[{index}]", f"a {block.get('type')!r} {what}")
        texts.append(str(block["text"]))
    return texts


def _text_value(texts: Sequence[str]) -> Any:
    if not texts:
        return None
    if len(texts) == 1:
        return texts[0]
    return [{"type": "text", "text": t} for t in texts]


def _assistant_out(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(message["content"]):
        kind = block.get("type")
        if kind == "text":
            if calls:
                raise refuse(SHAPE, f"{where}.content[{index}]", "text after a tool call")
            texts.append(str(block["text"]))
        elif kind == "tool_call":
            call = block["tool_call"]
            calls.append({
                "id": call["id"], "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            })
        else:
            raise refuse(SHAPE, f"{where}.content[{index}]", f"a {kind!r} block")
    out: dict[str, Any] = {"role": "assistant", "content": _text_value(texts)}
    if calls:
        out["tool_calls"] = calls
    return out


def to_openai_chat(messages: Sequence[WireModel | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``messages`` of the next request (without the system prompt, which is yours)."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(as_dicts(messages)):
        where = f"messages[{index}]"
        role = message.get("role")
        if role == "user":
            content = message["content"]
            if len(content) == 1 and content[0].get("type") == "text":
                out.append({"role": "user", "content": content[0]["text"]})
                continue
            parts: list[dict[str, Any]] = []
            for block in content:
                if block.get("type") == "text":
                    parts.append({"type": "text", "text": block["text"]})
                else:
                    parts.append({"type": "image_url", "image_url": {"url": image_url(block)}})
            out.append({"role": "user", "content": parts})
        elif role == "assistant":
            out.append(_assistant_out(message, where))
        elif role == "tool_result":
            if message.get("is_error"):
                raise refuse(SHAPE, where, "a tool result's error flag")
            texts = _text_only(message["content"], where, "block in a tool result")
            value = _text_value(texts)
            out.append({"role": "tool", "tool_call_id": message["tool_call_id"],
                        "content": [] if value is None else value})
        else:
            raise refuse(SHAPE, where, f"a message with role {role!r}")
    return out


def to_openai_chat_usage(usage: Usage | Mapping[str, Any]) -> dict[str, Any]:
    counters = usage_dict(usage)
    if counters["cache_write_tokens"]:
        raise refuse(SHAPE, "usage.cache_write_tokens", "a cache-write count")
    prompt = counters["input_tokens"] + counters["cache_read_tokens"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": counters["output_tokens"],
        "total_tokens": prompt + counters["output_tokens"],
        "prompt_tokens_details": {"cached_tokens": counters["cache_read_tokens"]},
    }


def to_openai_chat_response(message: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    data = as_dicts([message])[0]
    if data.get("role") != "assistant":
        raise refuse(SHAPE, "message", f"a {data.get('role')!r} message as a response")
    kept = data.get("openai_finish_reason")
    finish = kept if kept in _KEPT_FINISH else _FINISH_OUT.get(str(data["stop_reason"]))
    if finish is None:
        raise refuse(SHAPE, "message.stop_reason", f"the stop reason {data['stop_reason']!r}")
    if not isinstance(data.get("response_id"), str):
        raise refuse(SHAPE, "message.response_id", "a response without an id")
    return {
        "id": data["response_id"],
        "object": "chat.completion",
        "model": data["model"],
        "choices": [{"index": 0, "message": _assistant_out(data, "message"),
                     "finish_reason": finish}],
        "usage": to_openai_chat_usage(data["usage"]),
    }


def from_openai_chat_usage(usage: Mapping[str, Any] | Any) -> Usage:
    data = plain(usage) or {}
    details = plain(data.get("prompt_tokens_details")) or {}
    prompt = int(data.get("prompt_tokens") or 0)
    cached = int(details.get("cached_tokens") or 0)
    if cached > prompt:
        raise refuse("the message model", "usage", "more cached tokens than prompt tokens")
    return Usage(
        input_tokens=prompt - cached,
        output_tokens=int(data.get("completion_tokens") or 0),
        cache_read_tokens=cached,
    )


def _content_in(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(content):
        part = plain(raw)
        kind = part.get("type")
        if kind == "text":
            out.append({"type": "text", "text": part.get("text")})
        elif kind == "image_url":
            url = (plain(part.get("image_url")) or {}).get("url", "")
            out.append(image_from_url(str(url), f"{where}[{index}]"))
        else:
            raise refuse("the message model", f"{where}[{index}]", f"a {kind!r} part")
    return out


def from_openai_chat(
    messages: Sequence[Mapping[str, Any] | Any],
    *,
    model: str = "",
    provider: str = "openai",
    timestamp_ms: int | None = None,
    tool_names: Mapping[str, str] | None = None,
) -> list[Message]:
    """Chat Completions messages and response objects as wire messages (CODEC-001)."""
    stamp = now_ms() if timestamp_ms is None else timestamp_ms
    known: dict[str, str] = {}
    out: list[Message] = []
    for index, raw in enumerate(messages):
        item = plain(raw)
        where = f"messages[{index}]"
        response: Mapping[str, Any] | None = None
        finish: Any = None
        if item.get("object") == "chat.completion" or "choices" in item:
            response = item
            choice = plain(item["choices"][0])
            finish = choice.get("finish_reason")
            item = plain(choice["message"])
        role = item.get("role")
        if role == "assistant":
            blocks = _content_in(item.get("content"), f"{where}.content")
            for raw_call in item.get("tool_calls") or ():
                call = plain(raw_call)
                function = plain(call.get("function")) or {}
                known[str(call.get("id"))] = str(function.get("name"))
                blocks.append({"type": "tool_call", "tool_call": {
                    "id": call.get("id"), "name": function.get("name"),
                    "arguments": function.get("arguments", ""),
                }})
            data: dict[str, Any] = {
                "role": "assistant", "content": blocks, "api": "OpenAi", "provider": provider,
                "model": model, "usage": {},
                "stop_reason": "tool_use" if item.get("tool_calls") else "stop",
                "timestamp_ms": stamp,
            }
            if response is not None:
                data["model"] = response.get("model", model)
                data["response_id"] = response.get("id")
                if response.get("usage") is not None:
                    data["usage"] = from_openai_chat_usage(response["usage"]).model_dump()
                if finish in _KEPT_FINISH:
                    data["stop_reason"] = "stop"
                    data["openai_finish_reason"] = finish
                elif finish is not None:
                    if finish not in _FINISH_IN:
                        raise refuse("the message model", f"{where}.finish_reason", repr(finish))
                    data["stop_reason"] = _FINISH_IN[finish]
            out.append(validated(data, SHAPE, where))
        elif role == "user":
            out.append(validated({
                "role": "user", "content": _content_in(item.get("content"), f"{where}.content"),
                "timestamp_ms": stamp,
            }, SHAPE, where))
        elif role == "tool":
            call_id = str(item.get("tool_call_id"))
            out.append(validated({
                "role": "tool_result", "tool_call_id": call_id,
                "tool_name": tool_name_for(call_id, known, tool_names, SHAPE, where),
                "content": _content_in(item.get("content"), f"{where}.content"),
                "is_error": False, "timestamp_ms": stamp,
            }, SHAPE, where))
        else:
            raise refuse("the message model", where, f"a message with role {role!r}")
    return out
