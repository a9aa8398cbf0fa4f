"""phi-core's agent events and messages, as JSON (REC section of the spec, REC-001..REC-003).

The recorder consumes the events an agent loop emits, in phi-core's JSON form
(research/seeds.md §2.3): an object internally tagged by ``type`` with the Rust variant name
(``"AgentStart"``, ``"TurnEnd"``, ...), snake-case field names, RFC 3339 timestamps. The
messages inside them are phi-core's (``role`` tag ``user``/``assistant``/``toolResult``,
camelCase keys, content blocks ``text``/``image``/``thinking``/``toolCall``, usage
``{input, output, reasoning, cache_read, cache_write, total_tokens}``); the recorder
translates them to the package's one message model at the edge
(:mod:`sessionspec.codecs.phi`), never carries them inside.

Unlike the persisted log models, these are strict (REC-002): an unknown field, a missing
field, a wrong type or an unknown variant is refused with a typed error naming it. The free
JSON slots phi-core itself leaves open (``metadata``, ``args``, ``payload``, ``details``)
stay open.

Three variants are ours or completed by us where phi-core's own JSON form is not settled:
``TurnRequest`` (``capture_turn_requests``), ``RevertApplied`` (REC-041) and the optional
``config_snapshot`` of ``AgentStart``; each is documented in the spec.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "AGENT_EVENT_ADAPTER",
    "AGENT_EVENT_TYPES",
    "AgentEnd",
    "AgentEvent",
    "AgentStart",
    "CompactionEnded",
    "CompactionStarted",
    "ContinuationKind",
    "InputRejected",
    "LoopConfigSnapshot",
    "MessageEnd",
    "MessageStart",
    "MessageUpdate",
    "ParallelLoopEnd",
    "ParallelLoopStart",
    "PhiContent",
    "PhiImage",
    "PhiMessage",
    "PhiText",
    "PhiThinking",
    "PhiToolCall",
    "PhiUsage",
    "ProgressMessage",
    "PrunApplied",
    "RevertApplied",
    "StrictModel",
    "ToolExecutionEnd",
    "ToolExecutionStart",
    "ToolExecutionUpdate",
    "ToolResultPayload",
    "TurnEnd",
    "TurnRequest",
    "TurnStart",
    "TurnTrigger",
    "check_timestamp",
]

U64 = Annotated[int, Field(ge=0, le=2**64 - 1)]


def check_timestamp(value: str) -> str:
    """An RFC 3339 date-time with an offset (``Z`` or ``+hh:mm``); kept exactly as given."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}") from None
    if parsed.tzinfo is None or "T" not in value.upper():
        raise ValueError(f"an RFC 3339 timestamp needs a date, a time and an offset: {value!r}")
    return value


#: A wall-clock time as phi-core writes it (chrono ``DateTime<Utc>``), kept as the string.
Timestamp: TypeAlias = Annotated[str, AfterValidator(check_timestamp)]


class StrictModel(BaseModel):
    """Base of the agent events: unknown fields are refused (REC-002)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The canonical JSON object in phi-core's form: every field, absent ones ``null``."""
        return self.model_dump(mode="json", by_alias=True)


# -- phi-core's messages ----------------------------------------------------------------------


class PhiText(StrictModel):
    type: Literal["text"] = "text"
    text: str


class PhiImage(StrictModel):
    type: Literal["image"] = "image"
    #: Base64 bytes.
    data: str
    mime_type: str = Field(alias="mimeType")


class PhiThinking(StrictModel):
    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str | None = None


class PhiToolCall(StrictModel):
    type: Literal["toolCall"] = "toolCall"
    id: str
    name: str
    #: The arguments as a JSON value (opi keeps them as a string: the codec converts).
    arguments: Any


PhiContent: TypeAlias = Annotated[
    PhiText | PhiImage | PhiThinking | PhiToolCall, Field(discriminator="type")
]


class PhiUsage(StrictModel):
    """phi-core's ``Usage``: every counter but ``input`` and ``output`` defaults to 0."""

    input: U64
    output: U64
    reasoning: U64 = 0
    cache_read: U64 = 0
    cache_write: U64 = 0
    total_tokens: U64 = 0


PhiStopReason: TypeAlias = Literal[
    "stop", "length", "toolUse", "error", "aborted", "maxTurns", "userStop"
]


class PhiUserMessage(StrictModel):
    role: Literal["user"] = "user"
    content: list[PhiContent]
    #: Unix milliseconds.
    timestamp: U64


class PhiAssistantMessage(StrictModel):
    role: Literal["assistant"] = "assistant"
    content: list[PhiContent]
    stop_reason: PhiStopReason = Field(alias="stopReason")
    model: str
    provider: str
    usage: PhiUsage
    timestamp: U64
    error_message: str | None = None


class PhiToolResultMessage(StrictModel):
    role: Literal["toolResult"] = "toolResult"
    tool_call_id: str = Field(alias="toolCallId")
    tool_name: str = Field(alias="toolName")
    content: list[PhiContent]
    is_error: bool = Field(alias="isError")
    timestamp: U64


PhiMessage: TypeAlias = Annotated[
    PhiUserMessage | PhiAssistantMessage | PhiToolResultMessage, Field(discriminator="role")
]


# -- the pieces of events ---------------------------------------------------------------------


class _Tagged(StrictModel):
    tag: str


class _Rerun(StrictModel):
    rerun: _Tagged = Field(alias="Rerun")


class _Branch(StrictModel):
    branch: _Tagged = Field(alias="Branch")


#: phi-core's ``ContinuationKind``: unit variants as strings, ``Rerun``/``Branch`` as
#: ``{"Rerun": {"tag": ...}}``. ``Initial`` is the default of a record whose event had none.
ContinuationKind: TypeAlias = Literal["Initial", "Default", "Compaction"] | _Rerun | _Branch

#: phi-core's ``TurnTrigger``; ``FollowUp`` (its older name) is read as ``Continuation``
#: (REC-003).
TurnTrigger: TypeAlias = Annotated[
    Literal["User", "SubAgent", "Continuation", "Branch"],
    Field(json_schema_extra={"description": "'FollowUp' is accepted as 'Continuation'"}),
]


class LoopConfigSnapshot(StrictModel):
    """The model configuration a loop ran with (phi-core ``LoopConfigSnapshot``)."""

    model: str
    provider: str
    config_id: str | None = None
    name: str | None = None
    api: str | None = None
    base_url: str | None = None
    reasoning: bool | None = None
    context_window: U64 | None = None
    max_tokens: U64 | None = None
    thinking_level: str | None = None
    temperature: float | None = None


class ToolResultPayload(StrictModel):
    """phi-core's ``ToolResult``: what a tool returned, and the sub-agent loop it spawned."""

    content: list[PhiContent] = Field(default_factory=list)
    details: Any = None
    child_loop_id: str | None = None


# -- the events -------------------------------------------------------------------------------


class AgentStart(StrictModel):
    type: Literal["AgentStart"] = "AgentStart"
    agent_id: str
    session_id: str
    loop_id: str
    parent_loop_id: str | None = None
    continuation_kind: ContinuationKind | None = None
    timestamp: Timestamp
    metadata: Any = None
    config_snapshot: LoopConfigSnapshot | None = None


class AgentEnd(StrictModel):
    type: Literal["AgentEnd"] = "AgentEnd"
    loop_id: str
    messages: list[PhiMessage] = Field(default_factory=list)
    usage: PhiUsage
    timestamp: Timestamp
    rejection: str | None = None


class TurnStart(StrictModel):
    type: Literal["TurnStart"] = "TurnStart"
    loop_id: str
    turn_index: Annotated[int, Field(ge=0, le=2**32 - 1)]
    timestamp: Timestamp
    triggered_by: Literal["User", "SubAgent", "Continuation", "FollowUp", "Branch"]


class TurnRequest(StrictModel):
    """The provider request of the current turn (stored when ``capture_turn_requests``)."""

    type: Literal["TurnRequest"] = "TurnRequest"
    loop_id: str
    payload: Any


class TurnEnd(StrictModel):
    type: Literal["TurnEnd"] = "TurnEnd"
    loop_id: str
    message: PhiMessage
    usage: PhiUsage
    timestamp: Timestamp
    tool_results: list[PhiMessage] = Field(default_factory=list)


class MessageStart(StrictModel):
    type: Literal["MessageStart"] = "MessageStart"
    loop_id: str
    message: PhiMessage


class MessageUpdate(StrictModel):
    type: Literal["MessageUpdate"] = "MessageUpdate"
    loop_id: str
    message: PhiMessage
    #: phi-core's ``StreamDelta``: ``{"Text": {"delta": ..}}`` and so on.
    delta: Any


class MessageEnd(StrictModel):
    type: Literal["MessageEnd"] = "MessageEnd"
    loop_id: str
    message: PhiMessage


class ToolExecutionStart(StrictModel):
    type: Literal["ToolExecutionStart"] = "ToolExecutionStart"
    loop_id: str
    tool_call_id: str
    tool_name: str
    args: Any


class ToolExecutionUpdate(StrictModel):
    type: Literal["ToolExecutionUpdate"] = "ToolExecutionUpdate"
    loop_id: str
    tool_call_id: str
    tool_name: str
    partial_result: ToolResultPayload


class ToolExecutionEnd(StrictModel):
    type: Literal["ToolExecutionEnd"] = "ToolExecutionEnd"
    loop_id: str
    tool_call_id: str
    tool_name: str
    result: ToolResultPayload
    is_error: bool
    #: phi-core's older place for the spawned loop; ``result.child_loop_id`` wins (REC-032).
    child_loop_id: str | None = None


class ProgressMessage(StrictModel):
    type: Literal["ProgressMessage"] = "ProgressMessage"
    loop_id: str
    tool_call_id: str
    tool_name: str
    text: str


class InputRejected(StrictModel):
    type: Literal["InputRejected"] = "InputRejected"
    loop_id: str
    reason: str


class ParallelLoopStart(StrictModel):
    type: Literal["ParallelLoopStart"] = "ParallelLoopStart"
    session_id: str
    loop_ids: list[str]
    timestamp: Timestamp


class ParallelLoopEnd(StrictModel):
    type: Literal["ParallelLoopEnd"] = "ParallelLoopEnd"
    session_id: str
    selected_loop_id: str
    selected_config_index: U64
    evaluation_usage: PhiUsage
    timestamp: Timestamp


class CompactionStarted(StrictModel):
    type: Literal["CompactionStarted"] = "CompactionStarted"
    loop_id: str
    estimated_tokens: U64
    message_count: U64
    timestamp: Timestamp


class CompactionEnded(StrictModel):
    type: Literal["CompactionEnded"] = "CompactionEnded"
    loop_id: str
    messages_before: U64
    messages_after: U64
    estimated_tokens_before: U64
    estimated_tokens_after: U64
    loops_compacted: U64
    timestamp: Timestamp


class PrunApplied(StrictModel):
    type: Literal["PrunApplied"] = "PrunApplied"
    loop_id: str
    tokens_removed: U64
    messages_removed: U64
    memo: str | None = None
    pruned_timestamps: list[U64] = Field(default_factory=list)
    timestamp: Timestamp


class RevertApplied(StrictModel):
    """A revert of the loop's context (recorded, unlike in phi-core: REC-041)."""

    type: Literal["RevertApplied"] = "RevertApplied"
    loop_id: str
    timestamp: Timestamp
    details: Any = None


AgentEvent: TypeAlias = Annotated[
    AgentStart
    | AgentEnd
    | TurnStart
    | TurnRequest
    | TurnEnd
    | MessageStart
    | MessageUpdate
    | MessageEnd
    | ToolExecutionStart
    | ToolExecutionUpdate
    | ToolExecutionEnd
    | ProgressMessage
    | InputRejected
    | ParallelLoopStart
    | ParallelLoopEnd
    | CompactionStarted
    | CompactionEnded
    | PrunApplied
    | RevertApplied,
    Field(discriminator="type"),
]

#: Validates one event object (a dict in phi-core's JSON form) into its model.
AGENT_EVENT_ADAPTER: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)

#: Every variant's ``type`` tag.
AGENT_EVENT_TYPES: tuple[str, ...] = (
    "AgentStart",
    "AgentEnd",
    "TurnStart",
    "TurnRequest",
    "TurnEnd",
    "MessageStart",
    "MessageUpdate",
    "MessageEnd",
    "ToolExecutionStart",
    "ToolExecutionUpdate",
    "ToolExecutionEnd",
    "ProgressMessage",
    "InputRejected",
    "ParallelLoopStart",
    "ParallelLoopEnd",
    "CompactionStarted",
    "CompactionEnded",
    "PrunApplied",
    "RevertApplied",
)
