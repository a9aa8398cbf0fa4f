"""The harness's core: one :class:`PythonHarness` per process, dispatching protocol requests.

The core owns what every machine shares: the handshake (``start``/``stop``), the storage the
sessions live on (a simulated file system or real files with named crash points), the clock,
the live objects by handle, and the ``sim.*``/``crash.*`` commands. Each machine's module
contributes its factory type, its capabilities and the handlers of its commands
(:data:`MACHINES`); a machine joins the harness by being listed there.
"""

from __future__ import annotations

import contextlib
import random
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sessionspec.conformance.harness import (
    conversation,
    coordinator,
    realtime,
    recorder,
    state,
)
from sessionspec.conformance.harness.answers import (
    Json,
    Rejection,
    Skip,
    rejected,
    typed_rejection,
)
from sessionspec.conformance.harness.conversation import ConversationFactory, TokenLedgerFactory
from sessionspec.conformance.harness.coordinator import CoordinatorFactory
from sessionspec.conformance.harness.crashpoints import CRASH_POINTS, CrashPointFileSystem
from sessionspec.conformance.harness.realtime import TranscriptFactory
from sessionspec.conformance.harness.recorder import RecorderFactory
from sessionspec.conformance.harness.state import StateFactory
from sessionspec.conformance.protocol import PROTOCOL_VERSION, Capability, ErrorType
from sessionspec.errors import CallerError, StorageError
from sessionspec.storage.files import FileSystem
from sessionspec.storage.simfs import SimulatedCrash, SimulatedFileSystem

__all__ = ["MACHINES", "PythonHarness", "PythonImplementation"]

#: The machines' harness modules: each has ``capabilities(implementation)`` and ``HANDLERS``.
MACHINES: tuple[ModuleType, ...] = (coordinator, realtime, conversation, state, recorder)


@dataclass(frozen=True)
class PythonImplementation:
    """A Python implementation for the harness: its name and its factories."""

    name: str
    version: str
    coordinator: CoordinatorFactory | None = None
    realtime: TranscriptFactory | None = None
    conversation: ConversationFactory | None = None
    ledger: TokenLedgerFactory | None = None
    state: StateFactory | None = None
    recorder: RecorderFactory | None = None
    #: Capabilities to withhold even though the harness could offer them.
    withhold: frozenset[str] = frozenset()
    homepage: str | None = None


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
    #: In-memory objects (never closed; dropped with the process at a power cut).
    conversations: dict[str, Any] = field(default_factory=dict)
    ledgers: dict[str, Any] = field(default_factory=dict)
    state_stores: dict[str, Any] = field(default_factory=dict)
    persisted_states: dict[str, Any] = field(default_factory=dict)
    recorders: dict[str, Any] = field(default_factory=dict)
    #: The ``before_task``/``after_task`` calls of each configured recorder (CONF-074).
    recorder_task_calls: dict[str, list[str]] = field(default_factory=dict)
    #: The real directory state stores live under on simulated storage (made when needed).
    state_root: str | None = None
    #: The ``seq`` of the request being handled (for ``at_crash_point``).
    current_seq: int = 0

    def __post_init__(self) -> None:
        if self.storage not in ("sim", "real"):
            raise CallerError(f"storage must be 'sim' or 'real', not {self.storage!r}")
        if self.storage == "real" and isinstance(self.fs, SimulatedFileSystem):
            self.fs = CrashPointFileSystem()

    # -- capabilities -----------------------------------------------------------------------

    def capabilities(self) -> list[str]:
        caps: list[Capability] = []
        for machine in MACHINES:
            caps += machine.capabilities(self.implementation)
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
            return {
                "seq": 0,
                "status": "errored",
                "message": "request without a valid seq",
                "context": {"request": dict(request)},
            }
        self.current_seq = seq
        cmd = request.get("cmd")
        args = request.get("args") or {}
        method = HANDLERS.get(cmd) if isinstance(cmd, str) else None
        if method is None:
            return {"seq": seq, "status": "skipped", "reason": f"unknown command {cmd!r}"}
        try:
            result = method(self, args)
        except SimulatedCrash:
            return {"seq": seq, "status": "crashed"}
        except Skip as exc:
            return {"seq": seq, "status": "skipped", "reason": str(exc)}
        except Rejection as exc:
            return rejected(seq, exc)
        except Exception as exc:
            typed = typed_rejection(exc)
            if typed is not None:
                return rejected(seq, typed)
            return {
                "seq": seq,
                "status": "errored",
                "message": f"{type(exc).__name__}: {exc}",
                "context": {"cmd": cmd, "traceback": traceback.format_exc(limit=8)},
            }
        return {"seq": seq, "status": "ok", "result": result}

    # -- what the machines' handlers share ----------------------------------------------------

    def session_path(self, session_id: str) -> str:
        """Where a session of this run lives (inside the runner's workdir)."""
        return f"{self.workdir}/{session_id}.jsonl"

    def now(self) -> float:
        """The harness's clock in seconds (the runner sets it at ``start``)."""
        return self.clock_ms / 1000

    def now_ms(self) -> int:
        """The harness's clock in milliseconds."""
        return self.clock_ms

    def _sim(self) -> SimulatedFileSystem:
        if not isinstance(self.fs, SimulatedFileSystem):
            raise Skip("sim.* needs --storage sim")
        return self.fs

    def real_root(self) -> str:
        """A real directory for what lives on the real file system whatever the storage
        (state stores, STATE-011): the workdir on real storage, else a private temporary
        directory removed at ``stop``."""
        if self.storage == "real":
            return self.workdir
        if self.state_root is None:
            import tempfile

            self.state_root = tempfile.mkdtemp(prefix="sessionspec-harness-state-")
        return self.state_root

    def live_objects(self) -> list[Any]:
        """Every live object of every machine (closed at ``stop``, dropped at a power cut)."""
        return [*self.coordinators.values(), *self.transcripts.values(), *self.recorders.values()]

    def drop_live_objects(self) -> None:
        self.coordinators.clear()
        self.transcripts.clear()
        self.conversations.clear()
        self.ledgers.clear()
        self.state_stores.clear()
        self.persisted_states.clear()
        self.recorders.clear()
        self.recorder_task_calls.clear()

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
        for live in self.live_objects():
            with contextlib.suppress(StorageError, CallerError):
                live.close()
        self.drop_live_objects()
        if self.state_root is not None:
            import shutil

            shutil.rmtree(self.state_root, ignore_errors=True)
            self.state_root = None
        return {}

    def sim_arm_crash(self, args: Mapping[str, Any]) -> Json:
        self._sim().arm_crash(int(args["nth"]))
        return {}

    def sim_arm_fault(self, args: Mapping[str, Any]) -> Json:
        partial = args.get("partial")
        self._sim().arm(
            str(args["operation"]),
            int(args["nth"]),
            partial=None if partial is None else float(partial),
        )
        return {}

    def sim_disarm(self, args: Mapping[str, Any]) -> Json:
        self._sim().disarm()
        return {}

    def sim_power_cut(self, args: Mapping[str, Any]) -> Json:
        self._sim().crash(random.Random(int(args["seed"])))
        # Every object of the dead "process" is gone; nothing of it is closed.
        self.drop_live_objects()
        return {}

    def crash_arm(self, args: Mapping[str, Any]) -> Json:
        if not isinstance(self.fs, CrashPointFileSystem):
            raise Skip("named crash points need --storage real")
        point = str(args["point"])
        if point not in CRASH_POINTS:
            raise Rejection(ErrorType.CALLER_ERROR, f"unknown crash point {point!r}")
        self.fs.armed = (point, int(args.get("nth", 0)))
        return {}


def _handlers() -> dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]]:
    table: dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]] = {
        "start": PythonHarness.start,
        "stop": PythonHarness.stop,
        "sim.arm_crash": PythonHarness.sim_arm_crash,
        "sim.arm_fault": PythonHarness.sim_arm_fault,
        "sim.disarm": PythonHarness.sim_disarm,
        "sim.power_cut": PythonHarness.sim_power_cut,
        "crash.arm": PythonHarness.crash_arm,
    }
    for machine in MACHINES:
        table.update(machine.HANDLERS)
    return table


#: Every command this harness answers, and its handler.
HANDLERS = _handlers()
