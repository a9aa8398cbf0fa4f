"""phi-core's message shape <-> the package's one message model (REC-004).

Rules
-----
* A phi-core message (``role`` ``user``/``assistant``/``toolResult``, camelCase keys, unix
  milliseconds) becomes the opi-form model of :mod:`sessionspec.wire.messages`, and back,
  without loss: what opi's form has no field for is kept in an extra field (WIRE-005), and
  the way back reads it.
* Content: ``text`` -> text; ``thinking`` -> thinking (the ``signature`` kept);
  ``image{data, mimeType}`` -> image with a base64 source; ``toolCall{id, name, arguments}``
  -> ``tool_call`` whose ``arguments`` is the JSON text of phi-core's value (opi keeps a
  string). A tool call in a user or tool-result message, or an image type opi does not
  know, cannot be expressed and is :class:`PhiCodecError`, never dropped.
* Stop reasons: ``stop``, ``length``, ``error``, ``aborted`` as they are; ``toolUse`` ->
  ``tool_use``; phi-core's ``maxTurns`` and ``userStop`` -> ``aborted`` with the original
  kept in ``phi_stop_reason``.
* Usage: ``input``/``output``/``cache_read``/``cache_write`` -> opi's four counters;
  ``reasoning`` and ``total_tokens`` kept as extra fields when non-zero.
* ``api`` (opi requires it, phi-core has none) comes from the provider name
  (``anthropic``, ``openai``, ``google``, ``mistral``), else ``default_api``.
"""

from __future__ import annotations

from typing import Any, get_args

import orjson

from sessionspec.errors import CallerError
from sessionspec.wire.agent_events import (
    PhiAssistantMessage,
    PhiContent,
    PhiImage,
    PhiMessage,
    PhiText,
    PhiThinking,
    PhiToolCall,
    PhiToolResultMessage,
    PhiUsage,
    PhiUserMessage,
)
from sessionspec.wire.messages import (
    ApiKind,
    AssistantMessage,
    Base64Source,
    ImageContent,
    Message,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolCallContent,
    ToolResultMessage,
    Usage,
    UserMessage,
)

__all__ = [
    "PhiCodecError",
    "message_from_phi",
    "message_to_phi",
    "usage_from_phi",
    "usage_to_phi",
]

_API_BY_PROVIDER: dict[str, ApiKind] = {
    "anthropic": "Anthropic",
    "openai": "OpenAi",
    "google": "Google",
    "mistral": "Mistral",
}
_STOP_FROM_PHI = {
    "stop": "stop",
    "length": "length",
    "toolUse": "tool_use",
    "error": "error",
    "aborted": "aborted",
    "maxTurns": "aborted",
    "userStop": "aborted",
}
_STOP_TO_PHI = {
    "stop": "stop",
    "length": "length",
    "tool_use": "toolUse",
    "error": "error",
    "aborted": "aborted",
}
_MEDIA_TYPES = frozenset(get_args(ImageContent.model_fields["media_type"].annotation))


class PhiCodecError(CallerError):
    """A message that one of the two shapes cannot express (REC-004)."""


def usage_from_phi(usage: PhiUsage) -> Usage:
    result = Usage(
        input_tokens=usage.input,
        output_tokens=usage.output,
        cache_read_tokens=usage.cache_read,
        cache_write_tokens=usage.cache_write,
    )
    if usage.reasoning:
        result.__pydantic_extra__ = {
            **(result.__pydantic_extra__ or {}),
            "reasoning_tokens": usage.reasoning,
        }
    if usage.total_tokens:
        result.__pydantic_extra__ = {
            **(result.__pydantic_extra__ or {}),
            "total_tokens": usage.total_tokens,
        }
    return result


def usage_to_phi(usage: Usage) -> dict[str, Any]:
    extra = usage.__pydantic_extra__ or {}
    return {
        "input": usage.input_tokens,
        "output": usage.output_tokens,
        "reasoning": int(extra.get("reasoning_tokens", 0)),
        "cache_read": usage.cache_read_tokens,
        "cache_write": usage.cache_write_tokens,
        "total_tokens": int(extra.get("total_tokens", 0)),
    }


def _input_block(block: PhiContent, role: str) -> TextContent | ImageContent:
    if isinstance(block, PhiText):
        return TextContent(text=block.text)
    if isinstance(block, PhiImage):
        if block.mime_type not in _MEDIA_TYPES:
            raise PhiCodecError(f"image type {block.mime_type!r} has no opi form")
        return ImageContent.model_validate(
            {"source": Base64Source(data=block.data), "media_type": block.mime_type}
        )
    raise PhiCodecError(f"a {role} message cannot hold a {block.type!r} block in opi's form")


def _assistant_block(block: PhiContent) -> TextContent | ThinkingContent | ToolCallContent:
    if isinstance(block, PhiText):
        return TextContent(text=block.text)
    if isinstance(block, PhiThinking):
        thinking = ThinkingContent(thinking=block.thinking)
        if block.signature is not None:
            thinking.__pydantic_extra__ = {"signature": block.signature}
        return thinking
    if isinstance(block, PhiToolCall):
        arguments = orjson.dumps(block.arguments).decode()
        return ToolCallContent(
            tool_call=ToolCall(id=block.id, name=block.name, arguments=arguments)
        )
    raise PhiCodecError("an assistant message cannot hold an image block in opi's form")


def message_from_phi(message: PhiMessage, *, default_api: ApiKind = "OpenAi") -> Message:
    """phi-core's message as the package's message model (REC-004)."""
    if isinstance(message, PhiUserMessage):
        return UserMessage(
            content=[_input_block(b, "user") for b in message.content],
            timestamp_ms=message.timestamp,
        )
    if isinstance(message, PhiToolResultMessage):
        return ToolResultMessage(
            tool_call_id=message.tool_call_id,
            tool_name=message.tool_name,
            content=[_input_block(b, "toolResult") for b in message.content],
            is_error=message.is_error,
            timestamp_ms=message.timestamp,
        )
    assert isinstance(message, PhiAssistantMessage)
    api = _API_BY_PROVIDER.get(message.provider.lower(), default_api)
    result = AssistantMessage.model_validate(
        {
            "content": [_assistant_block(b) for b in message.content],
            "api": api,
            "provider": message.provider,
            "model": message.model,
            "usage": usage_from_phi(message.usage),
            "stop_reason": _STOP_FROM_PHI[message.stop_reason],
            "error_message": message.error_message,
            "timestamp_ms": message.timestamp,
        }
    )
    if _STOP_TO_PHI.get(result.stop_reason) != message.stop_reason:
        result.__pydantic_extra__ = {"phi_stop_reason": message.stop_reason}
    return result


def _block_to_phi(block: Any) -> dict[str, Any]:
    if isinstance(block, TextContent):
        return {"type": "text", "text": block.text}
    if isinstance(block, ThinkingContent):
        out: dict[str, Any] = {"type": "thinking", "thinking": block.thinking}
        signature = (block.__pydantic_extra__ or {}).get("signature")
        if signature is not None:
            out["signature"] = signature
        return out
    if isinstance(block, ToolCallContent):
        call = block.tool_call
        try:
            arguments = orjson.loads(call.arguments)
        except orjson.JSONDecodeError:
            raise PhiCodecError(
                f"tool call {call.id!r}: arguments are not JSON, phi-core needs a value"
            ) from None
        return {"type": "toolCall", "id": call.id, "name": call.name, "arguments": arguments}
    if isinstance(block, ImageContent):
        if not isinstance(block.source, Base64Source):
            raise PhiCodecError(f"phi-core holds images as base64 only, not {block.source.type!r}")
        return {"type": "image", "data": block.source.data, "mimeType": block.media_type}
    raise PhiCodecError(f"no phi-core form for a {type(block).__name__}")


def message_to_phi(message: Message) -> dict[str, Any]:
    """The package's message in phi-core's JSON form (inverse of :func:`message_from_phi`)."""
    content = [_block_to_phi(b) for b in message.content]
    if isinstance(message, UserMessage):
        return {"role": "user", "content": content, "timestamp": message.timestamp_ms}
    if isinstance(message, ToolResultMessage):
        return {
            "role": "toolResult",
            "toolCallId": message.tool_call_id,
            "toolName": message.tool_name,
            "content": content,
            "isError": message.is_error,
            "timestamp": message.timestamp_ms,
        }
    stop = (message.__pydantic_extra__ or {}).get("phi_stop_reason") or _STOP_TO_PHI[
        message.stop_reason
    ]
    out: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "stopReason": stop,
        "model": message.model,
        "provider": message.provider,
        "usage": usage_to_phi(message.usage),
        "timestamp": message.timestamp_ms,
    }
    if message.error_message is not None:
        out["error_message"] = message.error_message
    return out
