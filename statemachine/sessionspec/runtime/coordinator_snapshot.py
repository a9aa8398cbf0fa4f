"""Resume a coordinator from a snapshot of its log at a position (spec §7.4, STATE-040..043).

A snapshot is a file next to the session: the header, the position it covers (a number of
committed records), a fingerprint of the last record it covers, and the *reduced* prefix:
the entries of the log up to that position that can still decide anything. Resuming with
it replays the reduced prefix and then only the records after the position; the result is
the coordinator a full replay gives (STATE-041). A snapshot that is damaged, names another
session, or no longer matches the log (the log was cut back, rewritten, or is shorter) is
ignored and the whole log is replayed, with a diagnostic saying why (STATE-042).

Two forms of reduction (STATE-040), each keeping only what the replay of the runtime
(:mod:`sessionspec.runtime.coordinator.replay`) can still read:

* *Compact* (used when the prefix is plain: one active branch with figures, no dangling
  leaf, no cycle, no repeated id): the active branch from the first entry its last
  compaction keeps, plus the deciding leaves below. Resuming with it requires that the
  log after the snapshot refers only to entries it kept (or to later ones) and repeats no
  id it may have left out (an id whose number is not above the highest in the prefix);
  otherwise the whole log is replayed, with a ``branch`` diagnostic.
* *Full*: every message and compaction entry, in file order, plus the deciding leaves.

The deciding leaves: the last leaf whose target is a content entry of the prefix and
every leaf after it (a leaf before it is never reached: the last-leaf-wins walk stops at
it), or all leaves if none is valid; the last leaf carrying the accounting figures and
every entry after it; the entry with the highest numeric id suffix (the next id
continues after it). Reduced entries are a subsequence of the log in its order.

Speed (STATE-043). Reading and checking the log's lines is about four fifths of a resume,
so the snapshot also names the log's bytes it covers as a :class:`TrustedPrefix` (length,
SHA-256, head, ids; up to the last batch end at or before the position, when no damage
lies in it). Opening with it hashes the prefix instead of decoding it and decodes only the
tail (LOG-024); a log whose first bytes changed fails the digest, is read whole, and the
snapshot is not used (``stale``): its entries may no longer be what the log holds.

Theory of operation: this module only *reads* the coordinator's replay and constructor
(it builds the coordinator as ``SessionCoordinator.open_existing`` does) and never
changes the log; ``tests/state/test_state_snapshot.py`` holds the two resumes equal over
random sessions (coordinator-written, opi-style without figures, with foreign entries)
and random snapshot points.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sessionspec.collector import collector_paused
from sessionspec.compaction import CompactionConfig, Summarizer
from sessionspec.errors import CallerError, StorageError
from sessionspec.pricing import PricingTable
from sessionspec.redaction import RedactionPolicy
from sessionspec.reference.coordinator import ACCOUNTING_FIELD, NO_TIP, Figures
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.runtime.coordinator.replay import replay, select_active_branch
from sessionspec.storage.atomic import write_atomically
from sessionspec.storage.files import FileSystem, OsFileSystem
from sessionspec.storage.framing import CRC_SUFFIX_LENGTH
from sessionspec.storage.jsonl import (
    JsonlLog,
    prefix_digest,
    scan_log_bytes,
)
from sessionspec.storage.log import Durability, LogRecord, LogSnapshot, TrustedPrefix

__all__ = [
    "SnapshotResume",
    "open_with_snapshot",
    "reduce_entries",
    "reduce_to_branch",
    "write_snapshot",
]

_FORMAT = "sessionspec-coordinator-snapshot"
_VERSION = 1
_CONTENT = frozenset({"message", "compaction"})


def _fingerprint(entry: Mapping[str, Any]) -> str:
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _id_suffix(entry: Mapping[str, Any]) -> int:
    entry_id = entry.get("id")
    if type(entry_id) is str:
        _, dash, suffix = entry_id.partition("-")
        if dash and suffix.isdigit() and suffix.isascii():
            return int(suffix)
    return -1


def reduce_entries(entries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries of a log prefix that can still decide a replay (STATE-040, full form)."""
    content_ids = {str(e.get("id")) for e in entries if e.get("type") in _CONTENT}
    keep = [e.get("type") in _CONTENT for e in entries]
    _keep_deciding_leaves(entries, keep, content_ids)
    return [e for e, kept in zip(entries, keep, strict=True) if kept]


def _keep_deciding_leaves(
    entries: Sequence[Mapping[str, Any]], keep: list[bool], content_ids: set[str]
) -> None:
    """Mark the leaves, the figures and the id that a replay can still read."""
    leaves = [
        i for i, e in enumerate(entries) if e.get("type") == "leaf" and e.get("entry_id") != NO_TIP
    ]
    valid = [i for i in leaves if entries[i].get("entry_id") in content_ids]
    first_leaf = valid[-1] if valid else (leaves[0] if leaves else len(entries))
    for index in leaves:
        if index >= first_leaf:
            keep[index] = True
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if (
            entry.get("type") == "leaf"
            and ACCOUNTING_FIELD in entry
            and Figures.from_json(entry[ACCOUNTING_FIELD]) is not None
        ):
            for later in range(index, len(entries)):
                keep[later] = True
            break
    if entries:
        highest = max(range(len(entries)), key=lambda i: _id_suffix(entries[i]))
        keep[highest] = True


def reduce_to_branch(entries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]] | None:
    """The compact form (STATE-040): only the active branch from the first entry its last
    compaction keeps, plus what :func:`reduce_entries` keeps besides content. None when the
    prefix is not a plain case (a cycle, dangling leaves, no leaf, no figures, a missing
    first kept entry, repeated ids): then the full form is used."""
    branch = select_active_branch(entries)
    content = [e for e in entries if e.get("type") in _CONTENT]
    content_ids = [str(e.get("id")) for e in content]
    has_figures = any(e.get("type") == "leaf" and ACCOUNTING_FIELD in e for e in entries)
    if (
        branch.cycle
        or branch.dangling_leaves
        or branch.legacy_order
        or not branch.chain
        or not has_figures
        or len(set(content_ids)) != len(content_ids)
    ):
        return None
    chain = branch.chain
    start = 0
    for position in range(len(chain) - 1, -1, -1):
        if chain[position].get("type") == "compaction":
            first_kept = chain[position].get("first_kept_entry_id")
            found = [i for i in range(position) if chain[i].get("id") == first_kept]
            if not found:
                return None
            start = found[0]
            break
    kept_ids = {str(e.get("id")) for e in chain[start:]}
    keep = [e.get("type") in _CONTENT and str(e.get("id")) in kept_ids for e in entries]
    _keep_deciding_leaves(entries, keep, set(content_ids))
    return [e for e, kept in zip(entries, keep, strict=True) if kept]


def _tail_stays_inside(
    reduced: Sequence[Mapping[str, Any]], tail: Sequence[Mapping[str, Any]], highest: int
) -> str | None:
    """Why the compact form cannot serve ``tail`` (it names what the snapshot left out)."""
    known = {str(e.get("id")) for e in reduced} | {str(e.get("id")) for e in tail}
    for entry in tail:
        if _id_suffix(entry) <= highest and entry.get("type") in _CONTENT:
            return f"branch: entry {entry.get('id')!r} may repeat an id the snapshot left out"
        for field in ("parent_id", "entry_id", "first_kept_entry_id"):
            target = entry.get(field)
            if isinstance(target, str) and target != NO_TIP and target not in known:
                return f"branch: entry {entry.get('id')!r} refers to {target!r}, left out"
    return None


def write_snapshot(
    path: str | os.PathLike[str],
    snapshot_path: str | os.PathLike[str],
    position: int | None = None,
    *,
    fs: FileSystem | None = None,
) -> int:
    """Write the snapshot of the log at ``path`` after ``position`` records (default: all).

    Written to a temporary file, fsynced, renamed into place, directory fsynced. Returns
    the position covered."""
    fs = fs or OsFileSystem()
    source = os.fspath(path)
    try:
        data = fs.read_bytes(source)
    except OSError as exc:
        raise StorageError(f"{source}: cannot read the log: {exc}") from exc
    snapshot = scan_log_bytes(data, path=source)
    records = snapshot.records
    if position is None:
        position = len(records)
    if isinstance(position, bool) or not isinstance(position, int):
        raise CallerError(f"position must be an integer, not {position!r}")
    if not 0 <= position <= len(records):
        raise CallerError(f"position {position} is outside the log (0..{len(records)})")
    prefix = [r.entry for r in records[:position]]
    compact = reduce_to_branch(prefix)
    body = {
        "format": _FORMAT,
        "version": _VERSION,
        "header": snapshot.header,
        "position": position,
        "last_record": _fingerprint(prefix[-1]) if prefix else None,
        "compact": compact is not None,
        "highest_suffix": max((_id_suffix(e) for e in prefix), default=-1),
        "entries": compact if compact is not None else reduce_entries(prefix),
        "prefix": _trusted_prefix(data, snapshot, position),
    }
    text = orjson.dumps(body)
    document = {"digest": "sha256:" + hashlib.sha256(text).hexdigest(), "body": body}
    payload = orjson.dumps(document)
    target = os.fspath(snapshot_path)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        write_atomically(target, payload, temporary=temporary)
    except OSError as exc:
        raise StorageError(f"{target}: cannot write the snapshot: {exc}") from exc
    return position


_BATCH_END = b',"ss_end":true' + b"x" * CRC_SUFFIX_LENGTH


def _trusted_prefix(data: bytes, snapshot: LogSnapshot, position: int) -> dict[str, Any] | None:
    """The log bytes up to the last batch end among the first ``position`` records, as the
    JSON of a :class:`TrustedPrefix` (LOG-024, STATE-043); None if damage lies in them."""
    records = snapshot.records
    first_damage = min((d.offset for d in snapshot.report.damage), default=len(data))
    end = data.find(b"\n") + 1  # the header line: a prefix of no records
    head = 0
    for index in range(position - 1, -1, -1):
        record = records[index]
        line_end = data.find(b"\n", record.offset) + 1
        line = data[record.offset : line_end].rstrip(b"\r\n")
        if line[-len(_BATCH_END) : -CRC_SUFFIX_LENGTH] == _BATCH_END[:-CRC_SUFFIX_LENGTH]:
            end, head = line_end, index + 1
            break
    if end <= 0 or end > first_damage or any(r.seq != i + 1 for i, r in enumerate(records[:head])):
        return None
    return {
        "length": end,
        "digest": prefix_digest(memoryview(data)[:end]),
        "head": head,
        "ids": [r.entry["id"] for r in records[:head]],
    }


def _prefix_of(body: Mapping[str, Any]) -> TrustedPrefix | None:
    raw = body.get("prefix")
    if not isinstance(raw, dict):
        return None
    length, digest, head, ids = (raw.get(k) for k in ("length", "digest", "head", "ids"))
    if (
        type(length) is not int
        or type(digest) is not str
        or type(head) is not int
        or type(ids) is not list
        or len(ids) != head
        or not all(type(i) is str for i in ids)
    ):
        return None
    return TrustedPrefix(length, digest, head, tuple(ids))


@dataclass(frozen=True, slots=True)
class SnapshotResume:
    """How a resume used its snapshot: ``used`` and the records replayed, or why not."""

    used: bool
    position: int
    replayed_records: int
    #: None when the snapshot was used; else ``missing``, ``damaged``, ``foreign``,
    #: ``stale`` or ``branch`` (the log after it leaves the branch it kept) and the reason.
    diagnostic: str | None = None
    #: Records whose log lines were trusted by the snapshot's digest instead of decoded
    #: (STATE-043, LOG-024); 0 when the whole log was read.
    trusted_records: int = 0


def _load(snapshot_path: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        with open(snapshot_path, "rb") as handle:
            document = orjson.loads(handle.read())
    except FileNotFoundError:
        return None, "missing: no snapshot file"
    except (OSError, ValueError) as exc:
        return None, f"damaged: the snapshot does not parse ({exc})"
    body = document.get("body") if isinstance(document, dict) else None
    if not isinstance(body, dict):
        return None, "damaged: no snapshot body"
    digest = document.get("digest")
    # The body as written (orjson); the standard library's spelling is accepted too, so a
    # tool that rewrites the snapshot with json.dumps(separators=(",", ":")) keeps it valid.
    if digest != "sha256:" + hashlib.sha256(orjson.dumps(body)).hexdigest():
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        if digest != "sha256:" + hashlib.sha256(text.encode()).hexdigest():
            return None, "damaged: the snapshot does not match its digest"
    if body.get("format") != _FORMAT or body.get("version") != _VERSION:
        return None, "damaged: not a coordinator snapshot of this version"
    return body, None


def _check(
    body: Mapping[str, Any], header: Mapping[str, Any], records: Sequence[LogRecord], skipped: int
) -> str | None:
    """Why the snapshot does not fit the log, whose first ``skipped`` records were trusted
    by their digest (LOG-024) and are not in ``records``."""
    if body.get("header") != dict(header):
        return "foreign: the snapshot belongs to another session header"
    position = body.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        return "damaged: no position"
    total = skipped + len(records)
    if position > total:
        return f"stale: it covers {position} records, the log has {total}"
    if position > skipped:
        actual = _fingerprint(records[position - skipped - 1].entry)
        if body.get("last_record") != actual:
            return f"stale: record {position} is not the one the snapshot covered"
    elif position < skipped:  # pragma: no cover - a prefix never passes its position
        return "damaged: the trusted prefix passes the position"
    elif position == 0 and body.get("last_record") is not None:
        return f"stale: record {position} is not the one the snapshot covered"
    if not isinstance(body.get("entries"), list):
        return "damaged: no entries"
    return None


def open_with_snapshot(
    path: str | os.PathLike[str],
    snapshot_path: str | os.PathLike[str],
    compaction_config: CompactionConfig | None = None,
    model: str = "",
    *,
    fs: FileSystem | None = None,
    durability: Durability = Durability.SYNC,
    redaction: RedactionPolicy | None = None,
    pricing: PricingTable | None = None,
    summarizer: Summarizer | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[SessionCoordinator, SnapshotResume]:
    """Open a session for writing, replaying the snapshot and the log after it (STATE-041).

    Falls back to the whole log, with the reason in the returned :class:`SnapshotResume`,
    when the snapshot is missing, damaged, foreign or stale (STATE-042)."""
    fs = fs or OsFileSystem()
    with collector_paused():
        body, problem = _load(os.fspath(snapshot_path))
        trusted = _prefix_of(body) if body is not None else None
        while True:
            log = JsonlLog.open(
                os.fspath(path), fs=fs, durability=durability, trusted_prefix=trusted
            )
            try:
                snapshot = log.snapshot
                if snapshot is None:  # pragma: no cover - open always sets it
                    raise StorageError(f"{path}: the log returned no snapshot")
                records = snapshot.records
                skipped = snapshot.prefix.head if snapshot.prefix is not None else 0
                if body is not None:
                    problem = _check(body, snapshot.header, records, skipped)
                if problem is None and trusted is not None and snapshot.prefix is None:
                    # STATE-043: the bytes below the snapshot changed (damage, a rewrite):
                    # its entries may no longer be what the log says; replay the log.
                    problem = (
                        f"stale: the log's first {trusted.length} bytes are not the ones "
                        "the snapshot covered (their SHA-256 differs)"
                    )
                if body is not None and problem is None:
                    position = int(body["position"])
                    tail = [r.entry for r in records[position - skipped :]]
                    if body.get("compact") is True:
                        problem = _tail_stays_inside(
                            body["entries"], tail, int(body.get("highest_suffix", -1))
                        )
                if body is not None and problem is None:
                    entries = [*body["entries"], *tail]
                    outcome = SnapshotResume(True, position, len(tail), None, skipped)
                elif skipped:
                    # The prefix matched but the snapshot cannot serve this tail (a branch
                    # it left out): the whole log is needed, so read it whole.
                    log.close()
                    trusted = None
                    continue
                else:
                    entries = [r.entry for r in records]
                    outcome = SnapshotResume(False, 0, len(records), problem)
                replayed = replay(entries, snapshot.report)
                header = snapshot.header
            except BaseException:
                log.close()
                raise
            log.snapshot = None
            break
    coordinator = SessionCoordinator(
        log=log,
        fs=fs,
        header=header,
        memory=replayed.memory,
        report=replayed.report,
        config=compaction_config or CompactionConfig(),
        model=model,
        redaction=redaction or RedactionPolicy(),
        pricing=pricing,
        summarizer=summarizer,
        clock=clock,
    )
    return coordinator, outcome
