"""Protocol messages of the conversation and ledger machines (``conversation.*``, ``ledger.*``).

A conversation (spec §6) is in memory: the runner names each one by a handle it chooses
(unique for the run, CONF-032), a fork gets the handle ``into``. What the machine compares is
semantic (CONF-120): the messages in the one message model (``spec/schema/message.json``; a
harness translates its own shape both ways), the system prompt, the head revision id (which
CONV-021 defines over the canonical form, so any language computes the same one) and whether
the conversation waits for an assistant turn; with ``conversation.metadata`` also its metadata
and usage (CONF-127). A refused edit is a typed rejection
(``revision_conflict``, ``invalid_rewrite_range``, ``invalid_transcript_shape``,
``no_op_rewrite``, ``message_index_out_of_bounds``, ``message_role_mismatch``,
``block_index_out_of_bounds``; CONF-121). Rewrite records travel in
their JSON form (CONV-040) behind the ``conversation.records`` capability (CONF-123).

A token ledger (spec §7.3) is named by a handle too; ``copy``, ``merge`` and ``diff`` put
their result under ``into``. Counters are the five of STATE-030; a second record of a request
id answers ``counted: false`` (STATE-033), a conflicting one ``ledger_conflict``, a diff whose
``after`` does not extend ``before`` ``ledger_decrease`` (STATE-032; CONF-125).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sessionspec.conformance.protocol.common import Empty, HandleArgs, _Command, _Model

# --------------------------------------------------------------------------------------
# conversation.*
# --------------------------------------------------------------------------------------


class ConversationUsage(_Model):
    """The four counters of a conversation's usage (CONV-006)."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)


class ConversationObservation(_Model):
    """What a conversation shows through its API (CONF-120)."""

    #: Each message in the wire form of the one message model (§2).
    messages: list[dict[str, Any]]
    system_prompt: str | None
    #: The head revision id: ``sha256:`` and 64 hex digits (CONV-021, CONV-032).
    revision: str
    #: The last message is a user message or a tool result (CONV-004).
    pending_boundary: bool
    #: With ``conversation.metadata``: the metadata (CONV-005) and the usage recorded
    #: (CONV-006: the four counters).
    metadata: dict[str, Any] | None = None
    usage: ConversationUsage | None = None


class ConversationForkArgs(_Model):
    handle: str
    #: The handle of the new conversation.
    into: str


class ConversationForkAtArgs(ConversationForkArgs):
    index: int


class ConversationReplacement(_Model):
    """What ``fork_replacing`` puts at the index (CONV-012)."""

    kind: Literal["message", "user_content_block", "assistant_block", "tool_result_content_block"]
    #: For ``message``: the whole message in the wire form.
    message: dict[str, Any] | None = None
    #: For the block kinds: which block of the message, and the block.
    block_index: int | None = None
    block: dict[str, Any] | None = None


class ConversationForkReplacingArgs(ConversationForkArgs):
    index: int
    replacement: ConversationReplacement


class ConversationPushArgs(_Model):
    handle: str
    #: One message in the wire form (§2).
    message: dict[str, Any]


class ConversationPushBatchArgs(_Model):
    handle: str
    messages: list[dict[str, Any]]


class ConversationSystemPromptArgs(_Model):
    handle: str
    prompt: str


class ConversationRewriteArgs(_Model):
    handle: str
    #: The span ``[start, end)`` replaced; may be out of range on purpose (CONV-031).
    start: int
    end: int
    replacement: list[dict[str, Any]]
    #: The revision the caller believes is the head; null skips the check (CONV-030).
    expected_parent_revision: str | None = None
    reason: str = "conformance"
    actor: str | None = None


class ConversationRewriteResult(_Model):
    """The commit's ids (CONV-035)."""

    parent_revision: str
    revision: str


class ConversationMetadataArgs(_Model):
    handle: str
    key: str
    #: Any JSON value that has a canonical form (CONV-005, CONV-020).
    value: Any = None


class ConversationKeyArgs(_Model):
    handle: str
    key: str


class ConversationBackfillResult(_Model):
    #: The key was absent and is now set (CONV-005).
    set: bool


class ConversationUsageArgs(_Model):
    handle: str
    usage: ConversationUsage


class ConversationRecords(_Model):
    #: The rewrite records in the JSON form of CONV-040, oldest first.
    records: list[dict[str, Any]]


class ConversationRecordArgs(_Model):
    record: dict[str, Any]


class ConversationReplayArgs(_Model):
    #: The handle of the conversation the records restore (CONV-041).
    handle: str
    records: list[dict[str, Any]]


class ConversationRevision(_Model):
    revision: str


class ConversationNew(_Command):
    cmd: Literal["conversation.new"] = "conversation.new"
    args: HandleArgs


class ConversationPush(_Command):
    cmd: Literal["conversation.push"] = "conversation.push"
    args: ConversationPushArgs


class ConversationPushBatch(_Command):
    cmd: Literal["conversation.push_batch"] = "conversation.push_batch"
    args: ConversationPushBatchArgs


class ConversationFork(_Command):
    cmd: Literal["conversation.fork"] = "conversation.fork"
    args: ConversationForkArgs


class ConversationForkAt(_Command):
    cmd: Literal["conversation.fork_at"] = "conversation.fork_at"
    args: ConversationForkAtArgs


class ConversationForkReplacing(_Command):
    cmd: Literal["conversation.fork_replacing"] = "conversation.fork_replacing"
    args: ConversationForkReplacingArgs


class ConversationSetSystemPrompt(_Command):
    cmd: Literal["conversation.set_system_prompt"] = "conversation.set_system_prompt"
    args: ConversationSystemPromptArgs


class ConversationRewrite(_Command):
    cmd: Literal["conversation.rewrite"] = "conversation.rewrite"
    args: ConversationRewriteArgs


class ConversationObserve(_Command):
    cmd: Literal["conversation.observe"] = "conversation.observe"
    args: HandleArgs


class ConversationRecordsCommand(_Command):
    cmd: Literal["conversation.records"] = "conversation.records"
    args: HandleArgs


class ConversationValidateRecord(_Command):
    cmd: Literal["conversation.validate_record"] = "conversation.validate_record"
    args: ConversationRecordArgs


class ConversationReplay(_Command):
    cmd: Literal["conversation.replay"] = "conversation.replay"
    args: ConversationReplayArgs


class ConversationSetMetadata(_Command):
    cmd: Literal["conversation.set_metadata"] = "conversation.set_metadata"
    args: ConversationMetadataArgs


class ConversationRemoveMetadata(_Command):
    cmd: Literal["conversation.remove_metadata"] = "conversation.remove_metadata"
    args: ConversationKeyArgs


class ConversationBackfillMetadata(_Command):
    cmd: Literal["conversation.backfill_metadata"] = "conversation.backfill_metadata"
    args: ConversationMetadataArgs


class ConversationRecordUsage(_Command):
    cmd: Literal["conversation.record_usage"] = "conversation.record_usage"
    args: ConversationUsageArgs


class ConversationDrop(_Command):
    """Forget a conversation (the runner is done with it)."""

    cmd: Literal["conversation.drop"] = "conversation.drop"
    args: HandleArgs


# --------------------------------------------------------------------------------------
# ledger.*
# --------------------------------------------------------------------------------------


class LedgerUsage(_Model):
    """The five counters of STATE-030."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)


class LedgerRow(LedgerUsage):
    source: str
    model: str


class LedgerObservation(_Model):
    #: One row per ``(source, model)`` with a counter above zero, in any order.
    rows: list[LedgerRow]


class LedgerRecordArgs(_Model):
    handle: str
    source: str
    #: A ``provider:model`` spec.
    model: str
    usage: LedgerUsage
    request_id: str | None = None


class LedgerRecordResult(_Model):
    #: False when the request id was counted before with the same usage (STATE-033) or the
    #: usage is all zeros (STATE-030).
    counted: bool


class LedgerCopyArgs(_Model):
    handle: str
    into: str


class LedgerMergeArgs(_Model):
    handle: str
    other: str
    #: The handle of the merged ledger; both inputs stay as they were (STATE-031).
    into: str


class LedgerDiffArgs(_Model):
    before: str
    after: str
    into: str


class LedgerNew(_Command):
    cmd: Literal["ledger.new"] = "ledger.new"
    args: HandleArgs


class LedgerRecord(_Command):
    cmd: Literal["ledger.record"] = "ledger.record"
    args: LedgerRecordArgs


class LedgerCopy(_Command):
    cmd: Literal["ledger.copy"] = "ledger.copy"
    args: LedgerCopyArgs


class LedgerMerge(_Command):
    cmd: Literal["ledger.merge"] = "ledger.merge"
    args: LedgerMergeArgs


class LedgerDiff(_Command):
    cmd: Literal["ledger.diff"] = "ledger.diff"
    args: LedgerDiffArgs


class LedgerObserve(_Command):
    cmd: Literal["ledger.observe"] = "ledger.observe"
    args: HandleArgs


class LedgerDrop(_Command):
    cmd: Literal["ledger.drop"] = "ledger.drop"
    args: HandleArgs


#: The conversation's and the ledger's commands and the model of each ``ok`` result.
COMMANDS: dict[str, tuple[type[_Command], type[_Model]]] = {
    "conversation.new": (ConversationNew, Empty),
    "conversation.push": (ConversationPush, Empty),
    "conversation.push_batch": (ConversationPushBatch, Empty),
    "conversation.fork": (ConversationFork, Empty),
    "conversation.fork_at": (ConversationForkAt, Empty),
    "conversation.fork_replacing": (ConversationForkReplacing, Empty),
    "conversation.set_system_prompt": (ConversationSetSystemPrompt, Empty),
    "conversation.rewrite": (ConversationRewrite, ConversationRewriteResult),
    "conversation.observe": (ConversationObserve, ConversationObservation),
    "conversation.records": (ConversationRecordsCommand, ConversationRecords),
    "conversation.validate_record": (ConversationValidateRecord, Empty),
    "conversation.replay": (ConversationReplay, ConversationRevision),
    "conversation.set_metadata": (ConversationSetMetadata, Empty),
    "conversation.remove_metadata": (ConversationRemoveMetadata, Empty),
    "conversation.backfill_metadata": (ConversationBackfillMetadata, ConversationBackfillResult),
    "conversation.record_usage": (ConversationRecordUsage, Empty),
    "conversation.drop": (ConversationDrop, Empty),
    "ledger.new": (LedgerNew, Empty),
    "ledger.record": (LedgerRecord, LedgerRecordResult),
    "ledger.copy": (LedgerCopy, Empty),
    "ledger.merge": (LedgerMerge, Empty),
    "ledger.diff": (LedgerDiff, Empty),
    "ledger.observe": (LedgerObserve, LedgerObservation),
    "ledger.drop": (LedgerDrop, Empty),
}
