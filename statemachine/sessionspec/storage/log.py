"""The log's interface, its recovery report, and its writer lifecycle (LOG-001..LOG-006).

Rules
-----
* A log is a header followed by entries. Entries are appended in *batches*; a batch is the
  unit of atomicity: after any crash, a reader sees every acknowledged batch and either all
  or none of the batch that was in flight, never part of it (LOG-003).
* ``append(entries, expected_head=H)`` is a compare-and-swap on the head, the number of entry
  lines in the log (LOG-004). Every backend (the JSONL file here; SQLite and PostgreSQL
  later) implements the same :class:`LogStore` protocol.
* Acknowledged means durable under the log's :class:`Durability` (LOG-010).
* A failed append leaves the log exactly as it was and usable (:class:`AppendFailedError`);
  if the log cannot restore that, it enters ``failed`` and refuses every write until it is
  opened again (:class:`LogFailedError`, LOG-005, LOG-006).

Theory of operation
-------------------
The writer lifecycle is a three-state table: ``open`` accepts appends; a failed cut-back
moves it to ``failed``; ``close`` moves either to ``closed``. Appends do not change the
state, so the table is consulted (a dict lookup) on every append and the ``transitions``
trigger fires only on the two real changes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from sessionspec.tables.base import MachineTable

__all__ = [
    "LOG_TABLE",
    "Damage",
    "DamageKind",
    "Durability",
    "LogEvent",
    "LogRecord",
    "LogSnapshot",
    "LogState",
    "LogStore",
    "RecoveryReport",
    "TrustedPrefix",
]


class Durability(enum.Enum):
    """What an acknowledged append survives (LOG-010)."""

    #: One write and one fsync per batch: an acknowledged batch survives a power cut.
    SYNC = "sync"
    #: UNSAFE, for bulk import and tests: the batch is handed to the operating system but
    #: not fsynced. It survives a crash of the process, not of the machine.
    NO_SYNC = "no_sync"


class LogState(enum.Enum):
    OPEN = "open"
    FAILED = "failed"
    CLOSED = "closed"


class LogEvent(enum.Enum):
    APPEND = "append"
    CUT_BACK_FAILED = "cut_back_failed"
    CLOSE = "close"


#: The writer lifecycle (LOG-005, LOG-006). Appends in ``failed`` are refused with code
#: ``failed`` (:class:`LogFailedError`); anything in ``closed`` with ``closed``.
LOG_TABLE: MachineTable[LogState, LogEvent] = MachineTable(
    name="log",
    states=LogState,
    events=LogEvent,
    initial=LogState.OPEN,
    transitions={
        (LogState.OPEN, LogEvent.APPEND): LogState.OPEN,
        (LogState.OPEN, LogEvent.CUT_BACK_FAILED): LogState.FAILED,
        (LogState.OPEN, LogEvent.CLOSE): LogState.CLOSED,
        (LogState.FAILED, LogEvent.CLOSE): LogState.CLOSED,
    },
    rejections={
        (LogState.FAILED, LogEvent.APPEND): "failed",
        (LogState.FAILED, LogEvent.CUT_BACK_FAILED): "failed",
        (LogState.CLOSED, LogEvent.APPEND): "closed",
        (LogState.CLOSED, LogEvent.CUT_BACK_FAILED): "closed",
        (LogState.CLOSED, LogEvent.CLOSE): "closed",
    },
    requirements={
        (LogState.OPEN, LogEvent.APPEND): "LOG-003",
        (LogState.OPEN, LogEvent.CUT_BACK_FAILED): "LOG-006",
        (LogState.OPEN, LogEvent.CLOSE): "LOG-015",
        (LogState.FAILED, LogEvent.CLOSE): "LOG-015",
    },
)


class DamageKind(enum.Enum):
    """Each kind of finding a read can report (LOG-007)."""

    #: The file ends without a newline: a write was cut short. Cut by a writer.
    TORN_TAIL = "torn_tail"
    #: Complete lines of a trailing batch that never got its commit record. Cut by a writer.
    UNCOMMITTED_TAIL = "uncommitted_tail"
    #: A line in a batch that never committed, followed by other lines. Skipped, kept.
    UNCOMMITTED_ENTRY = "uncommitted_entry"
    #: A line whose checksum fails, that is not JSON, or not a valid entry object.
    CORRUPT_ENTRY = "corrupt_entry"
    #: A valid line whose ``type`` the reader does not know. Skipped, kept (LOG-009).
    UNKNOWN_ENTRY = "unknown_entry"
    #: An entry whose id an earlier entry already has. The first one wins (LOG-013).
    DUPLICATE_ID = "duplicate_id"
    #: A framed line whose ``ss_seq`` is not its position: lines were lost or repeated.
    SEQUENCE_GAP = "sequence_gap"


#: The kinds a crash leaves behind; everything else means damage or foreign writes.
CRASH_RESIDUE = frozenset({DamageKind.TORN_TAIL, DamageKind.UNCOMMITTED_TAIL})


@dataclass(frozen=True, slots=True)
class Damage:
    kind: DamageKind
    #: 1-based line number in the file (the header is line 1).
    line: int
    #: Byte offset of the start of the line.
    offset: int
    #: Length of the line in bytes, newline included when present.
    length: int
    detail: str

    def describe(self) -> str:
        where = f"line {self.line} (byte {self.offset}, {self.length} bytes)"
        return f"{where}: {self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What a read found, line by line, and where a writer cuts (LOG-007)."""

    damage: tuple[Damage, ...]
    #: Size of the file as read.
    file_bytes: int
    #: Length of the prefix a writer keeps: the file minus a torn or uncommitted tail.
    kept_bytes: int

    @property
    def clean(self) -> bool:
        return not self.damage

    @property
    def torn_tail(self) -> bool:
        return any(d.kind is DamageKind.TORN_TAIL for d in self.damage)

    @property
    def uncommitted_tail(self) -> tuple[Damage, ...]:
        return tuple(d for d in self.damage if d.kind is DamageKind.UNCOMMITTED_TAIL)

    @property
    def corrupt_entries(self) -> tuple[Damage, ...]:
        return tuple(d for d in self.damage if d.kind is DamageKind.CORRUPT_ENTRY)

    @property
    def only_crash_residue(self) -> bool:
        """True when the only findings are what a crash leaves: a torn or uncommitted tail."""
        return all(d.kind in CRASH_RESIDUE for d in self.damage)

    def count(self, kind: DamageKind) -> int:
        return sum(1 for d in self.damage if d.kind is kind)

    def summary(self) -> str:
        if self.clean:
            return "clean"
        parts = [f"{self.count(kind)} {kind.value}" for kind in DamageKind if self.count(kind)]
        return ", ".join(parts)


class LogRecord(NamedTuple):
    """One committed entry as read back (a named tuple: cheap to build by the 100,000)."""

    #: The entry's position: 1 for the first entry line, and so on.
    seq: int
    #: 1-based line number in the file.
    line: int
    #: Byte offset of the line.
    offset: int
    #: The entry's JSON object without the framing fields.
    entry: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TrustedPrefix:
    """A prefix of a log file a reader already read, named by its bytes (LOG-024).

    ``length`` bytes from the start of the file, ending with a committed batch's last line
    and holding no damage; ``digest`` is ``sha256:`` and the hex SHA-256 of those bytes;
    ``head`` the entry lines in it and ``ids`` their entry ids, in file order. A log opened
    with it checks the digest over the file's first ``length`` bytes and, when they match,
    decodes only the lines after it."""

    length: int
    digest: str
    head: int
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LogSnapshot:
    """Everything one read of a log found."""

    header: dict[str, Any]
    #: The committed records read; after a trusted prefix only those after it.
    records: list[LogRecord]
    report: RecoveryReport
    #: The head a writer continues from: the number of entry lines kept in the file.
    head: int
    #: The prefix that was trusted instead of read (its records are not in ``records``),
    #: or None when the whole file was read (LOG-024).
    prefix: TrustedPrefix | None = None


class LogStore(Protocol):
    """What every log backend provides (LOG-001)."""

    @property
    def head(self) -> int: ...

    @property
    def state(self) -> LogState: ...

    @property
    def durability(self) -> Durability: ...

    def append(
        self, entries: Sequence[Mapping[str, Any]], *, expected_head: int | None = None
    ) -> int:
        """Append one batch atomically; return the new head (LOG-003, LOG-004)."""
        ...

    def close(self) -> None: ...
