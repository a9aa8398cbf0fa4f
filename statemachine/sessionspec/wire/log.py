"""The session log's header and entries in opi's JSONL v1 form (WIRE-006..WIRE-008).

Line 1 of a session file is a :class:`SessionHeader`; every later line is one entry, tagged
by ``type``: ``message``, ``compaction``, ``leaf`` or ``extension_state``. Every entry has
``id``, ``parent_id`` (``null`` for a root, never omitted) and ``timestamp``. Field order is
opi's. The storage layer adds its framing fields (``ss_seq``, ``ss_end``, ``ss_crc``) to each
line and strips them again on reading; they never appear in these models (LOG-002).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field, TypeAdapter

from sessionspec.wire.messages import Message, WireModel

__all__ = [
    "ENTRY_ADAPTER",
    "ENTRY_TYPES",
    "FORMAT_VERSION",
    "CompactionEntry",
    "ExtensionStateEntry",
    "LeafEntry",
    "MessageEntry",
    "SessionEntry",
    "SessionHeader",
    "parse_entry",
]

#: The only opi session format version this package reads and writes.
FORMAT_VERSION = 1

U64 = Annotated[int, Field(ge=0, le=2**64 - 1)]


class SessionHeader(WireModel):
    type: Literal["session"] = "session"
    version: Literal[1] = 1
    id: str
    timestamp: str
    cwd: str
    parent_session: str | None = None


class MessageEntry(WireModel):
    type: Literal["message"] = "message"
    id: str
    parent_id: str | None
    timestamp: str
    message: Message


class CompactionEntry(WireModel):
    type: Literal["compaction"] = "compaction"
    id: str
    parent_id: str | None
    timestamp: str
    summary: str
    first_kept_entry_id: str
    tokens_before: U64
    tokens_after: U64


class LeafEntry(WireModel):
    type: Literal["leaf"] = "leaf"
    id: str
    parent_id: str | None
    timestamp: str
    entry_id: str


class ExtensionStateEntry(WireModel):
    type: Literal["extension_state"] = "extension_state"
    id: str
    parent_id: str | None
    timestamp: str
    state: Any


SessionEntry: TypeAlias = Annotated[
    MessageEntry | CompactionEntry | LeafEntry | ExtensionStateEntry,
    Field(discriminator="type"),
]

#: Validates one entry object (a dict) into its model.
ENTRY_ADAPTER: TypeAdapter[SessionEntry] = TypeAdapter(SessionEntry)

#: The entry types opi v1 defines; any other ``type`` is an unknown entry (LOG-009).
ENTRY_TYPES = frozenset({"message", "compaction", "leaf", "extension_state"})


def parse_entry(obj: dict[str, Any]) -> SessionEntry:
    """Validate a raw entry object (already JSON-decoded) into its wire model."""
    return ENTRY_ADAPTER.validate_python(obj)
