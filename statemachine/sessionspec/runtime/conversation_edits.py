"""The parts of a conversation edit that are not the buffer: replacements for
``fork_replacing`` (CONV-012), the transient steer filter (CONV-007), block validation and
inline image bytes (CONV-060). Split from :mod:`sessionspec.runtime.conversation` so that
module holds the buffer and its revisions only.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import TypeAdapter, ValidationError

from sessionspec.errors import BlockIndexOutOfBounds, CallerError, MessageRoleMismatch
from sessionspec.wire.messages import (
    AssistantContent,
    Base64Source,
    BytesSource,
    ImageContent,
    InputContent,
    Message,
    Usage,
)

__all__ = [
    "ASSISTANT_BLOCK",
    "INPUT_BLOCK",
    "SYSTEM_CONTEXT_SEPARATOR",
    "SYSTEM_CONTEXT_STATE_KEY",
    "ReplaceAssistantBlock",
    "ReplaceMessage",
    "ReplaceToolResultContentBlock",
    "ReplaceUserContentBlock",
    "TranscriptReplacement",
    "checked_block",
    "index_value",
    "inline_image_bytes",
    "is_steer_part",
    "replaced_message",
    "usage_model",
    "without_steers",
]

SYSTEM_CONTEXT_SEPARATOR = "\n\n---\n\n"
_STEER_HEADER = "[Runtime System Context]"
_STEER_SOURCE_LINE = "\nsource: runtime:steer:"
_STEER_PREFIX = "runtime:steer:"
#: The metadata key of the system context state (meerkat's name).
SYSTEM_CONTEXT_STATE_KEY = "session_system_context_state"

INPUT_BLOCK: TypeAdapter[Any] = TypeAdapter(InputContent)
ASSISTANT_BLOCK: TypeAdapter[Any] = TypeAdapter(AssistantContent)

@dataclass(frozen=True, slots=True)
class ReplaceMessage:
    """Replace the whole message."""

    message: Message | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReplaceUserContentBlock:
    """Replace one content block of a user message."""

    block_index: int
    block: Any


@dataclass(frozen=True, slots=True)
class ReplaceAssistantBlock:
    """Replace one content block of an assistant message."""

    block_index: int
    block: Any


@dataclass(frozen=True, slots=True)
class ReplaceToolResultContentBlock:
    """Replace one content block of a tool result (one result per message here, CONV-012)."""

    block_index: int
    block: Any


TranscriptReplacement: TypeAlias = (
    ReplaceMessage | ReplaceUserContentBlock | ReplaceAssistantBlock | ReplaceToolResultContentBlock
)



def index_value(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CallerError(f"{name} must be an integer, not {value!r}")
    return value


def checked_block(adapter: TypeAdapter[Any], block: Any, kind: str) -> Any:
    if hasattr(block, "to_json_dict"):
        block = block.to_json_dict()
    try:
        return adapter.validate_python(block)
    except ValidationError as exc:
        raise CallerError(f"not a valid {kind}: {exc.errors()[0]['msg']}") from None


def usage_model(usage: Usage | Mapping[str, Any] | None) -> Usage:
    if usage is None:
        return Usage()
    if isinstance(usage, Usage):
        return usage
    try:
        return Usage.model_validate(usage)
    except ValidationError as exc:
        raise CallerError(f"not a valid usage: {exc.errors()[0]['msg']}") from None


def replaced_message(original: Message, replacement: TranscriptReplacement) -> Any:
    """The replacement message of ``fork_replacing`` (CONV-012)."""
    if isinstance(replacement, ReplaceMessage):
        return replacement.message
    if isinstance(replacement, ReplaceUserContentBlock):
        expected, kind, adapter = "user", "user content block", INPUT_BLOCK
    elif isinstance(replacement, ReplaceAssistantBlock):
        expected, kind, adapter = "assistant", "assistant block", ASSISTANT_BLOCK
    elif isinstance(replacement, ReplaceToolResultContentBlock):
        expected, kind, adapter = "tool_result", "tool result content block", INPUT_BLOCK
    else:
        raise CallerError(f"not a transcript replacement: {replacement!r}")
    if original.role != expected:
        raise MessageRoleMismatch(expected, original.role)
    content: list[Any] = list(original.content)
    block_index = index_value(replacement.block_index, "block_index")
    if not 0 <= block_index < len(content):
        raise BlockIndexOutOfBounds(kind, block_index, len(content))
    content[block_index] = checked_block(adapter, replacement.block, kind)
    return original.model_copy(update={"content": content})


def inline_image_bytes(block: Any, index: int, position: int) -> bytes | None:
    if not isinstance(block, ImageContent):
        return None
    source = block.source
    if isinstance(source, BytesSource):
        return bytes(source.data)
    if isinstance(source, Base64Source):
        try:
            return base64.b64decode(source.data, validate=True)
        except (binascii.Error, ValueError):
            raise CallerError(
                f"message {index} block {position}: image data is not valid base64"
            ) from None
    return None


def is_steer_part(part: str) -> bool:
    return part.startswith(_STEER_HEADER) and _STEER_SOURCE_LINE in part


def _is_steer(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_STEER_PREFIX)


def without_steers(state: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """The system context state without transient steers, and how many were removed."""
    cleaned = copy.deepcopy(dict(state))
    removed = 0
    for name in ("pending", "applied"):
        entries = cleaned.get(name)
        if isinstance(entries, list):
            kept = [
                e
                for e in entries
                if not (
                    isinstance(e, Mapping)
                    and (_is_steer(e.get("source")) or _is_steer(e.get("idempotency_key")))
                )
            ]
            removed += len(entries) - len(kept)
            cleaned[name] = kept
    seen = cleaned.get("seen")
    if isinstance(seen, dict):
        for key in [
            k
            for k, v in seen.items()
            if _is_steer(k) or (isinstance(v, Mapping) and _is_steer(v.get("source")))
        ]:
            del seen[key]
            removed += 1
    keys = cleaned.get("active_turn_pending_keys")
    if isinstance(keys, list):
        kept_keys = [k for k in keys if not _is_steer(k)]
        removed += len(keys) - len(kept_keys)
        cleaned["active_turn_pending_keys"] = kept_keys
    return cleaned, removed
