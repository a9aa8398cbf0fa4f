"""sessionspec."""

from sessionspec.runtime.coordinator import (
    CompactionResult,
    ForkResult,
    ResumeReport,
    SessionCoordinator,
)

__all__ = [
    "CompactionResult",
    "ForkResult",
    "ResumeReport",
    "SessionCoordinator",
]
