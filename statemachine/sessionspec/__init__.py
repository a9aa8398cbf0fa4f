"""sessionspec."""

from sessionspec.compaction import (
    CompactionConfig,
    CompactionReason,
    CountTailPolicy,
    LlmSummarizer,
    TokenBudgetPolicy,
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
from sessionspec.usage import CumulativeUsage

__all__ = [
    "ApplyOutcome",
    "CompactionConfig",
    "CompactionReason",
    "CompactionResult",
    "CoordinatorSink",
    "CostBreakdown",
    "CountTailPolicy",
    "CumulativeUsage",
    "ForkResult",
    "InvalidRealtimeEventError",
    "LlmSummarizer",
    "PricingTable",
    "RealtimeTranscript",
    "RedactionPolicy",
    "ResumeReport",
    "SessionCoordinator",
    "TokenBudgetPolicy",
]

# -- conversation, transcript revisions, persisted state, ledger (spec §6, §7) --
from sessionspec.errors import (
    BlobNotFoundError,
    BlobStoreError,
    BlockIndexOutOfBounds,
    CanonicalFormError,
    CodecError,
    HeadRevisionConflict,
    HistoryStateMalformed,
    InvalidRewriteRange,
    InvalidTranscriptShape,
    LedgerConflictError,
    LedgerDecreaseError,
    MessageIndexOutOfBounds,
    MessageRoleMismatch,
    NoOpRewrite,
    RevisionConflict,
    SessionSpecError,
    StateStoreError,
    TranscriptEditError,
)
from sessionspec.runtime.conversation import (
    Conversation,
    ReplaceAssistantBlock,
    ReplaceMessage,
    ReplaceToolResultContentBlock,
    ReplaceUserContentBlock,
)
from sessionspec.runtime.revisions import (
    MessageRange,
    RewriteReason,
    TranscriptHistory,
    TranscriptRewriteCommit,
    TranscriptRewriteRecord,
)

__all__ += [
    "BlobNotFoundError",
    "BlobStoreError",
    "BlockIndexOutOfBounds",
    "CanonicalFormError",
    "CodecError",
    "Conversation",
    "HeadRevisionConflict",
    "HistoryStateMalformed",
    "InvalidRewriteRange",
    "InvalidTranscriptShape",
    "LedgerConflictError",
    "LedgerDecreaseError",
    "MessageIndexOutOfBounds",
    "MessageRange",
    "MessageRoleMismatch",
    "NoOpRewrite",
    "ReplaceAssistantBlock",
    "ReplaceMessage",
    "ReplaceToolResultContentBlock",
    "ReplaceUserContentBlock",
    "RevisionConflict",
    "RewriteReason",
    "SessionSpecError",
    "StateStoreError",
    "TranscriptEditError",
    "TranscriptHistory",
    "TranscriptRewriteCommit",
    "TranscriptRewriteRecord",
]
