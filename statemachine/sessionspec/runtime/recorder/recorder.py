"""The session recorder: agent events in, sessions and loop records out (spec/SPEC.md §8).

Rules
-----
* ``on_event(event)`` takes one of phi-core's agent events (a wire model of
  :mod:`sessionspec.wire.agent_events` or a plain dict in its JSON form, REC-001). A
  malformed event raises :class:`InvalidAgentEventError` naming the field (REC-002); an
  ``AgentStart`` for a loop that is still running raises :class:`DuplicateLoopError`
  (REC-014). Either way nothing changed. Otherwise it returns a :class:`RecordOutcome`:
  ``recorded``, or ``dropped`` with the reason (an event for a loop that is not running,
  a streaming update while those are off, REC-030).
* Every record lifecycle follows :data:`LOOP_TABLE` and :data:`SESSION_TABLE`.
* Durable (REC-070..REC-072): on a journal, every event that changes the recording, every
  rotation note and every ``flush``/``checkpoint``/``drain_completed`` is appended before
  it changes memory (GEN-006). Reopening replays the journal with the ``before_task``
  verdicts it recorded, so a recorder that crashed resumes with every event it
  acknowledged, and callbacks are not fired twice.

Theory of operation
-------------------
The recorder is a fold: it never reads the clock, every time it stores comes from an event
(REC-016). Each entry point first *decides* (validates, finds the records, computes the
``before_task`` verdict), then journals, then *applies*; the apply step cannot fail, so
memory and journal never disagree. Sessions are segments (REC-013): ``open`` ones are kept
by id, ``completed`` ones in completion order until drained. A loop's record is placed in
its session when it closes, at the position of its start (REC-022), and linked with its
parent and children in the same segment in both directions (REC-023).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ValidationError

from sessionspec.codecs.phi import message_from_phi, usage_from_phi
from sessionspec.errors import (
    CallerError,
    DuplicateLoopError,
    IllegalTransitionError,
    InvalidAgentEventError,
)
from sessionspec.reference.recorder_ids import (
    config_segment_from_loop_id,
    session_id_from_loop_id,
    start_position,
)
from sessionspec.runtime.recorder.model import (
    ChildLoopRef,
    Formation,
    LoopRecord,
    ParallelGroup,
    RecordedEvent,
    RecordedSession,
    SpawnRef,
    Turn,
)
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog
from sessionspec.storage.log import Durability
from sessionspec.tables.recorder import (
    LOOP_TABLE,
    SESSION_TABLE,
    LoopEvent,
    SessionEvent,
)
from sessionspec.wire import agent_events as ev
from sessionspec.wire.agent_events import AGENT_EVENT_ADAPTER, AgentEvent
from sessionspec.wire.messages import AssistantMessage, Message

__all__ = [
    "BEFORE_TASK_REJECTION",
    "DropReason",
    "RecordOutcome",
    "RecorderConfig",
    "RecorderJournalHeader",
    "SessionRecorder",
]

#: The ``rejection`` of a session (and of its loops) refused by ``before_task`` (REC-012).
BEFORE_TASK_REJECTION = "before_task returned false"

DropReason = Literal["loop_not_running", "no_loop", "streaming_disabled"]


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What one event did (REC-030)."""

    status: Literal["recorded", "dropped"]
    #: Why it was dropped (``None`` when recorded).
    reason: DropReason | None = None

    @property
    def recorded(self) -> bool:
        return self.status == "recorded"


_RECORDED = RecordOutcome("recorded")
_NOT_RUNNING = RecordOutcome("dropped", "loop_not_running")
_NO_LOOP = RecordOutcome("dropped", "no_loop")
_STREAMING_OFF = RecordOutcome("dropped", "streaming_disabled")


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """phi-core's ``SessionRecorderConfig`` (REC-012, REC-017). Frozen: a journaled
    recorder's flags are in its header, and a replay must decide as the live run did."""

    #: Record ``MessageUpdate`` events (off: they are dropped, REC-031).
    include_streaming_events: bool = False
    #: Keep ``TurnRequest`` payloads on the turn (REC-035).
    capture_turn_requests: bool = False
    #: Called once per session id when its first segment opens; ``False`` refuses it.
    before_task: Callable[[RecordedSession], bool] | None = None
    #: Called once per segment when it completes (``checkpoint`` or ``flush``, REC-053).
    after_task: Callable[[RecordedSession], None] | None = None

    def __post_init__(self) -> None:
        for name in ("include_streaming_events", "capture_turn_requests"):
            if not isinstance(getattr(self, name), bool):
                raise CallerError(f"{name} must be a bool, not {getattr(self, name)!r}")
        for name in ("before_task", "after_task"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise CallerError(f"{name} must be callable or None, not {value!r}")


class RecorderJournalHeader(BaseModel):
    """Line 1 of a recorder journal: the settings that decide (REC-070)."""

    type: Literal["sessionspec.recorder_journal"] = "sessionspec.recorder_journal"
    version: Literal[1] = 1
    id: str
    created: str
    include_streaming_events: bool
    capture_turn_requests: bool


#: The journal's entry types.
JOURNAL_ENTRY_TYPES = frozenset({"event", "rotation", "flush", "checkpoint", "drain"})


@dataclass(slots=True)
class _PartialTurn:
    turn_index: int
    triggered_by: str
    started_at: str
    input_messages: list[Message] = field(default_factory=list)
    request_payload: Any = None


@dataclass(slots=True)
class _Rotation:
    previous_session_id: str | None
    threshold_secs: int


def _invalid(exc: ValidationError, kind: object) -> InvalidAgentEventError:
    error = exc.errors()[0]
    where = ".".join(str(x) for x in error["loc"]) or "event"
    return InvalidAgentEventError(f"invalid agent event {kind!r}: {where}: {error['msg']}")


#: The event models, one per variant.
_EVENT_CLASSES: tuple[type[BaseModel], ...] = tuple(get_args(get_args(AgentEvent)[0]))
assert tuple(c.__name__ for c in _EVENT_CLASSES) == ev.AGENT_EVENT_TYPES


def parse_event(event: AgentEvent | Mapping[str, Any]) -> AgentEvent:
    """The event as its wire model, or :class:`InvalidAgentEventError` (REC-002)."""
    if isinstance(event, BaseModel):
        if not isinstance(event, _EVENT_CLASSES):
            raise InvalidAgentEventError(f"not an agent event: {type(event).__name__}")
        event = event.to_json_dict()
    if not isinstance(event, Mapping):
        raise InvalidAgentEventError(
            f"an agent event is a wire model or a mapping, not {type(event).__name__}"
        )
    kind = event.get("type")
    if kind not in ev.AGENT_EVENT_TYPES:
        raise InvalidAgentEventError(f"unknown agent event type {kind!r}")
    try:
        return AGENT_EVENT_ADAPTER.validate_python(dict(event))
    except ValidationError as exc:
        raise _invalid(exc, kind) from None


def _loop_id_of(event: AgentEvent) -> str | None:
    """The loop whose stream an event belongs to; ``None`` for the parallel markers."""
    if isinstance(event, ev.ParallelLoopStart | ev.ParallelLoopEnd):
        return None
    return event.loop_id


def _config_from(loop_id: str, messages: Sequence[Message]) -> dict[str, Any] | None:
    for message in messages:
        if isinstance(message, AssistantMessage):
            return {
                "model": message.model,
                "provider": message.provider,
                "config_id": config_segment_from_loop_id(loop_id),
            }
    return None


class SessionRecorder:
    """Records agent events into sessions and loop records (REC section of the spec).

    In memory by default; :meth:`create` and :meth:`open` put it on a journal file.
    """

    def __init__(self, config: RecorderConfig | None = None) -> None:
        self.config = config or RecorderConfig()
        self._completed: list[RecordedSession] = []
        self._open: dict[str, RecordedSession] = {}
        self._loops: dict[str, LoopRecord] = {}
        self._partial_turns: dict[str, _PartialTurn] = {}
        self._partial_groups: dict[str, list[str]] = {}
        #: Segments opened so far per session id, and the ``before_task`` verdict per id.
        self._segments: dict[str, int] = {}
        self._verdicts: dict[str, bool] = {}
        self._occurrences: dict[str, int] = {}
        self._starts = 0
        self._rotations: dict[str, _Rotation] = {}
        #: Spawn refs for child loops whose session has not started yet (REC-033).
        self._pending_spawns: dict[str, SpawnRef] = {}
        self._journal: JsonlLog | None = None
        self._next_entry = 1
        self._replaying = False

    # -- construction on a journal (REC-070) ---------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str,
        config: RecorderConfig | None = None,
        *,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        journal_id: str | None = None,
    ) -> SessionRecorder:
        """A new recorder journaled at ``path`` (which must not exist)."""
        path = _with_directory(path)
        recorder = cls(config)
        now = datetime.now(UTC)
        header = RecorderJournalHeader(
            id=journal_id or f"rec-{int(now.timestamp() * 1000):x}",
            created=now.isoformat(),
            include_streaming_events=recorder.config.include_streaming_events,
            capture_turn_requests=recorder.config.capture_turn_requests,
        )
        recorder._journal = JsonlLog.create(
            path,
            header.model_dump(mode="json"),
            fs=fs,
            durability=durability,
            header_model=RecorderJournalHeader,
            entry_types=JOURNAL_ENTRY_TYPES,
        )
        return recorder

    @classmethod
    def open(
        cls,
        path: str,
        *,
        before_task: Callable[[RecordedSession], bool] | None = None,
        after_task: Callable[[RecordedSession], None] | None = None,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
    ) -> SessionRecorder:
        """Reopen a journaled recorder: replay every entry (REC-071). The flags come from the
        journal's header; the callbacks are given again and fire only for what is new."""
        journal = JsonlLog.open(
            _with_directory(path),
            fs=fs,
            durability=durability,
            header_model=RecorderJournalHeader,
            entry_types=JOURNAL_ENTRY_TYPES,
        )
        snapshot = journal.snapshot
        assert snapshot is not None
        header = snapshot.header
        recorder = cls(
            RecorderConfig(
                include_streaming_events=bool(header["include_streaming_events"]),
                capture_turn_requests=bool(header["capture_turn_requests"]),
                before_task=before_task,
                after_task=after_task,
            )
        )
        recorder._replaying = True
        try:
            for record in snapshot.records:
                recorder._replay(record.entry)
        except BaseException:
            journal.close()
            raise
        finally:
            recorder._replaying = False
        recorder._next_entry = journal.head + 1
        recorder._journal = journal
        journal.snapshot = None
        return recorder

    def close(self) -> None:
        """Close the journal (the recording stays readable in memory)."""
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public API ------------------------------------------------------------------------------

    def on_event(self, event: AgentEvent | Mapping[str, Any]) -> RecordOutcome:
        """Record one event; see the module docstring (REC-001, REC-002, REC-030)."""
        parsed = parse_event(event)
        return self._on_parsed(parsed, verdict=None)

    def note_rotation(
        self, session_id: str, *, previous_session_id: str | None, threshold_secs: int
    ) -> None:
        """Record that ``session_id`` was opened by an inactivity rotation (REC-040); its
        next segment's formation is ``InactivityTimeout``. :class:`SessionRotator` calls it."""
        if not isinstance(session_id, str) or not session_id:
            raise CallerError(f"session id must be a non-empty string: {session_id!r}")
        if isinstance(threshold_secs, bool) or not isinstance(threshold_secs, int):
            raise CallerError(f"threshold_secs must be an integer: {threshold_secs!r}")
        if threshold_secs < 0:
            raise CallerError(f"threshold_secs must not be negative: {threshold_secs}")
        self._persist(
            {
                "type": "rotation",
                "session_id": session_id,
                "previous_session_id": previous_session_id,
                "threshold_secs": threshold_secs,
            }
        )
        self._rotations[session_id] = _Rotation(previous_session_id, threshold_secs)

    def flush(self) -> None:
        """Abort every running loop and complete every open session (REC-050)."""
        self._persist({"type": "flush"})
        self._flush()

    def checkpoint(self) -> int:
        """Complete every open session none of whose loops is running; return how many
        (REC-051)."""
        self._persist({"type": "checkpoint"})
        return self._checkpoint()

    def drain_completed(self) -> list[RecordedSession]:
        """Hand over the completed sessions, in completion order, and forget them (REC-052)."""
        if self._completed:
            self._persist({"type": "drain"})
        drained, self._completed = self._completed, []
        return drained

    def sessions(self) -> Iterator[RecordedSession]:
        """Copies of every session held: completed ones in completion order, then open
        ones in opening order (REC-052)."""
        for session in [*self._completed, *self._open.values()]:
            yield session.copy()

    def get_session(self, session_id: str) -> RecordedSession | None:
        """A copy of the newest segment of ``session_id``: the open one, else the latest
        completed one still held (REC-052)."""
        session = self._open.get(session_id)
        if session is None:
            for candidate in reversed(self._completed):
                if candidate.session_id == session_id:
                    session = candidate
                    break
        return None if session is None else session.copy()

    def current_loop(self, loop_id: str) -> LoopRecord | None:
        """A copy of the record of ``loop_id`` while it runs; ``None`` otherwise (REC-052)."""
        record = self._loops.get(loop_id)
        return None if record is None else _copy_loop(record)

    def running_loop_ids(self) -> list[str]:
        """The loops that are running, in start order."""
        return list(self._loops)

    # -- decide, persist, apply ------------------------------------------------------------------

    def _on_parsed(self, event: AgentEvent, verdict: bool | None) -> RecordOutcome:
        if isinstance(event, ev.AgentStart):
            return self._on_agent_start(event, verdict)
        if isinstance(event, ev.ParallelLoopStart):
            self._persist_event(event)
            for member in event.loop_ids:
                self._partial_groups.setdefault(member, list(event.loop_ids))
            return _RECORDED
        if isinstance(event, ev.ParallelLoopEnd):
            self._persist_event(event)
            self._on_parallel_end(event)
            return _RECORDED
        loop_id: str | None = _loop_id_of(event)
        if isinstance(event, ev.ProgressMessage | ev.InputRejected) and not loop_id:
            return _NO_LOOP
        if isinstance(event, ev.MessageUpdate) and not self.config.include_streaming_events:
            return _STREAMING_OFF
        assert loop_id is not None
        record = self._loops.get(loop_id)
        if record is None:
            # REC-030: before its start, after its end, or never started.
            return _NOT_RUNNING
        entry = event.to_json_dict()
        if self._journal is not None:
            self._persist({"type": "event", "event": entry})
        self._append(record, entry)
        if isinstance(event, ev.TurnStart):
            trigger = "Continuation" if event.triggered_by == "FollowUp" else event.triggered_by
            self._partial_turns[loop_id] = _PartialTurn(event.turn_index, trigger, event.timestamp)
        elif isinstance(event, ev.TurnRequest):
            partial = self._partial_turns.get(loop_id)
            if partial is not None and self.config.capture_turn_requests:
                partial.request_payload = event.payload
        elif isinstance(event, ev.MessageEnd):
            partial = self._partial_turns.get(loop_id)
            role = event.message.role
            # REC-036: tool results belong to the turn's tool_results only.
            if partial is not None and role == "user":
                partial.input_messages.append(message_from_phi(event.message))
        elif isinstance(event, ev.TurnEnd):
            self._on_turn_end(record, event)
        elif isinstance(event, ev.ToolExecutionEnd):
            self._on_tool_end(record, event)
        elif isinstance(event, ev.AgentEnd):
            self._on_agent_end(record, event)
        return _RECORDED

    def _on_agent_start(self, event: ev.AgentStart, verdict: bool | None) -> RecordOutcome:
        if event.loop_id in self._loops:
            raise DuplicateLoopError(event.loop_id)  # REC-014
        session = self._open.get(event.session_id)
        new_session: RecordedSession | None = None
        if session is None:
            segment = self._segments.get(event.session_id, 0)
            rotation = self._rotations.get(event.session_id)
            formation = (
                Formation("FirstLoop", event.timestamp)
                if rotation is None
                else Formation(
                    "InactivityTimeout",
                    event.timestamp,
                    rotation.threshold_secs,
                    rotation.previous_session_id,
                )
            )
            new_session = RecordedSession(
                session_id=event.session_id,
                agent_id=event.agent_id,
                created_at=event.timestamp,
                last_active_at=event.timestamp,
                formation=formation,
                segment=segment,
            )
            if event.session_id not in self._verdicts and verdict is None:
                # REC-012: asked once per session id, before anything is journaled.
                verdict = True
                if self.config.before_task is not None and not self._replaying:
                    verdict = bool(self.config.before_task(new_session.copy()))
        entry = event.to_json_dict()
        self._persist(
            {"type": "event", "event": entry, **({} if verdict is None else {"verdict": verdict})}
        )
        # -- apply (cannot fail) --
        if new_session is not None:
            session = new_session
            self._segments[event.session_id] = session.segment + 1
            self._rotations.pop(event.session_id, None)
            if verdict is not None:  # only a session id's first AgentStart carries one
                self._verdicts[event.session_id] = verdict
            # Every session id has its verdict from its first AgentStart (journaled with it).
            if not self._verdicts[event.session_id]:
                session.rejection = BEFORE_TASK_REJECTION
            self._open[event.session_id] = session
        assert session is not None
        SESSION_TABLE.step(session.state, SessionEvent.LOOP_START)
        session.last_active_at = event.timestamp
        parent = event.parent_loop_id
        if (
            parent is not None
            and session_id_from_loop_id(parent) != event.session_id
            and session.parent_spawn_ref is None
        ):
            session.parent_spawn_ref = SpawnRef(session_id_from_loop_id(parent), parent)
        pending = self._pending_spawns.pop(event.loop_id, None)
        if pending is not None and (
            session.parent_spawn_ref is None or not session.parent_spawn_ref.tool_call_id
        ):
            session.parent_spawn_ref = pending
        occurrence = self._occurrences.get(event.loop_id, 0) + 1
        self._occurrences[event.loop_id] = occurrence
        record = LoopRecord(
            loop_id=event.loop_id,
            session_id=event.session_id,
            agent_id=event.agent_id,
            parent_loop_id=parent,
            continuation_kind=entry.get("continuation_kind") or "Initial",
            started_at=event.timestamp,
            config=None
            if event.config_snapshot is None
            else event.config_snapshot.model_dump(mode="json", exclude_none=True),
            metadata=event.metadata,
            occurrence=occurrence,
            start_index=self._starts,
        )
        self._starts += 1
        record.events.append(RecordedEvent(0, entry))
        # REC-023: children that closed before this parent started.
        for other in session.loops:
            if other.parent_loop_id == record.loop_id and other.loop_id != record.loop_id:
                _add_child(record, other.loop_id)
        if session.rejection is not None:
            # REC-012: a refused session records its loops as rejected, at their start.
            record.status = LOOP_TABLE.step(record.status, LoopEvent.REFUSE)
            record.ended_at = event.timestamp
            record.rejection = BEFORE_TASK_REJECTION
            self._place(session, record)
        else:
            self._loops[event.loop_id] = record
        return _RECORDED

    def _append(self, record: LoopRecord, entry: dict[str, Any]) -> None:
        LOOP_TABLE.step(record.status, LoopEvent.RECORD)
        # REC-031: dense sequence numbers, 0 for AgentStart.
        record.events.append(RecordedEvent(len(record.events), entry))

    def _on_turn_end(self, record: LoopRecord, event: ev.TurnEnd) -> None:
        output = message_from_phi(event.message)
        if record.config is None:
            record.config = _config_from(record.loop_id, [output])
        partial = self._partial_turns.pop(record.loop_id, None)
        if partial is None:
            return
        record.turns.append(
            Turn(
                loop_id=record.loop_id,
                turn_index=partial.turn_index,
                triggered_by=partial.triggered_by,
                usage=usage_from_phi(event.usage),
                input_messages=partial.input_messages,
                output_message=output,
                tool_results=[message_from_phi(m) for m in event.tool_results],
                started_at=partial.started_at,
                ended_at=event.timestamp,
                request_payload=partial.request_payload,
            )
        )

    def _on_tool_end(self, record: LoopRecord, event: ev.ToolExecutionEnd) -> None:
        # REC-032: the result's child loop id wins; the older top-level field is the fallback.
        child = event.result.child_loop_id or event.child_loop_id
        if child is None:
            return
        child_session_id = session_id_from_loop_id(child)
        record.child_loop_refs.append(
            ChildLoopRef(event.tool_call_id, event.tool_name, child, child_session_id)
        )
        spawn = SpawnRef(record.session_id, record.loop_id, event.tool_call_id, event.tool_name)
        target = self._find_child_session(child, child_session_id)
        if target is None:
            if child not in self._occurrences:
                self._pending_spawns.setdefault(child, spawn)  # REC-033: applied at its start
        elif target.parent_spawn_ref is None or not target.parent_spawn_ref.tool_call_id:
            target.parent_spawn_ref = spawn

    def _find_child_session(self, child_loop_id: str, session_id: str) -> RecordedSession | None:
        running = self._loops.get(child_loop_id)
        if running is not None:
            return self._open.get(running.session_id)
        session = self._open.get(session_id)
        if session is not None:
            return session
        for candidate in reversed(self._completed):
            if candidate.session_id == session_id:
                return candidate
        return None

    def _on_agent_end(self, record: LoopRecord, event: ev.AgentEnd) -> None:
        self._partial_turns.pop(record.loop_id, None)
        del self._loops[record.loop_id]
        # The odd rule next to the table: which end an AgentEnd is depends on its data.
        end = LoopEvent.END_REJECTED if event.rejection is not None else LoopEvent.END
        record.status = LOOP_TABLE.step(record.status, end)
        record.ended_at = event.timestamp
        record.rejection = event.rejection
        record.messages = [message_from_phi(m) for m in event.messages]
        record.usage = usage_from_phi(event.usage)
        if record.config is None:
            record.config = _config_from(record.loop_id, record.messages)
        self._place(self._open[record.session_id], record)

    def _place(self, session: RecordedSession, record: LoopRecord) -> None:
        """Put a closed record in its session at its start position, linked (REC-022/023)."""
        session.state = SESSION_TABLE.step(session.state, SessionEvent.LOOP_CLOSE)
        parent = record.parent_loop_id
        if parent is not None and parent != record.loop_id:
            for other in session.loops:
                if other.loop_id == parent:
                    _add_child(other, record.loop_id)
            running = self._loops.get(parent)
            if running is not None and running.session_id == session.session_id:
                _add_child(running, record.loop_id)
        starts = tuple(loop.start_index for loop in session.loops)
        session.loops.insert(start_position(starts, record.start_index), record)

    def _on_parallel_end(self, event: ev.ParallelLoopEnd) -> None:
        members = self._partial_groups.get(event.selected_loop_id) or [event.selected_loop_id]
        usage = usage_from_phi(event.evaluation_usage)
        targets: list[LoopRecord] = []
        for loop_id in members:
            running = self._loops.get(loop_id)
            if running is not None:
                targets.append(running)
        for session in [*self._open.values(), *self._completed]:
            targets.extend(loop for loop in session.loops if loop.loop_id in members)
        for loop in targets:
            loop.parallel_group = ParallelGroup(
                list(members),
                event.selected_loop_id,
                event.selected_config_index,
                usage.model_copy(),
                loop.loop_id == event.selected_loop_id,
            )
        for loop_id in members:
            self._partial_groups.pop(loop_id, None)

    def _flush(self) -> None:
        self._partial_turns.clear()
        for record in list(self._loops.values()):
            record.status = LOOP_TABLE.step(record.status, LoopEvent.ABORT)
            del self._loops[record.loop_id]
            self._place(self._open[record.session_id], record)
        for session in list(self._open.values()):
            self._complete(session, SessionEvent.FLUSH)

    def _checkpoint(self) -> int:
        busy = {record.session_id for record in self._loops.values()}
        # The odd rule next to the table: eligibility is a data condition (no running loop).
        ready = [s for s in self._open.values() if s.session_id not in busy]
        for session in ready:
            self._complete(session, SessionEvent.CHECKPOINT)
        return len(ready)

    def _complete(self, session: RecordedSession, event: SessionEvent) -> None:
        session.state = SESSION_TABLE.step(session.state, event)
        del self._open[session.session_id]
        self._completed.append(session)
        if self.config.after_task is not None and not self._replaying:
            self.config.after_task(session.copy())  # REC-053

    # -- the journal -----------------------------------------------------------------------------

    def _persist_event(self, event: AgentEvent) -> None:
        if self._journal is not None:
            self._persist({"type": "event", "event": event.to_json_dict()})

    def _persist(self, entry: dict[str, Any]) -> None:
        """GEN-006: journaled before memory changes; a failed append changes nothing."""
        journal = self._journal
        if journal is None or self._replaying:
            return
        entry = {
            "type": entry["type"],
            "id": str(self._next_entry),
            **{k: v for k, v in entry.items() if k != "type"},
        }
        journal.append([entry])
        self._next_entry += 1

    def _replay(self, entry: Mapping[str, Any]) -> None:
        kind = entry["type"]
        if kind == "event":
            verdict = entry.get("verdict")
            self._on_parsed(parse_event(entry["event"]), verdict=verdict)
        elif kind == "rotation":
            self._rotations[entry["session_id"]] = _Rotation(
                entry["previous_session_id"], int(entry["threshold_secs"])
            )
        elif kind == "flush":
            self._flush()
        elif kind == "checkpoint":
            self._checkpoint()
        elif kind == "drain":
            self._completed = []
        else:  # pragma: no cover - the log reader admits only JOURNAL_ENTRY_TYPES
            raise IllegalTransitionError("recorder_journal", "replay", str(kind))


def _with_directory(path: str) -> str:
    """A bare file name as ``./name``: the log creates and fsyncs the file's directory."""
    path = os.fspath(path)
    return path if os.path.dirname(path) else os.path.join(".", path)


def _add_child(parent: LoopRecord, child_id: str) -> None:
    if child_id not in parent.children_loop_ids:
        parent.children_loop_ids.append(child_id)


def _copy_loop(record: LoopRecord) -> LoopRecord:
    return copy.deepcopy(record)
