"""Atomic whole-file writes: the one routine every file-backed store uses to replace a file.

Rules
-----
* ``write_atomically(path, data, temporary=...)`` writes ``data`` to ``temporary`` (all of
  it, looping over short writes), fsyncs it, renames it onto ``path`` and fsyncs the
  directory: a crash leaves the old file or the new one, never a part under the real name.
* On any failure the temporary file is removed and the exception propagates unchanged; the
  caller turns ``OSError`` into its own typed storage error.
* ``exclusive=True`` creates the temporary file with ``O_EXCL`` (it must not exist);
  otherwise an old temporary of the same name is truncated.
* ``fsync_directory(path, tolerate_refusal=True)`` ignores ``EINVAL``/``EBADF`` from file
  systems that refuse to fsync a directory; by default every error is raised.
"""

from __future__ import annotations

import contextlib
import errno
import os

__all__ = ["fsync_directory", "write_atomically"]


def fsync_directory(path: str | os.PathLike[str], *, tolerate_refusal: bool = False) -> None:
    """Make the names in directory ``path`` durable (creations, renames, removals)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if not (tolerate_refusal and exc.errno in (errno.EINVAL, errno.EBADF)):
            raise
    finally:
        os.close(fd)


def write_atomically(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    temporary: str | os.PathLike[str],
    exclusive: bool = False,
    tolerate_refused_dir_fsync: bool = False,
) -> None:
    """Replace the file at ``path`` with ``data`` through ``temporary`` (see the module rules)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(temporary, flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        fsync_directory(
            os.path.dirname(os.path.abspath(path)), tolerate_refusal=tolerate_refused_dir_fsync
        )
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
