"""What the recorder records: sessions, loop records, turns (REC-016, REC-060).

Plain slotted dataclasses, built by the recorder and handed to the caller (copies while the
recorder still holds them, REC-052). Messages are the package's one message model
(:mod:`sessionspec.wire.messages`); events are kept as canonical JSON objects in phi-core's
form (every field present, absent ones ``null``).

:meth:`RecordedSession.to_json` writes phi-core's session JSON (research/seeds.md §2.1: field names
as phi-core's serde writes them, statuses ``"Running"``/``"Completed"``/..., formations
externally tagged, messages in phi-core's shape) plus the fields we add, which a phi-core
reader ignores: ``segment`` and ``rejection`` on a session (REC-012, REC-013),
``occurrence`` on a loop (REC-014). :meth:`RecordedSession.from_json` reads both, and phi-core's
own files (``turns`` and ``scope`` missing in older ones, ``Pending`` status, ``FollowUp``
trigger) (REC-063).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sessionspec.codecs.phi import message_from_phi, message_to_phi, usage_from_phi, usage_to_phi
from sessionspec.errors import BadSessionFileError, LoopCycleError
from sessionspec.reference.recorder_ids import loop_chain
from sessionspec.tables.recorder import LoopState, SessionState
from sessionspec.wire.agent_events import PhiMessage, PhiUsage, check_timestamp
from sessionspec.wire.messages import Message, Usage

__all__ = [
    "ChildLoopRef",
    "Formation",
    "LoopRecord",
    "ParallelGroup",
    "RecordedEvent",
    "RecordedSession",
    "SpawnRef",
    "Turn",
]

_PHI_MESSAGE: TypeAdapter[Any] = TypeAdapter(PhiMessage)
_STATUS_TO_PHI = {
    LoopState.RUNNING: "Running",
    LoopState.COMPLETED: "Completed",
    LoopState.REJECTED: "Rejected",
    LoopState.ABORTED: "Aborted",
}
#: phi-core's ``Pending`` (never produced, REC-042) reads as running.
_STATUS_FROM_PHI = {**{v: k for k, v in _STATUS_TO_PHI.items()}, "Pending": LoopState.RUNNING}
_TRIGGERS = frozenset({"User", "SubAgent", "Continuation", "Branch"})


@dataclass(frozen=True, slots=True)
class Formation:
    """Why a session exists (phi-core ``SessionFormation``, REC-040)."""

    #: ``FirstLoop``, ``InactivityTimeout`` or ``Explicit``.
    kind: str
    timestamp: str
    threshold_secs: int | None = None
    previous_session_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.kind == "InactivityTimeout":
            body = {
                "threshold_secs": self.threshold_secs,
                "previous_session_id": self.previous_session_id,
            }
        body["timestamp"] = self.timestamp
        return {self.kind: body}

    @classmethod
    def from_json(cls, data: Any) -> Formation:
        if not isinstance(data, dict) or len(data) != 1:
            raise BadSessionFileError(f"a formation is one tagged object, not {data!r}")
        ((kind, body),) = data.items()
        if kind not in ("FirstLoop", "InactivityTimeout", "Explicit") or not isinstance(body, dict):
            raise BadSessionFileError(f"unknown session formation {kind!r}")
        return cls(
            kind=kind,
            timestamp=_timestamp(body.get("timestamp")),
            threshold_secs=body.get("threshold_secs"),
            previous_session_id=body.get("previous_session_id"),
        )


@dataclass(slots=True)
class SpawnRef:
    """On a child session: the parent loop and tool call that spawned it (REC-033)."""

    parent_session_id: str
    parent_loop_id: str
    tool_call_id: str = ""
    tool_name: str = ""


@dataclass(frozen=True, slots=True)
class ChildLoopRef:
    """On a parent loop: a sub-agent loop one of its tool calls spawned (REC-032)."""

    tool_call_id: str
    tool_name: str
    child_loop_id: str
    child_session_id: str


@dataclass(slots=True)
class ParallelGroup:
    """The parallel run a loop took part in, wired at ``ParallelLoopEnd`` (REC-034)."""

    all_loop_ids: list[str]
    selected_loop_id: str
    selected_config_index: int
    evaluation_usage: Usage
    is_selected: bool


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event of a loop with its sequence number (phi-core ``LoopEvent``, REC-031)."""

    sequence: int
    #: The event's JSON object in phi-core's form.
    event: Mapping[str, Any]


@dataclass(slots=True)
class Turn:
    """One LLM call of a loop, materialized at ``TurnEnd`` (REC-035)."""

    loop_id: str
    turn_index: int
    triggered_by: str
    usage: Usage
    #: Non-assistant, non-tool-result messages that ended within the turn (REC-036).
    input_messages: list[Message]
    output_message: Message
    tool_results: list[Message]
    started_at: str
    ended_at: str
    request_payload: Any = None

    @property
    def has_tool_calls(self) -> bool:
        return bool(self.tool_results)

    def all_messages(self) -> list[Message]:
        return [*self.input_messages, self.output_message, *self.tool_results]


@dataclass(slots=True)
class LoopRecord:
    """One agent loop, from ``AgentStart`` to its end (REC-016)."""

    loop_id: str
    session_id: str
    agent_id: str
    parent_loop_id: str | None
    #: phi-core's ``ContinuationKind`` JSON value (``"Initial"`` when the event had none).
    continuation_kind: Any
    started_at: str
    status: LoopState = LoopState.RUNNING
    ended_at: str | None = None
    rejection: str | None = None
    #: ``LoopConfigSnapshot`` JSON object, from the event or the first assistant message.
    config: dict[str, Any] | None = None
    messages: list[Message] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    metadata: Any = None
    events: list[RecordedEvent] = field(default_factory=list)
    children_loop_ids: list[str] = field(default_factory=list)
    child_loop_refs: list[ChildLoopRef] = field(default_factory=list)
    parallel_group: ParallelGroup | None = None
    #: 1 for the first record of this loop id in the recorder, 2 for the next (REC-014).
    occurrence: int = 1
    #: Position of its ``AgentStart`` among all the recorder's starts (REC-022).
    start_index: int = 0

    def to_json(self) -> dict[str, Any]:
        group = self.parallel_group
        out: dict[str, Any] = {
            "loop_id": self.loop_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "parent_loop_id": self.parent_loop_id,
            "continuation_kind": self.continuation_kind,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": _STATUS_TO_PHI[self.status],
            "rejection": self.rejection,
            "config": self.config,
            "messages": [message_to_phi(m) for m in self.messages],
            "turns": [_turn_to_json(t) for t in self.turns],
            "usage": usage_to_phi(self.usage),
            "metadata": self.metadata,
            "events": [{"sequence": e.sequence, "event": e.event} for e in self.events],
            "children_loop_ids": list(self.children_loop_ids),
            "child_loop_refs": [
                {
                    "tool_call_id": r.tool_call_id,
                    "tool_name": r.tool_name,
                    "child_loop_id": r.child_loop_id,
                    "child_session_id": r.child_session_id,
                }
                for r in self.child_loop_refs
            ],
            "parallel_group": None
            if group is None
            else {
                "all_loop_ids": list(group.all_loop_ids),
                "selected_loop_id": group.selected_loop_id,
                "selected_config_index": group.selected_config_index,
                "evaluation_usage": usage_to_phi(group.evaluation_usage),
                "is_selected": group.is_selected,
            },
            "occurrence": self.occurrence,
        }
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], start_index: int = 0) -> LoopRecord:
        try:
            status = _STATUS_FROM_PHI[data["status"]]
            group = data.get("parallel_group")
            return cls(
                loop_id=_str(data["loop_id"]),
                session_id=_str(data["session_id"]),
                agent_id=_str(data["agent_id"]),
                parent_loop_id=data.get("parent_loop_id"),
                continuation_kind=data.get("continuation_kind") or "Initial",
                started_at=_timestamp(data["started_at"]),
                status=status,
                ended_at=None if data.get("ended_at") is None else _timestamp(data["ended_at"]),
                rejection=data.get("rejection"),
                config=data.get("config"),
                messages=[_message(m) for m in data.get("messages") or []],
                turns=[_turn_from_json(t) for t in data.get("turns") or []],
                usage=_usage(data.get("usage")),
                metadata=data.get("metadata"),
                events=[
                    RecordedEvent(int(e["sequence"]), e["event"]) for e in data.get("events") or []
                ],
                children_loop_ids=[_str(c) for c in data.get("children_loop_ids") or []],
                child_loop_refs=[
                    ChildLoopRef(
                        _str(r["tool_call_id"]),
                        _str(r["tool_name"]),
                        _str(r["child_loop_id"]),
                        _str(r["child_session_id"]),
                    )
                    for r in data.get("child_loop_refs") or []
                ],
                parallel_group=None
                if group is None
                else ParallelGroup(
                    [_str(x) for x in group["all_loop_ids"]],
                    _str(group["selected_loop_id"]),
                    int(group["selected_config_index"]),
                    _usage(group.get("evaluation_usage")),
                    bool(group["is_selected"]),
                ),
                occurrence=int(data.get("occurrence", 1)),
                start_index=start_index,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadSessionFileError(f"bad loop record: {type(exc).__name__}: {exc}") from None


@dataclass(slots=True)
class RecordedSession:
    """One segment of a session id: the loops recorded between its opening and its
    completion (phi-core's ``Session``; REC-011, REC-013)."""

    session_id: str
    agent_id: str
    created_at: str
    last_active_at: str
    formation: Formation
    parent_spawn_ref: SpawnRef | None = None
    scope: str = "ephemeral"
    #: Closed loops, ordered by the start of each (REC-022).
    loops: list[LoopRecord] = field(default_factory=list)
    #: 0 for the first segment of this id, 1 for the one opened after it completed (REC-013).
    segment: int = 0
    #: ``"before_task returned false"`` when the session was refused (REC-012).
    rejection: str | None = None
    state: SessionState = SessionState.OPEN

    @property
    def storage_key(self) -> str:
        """The name a store files it under: the id, plus ``~N`` for a later segment."""
        return self.session_id if self.segment == 0 else f"{self.session_id}~{self.segment}"

    def loop(self, loop_id: str) -> LoopRecord | None:
        """The latest record of ``loop_id`` in this session."""
        for record in reversed(self.loops):
            if record.loop_id == loop_id:
                return record
        return None

    def loop_chain_to(self, loop_id: str) -> list[LoopRecord]:
        """The records from the root of ``loop_id``'s parent chain down to it (REC-024).

        A parent in another session ends the chain and is not in it; a cycle of parent
        links raises :class:`LoopCycleError` instead of looping forever.
        """
        parents: dict[str, str | None] = {}
        for record in self.loops:
            parents.setdefault(record.loop_id, record.parent_loop_id)
        if loop_id not in parents:
            return []
        chain, cycle = loop_chain(parents, loop_id)
        if cycle:
            raise LoopCycleError(cycle)
        records: dict[str, LoopRecord] = {}
        for record in self.loops:
            records.setdefault(record.loop_id, record)
        return [records[x] for x in chain]

    def copy(self) -> RecordedSession:
        return copy.deepcopy(self)

    def to_json(self) -> dict[str, Any]:
        """phi-core's session JSON, plus ``segment`` and ``rejection`` (REC-060)."""
        spawn = self.parent_spawn_ref
        return {
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "created_at": self.created_at,
            "last_active_at": self.last_active_at,
            "formation": self.formation.to_json(),
            "parent_spawn_ref": None
            if spawn is None
            else {
                "parent_session_id": spawn.parent_session_id,
                "parent_loop_id": spawn.parent_loop_id,
                "tool_call_id": spawn.tool_call_id,
                "tool_name": spawn.tool_name,
            },
            "scope": self.scope,
            "loops": [loop.to_json() for loop in self.loops],
            "segment": self.segment,
            "rejection": self.rejection,
        }

    @classmethod
    def from_json(cls, data: Any) -> RecordedSession:
        """A session from phi-core's JSON or ours (REC-063); :class:`BadSessionFileError`
        naming the problem otherwise."""
        if not isinstance(data, dict):
            raise BadSessionFileError("a session file holds one JSON object")
        try:
            spawn = data.get("parent_spawn_ref")
            scope = data.get("scope", "ephemeral")
            if scope not in ("ephemeral", "persistent"):
                raise ValueError(f"unknown scope {scope!r}")
            return cls(
                session_id=_str(data["session_id"]),
                agent_id=_str(data["agent_id"]),
                created_at=_timestamp(data["created_at"]),
                last_active_at=_timestamp(data["last_active_at"]),
                formation=Formation.from_json(data["formation"]),
                parent_spawn_ref=None
                if spawn is None
                else SpawnRef(
                    _str(spawn["parent_session_id"]),
                    _str(spawn["parent_loop_id"]),
                    _str(spawn.get("tool_call_id", "")),
                    _str(spawn.get("tool_name", "")),
                ),
                scope=scope,
                loops=[LoopRecord.from_json(x, i) for i, x in enumerate(data.get("loops") or [])],
                segment=int(data.get("segment", 0)),
                rejection=data.get("rejection"),
                state=SessionState.COMPLETED,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadSessionFileError(f"bad session: {type(exc).__name__}: {exc}") from None


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _timestamp(value: Any) -> str:
    return check_timestamp(_str(value))


def _message(data: Any) -> Message:
    try:
        return message_from_phi(_PHI_MESSAGE.validate_python(data))
    except ValidationError as exc:
        raise ValueError(f"bad message: {exc.errors()[0]['msg']}") from None


def _usage(data: Any) -> Usage:
    if data is None:
        return Usage()
    try:
        return usage_from_phi(PhiUsage.model_validate(data))
    except ValidationError as exc:
        raise ValueError(f"bad usage: {exc.errors()[0]['msg']}") from None


def _turn_to_json(turn: Turn) -> dict[str, Any]:
    out: dict[str, Any] = {
        "turn_id": {"loopId": turn.loop_id, "turnIndex": turn.turn_index},
        "triggered_by": turn.triggered_by,
        "usage": usage_to_phi(turn.usage),
        "input_messages": [message_to_phi(m) for m in turn.input_messages],
        "output_message": message_to_phi(turn.output_message),
        "tool_results": [
            {**message_to_phi(m), "turnId": {"loopId": turn.loop_id, "turnIndex": turn.turn_index}}
            for m in turn.tool_results
        ],
        "started_at": turn.started_at,
        "ended_at": turn.ended_at,
    }
    if turn.request_payload is not None:
        out["request_payload"] = turn.request_payload
    return out


def _without_turn_id(data: Any) -> Any:
    if isinstance(data, dict) and "turnId" in data:
        return {k: v for k, v in data.items() if k != "turnId"}
    return data


def _turn_from_json(data: Mapping[str, Any]) -> Turn:
    turn_id = data["turn_id"]
    trigger = data["triggered_by"]
    if trigger == "FollowUp":
        trigger = "Continuation"
    if trigger not in _TRIGGERS:
        raise ValueError(f"unknown turn trigger {trigger!r}")
    return Turn(
        loop_id=_str(turn_id["loopId"]),
        turn_index=int(turn_id["turnIndex"]),
        triggered_by=trigger,
        usage=_usage(data.get("usage")),
        input_messages=[_message(m) for m in data.get("input_messages") or []],
        output_message=_message(data["output_message"]),
        tool_results=[_message(_without_turn_id(m)) for m in data.get("tool_results") or []],
        started_at=_timestamp(data["started_at"]),
        ended_at=_timestamp(data["ended_at"]),
        request_payload=data.get("request_payload"),
    )
