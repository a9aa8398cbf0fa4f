"""The harness's session recorder commands (``recorder.*``).

Events arrive as phi-core's JSON events and are handed to the implementation as they are;
sessions and loop records go back as phi-core's session JSON (REC-060). A journaled
recorder lives at ``<workdir>/<journal>.jsonl`` on the harness's file system, so a power cut
(``sim.power_cut``) or a kill reaches it like any other durable file (REC-070, REC-071).
With a ``configured`` factory the harness also offers ``recorder.config``: ``recorder.new``
with the recorder's configuration (REC-017) and ``recorder.task_calls``, the
``before_task``/``after_task`` calls it logged (CONF-074).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionspec.conformance.harness.answers import Json, Rejection, Skip
from sessionspec.conformance.protocol import Capability, ErrorType
from sessionspec.storage.files import FileSystem

if TYPE_CHECKING:
    from sessionspec.conformance.harness.core import PythonHarness, PythonImplementation

__all__ = ["HANDLERS", "RecorderFactory", "capabilities"]


@dataclass(frozen=True)
class RecorderFactory:
    """How a harness makes a session recorder (in memory, or on a journal)."""

    #: ``() -> recorder`` kept in memory.
    memory: Callable[[], Any]
    #: ``(fs, path) -> recorder`` on a new journal; ``None``: no journal (no durable variant).
    create: Callable[[FileSystem, str], Any] | None = None
    #: ``(fs, path) -> recorder`` replayed from its journal.
    open: Callable[[FileSystem, str], Any] | None = None
    #: ``(config, log) -> recorder`` kept in memory, configured as ``recorder.new``'s
    #: ``config`` says (REC-017); its callbacks call ``log`` with ``before_task <session
    #: id>`` and ``after_task <session id>/<segment>``. ``None``: no ``recorder.config``.
    configured: Callable[[Mapping[str, Any], Callable[[str], None]], Any] | None = None


def capabilities(implementation: PythonImplementation) -> list[Capability]:
    """What a harness can offer for this implementation's recorder."""
    factory = implementation.recorder
    if factory is None:
        return []
    offered = [Capability.RECORDER]
    if factory.create is not None and factory.open is not None:
        offered.append(Capability.RECORDER_DURABLE)
    if factory.configured is not None:
        offered.append(Capability.RECORDER_CONFIG)
    return offered


def _factory(h: PythonHarness) -> RecorderFactory:
    if h.implementation.recorder is None:
        raise Skip("this implementation has no session recorder")
    return h.implementation.recorder


def _recorder(h: PythonHarness, args: Mapping[str, Any]) -> Any:
    handle = str(args.get("handle", ""))
    if handle not in h.recorders:
        raise Rejection(ErrorType.NOT_FOUND, f"no recorder {handle!r}")
    return h.recorders[handle]


def _journal(h: PythonHarness, args: Mapping[str, Any]) -> str:
    name = str(args.get("journal", "recorder"))
    if not name or "/" in name or name.startswith("."):
        raise Rejection(ErrorType.CALLER_ERROR, f"a journal name must be a plain name: {name!r}")
    return f"{h.workdir}/{name}.jsonl"


def recorder_new(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    handle = str(args["handle"])
    config = args.get("config")
    if config is not None:
        if factory.configured is None:
            raise Skip("this implementation's recorder takes no configuration")
        if args.get("durable"):
            raise Rejection(ErrorType.CALLER_ERROR, "a configured recorder is kept in memory")
        calls: list[str] = []
        h.recorder_task_calls[handle] = calls
        h.recorders[handle] = factory.configured(dict(config), calls.append)
        return {}
    if args.get("durable"):
        if factory.create is None:
            raise Skip("this implementation's recorder has no journal")
        recorder = factory.create(h.fs, _journal(h, args))
    else:
        recorder = factory.memory()
    h.recorders[handle] = recorder
    h.recorder_task_calls.pop(handle, None)
    return {}


def recorder_open(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    if factory.open is None:
        raise Skip("this implementation's recorder has no journal")
    h.recorders[str(args["handle"])] = factory.open(h.fs, _journal(h, args))
    return {}


def recorder_on_event(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    outcome = _recorder(h, args).on_event(dict(args["event"]))
    if outcome.recorded:
        return {"recorded": True}
    return {"recorded": False, "reason": str(getattr(outcome.reason, "value", outcome.reason))}


def recorder_flush(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _recorder(h, args).flush()
    return {}


def recorder_checkpoint(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return {"completed": int(_recorder(h, args).checkpoint())}


def recorder_drain(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return {"sessions": [s.to_json() for s in _recorder(h, args).drain_completed()]}


def recorder_sessions(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return {"sessions": [s.to_json() for s in _recorder(h, args).sessions()]}


def recorder_current_loop(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    record = _recorder(h, args).current_loop(str(args["loop_id"]))
    return {"loop": None if record is None else record.to_json()}


def recorder_task_calls(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _recorder(h, args)
    return {"calls": list(h.recorder_task_calls.get(str(args.get("handle", "")), []))}


def recorder_close(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _recorder(h, args).close()
    return {}


HANDLERS: dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]] = {
    "recorder.new": recorder_new,
    "recorder.open": recorder_open,
    "recorder.on_event": recorder_on_event,
    "recorder.flush": recorder_flush,
    "recorder.checkpoint": recorder_checkpoint,
    "recorder.drain_completed": recorder_drain,
    "recorder.sessions": recorder_sessions,
    "recorder.current_loop": recorder_current_loop,
    "recorder.task_calls": recorder_task_calls,
    "recorder.close": recorder_close,
}
