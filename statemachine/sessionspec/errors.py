"""The one error root of sessionspec and its two branches.

Every exception this package raises on purpose derives from :class:`SessionSpecError`.
Below it the hierarchy splits by *who* must act:

* :class:`CallerError` -- the caller asked for something the spec forbids (an illegal
  event in the current state, a malformed session id, a stale expected head). Nothing was
  written and nothing changed in memory; fix the call and retry. Also a ``ValueError``.
* :class:`StorageError` -- the bytes on disk or the file layer are the problem (a bad
  header, a corrupt entry read strictly, an I/O error while appending, a lock held by
  another writer). Each subclass documents whether the object is still usable.

The split follows h11's local/remote protocol errors and h2's single root (see
``spec/SPEC.md`` GEN-001).
"""

from __future__ import annotations

__all__ = [
    "AppendFailedError",
    "BadHeaderError",
    "CallerError",
    "CorruptLogError",
    "DuplicateEntryIdError",
    "ForeignFormatError",
    "ForeignWriteError",
    "HeadConflictError",
    "IllegalTransitionError",
    "InvalidSessionIdError",
    "LogAccessError",
    "LogFailedError",
    "LogLockedError",
    "PathKindError",
    "SchemaVersionError",
    "SessionExistsError",
    "SessionNotFoundError",
    "SessionSpecError",
    "StorageError",
]


class SessionSpecError(Exception):
    """Root of every error this package raises on purpose (GEN-001)."""


class CallerError(SessionSpecError, ValueError):
    """The call itself is wrong; nothing was written or changed (GEN-002)."""


class StorageError(SessionSpecError):
    """The storage layer failed or found damage it cannot repair silently (GEN-002)."""


class IllegalTransitionError(CallerError):
    """An event that the machine's table does not allow in its current state.

    Carries the machine name, the state and the event so a caller (or a conformance
    report) can tell exactly which (state, event) pair was refused (GEN-003).
    """

    def __init__(self, machine: str, state: str, event: str, detail: str = "") -> None:
        self.machine = machine
        self.state = state
        self.event = event
        self.detail = detail
        message = f"{machine}: event {event!r} is not allowed in state {state!r}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


class InvalidSessionIdError(CallerError):
    """A session id that is empty, contains a path separator, or is ``.``/``..`` (LOG-012)."""


class HeadConflictError(CallerError):
    """An append named an expected head that is not the log's head (LOG-004).

    Compare-and-swap failed: somebody else (or a stale view) appended first.
    """

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected log head {expected}, but the head is {actual}")


class DuplicateEntryIdError(CallerError):
    """A batch carries an entry id the log already holds, or the same id twice (LOG-013)."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"entry id {entry_id!r} is already in the log")


class BadHeaderError(StorageError):
    """The first line is missing, unparseable, or not a supported session header (LOG-008).

    The file is never rewritten when this is raised.
    """

    def __init__(self, path: str, reason: str, *, line: int = 1, offset: int = 0) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        self.offset = offset
        super().__init__(f"{path}: line {line} (byte {offset}): bad session header: {reason}")


class CorruptLogError(StorageError):
    """A strict read found damage; names the first damaged line and its byte offset (LOG-007)."""

    def __init__(self, path: str, line: int, offset: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.offset = offset
        self.reason = reason
        super().__init__(f"{path}: line {line} (byte {offset}): {reason}")


class LogLockedError(StorageError):
    """Another writer holds the log's exclusive lock (LOG-011)."""


class AppendFailedError(StorageError):
    """An append failed and was cut back cleanly: the log is exactly as before the call.

    The log stays usable; the caller may retry (LOG-005).
    """


class LogFailedError(StorageError):
    """The log could not restore its state after a failed append (LOG-006).

    The cut-back or its fsync failed too, so neither memory nor the file can be trusted.
    The log refuses every further write until it is opened again from disk.
    """


class PathKindError(CallerError):
    """A path names the wrong kind of file (GEN-009): a directory, a FIFO or a device where
    a session file is expected, or a file where a directory is expected. Nothing was
    opened, created or written."""

    def __init__(self, path: str, expected: str, found: str) -> None:
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(f"{path}: expected {expected}, found {found}")


class LogAccessError(StorageError, OSError):
    """The operating system refused to open or read a log (permission denied, a name too
    long, an I/O error): nothing was written (GEN-009). Also an ``OSError``; carries the
    original one as its cause."""


class ForeignFormatError(BadHeaderError):
    """The file is a session or journal of another format (LOG-021): opi's or pi's layout
    without entry ids, opi's v2 envelope, pi's v3, another tool's transcript, or a
    sessionspec file of the other kind. ``format`` names what was detected. The file is
    never written: opening it for writing refuses, so our lines never land in it."""

    def __init__(
        self, path: str, detected: str, reason: str, *, line: int = 1, offset: int = 0
    ) -> None:
        #: The format detected, e.g. ``opi-v1-without-ids`` or ``pi-session-v3``.
        self.format = detected
        super().__init__(path, f"{reason} (detected format: {detected})", line=line, offset=offset)


class ForeignWriteError(LogFailedError):
    """Bytes this writer did not write appeared in its file (LOG-022): another process
    appended without the lock (a plain ``>>``) or replaced the file. The append was refused
    before anything was written; the log refuses every further write until it is opened
    again, and nothing of the foreign bytes is ever cut or overwritten."""


class UnpairedToolCallError(CallerError):
    """``append_leaf`` would select a branch whose context holds a tool call that no tool
    result on that branch answers (COORD-044): every provider rejects such a context, so the
    move is refused and nothing is written, as compaction refuses to split a pair."""

    def __init__(self, entry_id: str, unanswered: tuple[tuple[str, str], ...]) -> None:
        self.entry_id = entry_id
        #: ``(message id, tool-call id)`` of each tool call left without its results.
        self.unanswered = unanswered
        calls = ", ".join(f"{call} (in {message})" for message, call in unanswered)
        super().__init__(
            f"a leaf at {entry_id!r} selects a branch whose tool calls {calls} have no "
            "results on it"
        )


class SessionNotFoundError(StorageError, LookupError):
    """A database store holds no session with this id (SQL-007)."""


class SessionExistsError(CallerError):
    """A session with this id already exists in the database store; nothing was written
    (SQL-007)."""


class SchemaVersionError(StorageError):
    """A database store's schema is newer than this code, its version row is damaged, or a
    migration step failed and was rolled back; nothing was changed (SQL-005)."""
