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
from sessionspec.usage import CumulativeUsage

__all__ = [
    "CompactionConfig",
    "CompactionReason",
    "CompactionResult",
    "CostBreakdown",
    "CountTailPolicy",
    "CumulativeUsage",
    "ForkResult",
    "LlmSummarizer",
    "PricingTable",
    "RedactionPolicy",
    "ResumeReport",
    "SessionCoordinator",
    "TokenBudgetPolicy",
]
