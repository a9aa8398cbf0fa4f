"""The reference harness: any Python implementation served over the driver protocol.

:class:`PythonHarness` answers protocol requests (``spec/PROTOCOL.md``) by calling a Python
implementation built by factories: a :class:`CoordinatorFactory` and a
:class:`TranscriptFactory`, the same seam the machines used when they drove Python objects
directly (DESIGN §4). :func:`runtime_implementation` binds it to sessionspec's own runtime;
``python -m sessionspec.conformance.harness`` serves that over stdin/stdout, which is what
proves the protocol: the suite run through this process must pass everything the in-process
run passes (CONF-041).

Storage. ``--storage sim`` runs every session on a :class:`SimulatedFileSystem` (power cuts
and injected I/O errors through ``sim.*``; every capability declared); ``--storage real``
(the default) runs on the real file system in the runner's workdir, declares ``crash.kill``
(an ``ok`` is durable) and the named crash points of :class:`CrashPointFileSystem`.

Errors map to the protocol's typed rejections by class (CONF-006); anything else is
``errored`` with the exception and its traceback, never a verdict.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sessionspec.compaction import (
    CompactionConfig,
    CompactionTrigger,
    CountTailPolicy,
    TokenBudgetPolicy,
)
from sessionspec.conformance.protocol import PROTOCOL_VERSION, Capability, ErrorType
from sessionspec.errors import (
    AppendFailedError,
    CallerError,
    IllegalTransitionError,
    LogFailedError,
    LogLockedError,
    StorageError,
)
from sessionspec.storage.files import FileHandle, FileSystem, OsFileSystem
from sessionspec.storage.jsonl import JsonlLog, LogNotFoundError, read_log
from sessionspec.storage.simfs import SimulatedCrash, SimulatedFileSystem

__all__ = [
    "CoordinatorFactory",
    "CrashPointFileSystem",
    "PythonHarness",
    "PythonImplementation",
    "TranscriptFactory",
    "compaction_config",
    "main",
    "runtime_implementation",
]

Json = dict[str, Any]

#: Named crash points of the real-file harness (CONF-033), in the order a write meets them.
CRASH_POINTS = ("before_write", "after_write_before_fsync", "after_fsync")


@dataclass(frozen=True)
class CoordinatorFactory:
    """How a harness makes a coordinator: a new session, or one opened from a file."""

    #: ``(fs, directory, session_id, config, clock) -> coordinator``
    new: Callable[[FileSystem, str, str, CompactionConfig, Callable[[], float]], Any]
    #: ``(fs, path, config, clock) -> coordinator``. ``config`` None: open without any
    #: settings argument (no model, no compaction config): the file's settings decide
    #: (COORD-027).
    open: Callable[[FileSystem, str, CompactionConfig | None, Callable[[], float]], Any]


@dataclass(frozen=True)
class TranscriptFactory:
    """How a harness makes a realtime transcript (in memory, or on a journal)."""

    #: ``(clock_ms) -> transcript`` kept in memory.
    memory: Callable[[Callable[[], int]], Any]
    #: ``(fs, path, clock_ms) -> transcript`` on a new journal.
    create: Callable[[FileSystem, str, Callable[[], int]], Any]
    #: ``(fs, path, clock_ms) -> transcript`` reopened from its journal.
    open: Callable[[FileSystem, str, Callable[[], int]], Any]


@dataclass(frozen=True)
class PythonImplementation:
    """A Python implementation for the harness: its name and its factories."""

    name: str
    version: str
    coordinator: CoordinatorFactory | None = None
    realtime: TranscriptFactory | None = None
    #: Capabilities to withhold even though the harness could offer them.
    withhold: frozenset[str] = frozenset()
    homepage: str | None = None


def compaction_config(settings: Mapping[str, Any]) -> CompactionConfig:
    """The :class:`CompactionConfig` of a protocol ``config`` object."""
    policy = (
        TokenBudgetPolicy(keep_tokens=int(settings.get("keep_tokens") or 0))
        if settings.get("policy") == "token_budget"
        else CountTailPolicy()
    )
    return CompactionConfig(
        enabled=bool(settings.get("enabled", True)),
        threshold_tokens=int(settings["threshold_tokens"]),
        policy=policy,
        trigger=CompactionTrigger(str(settings.get("trigger") or "cumulative")),
    )


def runtime_implementation(
    coordinator_cls: type[Any] | None = None, transcript_cls: type[Any] | None = None
) -> PythonImplementation:
    """sessionspec's runtime (or a subclass of it, such as a planted bug)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    from sessionspec.runtime.coordinator import SessionCoordinator
    from sessionspec.runtime.realtime import RealtimeTranscript

    coordinator = coordinator_cls or SessionCoordinator
    transcript = transcript_cls or RealtimeTranscript
    model = "anthropic:claude-sonnet-4"
    try:
        version = package_version("sessionspec")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        version = "0+unknown"

    def new(
        fs: FileSystem, directory: str, session_id: str, config: CompactionConfig,
        clock: Callable[[], float],
    ) -> Any:
        return coordinator.new(
            directory, "/work", config, model, session_id=session_id, fs=fs, clock=clock
        )

    def open_(
        fs: FileSystem, path: str, config: CompactionConfig | None, clock: Callable[[], float]
    ) -> Any:
        if config is None:  # no settings argument: the file's settings decide (COORD-027)
            return coordinator.open_existing(path, fs=fs, clock=clock)
        return coordinator.open_existing(path, config, model, fs=fs, clock=clock)

    return PythonImplementation(
        name="sessionspec" if coordinator_cls is None and transcript_cls is None
        else f"sessionspec ({coordinator.__name__}, {transcript.__name__})",
        version=version,
        coordinator=CoordinatorFactory(new=new, open=open_),
        realtime=TranscriptFactory(
            memory=lambda clock: transcript(clock=clock),
            create=lambda fs, path, clock: transcript.create(path, fs=fs, clock=clock),
            open=lambda fs, path, clock: transcript.open(path, fs=fs, clock=clock),
        ),
    )


class Rejection(CallerError):
    """Raised inside a handler to answer ``rejected`` with a typed error."""

    def __init__(self, kind: ErrorType, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


class Skip(CallerError):
    """Raised inside a handler to answer ``skipped`` (the harness cannot do this call)."""


def _typed(exc: BaseException) -> Rejection | None:
    """The protocol's typed rejection for an exception of the library (CONF-006)."""
    name = type(exc).__name__
    kinds = [c.__name__ for c in type(exc).__mro__]
    if "UnknownEntryError" in kinds:
        return Rejection(ErrorType.UNKNOWN_ENTRY, str(exc))
    if isinstance(exc, IllegalTransitionError):
        return Rejection(ErrorType.ILLEGAL_TRANSITION, str(exc), exc.state)
    if isinstance(exc, CallerError):
        return Rejection(ErrorType.CALLER_ERROR, f"{name}: {exc}")
    if "ForkFailedError" in kinds:
        return Rejection(ErrorType.FORK_FAILED, str(exc))
    if isinstance(exc, AppendFailedError):
        return Rejection(ErrorType.APPEND_FAILED, str(exc))
    if isinstance(exc, LogFailedError):
        return Rejection(ErrorType.LOG_FAILED, str(exc))
    if isinstance(exc, LogLockedError):
        return Rejection(ErrorType.LOCKED, str(exc))
    if isinstance(exc, LogNotFoundError):
        return Rejection(ErrorType.NOT_FOUND, str(exc))
    if isinstance(exc, StorageError):
        return Rejection(ErrorType.STORAGE_ERROR, f"{name}: {exc}")
    return None


# --------------------------------------------------------------------------------------
# Named crash points on the real file system
# --------------------------------------------------------------------------------------


class _PointHandle:
    def __init__(self, inner: FileHandle, fs: CrashPointFileSystem) -> None:
        self._inner = inner
        self._fs = fs

    def size(self) -> int:
        return self._inner.size()

    def pwrite(self, data: bytes, offset: int) -> None:
        self._fs.reach("before_write")
        self._inner.pwrite(data, offset)
        self._fs.reach("after_write_before_fsync")

    def fsync(self) -> None:
        self._inner.fsync()
        self._fs.reach("after_fsync")

    def truncate(self, size: int) -> None:
        self._inner.truncate(size)

    def read_all(self) -> bytes:
        return self._inner.read_all()

    def named_size(self, path: str) -> int | None:
        return self._inner.named_size(path)

    def close(self) -> None:
        self._inner.close()


class CrashPointFileSystem(OsFileSystem):
    """The real file system, with the named points of :data:`CRASH_POINTS` (CONF-033).

    ``on_point`` is called when an armed point is reached; the stdio harness writes the
    ``at_crash_point`` line there and blocks until the runner kills it.
    """

    def __init__(self) -> None:
        self.armed: tuple[str, int] | None = None
        self.on_point: Callable[[str], None] = lambda point: None

    def reach(self, point: str) -> None:
        if self.armed is None or self.armed[0] != point:
            return
        name, nth = self.armed
        if nth > 0:
            self.armed = (name, nth - 1)
            return
        self.armed = None
        self.on_point(point)

    def create_exclusive(self, path: str) -> FileHandle:
        return _PointHandle(super().create_exclusive(path), self)

    def open_rw(self, path: str) -> FileHandle:
        return _PointHandle(super().open_rw(path), self)


# --------------------------------------------------------------------------------------
# The harness
# --------------------------------------------------------------------------------------


@dataclass
class PythonHarness:
    """Answers protocol requests for a :class:`PythonImplementation` (one per process)."""

    implementation: PythonImplementation
    storage: str = "sim"
    fs: FileSystem = field(default_factory=SimulatedFileSystem)
    workdir: str = "/conform"
    clock_ms: int = 1_700_000_000_000
    coordinators: dict[str, Any] = field(default_factory=dict)
    transcripts: dict[str, Any] = field(default_factory=dict)
    #: The ``seq`` of the request being handled (for ``at_crash_point``).
    current_seq: int = 0

    def __post_init__(self) -> None:
        if self.storage not in ("sim", "real"):
            raise CallerError(f"storage must be 'sim' or 'real', not {self.storage!r}")
        if self.storage == "real" and isinstance(self.fs, SimulatedFileSystem):
            self.fs = CrashPointFileSystem()

    # -- capabilities -----------------------------------------------------------------------

    def capabilities(self) -> list[str]:
        caps: list[str] = []
        if self.implementation.coordinator is not None:
            caps += [
                Capability.COORDINATOR, Capability.COORDINATOR_COMPACTION,
                Capability.COORDINATOR_LEAF, Capability.COORDINATOR_EXTENSION_STATE,
                Capability.COORDINATOR_FORK, Capability.COORDINATOR_IDS,
                Capability.COORDINATOR_FIGURES, Capability.COORDINATOR_FORMAT,
                Capability.COORDINATOR_INJECT, Capability.COORDINATOR_COPY,
                Capability.COORDINATOR_SETTINGS, Capability.COORDINATOR_COST,
            ]
        if self.implementation.realtime is not None:
            caps += [Capability.REALTIME, Capability.REALTIME_DURABLE]
        if self.storage == "sim":
            caps.append(Capability.STORAGE_SIMULATED)
        else:
            caps += [Capability.CRASH_KILL, Capability.CRASH_POINTS]
        return [str(c) for c in caps if str(c) not in self.implementation.withhold]

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: Mapping[str, Any]) -> Json:
        """One request in, one response out (both as JSON objects)."""
        seq = request.get("seq")
        if not isinstance(seq, int) or seq < 0:
            return {"seq": 0, "status": "errored", "message": "request without a valid seq",
                    "context": {"request": dict(request)}}
        self.current_seq = seq
        cmd = request.get("cmd")
        args = request.get("args") or {}
        method = _HANDLERS.get(cmd) if isinstance(cmd, str) else None
        if method is None:
            return {"seq": seq, "status": "skipped", "reason": f"unknown command {cmd!r}"}
        try:
            result = method(self, args)
        except SimulatedCrash:
            return {"seq": seq, "status": "crashed"}
        except Skip as exc:
            return {"seq": seq, "status": "skipped", "reason": str(exc)}
        except Rejection as exc:
            return _rejected(seq, exc)
        except Exception as exc:
            typed = _typed(exc)
            if typed is not None:
                return _rejected(seq, typed)
            return {
                "seq": seq,
                "status": "errored",
                "message": f"{type(exc).__name__}: {exc}",
                "context": {"cmd": cmd, "traceback": traceback.format_exc(limit=8)},
            }
        return {"seq": seq, "status": "ok", "result": result}

    # -- helpers ----------------------------------------------------------------------------

    def _path(self, session_id: str) -> str:
        return f"{self.workdir}/{session_id}.jsonl"

    def _coordinator(self, args: Mapping[str, Any]) -> Any:
        handle = str(args.get("handle", ""))
        if handle not in self.coordinators:
            raise Rejection(ErrorType.NOT_FOUND, f"no coordinator {handle!r}")
        return self.coordinators[handle]

    def _transcript(self, args: Mapping[str, Any]) -> Any:
        handle = str(args.get("handle", ""))
        if handle not in self.transcripts:
            raise Rejection(ErrorType.NOT_FOUND, f"no transcript {handle!r}")
        return self.transcripts[handle]

    def _coordinator_factory(self) -> CoordinatorFactory:
        if self.implementation.coordinator is None:
            raise Skip("this implementation has no coordinator")
        return self.implementation.coordinator

    def _transcript_factory(self) -> TranscriptFactory:
        if self.implementation.realtime is None:
            raise Skip("this implementation has no realtime transcript")
        return self.implementation.realtime

    def _clock(self) -> float:
        return self.clock_ms / 1000

    def _clock_ms(self) -> int:
        return self.clock_ms

    def _sim(self) -> SimulatedFileSystem:
        if not isinstance(self.fs, SimulatedFileSystem):
            raise Skip("sim.* needs --storage sim")
        return self.fs

    # -- handlers ---------------------------------------------------------------------------

    def start(self, args: Mapping[str, Any]) -> Json:
        version = args.get("version")
        if version != PROTOCOL_VERSION:
            raise Rejection(
                ErrorType.CALLER_ERROR,
                f"this harness speaks protocol version {PROTOCOL_VERSION}, not {version!r}",
            )
        self.workdir = str(args.get("workdir") or self.workdir).rstrip("/") or "/"
        self.clock_ms = int(args.get("clock_ms", self.clock_ms))
        self.fs.makedirs(self.workdir)
        impl = self.implementation
        implementation: Json = {"name": impl.name, "version": impl.version, "language": "python"}
        if impl.homepage:
            implementation["homepage"] = impl.homepage
        return {
            "version": PROTOCOL_VERSION,
            "implementation": implementation,
            "capabilities": self.capabilities(),
            "crash_points": list(CRASH_POINTS) if self.storage == "real" else [],
        }

    def stop(self, args: Mapping[str, Any]) -> Json:
        for live in [*self.coordinators.values(), *self.transcripts.values()]:
            with contextlib.suppress(StorageError, CallerError):
                live.close()
        self.coordinators.clear()
        self.transcripts.clear()
        return {}

    def coordinator_new(self, args: Mapping[str, Any]) -> Json:
        factory = self._coordinator_factory()
        session_id = str(args["session_id"])
        self.coordinators[str(args["handle"])] = factory.new(
            self.fs, self.workdir, session_id, compaction_config(args["config"]), self._clock
        )
        return {"session_id": session_id}

    def coordinator_open(self, args: Mapping[str, Any]) -> Json:
        factory = self._coordinator_factory()
        settings = args.get("config")
        coordinator = factory.open(
            self.fs, self._path(str(args["session_id"])),
            None if settings is None else compaction_config(settings), self._clock,
        )
        self.coordinators[str(args["handle"])] = coordinator
        report = getattr(coordinator, "recovery", None)
        codes = [d.code for d in report.diagnostics()] if report is not None else []
        return {"recovery": codes}

    def coordinator_turn_end(self, args: Mapping[str, Any]) -> Json:
        reason = self._coordinator(args).on_turn_end(list(args["messages"]), dict(args["usage"]))
        return {"compaction_due": None if reason is None else str(getattr(reason, "value", reason))}

    def coordinator_compact(self, args: Mapping[str, Any]) -> Json:
        result = self._coordinator(args).execute_compaction(str(args["reason"]))
        if result is None:
            return {"compaction": None}
        return {
            "compaction": {
                "summary": result.summary,
                "first_kept_entry_id": result.first_kept_entry_id,
                "tokens_before": result.tokens_before,
                "tokens_after": result.tokens_after,
                "entry_id": getattr(result, "entry_id", None),
            }
        }

    def coordinator_append_leaf(self, args: Mapping[str, Any]) -> Json:
        self._coordinator(args).append_leaf(str(args["entry_id"]))
        return {}

    def coordinator_append_extension_state(self, args: Mapping[str, Any]) -> Json:
        return {"entry_id": self._coordinator(args).append_extension_state(args["value"])}

    def coordinator_fork(self, args: Mapping[str, Any]) -> Json:
        session_id = str(args["session_id"])
        self._coordinator(args).fork(session_id=session_id)
        return {"session_id": session_id}

    def coordinator_close(self, args: Mapping[str, Any]) -> Json:
        self._coordinator(args).close()
        return {}

    def coordinator_observe(self, args: Mapping[str, Any]) -> Json:
        coordinator = self._coordinator(args)
        figures = coordinator.figures
        return {
            "context": coordinator.context(),
            "ids": [item.id for item in coordinator.compaction_entries()],
            "tip": coordinator.active_tip,
            "usage": {
                "input_tokens": figures.input_tokens,
                "output_tokens": figures.output_tokens,
                "cache_read_tokens": figures.cache_read_tokens,
                "cache_write_tokens": figures.cache_write_tokens,
            },
            "turns": figures.turns,
            "state": str(getattr(coordinator.state, "value", coordinator.state)),
            "watermark": figures.watermark,
            "next_seq": coordinator.next_seq,
            "cost": _cost(coordinator),
        }

    def coordinator_read_log(self, args: Mapping[str, Any]) -> Json:
        path = self._path(str(args["session_id"]))
        if not self.fs.exists(path):
            raise Rejection(ErrorType.NOT_FOUND, f"no session {args['session_id']!r}")
        snapshot = read_log(path, fs=self.fs)
        return {
            "entries": [dict(r.entry) for r in snapshot.records],
            "parent_session": snapshot.header.get("parent_session"),
            "clean": snapshot.report.clean,
        }

    def coordinator_inject(self, args: Mapping[str, Any]) -> Json:
        log = JsonlLog.open(self._path(str(args["session_id"])), fs=self.fs)
        try:
            log.append([dict(e) for e in args["entries"]])
        finally:
            log.close()
        return {}

    def coordinator_copy(self, args: Mapping[str, Any]) -> Json:
        data = self.fs.read_bytes(self._path(str(args["session_id"])))
        target = self._path(str(args["to_session_id"]))
        handle = self.fs.create_exclusive(target)
        try:
            handle.pwrite(data, 0)
            handle.fsync()
        finally:
            handle.close()
        self.fs.fsync_dir(self.workdir)
        return {}

    def realtime_new(self, args: Mapping[str, Any]) -> Json:
        factory = self._transcript_factory()
        if args.get("durable"):
            path = f"{self.workdir}/{args.get('journal', 'journal')}.jsonl"
            transcript = factory.create(self.fs, path, self._clock_ms)
        else:
            transcript = factory.memory(self._clock_ms)
        self.transcripts[str(args["handle"])] = transcript
        return {}

    def realtime_open(self, args: Mapping[str, Any]) -> Json:
        factory = self._transcript_factory()
        path = f"{self.workdir}/{args.get('journal', 'journal')}.jsonl"
        self.transcripts[str(args["handle"])] = factory.open(self.fs, path, self._clock_ms)
        return {}

    def realtime_apply(self, args: Mapping[str, Any]) -> Json:
        outcome = self._transcript(args).apply(dict(args["event"]))
        return {
            "status": outcome.status.value,
            "codes": [d.code.value for d in outcome.diagnostics],
            "discarded": [
                [f.item_id, f.response_id, f.lane.value, f.text, f.reason]
                for f in outcome.discarded
            ],
        }

    def realtime_observe(self, args: Mapping[str, Any]) -> Json:
        transcript = self._transcript(args)
        return {
            "messages": [m.to_json_dict() for m in transcript.messages()],
            "in_flight": list(transcript.in_flight_response_ids()),
        }

    def realtime_close(self, args: Mapping[str, Any]) -> Json:
        self._transcript(args).close()
        return {}

    def sim_arm_crash(self, args: Mapping[str, Any]) -> Json:
        self._sim().arm_crash(int(args["nth"]))
        return {}

    def sim_arm_fault(self, args: Mapping[str, Any]) -> Json:
        partial = args.get("partial")
        self._sim().arm(
            str(args["operation"]), int(args["nth"]),
            partial=None if partial is None else float(partial),
        )
        return {}

    def sim_disarm(self, args: Mapping[str, Any]) -> Json:
        self._sim().disarm()
        return {}

    def sim_power_cut(self, args: Mapping[str, Any]) -> Json:
        self._sim().crash(random.Random(int(args["seed"])))
        # Every object of the dead "process" is gone; nothing of it is closed.
        self.coordinators.clear()
        self.transcripts.clear()
        return {}

    def crash_arm(self, args: Mapping[str, Any]) -> Json:
        if not isinstance(self.fs, CrashPointFileSystem):
            raise Skip("named crash points need --storage real")
        point = str(args["point"])
        if point not in CRASH_POINTS:
            raise Rejection(ErrorType.CALLER_ERROR, f"unknown crash point {point!r}")
        self.fs.armed = (point, int(args.get("nth", 0)))
        return {}


def _cost(coordinator: Any) -> Json | None:
    """The observation's ``cost`` (``coordinator.cost``, COORD-062), when it has one."""
    summary = getattr(coordinator, "cost_summary", None)
    if summary is None:
        return None
    cost = summary()
    if cost is None:
        return None
    return {
        "total": str(cost.total),
        "by_model": {part.model: str(part.total) for part in cost.by_model},
    }


def _rejected(seq: int, exc: Rejection) -> Json:
    error: Json = {"type": exc.kind.value, "message": str(exc)}
    if exc.code is not None:
        error["code"] = exc.code
    return {"seq": seq, "status": "rejected", "error": error}


_HANDLERS: dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]] = {
    "start": PythonHarness.start,
    "stop": PythonHarness.stop,
    "coordinator.new": PythonHarness.coordinator_new,
    "coordinator.open": PythonHarness.coordinator_open,
    "coordinator.turn_end": PythonHarness.coordinator_turn_end,
    "coordinator.compact": PythonHarness.coordinator_compact,
    "coordinator.append_leaf": PythonHarness.coordinator_append_leaf,
    "coordinator.append_extension_state": PythonHarness.coordinator_append_extension_state,
    "coordinator.fork": PythonHarness.coordinator_fork,
    "coordinator.close": PythonHarness.coordinator_close,
    "coordinator.observe": PythonHarness.coordinator_observe,
    "coordinator.read_log": PythonHarness.coordinator_read_log,
    "coordinator.inject": PythonHarness.coordinator_inject,
    "coordinator.copy": PythonHarness.coordinator_copy,
    "realtime.new": PythonHarness.realtime_new,
    "realtime.open": PythonHarness.realtime_open,
    "realtime.apply": PythonHarness.realtime_apply,
    "realtime.observe": PythonHarness.realtime_observe,
    "realtime.close": PythonHarness.realtime_close,
    "sim.arm_crash": PythonHarness.sim_arm_crash,
    "sim.arm_fault": PythonHarness.sim_arm_fault,
    "sim.disarm": PythonHarness.sim_disarm,
    "sim.power_cut": PythonHarness.sim_power_cut,
    "crash.arm": PythonHarness.crash_arm,
}


# --------------------------------------------------------------------------------------
# stdio
# --------------------------------------------------------------------------------------


def serve(harness: PythonHarness, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """Answer JSON lines from ``stdin`` until ``stop`` or end of input (PROTOCOL.md §1)."""
    from sessionspec.conformance.adapters import encode_line

    lock = threading.Lock()

    def write(message: Json) -> None:
        with lock:
            stdout.write(encode_line(message))
            stdout.flush()

    def at_point(point: str) -> None:
        write({"seq": harness.current_seq, "status": "at_crash_point", "point": point})
        # Wait to be killed (PROTOCOL.md §6): never continue the operation.
        threading.Event().wait()

    if isinstance(harness.fs, CrashPointFileSystem):
        harness.fs.on_point = at_point
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            write({"seq": 0, "status": "errored", "message": f"not JSON: {exc}",
                   "context": {"line": line[:200].decode("utf-8", "replace")}})
            continue
        if not isinstance(request, dict):
            write({"seq": 0, "status": "errored", "message": "a request must be an object",
                   "context": {"line": line[:200].decode("utf-8", "replace")}})
            continue
        write(harness.handle(request))
        if request.get("cmd") == "stop":
            return 0
    harness.stop({})
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sessionspec.conformance.harness",
        description="Serve sessionspec's runtime over the driver protocol (spec/PROTOCOL.md).",
    )
    parser.add_argument(
        "--storage", choices=("real", "sim"), default="real",
        help="real files in the runner's workdir (default) or a simulated file system",
    )
    args = parser.parse_args(argv)
    harness = PythonHarness(runtime_implementation(), storage=args.storage)
    # Bytes: UTF-8 JSON lines whatever the locale.
    try:
        return serve(harness, sys.stdin.buffer, sys.stdout.buffer)
    finally:
        sys.stdout.buffer.flush()


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    raise SystemExit(main())
