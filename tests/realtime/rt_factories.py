"""Factories binding the realtime conformance machine to implementations, and planted bugs.

The runtime is bound in memory and on a journal (per-event fsync) in a
:class:`SimulatedFileSystem` whose ``restart`` is a power cut followed by a reopen. The
three planted bugs are the defects the suite must find (issue 4): dedup forgotten after a
restart, the spoken lane kept on barge-in, and the last completion winning.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from sessionspec.conformance.realtime_machine import Observed, Subject, SubjectFactory
from sessionspec.errors import IllegalTransitionError
from sessionspec.reference.realtime import ApplyStatus, DiscardedFragment, Lane
from sessionspec.runtime.realtime import ApplyOutcome, RealtimeTranscript
from sessionspec.storage.simfs import SimulatedFileSystem
from sessionspec.tables.realtime import ResponseState

JOURNAL = "/rt/journal.jsonl"


def _clock() -> int:
    return 1_700_000_000_000


def observe(outcome: ApplyOutcome) -> Observed:
    return Observed(
        outcome.status.value,
        tuple(d.code.value for d in outcome.diagnostics),
        tuple(
            (f.item_id, f.response_id, f.lane.value, f.text, f.reason) for f in outcome.discarded
        ),
    )


class RuntimeSubject:
    """The runtime behind the machine's :class:`Subject` protocol."""

    def __init__(self, cls: type[RealtimeTranscript], durable: bool) -> None:
        self.cls = cls
        self.durable = durable
        self.crashes = 0
        if durable:
            self.fs = SimulatedFileSystem()
            self.transcript = cls.create(JOURNAL, fs=self.fs, clock=_clock)
        else:
            self.transcript = cls(clock=_clock)

    def apply(self, event: dict[str, Any]) -> Observed:
        return observe(self.transcript.apply(event))

    def messages(self) -> list[dict[str, Any]]:
        return [m.to_json_dict() for m in self.transcript.messages()]

    def in_flight(self) -> list[str]:
        return self.transcript.in_flight_response_ids()

    def restart(self) -> None:
        self.crashes += 1
        self.fs.crash(random.Random(self.crashes))
        self.transcript = self.cls.open(JOURNAL, fs=self.fs, clock=_clock)


def runtime_factory(cls: type[RealtimeTranscript] = RealtimeTranscript) -> SubjectFactory:
    def make() -> Subject:
        return RuntimeSubject(cls, durable=False)

    return make


def durable_factory(cls: type[RealtimeTranscript] = RealtimeTranscript) -> SubjectFactory:
    def make() -> Subject:
        return RuntimeSubject(cls, durable=True)

    return make


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
    "ForgetsDedupAfterRestart",
    "IllegalTransitionError",
    "KeepsSpokenOnBargeIn",
    "Lane",
    "LastCompletionWins",
    "durable_factory",
    "runtime_factory",
]
