"""What the provider codecs share (spec §11, CODEC).

Rules
-----
* Encoders take what the coordinator gives: wire messages (models or their JSON dicts) and
  summary slots (``{"type": "compaction_summary", "summary"}``). A summary slot is sent as a
  user message whose one text block is the summary (CODEC-004).
* Decoders return validated wire models (:data:`sessionspec.wire.messages.Message`). A tool
  result in a provider shape names only its call id; the decoder takes the tool's name from
  the call earlier in the same list, or from ``tool_names`` (CODEC-005).
* Fields a provider shape has no place for are the **envelope** of a message, supplied to the
  decoder, never invented: ``timestamp_ms`` (default: now), ``provider``/``api`` (fixed per
  codec), ``model`` (from a response object, else the ``model`` argument). Tool result
  ``details`` and ``truncated`` are local metadata that no provider receives. Everything
  else, content above all, is either carried or refused with
  :class:`~sessionspec.errors.UnrepresentableError` (CODEC-002).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sessionspec.errors import UnrepresentableError
from sessionspec.wire.messages import Message, Usage, WireModel

__all__ = [
    "MESSAGE_ADAPTER",
    "as_dicts",
    "now_ms",
    "plain",
    "refuse",
    "tool_name_for",
    "validated",
]

MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def plain(value: Any) -> Any:
    """An SDK object (a pydantic model of a provider's client) as a plain dict; dicts, lists
    and scalars as they are. Every provider codec reads its input through this."""
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def now_ms() -> int:
    return int(time.time() * 1000)


def refuse(shape: str, where: str, what: str) -> UnrepresentableError:
    return UnrepresentableError(shape, where, what)


def as_dicts(messages: Sequence[WireModel | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages and summary slots as JSON dicts; a summary slot becomes a user message."""
    out: list[dict[str, Any]] = []
    for item in messages:
        data = item.to_json_dict() if isinstance(item, WireModel) else dict(item)
        if data.get("type") == "compaction_summary":
            data = {
                "role": "user",
                "content": [{"type": "text", "text": str(data.get("summary", ""))}],
                "timestamp_ms": 0,
            }
        out.append(data)
    return out


def validated(data: Mapping[str, Any], shape: str, where: str) -> Message:
    """A decoded message checked by the wire model; what it rejects is refused, by name."""
    try:
        return MESSAGE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        raise UnrepresentableError(
            "the message model", where, f"{shape} content ({location}: {first['msg']})"
        ) from None


def tool_name_for(
    call_id: str, known: Mapping[str, str], tool_names: Mapping[str, str] | None, shape: str,
    where: str,
) -> str:
    if call_id in known:
        return known[call_id]
    if tool_names is not None and call_id in tool_names:
        return tool_names[call_id]
    raise UnrepresentableError(
        "the message model", where,
        f"a {shape} tool result for call {call_id!r} whose call is not in the list "
        "(pass tool_names={call_id: name})",
    )


def usage_dict(usage: Usage | Mapping[str, Any]) -> dict[str, int]:
    data = usage.model_dump() if isinstance(usage, Usage) else dict(usage)
    return {
        name: int(data.get(name, 0) or 0)
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    }
