"""Content-addressed blob stores (spec/SPEC.md §6.5, CONV-062).

Rules
-----
* A blob's id is ``sha256:<64 lower-case hex>`` of its bytes: storing the same bytes twice
  is one blob, and a blob can always be checked against its id.
* ``put(data) -> id``; ``get(id) -> bytes`` (:class:`~sessionspec.errors.BlobNotFoundError`
  when unknown, :class:`~sessionspec.errors.BlobStoreError` when the stored bytes no longer
  hash to the id); ``exists(id)``; ``delete(id) -> bool`` (true iff it deleted). A string
  that is not a blob id is a ``CallerError``.
* The file store writes ``<dir>/<first two hex digits>/<hex>`` under a temporary name,
  fsyncs it, renames it into place and fsyncs the directory: a crash leaves no blob or the
  whole blob, never a part under the real name.

Theory of operation: nothing is locked. Two writers of the same blob write the same bytes
and the last rename wins with identical content; a reader sees the old name or the new one.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from sessionspec.errors import BlobNotFoundError, BlobStoreError, CallerError
from sessionspec.storage.atomic import write_atomically

__all__ = ["BlobStore", "FileBlobStore", "MemoryBlobStore", "blob_id_of"]

_BLOB_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def blob_id_of(data: bytes) -> str:
    """The id of ``data``: ``sha256:`` and the hex digest."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _checked_id(blob_id: object) -> str:
    if not isinstance(blob_id, str) or not _BLOB_ID.match(blob_id):
        raise CallerError(f"not a blob id (sha256:<64 hex digits>): {blob_id!r}")
    return blob_id


def _checked_data(data: object) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CallerError(f"blob data must be bytes, not {type(data).__name__}")
    return bytes(data)


@runtime_checkable
class BlobStore(Protocol):
    """What :meth:`Conversation.externalize_media` needs from a store (CONV-062)."""

    def put(self, data: bytes) -> str: ...

    def get(self, blob_id: str) -> bytes: ...

    def exists(self, blob_id: str) -> bool: ...

    def delete(self, blob_id: str) -> bool: ...


class MemoryBlobStore:
    """Blobs in a dict (tests and ephemeral sessions)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        data = _checked_data(data)
        blob_id = blob_id_of(data)
        with self._lock:
            self._blobs[blob_id] = data
        return blob_id

    def get(self, blob_id: str) -> bytes:
        blob_id = _checked_id(blob_id)
        with self._lock:
            data = self._blobs.get(blob_id)
        if data is None:
            raise BlobNotFoundError(f"no blob {blob_id}")
        return data

    def exists(self, blob_id: str) -> bool:
        blob_id = _checked_id(blob_id)
        with self._lock:
            return blob_id in self._blobs

    def delete(self, blob_id: str) -> bool:
        blob_id = _checked_id(blob_id)
        with self._lock:
            return self._blobs.pop(blob_id, None) is not None


class FileBlobStore:
    """Blobs as files under a directory, written atomically (CONV-062)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _path(self, blob_id: str) -> Path:
        digest = _checked_id(blob_id)[len("sha256:") :]
        return self.directory / digest[:2] / digest

    def put(self, data: bytes) -> str:
        data = _checked_data(data)
        blob_id = blob_id_of(data)
        path = self._path(blob_id)
        if path.exists():
            return blob_id
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(exist_ok=True)
            write_atomically(path, data, temporary=temporary)
        except OSError as exc:
            raise BlobStoreError(f"cannot store blob {blob_id}: {exc}") from exc
        return blob_id

    def get(self, blob_id: str) -> bytes:
        path = self._path(blob_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {blob_id}") from None
        except OSError as exc:
            raise BlobStoreError(f"cannot read blob {blob_id}: {exc}") from exc
        if blob_id_of(data) != blob_id:
            raise BlobStoreError(f"blob {blob_id} is damaged: its bytes hash to another id")
        return data

    def exists(self, blob_id: str) -> bool:
        return self._path(blob_id).is_file()

    def delete(self, blob_id: str) -> bool:
        path = self._path(blob_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise BlobStoreError(f"cannot delete blob {blob_id}: {exc}") from exc
        return True
