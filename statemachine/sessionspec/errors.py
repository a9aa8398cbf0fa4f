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
    "ImportVerificationError",
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
    "UnknownFormatError",
    "UnpairedToolCallError",
    "UnrepresentableError",
]
__all__ += [
    "BadReportError",
    "BadSessionFileError",
    "DuplicateLoopError",
    "InvalidAgentEventError",
    "LoopCycleError",
    "SessionLockedError",
    "SessionNotFoundError",
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


# --- Conversation, transcript revisions, persisted state, ledger, blobs (CONV, STATE) ---

__all__ += [
    "BlobNotFoundError",
    "BlobStoreError",
    "BlockIndexOutOfBounds",
    "CanonicalFormError",
    "CodecError",
    "HeadRevisionConflict",
    "HistoryStateMalformed",
    "InvalidRewriteRange",
    "InvalidTranscriptShape",
    "LedgerConflictError",
    "LedgerDecreaseError",
    "MessageIndexOutOfBounds",
    "MessageRoleMismatch",
    "NoOpRewrite",
    "RevisionConflict",
    "StateStoreError",
    "TranscriptEditError",
]


class CanonicalFormError(CallerError):
    """A value has no RFC 8785 canonical form (an integer beyond 2**53, NaN, a non-string key).

    Such a value cannot take part in a content digest, so it is refused (CONV-020).
    """


class CodecError(CallerError):
    """A foreign shape could not be translated: what it cannot express is named (CONV-050)."""


class TranscriptEditError(CallerError):
    """Root of the typed refusals of a transcript edit (fork or rewrite); nothing changed."""


class MessageIndexOutOfBounds(TranscriptEditError):
    """A message index is not below the number of messages (CONV-012)."""

    def __init__(self, message_index: int, message_count: int) -> None:
        self.message_index = message_index
        self.message_count = message_count
        super().__init__(
            f"message index {message_index} is out of bounds ({message_count} messages)"
        )


class BlockIndexOutOfBounds(TranscriptEditError):
    """A content block index is not below the number of blocks of its kind (CONV-012)."""

    def __init__(self, block_kind: str, block_index: int, block_count: int) -> None:
        self.block_kind = block_kind
        self.block_index = block_index
        self.block_count = block_count
        super().__init__(f"{block_kind} index {block_index} is out of bounds ({block_count})")


class MessageRoleMismatch(TranscriptEditError):
    """A replacement names a block kind the message at that index does not have (CONV-012)."""

    def __init__(self, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected a {expected} message, found {actual}")


class InvalidRewriteRange(TranscriptEditError):
    """A rewrite selection ``[start, end)`` is not within the transcript (CONV-031)."""

    def __init__(self, start: int, end: int, message_count: int) -> None:
        self.start = start
        self.end = end
        self.message_count = message_count
        super().__init__(
            f"rewrite range [{start}, {end}) is not within the {message_count} messages"
        )


class NoOpRewrite(TranscriptEditError):
    """A rewrite (or a record) whose revision equals its parent: a self edge (CONV-033)."""

    def __init__(self, revision: str) -> None:
        self.revision = revision
        super().__init__(f"the rewrite changes nothing: revision {revision} is its own parent")


class RevisionConflict(TranscriptEditError):
    """``expected_parent_revision`` is not the transcript's head (CONV-030)."""

    def __init__(self, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected parent revision {expected}, but the head is {actual}")


class InvalidTranscriptShape(TranscriptEditError):
    """Tool calls and results are not paired, unique and adjacent (CONV-034)."""


class HistoryStateMalformed(TranscriptEditError):
    """Rewrite records or a history do not validate, or do not chain (CONV-040..CONV-042)."""


class HeadRevisionConflict(CallerError):
    """A state commit named an ``expected_head_revision`` that is not the stored head.

    Compare-and-swap failed: another writer committed first, or the caller's view is stale.
    Nothing was written (STATE-010).
    """

    def __init__(self, session_id: str, expected: int, actual: int) -> None:
        self.session_id = session_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"session {session_id!r}: expected head revision {expected}, but the head is {actual}"
        )


class LedgerDecreaseError(CallerError):
    """``diff(before, after)``: a counter went down, so the ledgers do not nest (STATE-032)."""


class LedgerConflictError(CallerError):
    """One provider request id carries two different usages (STATE-033)."""


class StateStoreError(StorageError):
    """The state store's bytes are damaged or its file layer failed (STATE-011)."""


class BlobStoreError(StorageError):
    """The blob store's file layer failed, or a stored blob does not match its id (CONV-060)."""


class BlobNotFoundError(BlobStoreError):
    """No blob has this id (CONV-060)."""


class UnknownFormatError(CallerError):
    """A session file whose format no reader recognizes, or a ``--format`` no reader has
    (FILES-001). Names the path and what was seen."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: unknown session file format: {reason}")


class BadReportError(CallerError):
    """A file given as a conformance report is not a JSON report of ``sessionspec conform``
    in a version this package reads (VIEW-011). Names the path and what is wrong."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: not a sessionspec conformance report: {reason}")


class UnrepresentableError(CallerError):
    """A codec met something the target shape cannot express (CODEC-002).

    Raised instead of dropping it: names the shape, where in the input it is (``where``,
    a path like ``messages[2].content[0]``) and what it is.
    """

    def __init__(self, shape: str, where: str, what: str) -> None:
        self.shape = shape
        self.where = where
        self.what = what
        super().__init__(f"{shape} cannot express {what} at {where}")


class ImportVerificationError(StorageError):
    """``import`` wrote a log whose replay differs from the source's context (FILES-014).

    The written file was removed; nothing is left behind.
    """
class InvalidAgentEventError(CallerError):
    """An agent event that is not one of phi-core's variants in its JSON form (REC-002).

    Names the variant and the field at fault; nothing was recorded or journaled.
    """


class DuplicateLoopError(CallerError):
    """An ``AgentStart`` for a loop id that is still running (REC-014); nothing changed."""

    def __init__(self, loop_id: str) -> None:
        self.loop_id = loop_id
        super().__init__(f"loop {loop_id!r} is already running; its record is not replaced")


class LoopCycleError(CallerError):
    """The parent links of a session's loops form a cycle (REC-024)."""

    def __init__(self, cycle: tuple[str, ...]) -> None:
        self.cycle = cycle
        super().__init__("loop parents form a cycle: " + " -> ".join(cycle))


class SessionNotFoundError(StorageError, LookupError):
    """No session with this id: no saved recorder session file (REC-062), or no session in a
    database store (SQL-007). ``where`` names the store when the message should say which."""

    def __init__(self, session_id: str, where: str | None = None) -> None:
        self.session_id = session_id
        self.where = where
        if where is None:
            super().__init__(f"no saved session {session_id!r}")
        else:
            super().__init__(f"{where}: no session {session_id!r}")


class SessionLockedError(StorageError):
    """Another writer held the session file's lock for the whole wait (REC-061)."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id!r} is locked by another writer")


class BadSessionFileError(StorageError):
    """A saved session file that is not a session in phi-core's JSON form (REC-063)."""
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


class SessionExistsError(CallerError):
    """A session with this id already exists in the store (a database row, or a file at the
    session's path); nothing was written (SQL-007, LOG-012)."""


class JournalVersionError(BadHeaderError):
    """A realtime journal's format version is newer than this package reads (RT-044): it was
    written by a newer sessionspec and may hold events this one does not know. Nothing is
    read into a transcript and the file is never written."""

    def __init__(self, path: str, version: int, supported: tuple[int, ...]) -> None:
        #: The version the journal's header names, and the versions this package reads.
        self.version = version
        self.supported = supported
        super().__init__(
            path,
            f"realtime journal version {version} is newer than this package reads "
            f"(versions {', '.join(map(str, supported))})",
        )


class SchemaVersionError(StorageError):
    """A database store's schema is newer than this code, its version row is damaged, or a
    migration step failed and was rolled back; nothing was changed (SQL-005)."""
