"""One event stream, two consumers: the recorder and a session coordinator (REC-080).

An agent loop emits its events once. :class:`RecorderSink` gives each event to the recorder
first (journaled and durable when the recorder is on a journal) and then, for every
``TurnEnd`` the recorder turned into a :class:`~sessionspec.runtime.recorder.model.Turn`,
hands that turn to the coordinator's ``on_turn_end``: the turn's input messages, its
assistant message and its tool results, in that order, with the turn's usage. A turn the
recorder did not record (a ``TurnEnd`` for a loop that is not running, or without its
``TurnStart``) reaches no coordinator.

The recorder goes first because its journal is the record of what the agent did; the two
stores are not one transaction, so a crash or a failed ``on_turn_end`` between them leaves a
turn recorded and not persisted, never the reverse (REC-080). ``turns_handed`` and the
coordinator's turn count let the caller reconcile after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sessionspec.runtime.recorder.model import Turn
from sessionspec.runtime.recorder.recorder import RecordOutcome, SessionRecorder, parse_event
from sessionspec.wire import agent_events as ev
from sessionspec.wire.agent_events import AgentEvent

__all__ = ["RecorderSink", "SinkOutcome", "TurnSink"]


class TurnSink(Protocol):
    """What the sink needs of a coordinator: opi's ``on_turn_end``."""

    def on_turn_end(self, new_messages: Sequence[Any], usage: Any = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class SinkOutcome:
    """What the recorder did with the event, and the turn handed on (if any)."""

    recorded: RecordOutcome
    #: The turn given to the coordinator, ``None`` when the event ended no turn.
    turn: Turn | None = None
    #: What ``on_turn_end`` returned (for example a compaction reason).
    coordinator_result: Any = None


class RecorderSink:
    """Feeds every event to ``recorder`` and every recorded turn to ``coordinator``."""

    def __init__(self, recorder: SessionRecorder, coordinator: TurnSink) -> None:
        self.recorder = recorder
        self.coordinator = coordinator
        #: Turns handed to the coordinator so far.
        self.turns_handed = 0

    def on_event(self, event: AgentEvent | Mapping[str, Any]) -> SinkOutcome:
        parsed = parse_event(event)
        if not isinstance(parsed, ev.TurnEnd):
            return SinkOutcome(self.recorder.on_event(parsed))
        before = self.recorder.current_loop(parsed.loop_id)
        count = 0 if before is None else len(before.turns)
        outcome = self.recorder.on_event(parsed)
        after = self.recorder.current_loop(parsed.loop_id)
        if not outcome.recorded or after is None or len(after.turns) == count:
            return SinkOutcome(outcome)
        turn = after.turns[-1]
        result = self.coordinator.on_turn_end(turn.all_messages(), turn.usage)
        self.turns_handed += 1
        return SinkOutcome(outcome, turn, result)
