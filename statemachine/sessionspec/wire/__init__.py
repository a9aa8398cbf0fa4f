"""Wire layer: pydantic v2 models of everything persisted or exchanged (DESIGN §2.1)."""

from sessionspec.wire.log import (
    FORMAT_VERSION,
    CompactionEntry,
    ExtensionStateEntry,
    LeafEntry,
    MessageEntry,
    SessionEntry,
    SessionHeader,
    parse_entry,
)
from sessionspec.wire.messages import (
    AssistantMessage,
    ImageContent,
    Message,
    TextContent,
    ThinkingContent,
    ToolCall,
    ToolCallContent,
    ToolResultMessage,
    Usage,
    UserMessage,
    WireModel,
)

__all__ = [
    "FORMAT_VERSION",
    "AssistantMessage",
    "CompactionEntry",
    "ExtensionStateEntry",
    "ImageContent",
    "LeafEntry",
    "Message",
    "MessageEntry",
    "SessionEntry",
    "SessionHeader",
    "TextContent",
    "ThinkingContent",
    "ToolCall",
    "ToolCallContent",
    "ToolResultMessage",
    "Usage",
    "UserMessage",
    "WireModel",
    "parse_entry",
]
