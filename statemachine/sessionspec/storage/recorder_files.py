"""Recorded sessions as files: one JSON file per session segment (REC-060..REC-063).

Rules
-----
* ``{directory}/{key}.json`` holds one session in phi-core's JSON form (REC-060), where the
  key is the session id (``id~N`` for a later segment, REC-013), validated as a safe file
  name (LOG-012).
* Saving is atomic and serialized (REC-061): an exclusive ``flock`` on the sidecar
  ``{key}.json.lock`` (retried every 50 ms up to ``lock_timeout``, then
  :class:`SessionLockedError`), a temporary ``{key}.json.tmp.{pid}.{n}`` written and fsynced,
  renamed onto the target, the directory fsynced. On any failure the temporary file is
  removed and the previous file is untouched. The lock file stays, as in phi-core (removing
  it would let two writers lock two different files).
* Reading takes no lock: a rename replaces the file whole, so a reader sees the old or the
  new file, never a part (REC-061).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from sessionspec.errors import (
    BadSessionFileError,
    CallerError,
    SessionLockedError,
    SessionNotFoundError,
)
from sessionspec.runtime.recorder.model import RecordedSession
from sessionspec.storage.atomic import fsync_directory, write_atomically
from sessionspec.storage.jsonl import validate_session_id

__all__ = ["SessionFiles"]

_SUFFIX = ".json"
_counter = itertools.count()


class SessionFiles:
    """A directory of saved sessions (phi-core's ``FileSystemSessionStore``, made safe)."""

    def __init__(self, directory: str | os.PathLike[str], *, lock_timeout: float = 5.0) -> None:
        self.directory = os.fspath(directory)
        self.lock_timeout = lock_timeout

    def path(self, key: str) -> str:
        return os.path.join(self.directory, validate_session_id(key) + _SUFFIX)

    # -- writing ---------------------------------------------------------------------------------

    def save(self, session: RecordedSession) -> str:
        """Write ``session`` atomically under its key; return the path (REC-061)."""
        if not isinstance(session, RecordedSession):
            raise CallerError(
                f"save takes a RecordedSession, not {type(session).__name__}"
            )
        key = session.storage_key
        target = self.path(key)
        data = orjson.dumps(session.to_json(), option=orjson.OPT_INDENT_2)
        os.makedirs(self.directory, exist_ok=True)
        with self._locked(key):
            temporary = f"{target}.tmp.{os.getpid()}.{next(_counter)}"
            write_atomically(
                target, data, temporary=temporary, exclusive=True, tolerate_refused_dir_fsync=True
            )
        return target

    def delete(self, key: str) -> None:
        """Remove a saved session (:class:`SessionNotFoundError` when absent, REC-062)."""
        target = self.path(key)
        with self._locked(key):
            try:
                os.remove(target)
            except FileNotFoundError:
                raise SessionNotFoundError(key) from None
            fsync_directory(self.directory, tolerate_refusal=True)

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        lock_path = self.path(key) + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SessionLockedError(key) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------------------------

    def load(self, key: str) -> RecordedSession:
        """The saved session (REC-062, REC-063)."""
        target = self.path(key)
        try:
            with open(target, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise SessionNotFoundError(key) from None
        try:
            data: Any = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadSessionFileError(f"{target}: not JSON: {exc}") from None
        try:
            return RecordedSession.from_json(data)
        except BadSessionFileError as exc:
            raise BadSessionFileError(f"{target}: {exc}") from None

    def list_ids(self) -> list[str]:
        """Saved keys, newest first by modification time, then by name (REC-062)."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        found: list[tuple[int, str]] = []
        for name in names:
            if not name.endswith(_SUFFIX) or name.startswith("."):
                continue
            key = name[: -len(_SUFFIX)]
            try:
                validate_session_id(key)
                mtime = os.stat(os.path.join(self.directory, name)).st_mtime_ns
            except (OSError, ValueError):
                continue
            found.append((mtime, key))
        found.sort(key=lambda item: (-item[0], item[1]))
        return [key for _, key in found]

    def list_for_agent(self, agent_id: str) -> list[RecordedSession]:
        """Every saved session of ``agent_id``, newest first."""
        sessions = []
        for key in self.list_ids():
            try:
                session = self.load(key)
            except SessionNotFoundError:
                continue  # deleted between the listing and the read
            if session.agent_id == agent_id:
                sessions.append(session)
        return sessions
