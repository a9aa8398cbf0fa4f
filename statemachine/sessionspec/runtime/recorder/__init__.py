"""The session recorder (spec/SPEC.md §8): events, records, rotation, the coordinator sink."""

from sessionspec.runtime.recorder.model import (
    ChildLoopRef,
    Formation,
    LoopRecord,
    ParallelGroup,
    RecordedEvent,
    RecordedSession,
    SpawnRef,
    Turn,
)
from sessionspec.runtime.recorder.recorder import (
    BEFORE_TASK_REJECTION,
    RecorderConfig,
    RecordOutcome,
    SessionRecorder,
)
from sessionspec.runtime.recorder.rotation import SessionRotator
from sessionspec.runtime.recorder.sink import RecorderSink, SinkOutcome

__all__ = [
    "BEFORE_TASK_REJECTION",
    "ChildLoopRef",
    "Formation",
    "LoopRecord",
    "ParallelGroup",
    "RecordOutcome",
    "RecordedEvent",
    "RecordedSession",
    "RecorderConfig",
    "RecorderSink",
    "SessionRecorder",
    "SessionRotator",
    "SinkOutcome",
    "SpawnRef",
    "Turn",
]
