"""The file layer: the only place where sessionspec touches the operating system.

Every durable component (the JSONL log, the realtime journal, forks) does its I/O through
:class:`FileSystem`, so tests can swap in :class:`~sessionspec.storage.simfs.SimulatedFileSystem`
to crash and inject faults at every step (LOG-014). :class:`OsFileSystem` is the real one.

The operations are the ones crash consistency needs and no more: create a file exclusively,
write at an offset, fsync, truncate, fsync a directory (a new name is durable only after
that, fsync(2)), rename (atomic replace), link (an atomic rename that never replaces: how a
new log appears under its name complete or not at all, LOG-016), the kind of a path (so
that a directory or a FIFO is refused before it is opened, GEN-009), and an exclusive
advisory lock. Every open is non-blocking and checks that it opened a regular file:
opening a FIFO never waits for a writer.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from typing import Literal, Protocol

from sessionspec.errors import LogLockedError

__all__ = ["FileHandle", "FileKind", "FileLock", "FileSystem", "OsFileSystem"]

#: What a path names: a regular file, a directory, something else (a FIFO, a socket, a
#: device), or nothing.
FileKind = Literal["file", "directory", "other", "missing"]


class FileHandle(Protocol):
    """An open file, read-write, positioned by explicit offsets."""

    def size(self) -> int: ...

    def pwrite(self, data: bytes, offset: int) -> None:
        """Write all of ``data`` at ``offset`` or raise ``OSError`` (maybe after a prefix)."""
        ...

    def fsync(self) -> None: ...

    def truncate(self, size: int) -> None: ...

    def read_all(self) -> bytes: ...

    def named_size(self, path: str) -> int | None:
        """The size of this handle's file if ``path`` still names it, else ``None`` (the
        name was removed, or now names a file that replaced it). One look at the path,
        before every write (LOG-022)."""
        ...

    def close(self) -> None: ...


class FileLock(Protocol):
    """An exclusive lock; released by :meth:`release` or when the process dies."""

    def release(self) -> None: ...


class FileSystem(Protocol):
    """What the storage layer needs from a file system."""

    def create_exclusive(self, path: str) -> FileHandle:
        """Create ``path`` (it must not exist) and open it read-write."""
        ...

    def open_rw(self, path: str) -> FileHandle: ...

    def read_bytes(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...

    def makedirs(self, path: str) -> None: ...

    def fsync_dir(self, path: str) -> None:
        """Make the names in directory ``path`` durable (creations, renames, removals)."""
        ...

    def rename(self, src: str, dst: str) -> None:
        """Atomically replace ``dst`` with ``src``; durable only after :meth:`fsync_dir`."""
        ...

    def link(self, src: str, dst: str) -> None:
        """Give the file ``src`` the second name ``dst``, atomically; ``FileExistsError``
        if ``dst`` exists (never replaced). Durable only after :meth:`fsync_dir`."""
        ...

    def kind(self, path: str) -> FileKind:
        """What ``path`` names, without opening it (a FIFO is never opened to find out)."""
        ...

    def remove(self, path: str) -> None: ...

    def listdir(self, path: str) -> list[str]: ...

    def lock(self, path: str) -> FileLock:
        """Take an exclusive lock for ``path`` or raise :class:`LogLockedError` (LOG-011)."""
        ...


class _OsFile:
    __slots__ = ("_fd", "_identity", "path")

    def __init__(self, fd: int, path: str) -> None:
        self._fd = fd
        self.path = path
        status = os.fstat(fd)
        #: The file's identity, fixed for the life of the descriptor.
        self._identity = (status.st_dev, status.st_ino)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def pwrite(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            if written <= 0:  # pragma: no cover - the kernel reports errors by raising
                raise OSError(errno.EIO, "short write", self.path)
            view = view[written:]
            offset += written

    def fsync(self) -> None:
        os.fsync(self._fd)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)

    def read_all(self) -> bytes:
        size = self.size()
        chunks: list[bytes] = []
        offset = 0
        while offset < size:
            chunk = os.pread(self._fd, size - offset, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def named_size(self, path: str) -> int | None:
        # One stat of the path: its identity says whether it is still this file, and
        # then its size is this file's size (a system call is the cost of this check).
        try:
            named = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if (named.st_dev, named.st_ino) != self._identity:
            return None
        return named.st_size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _OsLock:
    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _open_regular(path: str, flags: int) -> int:
    """``os.open`` that never blocks on a FIFO and refuses anything but a regular file."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
            raise OSError(errno.EINVAL, "not a regular file", path)
        os.set_blocking(fd, True)  # O_NONBLOCK only guarded the open itself
    except BaseException:
        os.close(fd)
        raise
    return fd


class OsFileSystem:
    """The real file system (POSIX). A lock is ``flock(LOCK_EX | LOCK_NB)`` on the file itself."""

    def create_exclusive(self, path: str) -> FileHandle:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        return _OsFile(fd, path)

    def open_rw(self, path: str) -> FileHandle:
        return _OsFile(_open_regular(path, os.O_RDWR), path)

    def read_bytes(self, path: str) -> bytes:
        handle = _OsFile(_open_regular(path, os.O_RDONLY), path)
        try:
            return handle.read_all()
        finally:
            handle.close()

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def link(self, src: str, dst: str) -> None:
        os.link(src, dst)

    def kind(self, path: str) -> FileKind:
        try:
            mode = os.stat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return "missing"
        if stat.S_ISREG(mode):
            return "file"
        return "directory" if stat.S_ISDIR(mode) else "other"

    def remove(self, path: str) -> None:
        os.remove(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def lock(self, path: str) -> FileLock:
        fd = _open_regular(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise LogLockedError(f"{path}: another writer holds the lock") from exc
        except OSError:
            os.close(fd)
            raise
        return _OsLock(fd)
