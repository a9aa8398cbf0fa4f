"""The hand-off of a realtime transcript's messages to a coordinator as turns (RT-050)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

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
    of each response only, so a response is counted once (RT-050). :meth:`drain` flushes
    the transcript's journal first, so nothing reaches the coordinator that a crash could
    take back from the transcript.

    :param handed: how many of the transcript's messages the coordinator already has (after
        a restart: the number of realtime messages in the coordinator's context).
    """

    def __init__(
        self, transcript: RealtimeTranscript, coordinator: TurnSink, *, handed: int = 0
    ) -> None:
        self.transcript = transcript
        self.coordinator = coordinator
        self.handed = handed

    def drain(self) -> list[Any]:
        """Hand over everything materialized since the last drain; returns what each
        ``on_turn_end`` returned (for example a compaction reason)."""
        self.transcript.flush()
        messages = self.transcript.messages()[self.handed :]
        results: list[Any] = []
        turn: list[UserMessage | AssistantMessage] = []
        for message in messages:
            turn.append(message)
            if isinstance(message, AssistantMessage):
                results.append(self._hand(turn))
                turn = []
        if turn:
            results.append(self._hand(turn))
        return results

    def _hand(self, turn: list[UserMessage | AssistantMessage]) -> Any:
        usage = Usage()
        for message in turn:
            if isinstance(message, AssistantMessage):
                usage = Usage(
                    input_tokens=usage.input_tokens + message.usage.input_tokens,
                    output_tokens=usage.output_tokens + message.usage.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens + message.usage.cache_read_tokens,
                    cache_write_tokens=usage.cache_write_tokens + message.usage.cache_write_tokens,
                )
        result = self.coordinator.on_turn_end(list(turn), usage)
        self.handed += len(turn)
        return result
