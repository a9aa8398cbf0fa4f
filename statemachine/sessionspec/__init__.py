"""sessionspec."""

from sessionspec.codecs.phi import PhiCodecError
from sessionspec.compaction import (
    CompactionConfig,
    CompactionReason,
    CountTailPolicy,
    LlmSummarizer,
    TokenBudgetPolicy,
)
from sessionspec.errors import (
    BadSessionFileError,
    DuplicateLoopError,
    InvalidAgentEventError,
    LoopCycleError,
    SessionLockedError,
    SessionNotFoundError,
)
from sessionspec.pricing import CostBreakdown, PricingTable
from sessionspec.redaction import RedactionPolicy
from sessionspec.runtime.coordinator import (
    CompactionResult,
    ForkResult,
    ResumeReport,
    SessionCoordinator,
)
from sessionspec.runtime.realtime import (
    ApplyOutcome,
    CoordinatorSink,
    InvalidRealtimeEventError,
    RealtimeTranscript,
)
from sessionspec.runtime.recorder import (
    LoopRecord,
    RecordedSession,
    RecorderConfig,
    RecorderSink,
    RecordOutcome,
    SessionRecorder,
    SessionRotator,
)
from sessionspec.usage import CumulativeUsage

__all__ = [
    "ApplyOutcome",
    "BadSessionFileError",
    "CompactionConfig",
    "CompactionReason",
    "CompactionResult",
    "CoordinatorSink",
    "CostBreakdown",
    "CountTailPolicy",
    "CumulativeUsage",
    "DuplicateLoopError",
    "ForkResult",
    "InvalidAgentEventError",
    "InvalidRealtimeEventError",
    "LlmSummarizer",
    "LoopCycleError",
    "LoopRecord",
    "PhiCodecError",
    "PricingTable",
    "RealtimeTranscript",
    "RecordOutcome",
    "RecordedSession",
    "RecorderConfig",
    "RecorderSink",
    "RedactionPolicy",
    "ResumeReport",
    "SessionCoordinator",
    "SessionLockedError",
    "SessionNotFoundError",
    "SessionRecorder",
    "SessionRotator",
    "TokenBudgetPolicy",
]
