"""sessionspec."""

from sessionspec.compaction import (
    CompactionConfig,
    CompactionReason,
    CountTailPolicy,
    LlmSummarizer,
    TokenBudgetPolicy,
)
from sessionspec.errors import (
    ImportVerificationError,
    UnknownFormatError,
    UnrepresentableError,
)
from sessionspec.pricing import CostBreakdown, PricingTable
from sessionspec.redaction import RedactionPolicy
from sessionspec.runtime.async_coordinator import AsyncRealtimeTranscript, AsyncSessionCoordinator
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
from sessionspec.usage import CumulativeUsage

__all__ = [
    "ApplyOutcome",
    "AsyncRealtimeTranscript",
    "AsyncSessionCoordinator",
    "CompactionConfig",
    "CompactionReason",
    "CompactionResult",
    "CoordinatorSink",
    "CostBreakdown",
    "CountTailPolicy",
    "CumulativeUsage",
    "ForkResult",
    "ImportVerificationError",
    "InvalidRealtimeEventError",
    "LlmSummarizer",
    "PricingTable",
    "RealtimeTranscript",
    "RedactionPolicy",
    "ResumeReport",
    "SessionCoordinator",
    "TokenBudgetPolicy",
    "UnknownFormatError",
    "UnrepresentableError",
]
