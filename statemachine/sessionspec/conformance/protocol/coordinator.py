"""Protocol messages of the coordinator machine (``coordinator.*``, CONF-001..CONF-005)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sessionspec.conformance.protocol.common import Empty, HandleArgs, _Command, _Model


class CompactionSettings(_Model):
    """The compaction configuration of a session (COORD-100..COORD-111)."""

    enabled: bool = True
    threshold_tokens: int = Field(ge=0)
    policy: Literal["count_tail", "token_budget"] = "count_tail"
    #: For ``token_budget``: the tokens kept.
    keep_tokens: int | None = Field(default=None, ge=0)
    #: What the threshold is compared with (COORD-037): the usage counted since the last
    #: compaction, or the size of the context the next request sends.
    trigger: Literal["cumulative", "context_size"] = "cumulative"


class UsageCounters(_Model):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)


class SessionCost(_Model):
    """A session's cost in USD as decimal strings (COORD-062, COORD-145)."""

    total: str
    #: The total of each model that spent tokens (``provider:model``).
    by_model: dict[str, str] = Field(default_factory=dict)


class CoordinatorObservation(_Model):
    """What a coordinator shows through its API (CONF-001..CONF-005)."""

    #: The context it would send next: messages in the wire form (spec/schema/message.json)
    #: and summaries as ``{"type": "compaction_summary", "compaction_entry_id", "summary"}``.
    context: list[dict[str, Any]]
    #: The ids of the context items, one to one (COORD-042).
    ids: list[str]
    tip: str | None
    usage: UsageCounters
    turns: int = Field(ge=0)
    state: Literal["ready", "compaction_due", "failed", "closed"]
    #: With ``coordinator.figures``: the compaction watermark and the next id number.
    watermark: int | None = None
    next_seq: int | None = None
    #: With ``coordinator.cost``: what the session cost under the default pricing table,
    #: each assistant message priced by its own model (COORD-062); null when a model that
    #: spent tokens has no price.
    cost: SessionCost | None = None


class CompactionOutcome(_Model):
    summary: str
    first_kept_entry_id: str
    tokens_before: int
    tokens_after: int
    entry_id: str | None = None


class SessionResult(_Model):
    session_id: str


class EntryIdResult(_Model):
    entry_id: str


class TurnEndResult(_Model):
    #: ``"threshold"`` when the turn made compaction due (COORD-030), else null.
    compaction_due: str | None = None


class CompactResult(_Model):
    #: Null when there was nothing to compact (COORD-036).
    compaction: CompactionOutcome | None = None


class OpenResult(_Model):
    #: Stable diagnostic codes of what opening found (COORD-025); may be empty.
    recovery: list[str] = Field(default_factory=list)


class LogResult(_Model):
    #: The session's entries in sessionspec's log form (spec/schema/session-entry.json).
    entries: list[dict[str, Any]]
    #: The header's ``parent_session`` (forks, COORD-050).
    parent_session: str | None = None
    #: False when reading found damage (a torn or corrupt line).
    clean: bool = True


class CoordinatorNewArgs(_Model):
    handle: str
    session_id: str
    config: CompactionSettings
    model: str


class CoordinatorNew(_Command):
    cmd: Literal["coordinator.new"] = "coordinator.new"
    args: CoordinatorNewArgs


class CoordinatorOpenArgs(_Model):
    handle: str
    session_id: str
    #: Both absent (``coordinator.settings``): open with the settings persisted in the
    #: session (COORD-027). Settings that differ from the session's are recorded before
    #: they decide anything (COORD-028).
    config: CompactionSettings | None = None
    model: str | None = None


class CoordinatorOpen(_Command):
    cmd: Literal["coordinator.open"] = "coordinator.open"
    args: CoordinatorOpenArgs


class TurnEndArgs(_Model):
    handle: str
    #: Messages in the wire form (spec/schema/message.json).
    messages: list[dict[str, Any]]
    usage: UsageCounters


class CoordinatorTurnEnd(_Command):
    cmd: Literal["coordinator.turn_end"] = "coordinator.turn_end"
    args: TurnEndArgs


class CompactArgs(_Model):
    handle: str
    reason: Literal["manual", "threshold", "overflow"]


class CoordinatorCompact(_Command):
    cmd: Literal["coordinator.compact"] = "coordinator.compact"
    args: CompactArgs


class LeafArgs(_Model):
    handle: str
    entry_id: str


class CoordinatorAppendLeaf(_Command):
    cmd: Literal["coordinator.append_leaf"] = "coordinator.append_leaf"
    args: LeafArgs


class ExtensionStateArgs(_Model):
    handle: str
    value: Any


class CoordinatorAppendExtensionState(_Command):
    cmd: Literal["coordinator.append_extension_state"] = "coordinator.append_extension_state"
    args: ExtensionStateArgs


class ForkArgs(_Model):
    handle: str
    session_id: str


class CoordinatorFork(_Command):
    cmd: Literal["coordinator.fork"] = "coordinator.fork"
    args: ForkArgs


class CoordinatorClose(_Command):
    cmd: Literal["coordinator.close"] = "coordinator.close"
    args: HandleArgs


class CoordinatorObserve(_Command):
    cmd: Literal["coordinator.observe"] = "coordinator.observe"
    args: HandleArgs


class SessionArgs(_Model):
    session_id: str


class CoordinatorReadLog(_Command):
    cmd: Literal["coordinator.read_log"] = "coordinator.read_log"
    args: SessionArgs


class InjectArgs(_Model):
    session_id: str
    #: Entries in sessionspec's log form, appended as durable committed lines.
    entries: list[dict[str, Any]]


class CoordinatorInject(_Command):
    cmd: Literal["coordinator.inject"] = "coordinator.inject"
    args: InjectArgs


class CopyArgs(_Model):
    session_id: str
    to_session_id: str


class CoordinatorCopy(_Command):
    cmd: Literal["coordinator.copy"] = "coordinator.copy"
    args: CopyArgs


#: The coordinator's commands and the model of each ``ok`` result.
COMMANDS: dict[str, tuple[type[_Command], type[_Model]]] = {
    "coordinator.new": (CoordinatorNew, SessionResult),
    "coordinator.open": (CoordinatorOpen, OpenResult),
    "coordinator.turn_end": (CoordinatorTurnEnd, TurnEndResult),
    "coordinator.compact": (CoordinatorCompact, CompactResult),
    "coordinator.append_leaf": (CoordinatorAppendLeaf, Empty),
    "coordinator.append_extension_state": (CoordinatorAppendExtensionState, EntryIdResult),
    "coordinator.fork": (CoordinatorFork, SessionResult),
    "coordinator.close": (CoordinatorClose, Empty),
    "coordinator.observe": (CoordinatorObserve, CoordinatorObservation),
    "coordinator.read_log": (CoordinatorReadLog, LogResult),
    "coordinator.inject": (CoordinatorInject, Empty),
    "coordinator.copy": (CoordinatorCopy, Empty),
}
