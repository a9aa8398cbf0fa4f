"""The hand-off of a realtime transcript's messages to a coordinator as turns (RT-050)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sessionspec.runtime.realtime.records import UnattachedUsage
from sessionspec.runtime.realtime.transcript import RealtimeTranscript
from sessionspec.wire.messages import (
    AssistantMessage,
    Usage,
    UserMessage,
)

# -- hand-off to the coordinator (RT-050) ----------------------------------------------------


class TurnSink(Protocol):
    """What the hand-off needs of a coordinator: opi's ``on_turn_end``."""

    def on_turn_end(self, new_messages: Sequence[Any], usage: Any = None) -> Any: ...


class CoordinatorSink:
    """Hands materialized messages to a coordinator as turns, usage once per response.

    A turn is a run of user messages followed by the assistant message that answers them
    (or the user messages alone, at the end of what is materialized). Each turn's usage is
    the sum of its assistant messages' usage, which the transcript puts on the first message
    of each response only, so a response is counted once (RT-050). The usage of a response
    that has no message (RT-027: cancelled or cut off with nothing kept, or nothing but a
    function call) is added to the turn that holds the next message materialized after it;
    when no message follows yet, it is handed alone, as a turn without messages, which the
    coordinator counts (COORD-014). :meth:`drain` flushes the transcript's journal first, so
    nothing reaches the coordinator that a crash could take back from the transcript.

    :param handed: how many of the transcript's messages the coordinator already has (after
        a restart: the number of realtime messages in the coordinator's context).
    :param usage_handed: how many of the transcript's unattached usages it already has.
    """

    def __init__(
        self,
        transcript: RealtimeTranscript,
        coordinator: TurnSink,
        *,
        handed: int = 0,
        usage_handed: int = 0,
    ) -> None:
        self.transcript = transcript
        self.coordinator = coordinator
        self.handed = handed
        self.usage_handed = usage_handed

    def drain(self) -> list[Any]:
        """Hand over everything materialized since the last drain; returns what each
        ``on_turn_end`` returned (for example a compaction reason)."""
        self.transcript.flush()
        messages = self.transcript.messages()[self.handed :]
        unattached = self.transcript.unattached_usage()[self.usage_handed :]
        results: list[Any] = []
        turn: list[UserMessage | AssistantMessage] = []
        position = self.handed
        for message in messages:
            turn.append(message)
            position += 1
            if isinstance(message, AssistantMessage):
                results.append(self._hand(turn, _before(unattached, position)))
                turn = []
        if turn or unattached:
            # The end of what is materialized: every usage left joins this last turn.
            results.append(self._hand(turn, [record.usage for record in unattached]))
        return results

    def _hand(self, turn: list[UserMessage | AssistantMessage], extra: list[Usage]) -> Any:
        counts = [0, 0, 0, 0]
        usages = [m.usage for m in turn if isinstance(m, AssistantMessage)]
        for usage in (*usages, *extra):
            counts[0] += usage.input_tokens
            counts[1] += usage.output_tokens
            counts[2] += usage.cache_read_tokens
            counts[3] += usage.cache_write_tokens
        total = Usage(
            input_tokens=counts[0],
            output_tokens=counts[1],
            cache_read_tokens=counts[2],
            cache_write_tokens=counts[3],
        )
        result = self.coordinator.on_turn_end(list(turn), total)
        self.handed += len(turn)
        self.usage_handed += len(extra)
        return result


def _before(unattached: list[UnattachedUsage], end: int) -> list[Usage]:
    """Take from the front of ``unattached`` the usages that became unattached before the
    message at ``end`` (exclusive) was materialized: they belong to the turn ending there."""
    taken: list[Usage] = []
    while unattached and unattached[0].position < end:
        taken.append(unattached.pop(0).usage)
    return taken
