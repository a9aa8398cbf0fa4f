"""How a harness answers: typed rejections, skips, and the library's errors mapped (CONF-006)."""

from __future__ import annotations

from typing import Any

from sessionspec.conformance.protocol import ErrorType
from sessionspec.errors import (
    AppendFailedError,
    BlockIndexOutOfBounds,
    CallerError,
    DuplicateLoopError,
    HeadRevisionConflict,
    HistoryStateMalformed,
    IllegalTransitionError,
    InvalidAgentEventError,
    InvalidRewriteRange,
    InvalidTranscriptShape,
    LedgerConflictError,
    LedgerDecreaseError,
    LogFailedError,
    LogLockedError,
    MessageIndexOutOfBounds,
    MessageRoleMismatch,
    NoOpRewrite,
    RevisionConflict,
    StorageError,
)
from sessionspec.storage.jsonl import LogNotFoundError

__all__ = ["Json", "Rejection", "Skip", "rejected", "typed_rejection"]

Json = dict[str, Any]

#: The conversation's and the ledger's typed errors (CONF-121, CONF-125), most specific first.
_EDIT_ERRORS: tuple[tuple[type[Exception], ErrorType], ...] = (
    (RevisionConflict, ErrorType.REVISION_CONFLICT),
    (InvalidRewriteRange, ErrorType.INVALID_REWRITE_RANGE),
    (InvalidTranscriptShape, ErrorType.INVALID_TRANSCRIPT_SHAPE),
    (NoOpRewrite, ErrorType.NO_OP_REWRITE),
    (HistoryStateMalformed, ErrorType.HISTORY_STATE_MALFORMED),
    (MessageIndexOutOfBounds, ErrorType.MESSAGE_INDEX_OUT_OF_BOUNDS),
    (MessageRoleMismatch, ErrorType.MESSAGE_ROLE_MISMATCH),
    (BlockIndexOutOfBounds, ErrorType.BLOCK_INDEX_OUT_OF_BOUNDS),
    (LedgerConflictError, ErrorType.LEDGER_CONFLICT),
    (LedgerDecreaseError, ErrorType.LEDGER_DECREASE),
)


class Rejection(CallerError):
    """Raised inside a handler to answer ``rejected`` with a typed error."""

    def __init__(
        self,
        kind: ErrorType,
        message: str,
        code: str | None = None,
        fields: Json | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        #: Further fields of the error object (a conflict's heads).
        self.fields = dict(fields or {})


class Skip(CallerError):
    """Raised inside a handler to answer ``skipped`` (the harness cannot do this call)."""


def typed_rejection(exc: BaseException) -> Rejection | None:
    """The protocol's typed rejection for an exception of the library (CONF-006)."""
    name = type(exc).__name__
    kinds = [c.__name__ for c in type(exc).__mro__]
    if "UnknownEntryError" in kinds:
        return Rejection(ErrorType.UNKNOWN_ENTRY, str(exc))
    for error_class, kind in _EDIT_ERRORS:
        if isinstance(exc, error_class):
            return Rejection(kind, str(exc))
    if isinstance(exc, IllegalTransitionError):
        return Rejection(ErrorType.ILLEGAL_TRANSITION, str(exc), exc.state)
    if isinstance(exc, HeadRevisionConflict):
        return Rejection(
            ErrorType.HEAD_REVISION_CONFLICT,
            str(exc),
            fields={"expected_head_revision": exc.expected, "actual_head_revision": exc.actual},
        )
    if isinstance(exc, DuplicateLoopError):
        return Rejection(ErrorType.DUPLICATE_LOOP, str(exc))
    if isinstance(exc, InvalidAgentEventError):
        return Rejection(ErrorType.INVALID_EVENT, str(exc))
    if isinstance(exc, CallerError):
        return Rejection(ErrorType.CALLER_ERROR, f"{name}: {exc}")
    if "ForkFailedError" in kinds:
        return Rejection(ErrorType.FORK_FAILED, str(exc))
    if isinstance(exc, AppendFailedError):
        return Rejection(ErrorType.APPEND_FAILED, str(exc))
    if isinstance(exc, LogFailedError):
        return Rejection(ErrorType.LOG_FAILED, str(exc))
    if isinstance(exc, LogLockedError):
        return Rejection(ErrorType.LOCKED, str(exc))
    if isinstance(exc, LogNotFoundError):
        return Rejection(ErrorType.NOT_FOUND, str(exc))
    if isinstance(exc, StorageError):
        return Rejection(ErrorType.STORAGE_ERROR, f"{name}: {exc}")
    return None


def rejected(seq: int, exc: Rejection) -> Json:
    """The ``rejected`` response for a typed rejection."""
    error: Json = {**exc.fields, "type": exc.kind.value, "message": str(exc)}
    if exc.code is not None:
        error["code"] = exc.code
    return {"seq": seq, "status": "rejected", "error": error}
