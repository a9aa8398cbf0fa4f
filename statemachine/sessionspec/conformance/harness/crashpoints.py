"""Named crash points on the real file system (CONF-033).

A harness on real files declares ``crash.points``: ``crash.arm`` names a point, and when a
write reaches it the stdio harness writes ``at_crash_point`` and waits to be killed, so the
runner's SIGKILL lands exactly there.
"""

from __future__ import annotations

from collections.abc import Callable

from sessionspec.storage.files import FileHandle, OsFileSystem

__all__ = ["CRASH_POINTS", "CrashPointFileSystem"]

#: Named crash points of the real-file harness (CONF-033), in the order a write meets them.
CRASH_POINTS = ("before_write", "after_write_before_fsync", "after_fsync")


class _PointHandle:
    def __init__(self, inner: FileHandle, fs: CrashPointFileSystem) -> None:
        self._inner = inner
        self._fs = fs

    def size(self) -> int:
        return self._inner.size()

    def pwrite(self, data: bytes, offset: int) -> None:
        self._fs.reach("before_write")
        self._inner.pwrite(data, offset)
        self._fs.reach("after_write_before_fsync")

    def fsync(self) -> None:
        self._inner.fsync()
        self._fs.reach("after_fsync")

    def truncate(self, size: int) -> None:
        self._inner.truncate(size)

    def read_all(self) -> bytes:
        return self._inner.read_all()

    def named_size(self, path: str) -> int | None:
        return self._inner.named_size(path)

    def close(self) -> None:
        self._inner.close()


class CrashPointFileSystem(OsFileSystem):
    """The real file system, with the named points of :data:`CRASH_POINTS` (CONF-033).

    ``on_point`` is called when an armed point is reached; the stdio harness writes the
    ``at_crash_point`` line there and blocks until the runner kills it.
    """

    def __init__(self) -> None:
        self.armed: tuple[str, int] | None = None
        self.on_point: Callable[[str], None] = lambda point: None

    def reach(self, point: str) -> None:
        if self.armed is None or self.armed[0] != point:
            return
        name, nth = self.armed
        if nth > 0:
            self.armed = (name, nth - 1)
            return
        self.armed = None
        self.on_point(point)

    def create_exclusive(self, path: str) -> FileHandle:
        return _PointHandle(super().create_exclusive(path), self)

    def open_rw(self, path: str) -> FileHandle:
        return _PointHandle(super().open_rw(path), self)
