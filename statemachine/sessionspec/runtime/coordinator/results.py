"""What the coordinator reports and refuses with: its result values and its own errors.

Every type here is public (re-exported by :mod:`sessionspec.runtime.coordinator` and by
``sessionspec``): the resume report (COORD-025), the results of a compaction (COORD-034)
and of a fork (COORD-050), the entries of the last acknowledged write (COORD-071), and the
two errors only the coordinator raises (COORD-040, COORD-050).
"""

from __future__ import annotations

from dataclasses import dataclass

from sessionspec.compaction import CompactionReason
from sessionspec.errors import CallerError, StorageError
from sessionspec.storage.log import RecoveryReport

__all__ = [
    "CompactionResult",
    "Diagnostic",
    "ForkFailedError",
    "ForkResult",
    "ResumeReport",
    "UnknownEntryError",
    "WrittenEntries",
]


class UnknownEntryError(CallerError):
    """``append_leaf`` named an id that is not a message or compaction entry of the session
    (COORD-040). Nothing was written."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"no message or compaction entry {entry_id!r} in this session")


class ForkFailedError(StorageError):
    """Writing a fork failed; no fork file was made visible and the source is unchanged
    (COORD-050)."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of a resume, for a person or a log line."""

    #: A stable code, e.g. ``dangling_leaf`` or ``figures_reconstructed``.
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ResumeReport:
    """What opening a session found and did (COORD-025). A new session's report is clean."""

    #: What the log read found (torn or uncommitted tail, corrupt lines, ...; LOG-007).
    log: RecoveryReport | None = None
    #: Leaves whose target is missing; the last valid leaf was used instead (COORD-021).
    dangling_leaves: tuple[str, ...] = ()
    #: The parent walk met an id twice and stopped.
    cycle: bool = False
    #: The file has no leaf: content was taken in file order (opi's legacy rule).
    legacy_order: bool = False
    #: Figures rebuilt from messages instead of read from an accounting record (COORD-023).
    reconstructed: tuple[tuple[str, int], ...] = ()
    #: Compactions whose first kept entry was not in the buffer: nothing dropped (COORD-022).
    missing_first_kept: tuple[str, ...] = ()
    #: Entries on the active branch that failed validation and were skipped (COORD-024).
    invalid_entries: tuple[str, ...] = ()
    #: The parent the branch walk could not find (a damaged or missing entry, COORD-045).
    broken_parent: str | None = None
    #: ``(id, line)`` of the entries the context lost behind that break (COORD-045).
    lost_entries: tuple[tuple[str, int], ...] = ()

    @property
    def clean(self) -> bool:
        return not self.diagnostics()

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        found: list[Diagnostic] = []
        if self.log is not None:
            for damage in self.log.damage:
                found.append(Diagnostic(f"log_{damage.kind.value}", damage.describe()))
        for leaf in self.dangling_leaves:
            found.append(
                Diagnostic(
                    "dangling_leaf",
                    f"leaf {leaf!r} points at a missing entry; the last valid leaf was used",
                )
            )
        if self.cycle:
            found.append(Diagnostic("parent_cycle", "the parent walk met an entry twice"))
        if self.legacy_order:
            found.append(
                Diagnostic("legacy_order", "no leaf in the file: content taken in file order")
            )
        if self.reconstructed:
            figures = ", ".join(f"{name}={value}" for name, value in self.reconstructed)
            found.append(
                Diagnostic(
                    "figures_reconstructed",
                    f"no accounting record covers these figures; rebuilt from messages: {figures}",
                )
            )
        for compaction in self.missing_first_kept:
            found.append(
                Diagnostic(
                    "first_kept_missing",
                    f"compaction {compaction!r} names a first kept entry that is not in the "
                    "buffer; nothing was dropped",
                )
            )
        for entry in self.invalid_entries:
            found.append(
                Diagnostic("invalid_entry", f"entry {entry!r} failed validation and was skipped")
            )
        if self.broken_parent is not None:
            lost = ", ".join(f"{entry} (line {line})" for entry, line in self.lost_entries)
            found.append(
                Diagnostic(
                    "context_lost",
                    f"the active branch breaks at the missing entry {self.broken_parent!r}; "
                    + (f"the context lost {lost}" if lost else "no earlier entry was found"),
                )
            )
        return tuple(found)


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What :meth:`SessionCoordinator.execute_compaction` did (opi ``CompactionResultOutput``)."""

    reason: CompactionReason
    summary: str
    #: ``"core"`` or ``"summarizer"``.
    summary_source: str
    first_kept_entry_id: str
    tokens_before: int
    tokens_after: int
    #: The id of the compaction entry written.
    entry_id: str


@dataclass(frozen=True, slots=True)
class ForkResult:
    """Where :meth:`SessionCoordinator.fork` wrote the new session."""

    session_id: str
    path: str
    parent_session: str
    #: How many entries the fork file holds (copied content, extension state, its leaf).
    entries: int


@dataclass(frozen=True, slots=True)
class WrittenEntries:
    """What the last acknowledged write appended (COORD-071): the ids of its entries in file
    order (for a turn: its messages, then the leaf that commits it) and the active tip after
    it. An embedder keeps these to move the leaf back later or to cite an entry."""

    entry_ids: tuple[str, ...]
    tip: str | None
