"""sessionspec's own runtime as a :class:`PythonImplementation` for the harness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sessionspec.compaction import CompactionConfig
from sessionspec.conformance.harness.coordinator import CoordinatorFactory
from sessionspec.conformance.harness.core import PythonImplementation
from sessionspec.conformance.harness.realtime import TranscriptFactory
from sessionspec.conformance.harness.recorder import RecorderFactory
from sessionspec.conformance.harness.state import StateFactory
from sessionspec.storage.files import FileSystem

__all__ = ["runtime_implementation"]


def runtime_implementation(
    coordinator_cls: type[Any] | None = None,
    transcript_cls: type[Any] | None = None,
    *,
    state: StateFactory | None = None,
    recorder_cls: type[Any] | None = None,
) -> PythonImplementation:
    """sessionspec's runtime (or a subclass of it, or another state store: a planted bug)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    from sessionspec.runtime.coordinator import SessionCoordinator
    from sessionspec.runtime.realtime import RealtimeTranscript
    from sessionspec.runtime.recorder import SessionRecorder
    from sessionspec.runtime.state import PersistedSessionState
    from sessionspec.storage.state_store import FileStateStore

    coordinator = coordinator_cls or SessionCoordinator
    transcript = transcript_cls or RealtimeTranscript
    recording = recorder_cls or SessionRecorder
    model = "anthropic:claude-sonnet-4"
    try:
        version = package_version("sessionspec")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        version = "0+unknown"

    def new(
        fs: FileSystem,
        directory: str,
        session_id: str,
        config: CompactionConfig,
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

    planted = [c.__name__ for c in (coordinator_cls, transcript_cls, recorder_cls) if c]
    if state is not None:
        planted.append("a state store of its own")
    return PythonImplementation(
        name="sessionspec" if not planted else f"sessionspec ({', '.join(planted)})",
        version=version,
        coordinator=CoordinatorFactory(new=new, open=open_),
        realtime=TranscriptFactory(
            memory=lambda clock: transcript(clock=clock),
            create=lambda fs, path, clock: transcript.create(path, fs=fs, clock=clock),
            open=lambda fs, path, clock: transcript.open(path, fs=fs, clock=clock),
        ),
        state=state or StateFactory(open=FileStateStore, persisted=PersistedSessionState),
        recorder=RecorderFactory(
            memory=recording,
            create=lambda fs, path: recording.create(path, fs=fs),
            open=lambda fs, path: recording.open(path, fs=fs),
        ),
    )
