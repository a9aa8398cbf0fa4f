"""sessionspec."""

from sessionspec.codecs.openai_realtime import InvalidServerEventError
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
    ImportVerificationError,
    InvalidAgentEventError,
    LoopCycleError,
    SessionLockedError,
    SessionNotFoundError,
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
    "AsyncRealtimeTranscript",
    "AsyncSessionCoordinator",
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
    "ImportVerificationError",
    "InvalidAgentEventError",
    "InvalidRealtimeEventError",
    "InvalidServerEventError",
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
    "UnknownFormatError",
    "UnrepresentableError",
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
from sessionspec.runtime.ledger import LedgerCounts, TokenLedger, UsageReport
from sessionspec.runtime.revisions import (
    MessageRange,
    RewriteReason,
    TranscriptHistory,
    TranscriptRewriteCommit,
    TranscriptRewriteRecord,
)
from sessionspec.runtime.state import PersistedSessionState, SessionGraph, SessionNode
from sessionspec.storage.blobs import BlobStore, FileBlobStore, MemoryBlobStore
from sessionspec.storage.state_store import (
    FileStateStore,
    MemoryStateStore,
    StateStore,
    StoredState,
)

__all__ += [
    "BlobNotFoundError",
    "BlobStore",
    "BlobStoreError",
    "BlockIndexOutOfBounds",
    "CanonicalFormError",
    "CodecError",
    "Conversation",
    "FileBlobStore",
    "FileStateStore",
    "HeadRevisionConflict",
    "HistoryStateMalformed",
    "InvalidRewriteRange",
    "InvalidTranscriptShape",
    "LedgerConflictError",
    "LedgerCounts",
    "LedgerDecreaseError",
    "MemoryBlobStore",
    "MemoryStateStore",
    "MessageIndexOutOfBounds",
    "MessageRange",
    "MessageRoleMismatch",
    "NoOpRewrite",
    "PersistedSessionState",
    "ReplaceAssistantBlock",
    "ReplaceMessage",
    "ReplaceToolResultContentBlock",
    "ReplaceUserContentBlock",
    "RevisionConflict",
    "RewriteReason",
    "SessionGraph",
    "SessionNode",
    "SessionSpecError",
    "StateStore",
    "StateStoreError",
    "StoredState",
    "TokenLedger",
    "TranscriptEditError",
    "TranscriptHistory",
    "TranscriptRewriteCommit",
    "TranscriptRewriteRecord",
    "UsageReport",
]
