"""OpenAI Responses API items to and from the one message model (spec §11, CODEC).

Rules
-----
* A list of messages is a list of input items (CODEC-007). A user message is one ``message``
  item with ``input_text`` and ``input_image`` parts. An assistant message is a run of output
  items, one per block, in order: ``reasoning`` (its thinking as one ``summary_text``; the
  ``id`` and ``encrypted_content`` the API gave, kept as extra fields of the thinking block,
  go back with it), ``message`` (role ``assistant``, one ``output_text``) and
  ``function_call`` (``call_id``, ``name``, ``arguments``). A tool result is a
  ``function_call_output``: its output a string when it is one text block, else a list of
  ``input_text`` and ``input_image`` parts.
* Decoding joins a run of assistant-side items into one assistant message (so two assistant
  messages in a row come back as one; put a user or tool message between them).
* A response object (``{"id", "object": "response", "model", "output", "usage", "status"}``)
  decodes to one assistant message with its id, model and usage; ``completed`` is ``stop``
  or ``tool_use`` (when it calls a tool), ``incomplete`` is ``length``.
* Usage names (CODEC-003): ``input_tokens`` counts cached tokens too, so our
  ``input_tokens`` is ``input_tokens - input_tokens_details.cached_tokens``; no cache-write
  count exists, so a usage with one is refused on encoding.
* Refused (CODEC-002): a tool result's error flag (no such field), item types the message
  model has no type for (web search, file search, computer calls, ...), ``system`` and
  ``developer`` messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.codecs.openai_chat import image_from_url, image_url
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
    "from_openai_responses",
    "from_openai_responses_usage",
    "to_openai_responses",
    "to_openai_responses_response",
    "to_openai_responses_usage",
]

SHAPE = "OpenAI Responses"
_ASSISTANT_ITEMS = frozenset({"reasoning", "function_call"})
_REASONING_EXTRAS = ("id", "encrypted_content")


def _assistant_items(content: Sequence[Mapping[str, Any]], where: str) -> list[dict[str, Any]]:
    if not content:  # an empty reply is an output message without parts
        return [{"type": "message", "role": "assistant", "content": []}]
    items: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type")
        if kind == "text":
            items.append({"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": block["text"], "annotations": []}
            ]})
        elif kind == "thinking":
            item: dict[str, Any] = {"type": "reasoning", "summary": [
                {"type": "summary_text", "text": block["thinking"]}
            ]}
            for extra in _REASONING_EXTRAS:
                if isinstance(block.get(extra), str):
                    item[extra] = block[extra]
            items.append(item)
        elif kind == "tool_call":
            call = block["tool_call"]
            items.append({"type": "function_call", "call_id": call["id"], "name": call["name"],
                          "arguments": call["arguments"]})
        else:  # pragma: no cover - no other assistant block exists
            raise refuse(SHAPE, f"{where}.content[{index}]", f"a {kind!r} block")
    return items


def _input_parts(content: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": "input_text", "text": block["text"]} if block.get("type") == "text"
        else {"type": "input_image", "image_url": image_url(block)}
        for block in content
    ]


def to_openai_responses(
    messages: Sequence[WireModel | Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The ``input`` items of the next request (instructions are yours to pass)."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(as_dicts(messages)):
        where = f"messages[{index}]"
        role = message.get("role")
        if role == "user":
            out.append({"type": "message", "role": "user",
                        "content": _input_parts(message["content"])})
        elif role == "assistant":
            out.extend(_assistant_items(message["content"], where))
        elif role == "tool_result":
            if message.get("is_error"):
                raise refuse(SHAPE, where, "a tool result's error flag")
            content = message["content"]
            output: Any
            if len(content) == 1 and content[0].get("type") == "text":
                output = content[0]["text"]
            else:
                output = _input_parts(content)
            out.append({"type": "function_call_output", "call_id": message["tool_call_id"],
                        "output": output})
        else:
            raise refuse(SHAPE, where, f"a message with role {role!r}")
    return out


def to_openai_responses_usage(usage: Usage | Mapping[str, Any]) -> dict[str, Any]:
    counters = usage_dict(usage)
    if counters["cache_write_tokens"]:
        raise refuse(SHAPE, "usage.cache_write_tokens", "a cache-write count")
    total_input = counters["input_tokens"] + counters["cache_read_tokens"]
    return {
        "input_tokens": total_input,
        "input_tokens_details": {"cached_tokens": counters["cache_read_tokens"]},
        "output_tokens": counters["output_tokens"],
        "total_tokens": total_input + counters["output_tokens"],
    }


def to_openai_responses_response(message: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    data = as_dicts([message])[0]
    if data.get("role") != "assistant":
        raise refuse(SHAPE, "message", f"a {data.get('role')!r} message as a response")
    status = {"stop": "completed", "tool_use": "completed", "length": "incomplete"}.get(
        str(data["stop_reason"])
    )
    if status is None:
        raise refuse(SHAPE, "message.stop_reason", f"the stop reason {data['stop_reason']!r}")
    has_call = any(b.get("type") == "tool_call" for b in data["content"])
    if (data["stop_reason"] == "tool_use") != has_call and status == "completed":
        raise refuse(SHAPE, "message.stop_reason",
                     f"stop reason {data['stop_reason']!r} with tool calls={has_call}")
    if not isinstance(data.get("response_id"), str):
        raise refuse(SHAPE, "message.response_id", "a response without an id")
    return {
        "id": data["response_id"],
        "object": "response",
        "model": data["model"],
        "status": status,
        "output": _assistant_items(data["content"], "message"),
        "usage": to_openai_responses_usage(data["usage"]),
    }


def from_openai_responses_usage(usage: Mapping[str, Any] | Any) -> Usage:
    data = plain(usage) or {}
    details = plain(data.get("input_tokens_details")) or {}
    total_input = int(data.get("input_tokens") or 0)
    cached = int(details.get("cached_tokens") or 0)
    if cached > total_input:
        raise refuse("the message model", "usage", "more cached tokens than input tokens")
    return Usage(
        input_tokens=total_input - cached,
        output_tokens=int(data.get("output_tokens") or 0),
        cache_read_tokens=cached,
    )


def _parts_in(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(content or ()):
        part = plain(raw)
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            out.append({"type": "text", "text": part.get("text")})
        elif kind == "input_image":
            out.append(image_from_url(str(part.get("image_url", "")), f"{where}[{index}]"))
        else:
            raise refuse("the message model", f"{where}[{index}]", f"a {kind!r} part")
    return out


def from_openai_responses(
    items: Sequence[Mapping[str, Any] | Any],
    *,
    model: str = "",
    provider: str = "openai",
    timestamp_ms: int | None = None,
    tool_names: Mapping[str, str] | None = None,
) -> list[Message]:
    """Responses API items (and response objects, whose ``output`` is read) as wire
    messages (CODEC-001)."""
    stamp = now_ms() if timestamp_ms is None else timestamp_ms
    known: dict[str, str] = {}
    out: list[Message] = []
    pending: list[dict[str, Any]] = []
    envelope: dict[str, Any] = {}
    started = [False]

    def flush(where: str) -> None:
        if not started[0]:
            return
        started[0] = False
        has_call = any(b["type"] == "tool_call" for b in pending)
        data: dict[str, Any] = {
            "role": "assistant", "content": list(pending), "api": "OpenAi",
            "provider": provider, "model": model, "usage": {},
            "stop_reason": "tool_use" if has_call else "stop", "timestamp_ms": stamp,
        }
        data.update(envelope)
        pending.clear()
        envelope.clear()
        out.append(validated(data, SHAPE, where))

    expanded: list[tuple[str, Any, Mapping[str, Any] | None]] = []
    for index, raw in enumerate(items):
        item = plain(raw)
        if item.get("object") == "response" or ("output" in item and "type" not in item):
            for position, output_item in enumerate(item.get("output") or ()):
                expanded.append((f"items[{index}].output[{position}]", output_item, item))
        else:
            expanded.append((f"items[{index}]", item, None))
    current_response: Mapping[str, Any] | None = None
    for where, raw, response in expanded:
        item = plain(raw)
        kind = item.get("type", "message")
        role = item.get("role")
        assistant_side = kind in _ASSISTANT_ITEMS or (kind == "message" and role == "assistant")
        if not assistant_side or response is not current_response:
            flush(where)
        current_response = response
        started[0] = started[0] or assistant_side
        if response is not None and not envelope:
            envelope["model"] = response.get("model", model)
            envelope["response_id"] = response.get("id")
            if response.get("usage") is not None:
                envelope["usage"] = from_openai_responses_usage(response["usage"]).model_dump()
            if response.get("status") == "incomplete":
                envelope["stop_reason"] = "length"
        if kind == "message" and role == "assistant":
            pending.extend(_parts_in(item.get("content"), f"{where}.content"))
        elif kind == "reasoning":
            texts = [str(plain(p).get("text", "")) for p in item.get("summary") or ()]
            block: dict[str, Any] = {"type": "thinking", "thinking": "\n\n".join(texts)}
            for extra in _REASONING_EXTRAS:
                if isinstance(item.get(extra), str):
                    block[extra] = item[extra]
            pending.append(block)
        elif kind == "function_call":
            call_id = str(item.get("call_id"))
            known[call_id] = str(item.get("name"))
            pending.append({"type": "tool_call", "tool_call": {
                "id": call_id, "name": item.get("name"), "arguments": item.get("arguments", ""),
            }})
        elif kind == "message" and role == "user":
            out.append(validated({
                "role": "user", "content": _parts_in(item.get("content"), f"{where}.content"),
                "timestamp_ms": stamp,
            }, SHAPE, where))
        elif kind == "function_call_output":
            call_id = str(item.get("call_id"))
            out.append(validated({
                "role": "tool_result", "tool_call_id": call_id,
                "tool_name": tool_name_for(call_id, known, tool_names, SHAPE, where),
                "content": _parts_in(item.get("output", ""), f"{where}.output"),
                "is_error": False, "timestamp_ms": stamp,
            }, SHAPE, where))
        else:
            raise refuse("the message model", where,
                         f"an item of type {kind!r}" + (f" with role {role!r}" if role else ""))
    flush("end")
    return out
