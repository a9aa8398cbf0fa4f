"""Connections binding the realtime conformance machine to the runtime, and planted bugs.

The runtime is served by a :class:`PythonHarness` on a simulated file system, in memory or
on a journal (per-event fsync) whose restart is a power cut followed by a reopen. The three
planted bugs are the defects the suite must find (issue 4): dedup forgotten after a restart,
the spoken lane kept on barge-in, the last completion winning, unheard speech counted and
the usage of cancelled or interrupted responses dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessionspec.conformance.adapters import InProcessConnection
from sessionspec.conformance.harness import PythonHarness, runtime_implementation
from sessionspec.errors import IllegalTransitionError
from sessionspec.reference.realtime import ApplyStatus, DiscardedFragment, Lane
from sessionspec.runtime.realtime import ApplyOutcome, RealtimeTranscript
from sessionspec.tables.realtime import ResponseState


def runtime_connection(cls: type[RealtimeTranscript] = RealtimeTranscript) -> InProcessConnection:
    """The runtime (or a planted bug) behind the protocol, in process, on a simulated fs."""
    return InProcessConnection(
        PythonHarness(runtime_implementation(transcript_cls=cls), storage="sim")
    )


# -- planted bugs ----------------------------------------------------------------------------


class ForgetsDedupAfterRestart(RealtimeTranscript):
    """Bug: reopening rebuilds the transcript but not the set of events already seen."""

    @classmethod
    def open(cls, path: str, **kwargs: Any) -> RealtimeTranscript:
        transcript = super().open(path, **kwargs)
        transcript._accepted.clear()
        transcript._deltas.clear()
        return transcript


class KeepsSpokenOnBargeIn(RealtimeTranscript):
    """Bug: barge-in keeps spoken content as if the response had completed."""

    def _end(self, response_id: str, keep: str | None) -> tuple[DiscardedFragment, ...]:
        return super()._end(response_id, "all" if keep == "display" else keep)


class CountsUnheardSpeech(RealtimeTranscript):
    """Bug: a reported playback is ignored, so spoken text counts as soon as its response
    completes, heard or not, and a later cut is refused as late (the behaviour before
    RT-072)."""

    def _on_playback_started(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        outcome = super()._on_playback_started(raw)
        response = self._responses.get(str(raw.get("response_id", "")).strip())
        if response is not None:
            response.played_back = False
        return outcome


class DropsUsageOfCutResponses(RealtimeTranscript):
    """Bug: a cancelled or interrupted response loses its usage, as in the seed (the
    behaviour before RT-027), though the provider billed it."""

    def _end(self, response_id: str, keep: str | None) -> tuple[DiscardedFragment, ...]:
        response = self._responses[response_id]
        if response.state is not ResponseState.COMPLETED:
            response.usage = None
        return super()._end(response_id, keep)


class LastCompletionWins(RealtimeTranscript):
    """Bug: a later completion overwrites the stop reason and usage of a completed response."""

    def _on_completed(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response = self._responses.get(str(raw.get("response_id", "")).strip())
        stop = raw.get("stop_reason")
        if (
            response is not None
            and response.state is ResponseState.COMPLETED
            and stop not in ("tool_use", "cancelled")
        ):
            response.stop_reason = str(stop)
            usage = raw.get("usage")
            response.usage = dict(usage) if isinstance(usage, Mapping) else None
            return ApplyOutcome(ApplyStatus.ACCEPTED)
        return super()._on_completed(raw)


__all__ = [
    "CountsUnheardSpeech",
    "DropsUsageOfCutResponses",
    "ForgetsDedupAfterRestart",
    "IllegalTransitionError",
    "KeepsSpokenOnBargeIn",
    "Lane",
    "LastCompletionWins",
    "runtime_connection",
]
