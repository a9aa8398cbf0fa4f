"""The harness's realtime transcript commands (``realtime.*``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionspec.conformance.harness.answers import Json, Rejection, Skip
from sessionspec.conformance.protocol import Capability, ErrorType
from sessionspec.storage.files import FileSystem

if TYPE_CHECKING:
    from sessionspec.conformance.harness.core import PythonHarness, PythonImplementation

__all__ = ["HANDLERS", "TranscriptFactory", "capabilities"]


@dataclass(frozen=True)
class TranscriptFactory:
    """How a harness makes a realtime transcript (in memory, or on a journal)."""

    #: ``(clock_ms) -> transcript`` kept in memory.
    memory: Callable[[Callable[[], int]], Any]
    #: ``(fs, path, clock_ms) -> transcript`` on a new journal.
    create: Callable[[FileSystem, str, Callable[[], int]], Any]
    #: ``(fs, path, clock_ms) -> transcript`` reopened from its journal.
    open: Callable[[FileSystem, str, Callable[[], int]], Any]


def capabilities(implementation: PythonImplementation) -> list[Capability]:
    """What a harness can offer for this implementation's realtime transcript."""
    if implementation.realtime is None:
        return []
    return [Capability.REALTIME, Capability.REALTIME_DURABLE]


def _factory(h: PythonHarness) -> TranscriptFactory:
    if h.implementation.realtime is None:
        raise Skip("this implementation has no realtime transcript")
    return h.implementation.realtime


def _transcript(h: PythonHarness, args: Mapping[str, Any]) -> Any:
    handle = str(args.get("handle", ""))
    if handle not in h.transcripts:
        raise Rejection(ErrorType.NOT_FOUND, f"no transcript {handle!r}")
    return h.transcripts[handle]


def realtime_new(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    if args.get("durable"):
        path = f"{h.workdir}/{args.get('journal', 'journal')}.jsonl"
        transcript = factory.create(h.fs, path, h.now_ms)
    else:
        transcript = factory.memory(h.now_ms)
    h.transcripts[str(args["handle"])] = transcript
    return {}


def realtime_open(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    path = f"{h.workdir}/{args.get('journal', 'journal')}.jsonl"
    h.transcripts[str(args["handle"])] = factory.open(h.fs, path, h.now_ms)
    return {}


def realtime_apply(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    outcome = _transcript(h, args).apply(dict(args["event"]))
    return {
        "status": outcome.status.value,
        "codes": [d.code.value for d in outcome.diagnostics],
        "discarded": [
            [f.item_id, f.response_id, f.lane.value, f.text, f.reason] for f in outcome.discarded
        ],
    }


def realtime_observe(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    transcript = _transcript(h, args)
    observed: dict[str, Any] = {
        "messages": [m.to_json_dict() for m in transcript.messages()],
        "in_flight": list(transcript.in_flight_response_ids()),
    }
    unattached = getattr(transcript, "unattached_usage", None)
    if unattached is not None:
        observed["unattached_usage"] = {
            record.response_id: record.usage.to_json_dict() for record in unattached()
        }
    return observed


def realtime_close(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _transcript(h, args).close()
    return {}


HANDLERS: dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]] = {
    "realtime.new": realtime_new,
    "realtime.open": realtime_open,
    "realtime.apply": realtime_apply,
    "realtime.observe": realtime_observe,
    "realtime.close": realtime_close,
}
