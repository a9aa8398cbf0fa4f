"""A simulated file system with a volatile cache, crashes and injected faults (LOG-014).

Theory of operation
-------------------
Each file (an *inode*) has two images: ``data``, what a reader sees now, and ``durable``,
what survives a power cut (the image at the last ``fsync``). Names work the same way: the
current namespace maps names to inodes, and the durable namespace is what the directories
held at their last ``fsync_dir``. So a new file, a rename or a removal is lost in a crash
unless its directory was synced, exactly as fsync(2) warns.

:meth:`SimulatedFileSystem.crash` models a power cut. For each name whose current and
durable mapping differ, a coin decides which one survives. For each surviving inode, the
bytes appended since its last fsync survive only up to a random length, so the last line
may be torn at any byte; a truncation not yet synced may or may not have happened. After a
crash every image is durable again and every open handle and lock is dead.

Faults. :meth:`arm` makes the n-th later call of one operation (``write``, ``fsync``,
``truncate``, ``rename``, ``link``, ``fsync_dir``, ``create``, ``open``) raise ``OSError(EIO)``; a
failing write may first store a prefix of its bytes, as a real short write can.
:meth:`arm_crash` raises :class:`SimulatedCrash` (not an ``OSError``, so no code path can
swallow it as an I/O error) *before* the n-th operation of any kind: a crash at every step
is ``for n in range(operation_count): arm_crash(n); run; crash(); recover``.

Locks are held on inodes, as ``flock`` holds them: a lock taken under one name holds for
every name of the same file (a log created under a temporary name and linked into place
is locked from its first byte, LOG-016).

Everything is deterministic given the ``random.Random`` passed to :meth:`crash`.
"""

from __future__ import annotations

import errno
import posixpath
import random
from dataclasses import dataclass, field

from sessionspec.errors import LogLockedError
from sessionspec.storage.files import FileKind

__all__ = ["OPERATIONS", "SimulatedCrash", "SimulatedFileSystem"]

#: The operations that count as steps and can be armed with a fault.
OPERATIONS = (
    "create",
    "open",
    "write",
    "fsync",
    "truncate",
    "rename",
    "link",
    "fsync_dir",
    "remove",
)


class SimulatedCrash(BaseException):
    """Raised by an armed crash point; the test then calls :meth:`SimulatedFileSystem.crash`."""


@dataclass(eq=False)
class _Inode:
    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""


@dataclass
class _Fault:
    operation: str
    countdown: int
    partial: float | None


class _SimHandle:
    __slots__ = ("_closed", "_epoch", "_fs", "_inode", "path")

    def __init__(self, fs: SimulatedFileSystem, inode: _Inode, path: str) -> None:
        self._fs = fs
        self._inode = inode
        self._epoch = fs.epoch
        self._closed = False
        self.path = path

    def _check(self) -> None:
        if self._closed:
            raise OSError(errno.EBADF, "handle is closed", self.path)
        if self._epoch != self._fs.epoch:
            raise OSError(errno.EBADF, "handle died in a crash", self.path)

    def size(self) -> int:
        self._check()
        return len(self._inode.data)

    def pwrite(self, data: bytes, offset: int) -> None:
        self._check()
        fault = self._fs._step("write", self.path)
        inode = self._inode
        if fault is not None:
            if fault.partial is not None:
                keep = int(len(data) * fault.partial)
                self._store(inode, data[:keep], offset)
            raise OSError(errno.EIO, "injected write error", self.path)
        self._store(inode, data, offset)

    @staticmethod
    def _store(inode: _Inode, data: bytes, offset: int) -> None:
        if offset > len(inode.data):
            inode.data.extend(b"\0" * (offset - len(inode.data)))
        inode.data[offset : offset + len(data)] = data

    def fsync(self) -> None:
        self._check()
        if self._fs._step("fsync", self.path) is not None:
            raise OSError(errno.EIO, "injected fsync error", self.path)
        self._inode.durable = bytes(self._inode.data)

    def truncate(self, size: int) -> None:
        self._check()
        if self._fs._step("truncate", self.path) is not None:
            raise OSError(errno.EIO, "injected truncate error", self.path)
        del self._inode.data[size:]

    def read_all(self) -> bytes:
        self._check()
        return bytes(self._inode.data)

    def named_size(self, path: str) -> int | None:
        self._check()
        if self._fs._names.get(path) is not self._inode:
            return None
        return len(self._inode.data)

    def close(self) -> None:
        self._closed = True


class _SimLock:
    __slots__ = ("_epoch", "_fs", "_inode")

    def __init__(self, fs: SimulatedFileSystem, inode: _Inode) -> None:
        self._fs = fs
        self._inode = inode
        self._epoch = fs.epoch

    def release(self) -> None:
        if self._epoch == self._fs.epoch:
            self._fs._locks.pop(id(self._inode), None)


class SimulatedFileSystem:
    """In-memory :class:`~sessionspec.storage.files.FileSystem` for crash and fault tests."""

    def __init__(self) -> None:
        self._names: dict[str, _Inode] = {}
        self._durable_names: dict[str, _Inode] = {}
        self._dirs: set[str] = {"", "/", "."}
        #: The locked inodes, by ``id`` (a lock belongs to the file, not to a name); the
        #: inode is kept as the value so that its ``id`` cannot be reused while locked.
        self._locks: dict[int, _Inode] = {}
        self._faults: list[_Fault] = []
        self._crash_countdown: int | None = None
        #: Bumped by :meth:`crash`; handles and locks from an older epoch are dead.
        self.epoch = 0
        #: Operations performed so far (every kind in :data:`OPERATIONS`).
        self.operation_count = 0

    # -- fault injection -------------------------------------------------------------

    def arm(self, operation: str, nth: int = 0, *, partial: float | None = None) -> None:
        """Make the ``nth`` (0-based) later call of ``operation`` fail with EIO."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        self._faults.append(_Fault(operation, nth, partial))

    def arm_crash(self, nth: int) -> None:
        """Raise :class:`SimulatedCrash` instead of performing the ``nth`` later operation."""
        self._crash_countdown = nth

    def disarm(self) -> None:
        self._faults.clear()
        self._crash_countdown = None

    def _step(self, operation: str, path: str) -> _Fault | None:
        if self._crash_countdown is not None:
            if self._crash_countdown == 0:
                self._crash_countdown = None
                raise SimulatedCrash(f"crash before {operation} {path}")
            self._crash_countdown -= 1
        self.operation_count += 1
        fired: _Fault | None = None
        for fault in list(self._faults):
            if fault.operation != operation:
                continue
            if fault.countdown == 0 and fired is None:
                self._faults.remove(fault)
                fired = fault
            elif fault.countdown > 0:
                fault.countdown -= 1
        return fired

    # -- power cut -------------------------------------------------------------------

    def crash(self, rng: random.Random) -> None:
        """Lose what was never made durable; tear unsynced appends at a random byte."""
        survivors: dict[str, _Inode] = {}
        for name in sorted(set(self._names) | set(self._durable_names)):
            current = self._names.get(name)
            durable = self._durable_names.get(name)
            chosen = current if current is durable or rng.random() < 0.5 else durable
            if chosen is not None:
                survivors[name] = chosen
        for inode in {id(i): i for i in survivors.values()}.values():
            inode.data = bytearray(self._surviving_bytes(inode, rng))
            inode.durable = bytes(inode.data)
        self._names = survivors
        self._durable_names = dict(survivors)
        self._locks.clear()
        self._faults.clear()
        self._crash_countdown = None
        self.epoch += 1

    @staticmethod
    def _surviving_bytes(inode: _Inode, rng: random.Random) -> bytes:
        data, durable = bytes(inode.data), inode.durable
        if data.startswith(durable):
            extra = len(data) - len(durable)
            return durable + data[len(durable) : len(durable) + rng.randint(0, extra)]
        # Shrunk or rewritten since the last fsync: either the change was lost entirely,
        # or the common prefix survived plus a torn part of what followed it.
        if rng.random() < 0.5:
            return durable
        common = 0
        for a, b in zip(data, durable, strict=False):
            if a != b:
                break
            common += 1
        return data[: common + rng.randint(0, len(data) - common)]

    # -- FileSystem --------------------------------------------------------------------

    def _parent(self, path: str) -> str:
        return posixpath.dirname(path)

    def _require_dir(self, path: str) -> None:
        if self._parent(path) not in self._dirs:
            raise FileNotFoundError(errno.ENOENT, "no such directory", self._parent(path))

    def create_exclusive(self, path: str) -> _SimHandle:
        self._require_dir(path)
        if self._step("create", path) is not None:
            raise OSError(errno.EIO, "injected create error", path)
        if path in self._names:
            raise FileExistsError(errno.EEXIST, "file exists", path)
        inode = _Inode()
        self._names[path] = inode
        return _SimHandle(self, inode, path)

    def open_rw(self, path: str) -> _SimHandle:
        if self._step("open", path) is not None:
            raise OSError(errno.EIO, "injected open error", path)
        inode = self._names.get(path)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        return _SimHandle(self, inode, path)

    def read_bytes(self, path: str) -> bytes:
        inode = self._names.get(path)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        return bytes(inode.data)

    def exists(self, path: str) -> bool:
        return path in self._names or path in self._dirs

    def makedirs(self, path: str) -> None:
        # Directories are modelled as always durable: the project never relies on a
        # directory it created surviving a crash without a file in it being synced.
        while path and path not in self._dirs:
            self._dirs.add(path)
            path = self._parent(path)

    def fsync_dir(self, path: str) -> None:
        if self._step("fsync_dir", path) is not None:
            raise OSError(errno.EIO, "injected directory fsync error", path)
        for name in set(self._names) | set(self._durable_names):
            if self._parent(name) != path:
                continue
            if name in self._names:
                self._durable_names[name] = self._names[name]
            else:
                self._durable_names.pop(name, None)

    def rename(self, src: str, dst: str) -> None:
        if self._step("rename", src) is not None:
            raise OSError(errno.EIO, "injected rename error", src)
        inode = self._names.pop(src, None)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", src)
        self._names[dst] = inode

    def link(self, src: str, dst: str) -> None:
        self._require_dir(dst)
        if self._step("link", src) is not None:
            raise OSError(errno.EIO, "injected link error", src)
        inode = self._names.get(src)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", src)
        if dst in self._names or dst in self._dirs:
            raise FileExistsError(errno.EEXIST, "file exists", dst)
        self._names[dst] = inode

    def kind(self, path: str) -> FileKind:
        if path in self._names:
            return "file"
        return "directory" if path in self._dirs else "missing"

    def remove(self, path: str) -> None:
        if self._step("remove", path) is not None:
            raise OSError(errno.EIO, "injected remove error", path)
        if self._names.pop(path, None) is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)

    def listdir(self, path: str) -> list[str]:
        return sorted(posixpath.basename(n) for n in self._names if self._parent(n) == path)

    def lock(self, path: str) -> _SimLock:
        inode = self._names.get(path)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        if id(inode) in self._locks:
            raise LogLockedError(f"{path}: another writer holds the lock")
        self._locks[id(inode)] = inode
        return _SimLock(self, inode)
