"""Messages, content blocks and usage in opi's session JSONL v1 form (WIRE-001..WIRE-004).

Field names, tags and field order are exactly what opi writes (research/seeds.md §1.2), so
a file opi wrote reads here and a file we write with these types reads in opi. Every model
allows extra fields and keeps them on a round trip: that is how sessionspec adds what opi
cannot express without breaking an opi reader (WIRE-005). The one documented extension at
this level is ``ss_lane`` on a text block: ``"spoken"`` marks text that was derived from
audio (a realtime transcript, RT section of the spec); an opi reader sees plain text.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApiKind",
    "AssistantContent",
    "AssistantMessage",
    "Base64Source",
    "BytesSource",
    "ImageContent",
    "ImageSource",
    "InputContent",
    "Message",
    "OutputContent",
    "StopReason",
    "TextContent",
    "ThinkingContent",
    "ToolCall",
    "ToolCallContent",
    "ToolResultMessage",
    "UrlSource",
    "Usage",
    "UserMessage",
    "WireModel",
]

U32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
I64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

#: opi's ``ApiKind``, serialized by Rust variant name.
ApiKind: TypeAlias = Literal["Anthropic", "OpenAi", "Google", "Mistral"]
#: opi's ``StopReason`` strings.
StopReason: TypeAlias = Literal["stop", "length", "tool_use", "error", "aborted"]
MediaType: TypeAlias = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


class WireModel(BaseModel):
    """Base of every persisted or exchanged model: unknown fields are kept (WIRE-005)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON object exactly as it is persisted (``null`` kept, extras last)."""
        return self.model_dump(mode="json", by_alias=True)


class UrlSource(WireModel):
    type: Literal["url"] = "url"
    url: str


class Base64Source(WireModel):
    type: Literal["base64"] = "base64"
    data: str


class BytesSource(WireModel):
    type: Literal["bytes"] = "bytes"
    data: list[Annotated[int, Field(ge=0, le=255)]]


ImageSource: TypeAlias = Annotated[
    UrlSource | Base64Source | BytesSource, Field(discriminator="type")
]


class TextContent(WireModel):
    type: Literal["text"] = "text"
    text: str


class ImageContent(WireModel):
    type: Literal["image"] = "image"
    source: ImageSource
    media_type: MediaType


class ThinkingContent(WireModel):
    type: Literal["thinking"] = "thinking"
    thinking: str


class ToolCall(WireModel):
    id: str
    name: str
    #: A JSON document encoded as a string, as opi stores it.
    arguments: str


class ToolCallContent(WireModel):
    type: Literal["tool_call"] = "tool_call"
    tool_call: ToolCall


InputContent: TypeAlias = Annotated[TextContent | ImageContent, Field(discriminator="type")]
OutputContent: TypeAlias = InputContent
AssistantContent: TypeAlias = Annotated[
    TextContent | ThinkingContent | ToolCallContent, Field(discriminator="type")
]


class Usage(WireModel):
    """Token usage of one provider call (opi ``Usage``; cache counters default to 0)."""

    input_tokens: U32 = 0
    output_tokens: U32 = 0
    cache_read_tokens: U32 = 0
    cache_write_tokens: U32 = 0


class UserMessage(WireModel):
    role: Literal["user"] = "user"
    content: list[InputContent]
    timestamp_ms: I64


class AssistantMessage(WireModel):
    role: Literal["assistant"] = "assistant"
    content: list[AssistantContent]
    api: ApiKind
    provider: str
    model: str
    response_model: str | None = None
    response_id: str | None = None
    usage: Usage
    stop_reason: StopReason
    error_message: str | None = None
    timestamp_ms: I64


class ToolResultMessage(WireModel):
    role: Literal["tool_result"] = "tool_result"
    tool_call_id: str
    tool_name: str
    content: list[OutputContent]
    details: Any = None
    is_error: bool
    truncated: bool = False
    timestamp_ms: I64


Message: TypeAlias = Annotated[
    UserMessage | AssistantMessage | ToolResultMessage, Field(discriminator="role")
]
