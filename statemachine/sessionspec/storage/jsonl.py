"""The JSONL file log: the embedded default backend (LOG section of the spec).

Rules
-----
* One session, one file: line 1 is the header, every later line one entry (WIRE-006).
* An append writes the whole batch with ONE write and makes it durable with ONE fsync
  (LOG-003, LOG-010). Creating a file also fsyncs its directory, so the new name survives
  a power cut (LOG-016).
* Every line is framed (:mod:`sessionspec.storage.framing`): a sequence number, a commit
  marker on the last line of a batch, a CRC-32. Reading tells a torn tail, an uncommitted
  tail, orphaned batch lines, corrupt lines, unknown entry types, duplicate ids and sequence
  gaps apart, each with its line number and byte offset (LOG-007).
* Opening for writing cuts only a torn or uncommitted tail (LOG-008), then fsyncs the file:
  what a writer read and builds on is durable, even if it was only in the page cache
  (LOG-020).
  Nothing else is ever rewritten: a bad or missing header is :class:`BadHeaderError` and
  the file is left exactly as it is.
* A reader that already read a prefix may name it (:class:`TrustedPrefix`: its length, the
  SHA-256 of its bytes, its head and ids); opening with it hashes those bytes instead of
  decoding them, and decodes only the lines after it. A prefix whose digest does not match
  is ignored and the whole file is read (LOG-024). Hashing runs at about 1-2 GB/s, decoding
  and checking lines at about 50 MB/s: a snapshot resume reads only the tail.
* One writer: opening or creating for writing takes an exclusive lock; a second writer gets
  :class:`LogLockedError` (LOG-011). Threads sharing one writer are serialized by a lock per
  object (LOG-023). Before every write the writer checks that the file still has exactly
  the bytes it wrote; a foreign append is refused with :class:`ForeignWriteError` and never
  overwritten (LOG-022). A writer dropped without ``close()`` releases its lock when it is
  collected, with a ``ResourceWarning`` (LOG-015).
* A new log appears under its name complete or not at all: the header is written and
  fsynced under a temporary name, linked into place (``link(2)`` never replaces a file),
  and the directory fsynced (LOG-016). A crash or a racing reader never sees an empty stub.
* Files of another format (opi's or pi's layout without entry ids, opi v2, pi v3, other
  tools' transcripts) raise :class:`ForeignFormatError` and are never written (LOG-021).
* Paths are checked before they are opened: a directory, a FIFO or a device is a
  :class:`PathKindError`, an operating-system refusal a :class:`LogAccessError` (GEN-009).
* A failed append is cut back; if the cut-back fails too the log enters ``failed``
  (LOG-005, LOG-006).

Theory of operation
-------------------
Reading is one pass over the bytes. Each complete line is checked by its checksum (a slice,
no JSON decode), decoded with orjson, and given a :class:`LineKind`;
:func:`classify_lines` then decides every line's fate from the kinds alone. Only committed
lines of a known entry type become :class:`LogRecord` objects; the rest become
:class:`Damage` findings. Validation of entry *contents* against the pydantic models is left
to the caller, lazily: the log checks only what it needs (an object with a string ``type``
and ``id``), so resuming a long log costs little more than decoding it.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import posixpath
import threading
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from sessionspec.collector import collector_paused
from sessionspec.errors import (
    AppendFailedError,
    BadHeaderError,
    CallerError,
    CorruptLogError,
    DuplicateEntryIdError,
    ForeignFormatError,
    ForeignWriteError,
    HeadConflictError,
    IllegalTransitionError,
    InvalidSessionIdError,
    LogAccessError,
    LogFailedError,
    LogLockedError,
    PathKindError,
    SessionExistsError,
    StorageError,
)
from sessionspec.lifecycle import Lifecycle
from sessionspec.storage.files import FileHandle, FileKind, FileLock, FileSystem, OsFileSystem
from sessionspec.storage.framing import (
    CRC_MARKER,
    CRC_SUFFIX_LENGTH,
    LineFate,
    LineKind,
    classify_lines,
    frame_line,
)
from sessionspec.storage.log import (
    LOG_TABLE,
    Damage,
    DamageKind,
    Durability,
    LogEvent,
    LogRecord,
    LogSnapshot,
    LogState,
    RecoveryReport,
    TrustedPrefix,
)
from sessionspec.wire.log import ENTRY_TYPES, SessionHeader

__all__ = [
    "FRAMING_FIELDS",
    "JsonlLog",
    "LogCreateError",
    "LogNotFoundError",
    "ensure_directory",
    "prefix_digest",
    "prefix_matches",
    "read_log",
    "scan_log_bytes",
    "session_path",
    "validate_session_id",
]

#: Fields the framing owns; an entry handed to :meth:`JsonlLog.append` must not carry them.
#: (``_encode_batch`` spells them out on its hot path: keep both in step.)
FRAMING_FIELDS = ("ss_seq", "ss_end", "ss_crc")
#: The names of the states in which the table accepts APPEND.
_APPENDABLE_STATES = frozenset(
    state.value for (state, event) in LOG_TABLE.transitions if event is LogEvent.APPEND
)


class LogNotFoundError(StorageError, FileNotFoundError):
    """There is no log file at the path given."""


class LogCreateError(StorageError):
    """Creating a new log failed; the partial file was removed where possible."""


#: The longest file name most file systems take, in bytes (``NAME_MAX``).
_NAME_MAX = 255
#: What a session id gets around it as a file name at most: a fork's temporary file
#: ``.<id>.jsonl.tmp`` is itself created under ``.<that>.<16 hex digits>.tmp`` (LOG-016).
_NAME_OVERHEAD = len("..") + len(".jsonl.tmp") + len(".") + 16 + len(".tmp")


def validate_session_id(session_id: str) -> str:
    """Return ``session_id`` if it is safe as a file name, else raise (LOG-012).

    Refused: empty or blank ids, ``.`` and ``..``, anything with ``/``, ``\\`` or NUL, an id
    that is not valid Unicode text (a lone surrogate), and one too long for a file name
    (more than 255 bytes in UTF-8 with the suffixes the log adds).
    """
    if type(session_id) is not str or not session_id.strip():
        raise InvalidSessionIdError(f"session id must be a non-empty string: {session_id!r}")
    if session_id in (".", "..") or any(c in session_id for c in "/\\\0"):
        raise InvalidSessionIdError(f"session id is not a safe file name: {session_id!r}")
    try:
        size = len(session_id.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidSessionIdError(
            f"session id is not valid Unicode text: {session_id!r}"
        ) from None
    if size + _NAME_OVERHEAD > _NAME_MAX:
        raise InvalidSessionIdError(
            f"session id is {size} bytes; at most {_NAME_MAX - _NAME_OVERHEAD} fit a file name"
        )
    return session_id


def _check_path(path: object) -> str:
    if type(path) is not str:
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if type(path) is not str:
            raise CallerError(f"a path must be a string or a path object, not {path!r}")
    if not path or "\0" in path:
        raise CallerError(f"not a usable path: {path!r}")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise CallerError(f"path is not valid Unicode text: {path!r}") from None
    return path


def ensure_directory(fs: FileSystem, directory: str) -> None:
    """Make ``directory`` (``""`` is the current directory) or raise a typed error (GEN-009):
    :class:`PathKindError` when it, or a parent, is not a directory; :class:`LogCreateError`
    when the operating system refuses."""
    if directory == "":
        return
    directory = _check_path(directory)
    found = _kind(fs, directory)
    if found == "directory":
        return
    if found != "missing":
        raise PathKindError(directory, "a directory", _KIND_NAMES[found])
    try:
        fs.makedirs(directory)
    except (FileExistsError, NotADirectoryError) as exc:
        raise PathKindError(directory, "a directory", "a file in the way") from exc
    except OSError as exc:
        raise LogCreateError(f"{directory}: could not create the directory: {exc}") from exc


_KIND_NAMES = {
    "file": "a regular file",
    "directory": "a directory",
    "other": "a FIFO, socket or device",
    "missing": "nothing",
}


def _kind(fs: FileSystem, path: str) -> FileKind:
    try:
        return fs.kind(path)
    except OSError as exc:  # a name too long, a search permission denied, ...
        raise LogAccessError(f"{path}: cannot look at the path: {exc}") from exc


def _require_log_file(fs: FileSystem, path: str) -> None:
    """Refuse, before anything is opened, a path that is not a regular file (GEN-009)."""
    found = _kind(fs, path)
    if found == "file":
        return
    if found == "missing":
        raise LogNotFoundError(errno.ENOENT, "no log file", path)
    raise PathKindError(path, "a session file", _KIND_NAMES[found])


def session_path(directory: str, session_id: str) -> str:
    """``<directory>/<session_id>.jsonl`` after validating the id (LOG-012)."""
    return posixpath.join(directory, validate_session_id(session_id) + ".jsonl")


# -- reading ---------------------------------------------------------------------------


_FRAMED_TAIL = b'"}'
_KIND_BY_END = {True: LineKind.END}


def _decode_line(
    data: bytes, view: memoryview, start: int, end: int
) -> tuple[LineKind, dict[str, Any] | None, int | None, str]:
    """Kind, decoded object (framing removed), ``ss_seq``, and a reason when BAD.

    ``data[start:end]`` is the line without its newline. The checksum is checked in place
    (``startswith`` at an offset, a memoryview for the CRC): no line is copied (LOG-007).
    """
    framed = (
        end - start >= CRC_SUFFIX_LENGTH
        and data.startswith(_FRAMED_TAIL, end - 2)
        and data.startswith(CRC_MARKER, end - CRC_SUFFIX_LENGTH)
    )
    if framed and not data.startswith(
        b"%08x" % (zlib.crc32(view[start : end - CRC_SUFFIX_LENGTH]) & 0xFFFFFFFF), end - 10
    ):  # the same CRC as framing.crc_hex, over a view: no copy
        return LineKind.BAD, None, None, "checksum mismatch"
    try:
        obj = orjson.loads(view[start:end])
    except orjson.JSONDecodeError as exc:
        return LineKind.BAD, None, None, f"not JSON: {exc}"
    if type(obj) is not dict:
        return LineKind.BAD, None, None, "not a JSON object"
    if not framed:
        return LineKind.LEGACY, obj, None, ""
    seq = obj.pop("ss_seq", None)
    is_end = obj.pop("ss_end", False)
    del obj["ss_crc"]
    if type(seq) is not int:
        return LineKind.BAD, None, None, "framed line without an integer ss_seq"
    return _KIND_BY_END.get(is_end is True, LineKind.PENDING), obj, seq, ""


def scan_log_bytes(
    data: bytes,
    *,
    path: str = "<memory>",
    header_model: type[BaseModel] = SessionHeader,
    entry_types: frozenset[str] = ENTRY_TYPES,
    prefix: TrustedPrefix | None = None,
) -> LogSnapshot:
    """Read a whole log image: header, committed records, findings (LOG-007, LOG-008).

    With ``prefix`` (already checked against ``data`` by :func:`prefix_matches`) only the
    header and the lines after the prefix are decoded (LOG-024).

    The cyclic garbage collector is paused while the image is decoded: the scan builds
    one acyclic dict per entry, by the hundred thousand, and every collection it would
    trigger can free nothing (it only walks the growing heap). The collector's previous
    state is restored on return.
    """
    with collector_paused():
        return _scan(data, path, header_model, entry_types, prefix)


def prefix_digest(data: bytes | memoryview) -> str:
    """The digest a :class:`TrustedPrefix` names its bytes by (LOG-024)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def prefix_matches(data: bytes, prefix: TrustedPrefix) -> bool:
    """Whether ``data`` starts with the bytes ``prefix`` names (LOG-024): the length fits,
    the prefix ends with a newline, and the SHA-256 of those bytes is its digest."""
    length = prefix.length
    return (
        0 < length <= len(data)
        and data[length - 1] == 10
        and prefix_digest(memoryview(data)[:length]) == prefix.digest
    )


def _scan(
    data: bytes,
    path: str,
    header_model: type[BaseModel],
    entry_types: frozenset[str],
    prefix: TrustedPrefix | None = None,
) -> LogSnapshot:
    if not data:
        raise BadHeaderError(path, "empty file")
    view = memoryview(data)
    size = len(data)
    first_newline = data.find(b"\n")
    if first_newline < 0:
        raise BadHeaderError(path, "the header line is incomplete (no newline)")
    # LOG-008: a CR ends the header only when it is the byte before its newline (a file
    # that starts with a newline has no such byte; data[-1] is not it).
    header_end = first_newline
    if first_newline > 0 and data[first_newline - 1] == 13:
        header_end -= 1
    header_kind, header_obj, header_seq, reason = _decode_line(data, view, 0, header_end)
    if header_kind is LineKind.BAD or header_obj is None:
        _raise_if_foreign_document(data, path)
        raise BadHeaderError(path, reason)
    _raise_if_foreign_header(header_obj, header_model, path)
    if header_kind is LineKind.PENDING or (header_seq not in (None, 0)):
        raise BadHeaderError(path, "the header must be a complete batch with ss_seq 0")
    try:
        header_model.model_validate(header_obj, strict=True)
    except ValidationError as exc:
        raise BadHeaderError(path, _first_error(exc)) from None
    except (ValueError, RecursionError) as exc:  # a value nested beyond any limit
        raise BadHeaderError(path, f"header cannot be validated: {exc}") from None

    # Pass 1: split and decode every complete line (blank lines are skipped, as opi does).
    kinds: list[LineKind] = []
    lines: list[tuple[int, int, int, dict[str, Any] | None, int | None, str]] = []
    torn: tuple[int, int, int] | None = None
    # LOG-021: unframed lines of a known type, and how many of them carry a string id.
    legacy_known = legacy_with_id = 0
    first_legacy: tuple[int, int] | None = None
    find, startswith, crc32, loads = data.find, data.startswith, zlib.crc32, orjson.loads
    mask, end_kind, pending_kind = 0xFFFFFFFF, LineKind.END, LineKind.PENDING
    number = 1
    pos = first_newline + 1
    if prefix is not None:  # LOG-024: the prefix is known line for line; start after it
        number = data.count(b"\n", 0, prefix.length)
        pos = prefix.length
    while pos < size:
        number += 1
        newline = find(b"\n", pos)
        if newline < 0:
            torn = (number, pos, size - pos)
            break
        end = newline - 1 if newline > pos and data[newline - 1] == 13 else newline
        length = newline + 1 - pos
        # The common case inline: a framed line whose checksum matches (see _decode_line).
        if (
            end - pos >= CRC_SUFFIX_LENGTH
            and startswith(_FRAMED_TAIL, end - 2)
            and startswith(CRC_MARKER, end - CRC_SUFFIX_LENGTH)
            and startswith(b"%08x" % (crc32(view[pos : end - CRC_SUFFIX_LENGTH]) & mask), end - 10)
        ):
            try:
                obj = loads(view[pos:end])
            except orjson.JSONDecodeError as exc:
                kinds.append(LineKind.BAD)
                lines.append((number, pos, length, None, None, f"not JSON: {exc}"))
            else:
                seq = obj.pop("ss_seq", None) if type(obj) is dict else None
                if type(seq) is int:
                    kinds.append(end_kind if obj.pop("ss_end", False) is True else pending_kind)
                    del obj["ss_crc"]
                    lines.append((number, pos, length, obj, seq, ""))
                else:
                    kinds.append(LineKind.BAD)
                    lines.append((number, pos, length, None, None, "framed line without ss_seq"))
        elif end > pos and not data[pos:end].isspace():
            kind, obj, seq, reason = _decode_line(data, view, pos, end)
            kinds.append(kind)
            lines.append((number, pos, length, obj, seq, reason))
            if kind is LineKind.LEGACY and obj is not None:
                legacy_type = obj.get("type")
                if type(legacy_type) is str and legacy_type in entry_types:
                    legacy_known += 1
                    legacy_with_id += type(obj.get("id")) is str
                    if first_legacy is None:
                        first_legacy = (number, pos)
        pos = newline + 1
    if (
        prefix is None  # a trusted prefix is framed lines this package wrote
        and legacy_known
        and not legacy_with_id
        and LineKind.END not in kinds  # a file we wrote has framed lines: damage, not a format
        and LineKind.PENDING not in kinds
    ):
        assert first_legacy is not None
        raise ForeignFormatError(
            path,
            "opi-v1-without-ids" if header_model is SessionHeader else "journal-without-ids",
            f"{legacy_known} entries and none has an id (an older layout this package does "
            "not read or write; convert the file first)",
            line=first_legacy[0],
            offset=first_legacy[1],
        )

    # Pass 2: the pure classification decides each line's fate from the kinds alone.
    fates = classify_lines(tuple(kinds))
    damage: list[Damage] = []
    records: list[LogRecord] = []
    seen_ids: set[str] = set(prefix.ids) if prefix is not None else set()
    kept_bytes = size
    position = prefix.head if prefix is not None else 0
    seq_delta = 0
    committed = LineFate.COMMITTED
    for (number, offset, length, obj, seq, reason), fate in zip(lines, fates, strict=True):
        if fate is LineFate.UNCOMMITTED_TAIL:
            kept_bytes = min(kept_bytes, offset)
            damage.append(
                Damage(DamageKind.UNCOMMITTED_TAIL, number, offset, length, "no commit record")
            )
            continue
        position += 1
        if fate is LineFate.CORRUPT:
            damage.append(Damage(DamageKind.CORRUPT_ENTRY, number, offset, length, reason))
            continue
        if seq is not None and seq - position != seq_delta:
            # Report where lines went missing or were repeated, once per shift.
            seq_delta = seq - position
            damage.append(
                Damage(
                    DamageKind.SEQUENCE_GAP,
                    number,
                    offset,
                    length,
                    f"ss_seq is {seq} at entry position {position}",
                )
            )
        if fate is not committed:
            damage.append(
                Damage(
                    DamageKind.UNCOMMITTED_ENTRY,
                    number,
                    offset,
                    length,
                    "batch line without a commit record",
                )
            )
            continue
        assert obj is not None
        entry_type = obj.get("type")
        entry_id = obj.get("id")
        if (
            type(entry_type) is str  # a list or an object is not hashable (GEN-009)
            and entry_type in entry_types
            and type(entry_id) is str
            and entry_id not in seen_ids
        ):
            seen_ids.add(entry_id)
            records.append(LogRecord(position, number, offset, obj))
            continue
        if type(entry_type) is not str or type(entry_id) is not str:
            finding, detail = DamageKind.CORRUPT_ENTRY, "an entry needs a string type and id"
        elif entry_type not in entry_types:
            finding, detail = DamageKind.UNKNOWN_ENTRY, f"unknown entry type {entry_type!r}"
        else:
            finding = DamageKind.DUPLICATE_ID
            detail = f"entry id {entry_id!r} was used earlier; the first one is kept"
        damage.append(Damage(finding, number, offset, length, detail))
    if torn is not None:
        number, offset, length = torn
        kept_bytes = min(kept_bytes, offset)
        damage.append(Damage(DamageKind.TORN_TAIL, number, offset, length, "no final newline"))
    report = RecoveryReport(tuple(damage), size, kept_bytes)
    return LogSnapshot(header_obj, records, report, position, prefix)


#: Header ``type`` values of the formats this package knows, by the name it reports.
_HEADER_TYPES = {
    "session": "opi-session-v1",
    "sessionspec.realtime_journal": "sessionspec-realtime-journal",
}


def _raise_if_foreign_header(
    header: dict[str, Any], header_model: type[BaseModel], path: str
) -> None:
    """LOG-021: name the format of a first line that is another format's header."""
    kind = header.get("type")
    version = header.get("version")
    detected: str | None = None
    reason = "the first line is another format's header"
    if kind == "session" and (version == 2 or "runtime_input_binding" in header):
        detected, reason = "opi-session-v2", f"session version {version!r} is not supported"
    elif kind == "session" and type(version) is int and version >= 3:
        detected, reason = f"pi-session-v{version}", f"session version {version} is not supported"
    elif type(kind) is str and kind in _HEADER_TYPES:
        expected = header_model.model_fields.get("type")
        if expected is not None and expected.default != kind:
            detected = _HEADER_TYPES[kind]
    elif kind == "session_meta" or {"id", "timestamp", "instructions"} <= header.keys():
        detected = "codex-rollout"
    elif "leafUuid" in header or ("sessionId" in header and "uuid" in header):
        detected = "claude-code-transcript"
    if detected is not None:
        raise ForeignFormatError(path, detected, reason)


def _raise_if_foreign_document(data: bytes, path: str) -> None:
    """LOG-021: a whole-file JSON document (meerkat's session) instead of JSON lines."""
    if not data.lstrip().startswith(b"{"):
        return
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return
    if type(document) is dict and type(document.get("messages")) is list:
        raise ForeignFormatError(
            path, "json-session-document", "a whole-file JSON session, not JSON lines"
        )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "header"
    return f"{where}: {error['msg']}"


def _raise_if_damaged(path: str, report: RecoveryReport) -> None:
    for finding in report.damage:
        if finding.kind not in (DamageKind.TORN_TAIL, DamageKind.UNCOMMITTED_TAIL):
            detail = f"{finding.kind.value}: {finding.detail}"
            raise CorruptLogError(path, finding.line, finding.offset, detail)


def read_log(
    path: str,
    *,
    fs: FileSystem | None = None,
    header_model: type[BaseModel] = SessionHeader,
    entry_types: frozenset[str] = ENTRY_TYPES,
    strict: bool = False,
) -> LogSnapshot:
    """Read a log without locking or repairing it (LOG-007).

    With ``strict=True`` any finding other than crash residue (a torn or uncommitted tail)
    raises :class:`CorruptLogError` naming the first damaged line and its byte offset.
    """
    fs = fs or OsFileSystem()
    path = _check_path(path)
    _require_log_file(fs, path)
    try:
        data = fs.read_bytes(path)
    except FileNotFoundError as exc:
        raise LogNotFoundError(errno.ENOENT, "no log file", path) from exc
    except OSError as exc:
        raise LogAccessError(f"{path}: cannot read the log: {exc}") from exc
    snapshot = scan_log_bytes(data, path=path, header_model=header_model, entry_types=entry_types)
    if strict:
        _raise_if_damaged(path, snapshot.report)
    return snapshot


# -- writing ---------------------------------------------------------------------------


class JsonlLog:
    """A JSONL session log open for writing; the only writer of its file (LOG-011)."""

    def __init__(
        self,
        path: str,
        fs: FileSystem,
        handle: FileHandle,
        lock: FileLock,
        *,
        size: int,
        head: int,
        ids: Iterable[str],
        durability: Durability,
        entry_types: frozenset[str],
        snapshot: LogSnapshot | None,
    ) -> None:
        self.path = path
        self._fs = fs
        self._handle = handle
        self._lock = lock
        self._size = size
        self._head = head
        self._ids = set(ids)
        self._durability = durability
        self._entry_types = entry_types
        self._lifecycle: Lifecycle[LogState, LogEvent] = Lifecycle(LOG_TABLE)
        #: Serializes appends from threads sharing this writer (LOG-023).
        self._mutex = threading.Lock()
        #: What :meth:`open` read (``None`` after :meth:`create`). Drop it after replay.
        self.snapshot = snapshot

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str,
        header: Mapping[str, Any],
        *,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        header_model: type[BaseModel] = SessionHeader,
        entry_types: frozenset[str] = ENTRY_TYPES,
    ) -> JsonlLog:
        """Create a new log holding only ``header``; durable name and bytes (LOG-016).

        The header is written and fsynced under a temporary name in the same directory,
        which is locked and then linked to ``path`` (``link`` fails if ``path`` exists, so
        nothing is ever replaced), and the directory is fsynced. A reader, a racing
        :meth:`open` or a crash sees no file or the complete header, never an empty stub;
        on any failure the temporary name is removed and nothing stays behind.
        """
        fs = fs or OsFileSystem()
        path = _check_path(path)
        try:
            header_model.model_validate(header, strict=True)
        except ValidationError as exc:
            raise CallerError(f"invalid header: {_first_error(exc)}") from None
        _check_no_framing(header)
        try:
            body = orjson.dumps(dict(header))
        except TypeError as exc:
            raise CallerError(f"header is not JSON-serializable: {exc}") from exc
        directory = posixpath.dirname(path)
        ensure_directory(fs, directory)
        existing = _kind(fs, path)
        if existing == "file":
            raise SessionExistsError(f"{path}: a log already exists there")
        if existing != "missing":
            raise PathKindError(path, "a new session file", _KIND_NAMES[existing])
        temporary = posixpath.join(
            directory, f".{posixpath.basename(path)}.{os.urandom(8).hex()}.tmp"
        )
        line = frame_line(body, 0, True)
        handle: FileHandle | None = None
        lock: FileLock | None = None
        linked = False
        try:
            handle = fs.create_exclusive(temporary)
            lock = fs.lock(temporary)  # flock belongs to the file: it holds under `path` too
            handle.pwrite(line, 0)
            handle.fsync()
            try:
                fs.link(temporary, path)
            except FileExistsError as exc:
                raise SessionExistsError(f"{path}: a log already exists there") from exc
            linked = True
            fs.remove(temporary)
            fs.fsync_dir(directory)
        except Exception as exc:  # not a crash (BaseException): a dead process cleans nothing
            if handle is not None:
                handle.close()
            if lock is not None:
                lock.release()
            for leftover in (path, temporary) if linked else (temporary,):
                try:
                    if fs.kind(leftover) == "file":
                        fs.remove(leftover)
                except OSError:
                    pass
            if isinstance(exc, OSError | LogLockedError):
                raise LogCreateError(f"{path}: could not create the log: {exc}") from exc
            raise
        return cls(
            path,
            fs,
            handle,
            lock,
            size=len(line),
            head=0,
            ids=(),
            durability=durability,
            entry_types=entry_types,
            snapshot=None,
        )

    @classmethod
    def open(
        cls,
        path: str,
        *,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        header_model: type[BaseModel] = SessionHeader,
        entry_types: frozenset[str] = ENTRY_TYPES,
        trusted_prefix: TrustedPrefix | None = None,
    ) -> JsonlLog:
        """Open an existing log for writing: lock, read, cut a torn or uncommitted tail.

        With ``trusted_prefix`` whose digest matches the file's first bytes, only the lines
        after it are decoded and checked, and ``snapshot.records`` holds only those; a
        prefix that does not match is ignored (``snapshot.prefix`` is None) and the whole
        file is read (LOG-024)."""
        fs = fs or OsFileSystem()
        path = _check_path(path)
        _require_log_file(fs, path)
        try:
            lock = fs.lock(path)
        except FileNotFoundError as exc:
            raise LogNotFoundError(errno.ENOENT, "no log file", path) from exc
        except OSError as exc:
            raise LogAccessError(f"{path}: cannot open the log: {exc}") from exc
        try:
            handle = fs.open_rw(path)
        except OSError as exc:
            lock.release()
            raise LogAccessError(f"{path}: cannot open the log for writing: {exc}") from exc
        except BaseException:
            lock.release()
            raise
        try:
            data = handle.read_all()
            if trusted_prefix is not None and not prefix_matches(data, trusted_prefix):
                trusted_prefix = None
            snapshot = scan_log_bytes(
                data,
                path=path,
                header_model=header_model,
                entry_types=entry_types,
                prefix=trusted_prefix,
            )
            if snapshot.report.kept_bytes < len(data):
                # LOG-008: only crash residue is cut.
                handle.truncate(snapshot.report.kept_bytes)
            # LOG-020: what was just read may sit only in the page cache (a writer that
            # died, or whose fsync failed, left it there); make it durable before
            # anything is built on it, and make the cut durable too.
            handle.fsync()
        except OSError as exc:
            handle.close()
            lock.release()
            raise LogAccessError(f"{path}: cannot read or repair the log: {exc}") from exc
        except BaseException:
            handle.close()
            lock.release()
            raise
        return cls(
            path,
            fs,
            handle,
            lock,
            size=snapshot.report.kept_bytes,
            head=snapshot.head,
            ids=itertools.chain(
                trusted_prefix.ids if trusted_prefix is not None else (),
                (r.entry["id"] for r in snapshot.records),
            ),
            durability=durability,
            entry_types=entry_types,
            snapshot=snapshot,
        )

    # -- LogStore ---------------------------------------------------------------------------

    @property
    def head(self) -> int:
        return self._head

    @property
    def state(self) -> LogState:
        return self._lifecycle.state

    @property
    def durability(self) -> Durability:
        return self._durability

    @property
    def size(self) -> int:
        """Bytes in the file as this writer knows it."""
        return self._size

    def contains(self, entry_id: str) -> bool:
        return entry_id in self._ids

    def append(
        self, entries: Sequence[Mapping[str, Any]], *, expected_head: int | None = None
    ) -> int:
        """Append ``entries`` as one atomic batch; return the new head.

        One write and (under :attr:`Durability.SYNC`) one fsync (LOG-003, LOG-010).
        Raises :class:`HeadConflictError` (LOG-004), :class:`DuplicateEntryIdError`
        (LOG-013) or :class:`CallerError` for a bad batch, before touching the file;
        :class:`AppendFailedError` when the write failed and was cut back (LOG-005);
        :class:`LogFailedError` when the cut-back failed too (LOG-006).
        """
        with self._mutex:  # LOG-023: one append at a time, whatever the threads
            self._check_writable()
            if expected_head is not None and expected_head != self._head:
                raise HeadConflictError(expected_head, self._head)
            data, ids = self._encode_batch(entries)
            start = self._size
            self._check_own_bytes(start)
            try:
                self._handle.pwrite(data, start)
                if self._durability is Durability.SYNC:
                    self._handle.fsync()
            except OSError as exc:
                self._cut_back(start, exc)
                raise AppendFailedError(
                    f"{self.path}: append failed and was undone: {exc}"
                ) from exc
            self._size = start + len(data)
            self._head += len(entries)
            self._ids.update(ids)
            return self._head

    def close(self) -> None:
        """Release the lock and the file. Closing twice is harmless."""
        with self._mutex:
            if self._lifecycle.state is LogState.CLOSED:
                return
            self._handle.close()
            self._lock.release()
            self._lifecycle.commit(LogEvent.CLOSE)

    def __del__(self) -> None:
        # LOG-015: a writer dropped without close() must not keep its lock for the life of
        # the process. Warn as Python's own files do, then release.
        lifecycle = getattr(self, "_lifecycle", None)
        if lifecycle is None or lifecycle.state_name == LogState.CLOSED.value:
            return
        warnings.warn(
            f"unclosed session log {self.path!r}", ResourceWarning, stacklevel=2, source=self
        )
        try:
            self._handle.close()
        finally:
            self._lock.release()

    def __enter__(self) -> JsonlLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------

    def _check_writable(self) -> None:
        # The hot path: states the table lets append are known by name (Lifecycle.state
        # builds the enum by value); any other state goes to the table for its rejection.
        name = self._lifecycle.state_name
        if name in _APPENDABLE_STATES:
            return
        decision = LOG_TABLE.decide(LogState(name), LogEvent.APPEND)
        if isinstance(decision, LogState):
            return
        if decision.code == "failed":
            raise LogFailedError(f"{self.path}: the log failed earlier; open it again")
        raise IllegalTransitionError("log", decision.state, decision.event, decision.code)

    def _encode_batch(self, entries: Sequence[Mapping[str, Any]]) -> tuple[bytes, list[str]]:
        if (type(entries) is not list and isinstance(entries, Mapping)) or not entries:
            raise CallerError("a batch is a non-empty sequence of entry objects")
        ids: list[str] = []
        batch_ids: set[str] = set()
        lines: list[bytes] = []
        known = self._ids
        entry_types = self._entry_types
        first_seq = self._head + 1
        last = len(entries) - 1
        dumps = orjson.dumps
        for index, entry in enumerate(entries):
            # A plain dict is the common case; the ABC check is for other mappings.
            if type(entry) is not dict and not isinstance(entry, Mapping):
                raise CallerError(f"entry {index} is not a JSON object")
            entry_type, entry_id = entry.get("type"), entry.get("id")
            if not isinstance(entry_type, str) or entry_type not in entry_types:
                raise CallerError(f"entry {index}: unknown entry type {entry_type!r}")
            if not isinstance(entry_id, str) or not entry_id:
                raise CallerError(f"entry {index}: an entry needs a non-empty string id")
            if entry_id in known or entry_id in batch_ids:
                raise DuplicateEntryIdError(entry_id)
            if "ss_seq" in entry or "ss_end" in entry or "ss_crc" in entry:
                _check_no_framing(entry)  # FRAMING_FIELDS
            try:
                body = dumps(entry if isinstance(entry, dict) else dict(entry))
            except TypeError as exc:
                raise CallerError(f"entry {entry_id!r} is not JSON-serializable: {exc}") from exc
            batch_ids.add(entry_id)
            ids.append(entry_id)
            lines.append(frame_line(body, first_seq + index, index == last))
        return b"".join(lines), ids

    def _check_own_bytes(self, size: int) -> None:
        """LOG-022: the file must hold exactly the bytes this writer wrote, under its name.
        Another process that appended without the lock (a plain ``>>``), cut the file, or
        replaced or removed it is detected here, before anything is written, and the log
        refuses every further write: the foreign bytes are neither overwritten nor cut, and
        no acknowledged batch goes to a file that no longer has the log's name."""
        try:
            actual = self._handle.named_size(self.path)
        except OSError as exc:
            actual = -1
            cause: str = f"it cannot be looked at ({exc})"
        else:
            cause = f"it has {actual} bytes, this writer wrote {size}"
            if actual is None:
                cause = "its name now names another file, or nothing (replaced or removed)"
        if actual != size:
            self._lifecycle.commit(LogEvent.CUT_BACK_FAILED)
            raise ForeignWriteError(
                f"{self.path}: the file changed under this writer: {cause}; nothing was "
                "written, and the log refuses writes until it is opened again"
            )

    def _cut_back(self, start: int, cause: OSError) -> None:
        """Restore the file to ``start`` bytes, durably; on failure enter ``failed``."""
        try:
            self._handle.truncate(start)
            if self._durability is Durability.SYNC:
                self._handle.fsync()
        except OSError as exc:
            self._lifecycle.commit(LogEvent.CUT_BACK_FAILED)
            raise LogFailedError(
                f"{self.path}: append failed ({cause}) and the cut-back failed ({exc}); "
                "the log refuses writes until it is opened again"
            ) from exc


def _check_no_framing(obj: Mapping[str, Any]) -> None:
    for name in FRAMING_FIELDS:
        if name in obj:
            raise CallerError(f"field {name!r} is reserved for the log's framing")
