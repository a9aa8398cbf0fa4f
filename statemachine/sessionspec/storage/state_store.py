"""State stores: one persisted session state per session, under an integer head revision
that every commit compares and swaps (spec/SPEC.md §7.2, STATE-010..STATE-014).

Rules
-----
* ``commit(session_id, state, expected_head_revision)`` stores ``state`` (a JSON object) as
  head ``expected + 1`` iff the stored head is ``expected`` (0: nothing stored yet);
  otherwise :class:`~sessionspec.errors.HeadRevisionConflict` and nothing is written
  (STATE-010). Tokens are integers, never times.
* The file store (STATE-011) keeps ``<dir>/<session_id>.state.json``. A commit takes an
  exclusive ``flock`` on ``<session_id>.state.lock`` (and, inside one process, a lock per
  session, since threads share nothing else), reads the head, writes the new file under a
  temporary name, fsyncs it, renames it over the old one and fsyncs the directory, then
  releases the lock. A crash leaves the old state or the new one; readers never lock, as a
  rename is atomic.
* The interface (STATE-014) carries only JSON objects and integers: a SQL backend is one
  row per session, ``UPDATE ... SET state = ?, head_revision = head_revision + 1 WHERE
  session_id = ? AND head_revision = ?`` (and an ``INSERT`` for head 0), with the row count
  telling success from conflict.

Theory of operation: the lock serializes writers of one session across processes and threads;
the compare happens under it, so of several writers holding the same expected head exactly
one finds it current (STATE-012).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from sessionspec.errors import CallerError, HeadRevisionConflict, StateStoreError
from sessionspec.storage.atomic import write_atomically
from sessionspec.storage.jsonl import validate_session_id

__all__ = [
    "FileStateStore",
    "MemoryStateStore",
    "StateStore",
    "StoredState",
    "expected_head",
    "state_object",
]

_FORMAT = "sessionspec-state"
_VERSION = 1
_SUFFIX = ".state.json"


@dataclass(frozen=True, slots=True)
class StoredState:
    """What a store holds for one session: its head revision and its state object."""

    session_id: str
    head_revision: int
    state: dict[str, Any]


@runtime_checkable
class StateStore(Protocol):
    """The interface every state store implements (STATE-014)."""

    def load(self, session_id: str) -> StoredState | None:
        """The stored state, or None when nothing was committed for ``session_id``."""
        ...

    def commit(
        self, session_id: str, state: Mapping[str, Any], expected_head_revision: int
    ) -> int:
        """Store ``state`` iff the head is ``expected_head_revision``; the new head."""
        ...

    def sessions(self) -> list[str]:
        """The ids of every stored session, sorted."""
        ...


def expected_head(value: Any) -> int:
    """``expected_head_revision`` checked: an integer >= 0 (STATE-010); every store uses it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CallerError(f"expected_head_revision must be an integer >= 0, not {value!r}")
    return value


def state_object(state: Any) -> dict[str, Any]:
    """A deep copy of ``state`` as plain JSON, or :class:`CallerError` (STATE-014)."""
    if not isinstance(state, Mapping):
        raise CallerError(f"a state must be a JSON object, not {type(state).__name__}")
    try:
        copied: dict[str, Any] = json.loads(json.dumps(dict(state), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise CallerError(f"a state must be JSON: {exc}") from None
    return copied


class MemoryStateStore:
    """A state store in memory (tests, and the model the other stores must agree with)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heads: dict[str, tuple[int, dict[str, Any]]] = {}

    def load(self, session_id: str) -> StoredState | None:
        with self._lock:
            held = self._heads.get(session_id)
        if held is None:
            return None
        return StoredState(session_id, held[0], json.loads(json.dumps(held[1])))

    def commit(
        self, session_id: str, state: Mapping[str, Any], expected_head_revision: int
    ) -> int:
        validate_session_id(session_id)
        expected = expected_head(expected_head_revision)
        copied = state_object(state)
        with self._lock:
            actual = self._heads.get(session_id, (0, {}))[0]
            if actual != expected:
                raise HeadRevisionConflict(session_id, expected, actual)
            self._heads[session_id] = (expected + 1, copied)
        return expected + 1

    def sessions(self) -> list[str]:
        with self._lock:
            return sorted(self._heads)


class FileStateStore:
    """One JSON file per session in a directory, committed atomically under a lock."""

    _process_locks: ClassVar[dict[str, threading.Lock]] = {}
    _process_locks_guard = threading.Lock()

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, session_id: str) -> Path:
        validate_session_id(session_id)
        return self.directory / f"{session_id}{_SUFFIX}"

    def _thread_lock(self, path: Path) -> threading.Lock:
        key = str(path.resolve())
        with self._process_locks_guard:
            lock = self._process_locks.get(key)
            if lock is None:
                lock = self._process_locks[key] = threading.Lock()
            return lock

    def load(self, session_id: str) -> StoredState | None:
        path = self._path(session_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateStoreError(f"{path}: cannot read: {exc}") from exc
        return self._parse(path, session_id, data)

    @staticmethod
    def _parse(path: Path, session_id: str, data: bytes) -> StoredState:
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise StateStoreError(f"{path}: not JSON: {exc}") from None
        if (
            not isinstance(document, dict)
            or document.get("format") != _FORMAT
            or document.get("version") != _VERSION
        ):
            raise StateStoreError(f"{path}: not a sessionspec state file (version {_VERSION})")
        head = document.get("head_revision")
        state = document.get("state")
        if isinstance(head, bool) or not isinstance(head, int) or head < 1:
            raise StateStoreError(f"{path}: bad head_revision {head!r}")
        if document.get("session_id") != session_id or not isinstance(state, dict):
            raise StateStoreError(f"{path}: the file belongs to another session or has no state")
        return StoredState(session_id, head, state)

    def commit(
        self, session_id: str, state: Mapping[str, Any], expected_head_revision: int
    ) -> int:
        path = self._path(session_id)
        expected = expected_head(expected_head_revision)
        copied = state_object(state)
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "session_id": session_id,
            "head_revision": expected + 1,
            "state": copied,
        }
        payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        lock_path = self.directory / f"{session_id}.state.lock"
        with self._thread_lock(path):
            try:
                lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StateStoreError(f"{lock_path}: cannot open the lock: {exc}") from exc
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                current = self.load(session_id)
                actual = 0 if current is None else current.head_revision
                if actual != expected:
                    raise HeadRevisionConflict(session_id, expected, actual)
                self._write_atomically(path, payload)
            finally:
                os.close(lock_fd)  # closing releases the flock
        return expected + 1

    def _write_atomically(self, path: Path, payload: bytes) -> None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            write_atomically(path, payload, temporary=temporary)
        except OSError as exc:
            raise StateStoreError(f"{path}: commit failed: {exc}") from exc

    def sessions(self) -> list[str]:
        return sorted(
            p.name[: -len(_SUFFIX)] for p in self.directory.glob(f"*{_SUFFIX}")
            if not p.name.startswith(".")
        )
