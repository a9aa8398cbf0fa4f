"""sessionspec's own runtime as a :class:`PythonImplementation` for the harness."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sessionspec.compaction import CompactionConfig
from sessionspec.conformance.harness.conversation import ConversationFactory, TokenLedgerFactory
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
    conversation_cls: type[Any] | None = None,
    ledger_cls: type[Any] | None = None,
    *,
    state: StateFactory | None = None,
    recorder_cls: type[Any] | None = None,
) -> PythonImplementation:
    """sessionspec's runtime (or a subclass of it, or another state store: a planted bug)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    from sessionspec.runtime.conversation import Conversation
    from sessionspec.runtime.coordinator import SessionCoordinator
    from sessionspec.runtime.realtime import RealtimeTranscript
    from sessionspec.runtime.recorder import SessionRecorder
    from sessionspec.runtime.state import PersistedSessionState
    from sessionspec.storage.state_store import FileStateStore

    coordinator = coordinator_cls or SessionCoordinator
    transcript = transcript_cls or RealtimeTranscript
    conversation = conversation_cls or Conversation
    ledger = ledger_cls or _token_ledger()
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

    planted = [
        c.__name__
        for c in (coordinator_cls, transcript_cls, conversation_cls, ledger_cls, recorder_cls)
        if c is not None
    ]
    if state is not None:
        planted.append("a state store of its own")
    return PythonImplementation(
        name=f"sessionspec ({', '.join(planted)})" if planted else "sessionspec",
        version=version,
        coordinator=CoordinatorFactory(new=new, open=open_),
        realtime=TranscriptFactory(
            memory=lambda clock: transcript(clock=clock),
            create=lambda fs, path, clock: transcript.create(path, fs=fs, clock=clock),
            open=lambda fs, path, clock: transcript.open(path, fs=fs, clock=clock),
        ),
        conversation=ConversationFactory(
            new=conversation.new,
            from_records=lambda records: conversation.from_rewrite_records(
                [_record(r) for r in records]
            ),
            validate_record=lambda record: _record(record).validate(),
        ),
        ledger=TokenLedgerFactory(new=ledger, diff=ledger.diff),
        state=state or StateFactory(open=FileStateStore, persisted=PersistedSessionState),
        recorder=RecorderFactory(
            memory=recording,
            create=lambda fs, path: recording.create(path, fs=fs),
            open=lambda fs, path: recording.open(path, fs=fs),
            configured=lambda config, log: _configured(recording, config, log),
        ),
    )


def _configured(recording: type[Any], config: Mapping[str, Any], log: Callable[[str], None]) -> Any:
    """A recorder configured as ``recorder.new``'s ``config`` says (REC-017, CONF-074)."""
    from sessionspec.runtime.recorder import RecorderConfig

    verdict = config.get("before_task")

    def before_task(session: Any) -> bool:
        log(f"before_task {session.session_id}")
        return verdict != f"reject:{session.session_id}"

    def after_task(session: Any) -> None:
        log(f"after_task {session.session_id}/{session.segment}")

    return recording(
        RecorderConfig(
            include_streaming_events=bool(config.get("include_streaming_events", False)),
            capture_turn_requests=bool(config.get("capture_turn_requests", False)),
            before_task=before_task if verdict is not None else None,
            after_task=after_task if verdict is not None else None,
        )
    )


def _token_ledger() -> type[Any]:
    from sessionspec.runtime.ledger import TokenLedger

    return TokenLedger


def _record(data: dict[str, Any]) -> Any:
    """A rewrite record from its JSON form (CONV-040)."""
    from sessionspec.runtime.revisions import TranscriptRewriteRecord

    return TranscriptRewriteRecord.from_json(data)
