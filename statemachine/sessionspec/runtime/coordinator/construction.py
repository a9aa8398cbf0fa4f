"""Construction: the checks of a new or reopened session's arguments, and the creation of
its log (COORD-006, COORD-027, COORD-028, GEN-009).

Every argument is checked before anything is created or opened (GEN-009): a bad one is a
:class:`CallerError` naming it, and no file, directory or row is left behind. A new session's
header carries the settings that decide (``ss_settings``, COORD-027); a reopen takes the
file's settings unless an explicit argument changes them, which the coordinator then records
(COORD-028, :func:`resolve_settings`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sessionspec.compaction import CompactionConfig
from sessionspec.errors import CallerError, SessionExistsError
from sessionspec.redaction import RedactionPolicy
from sessionspec.runtime.coordinator.messages import iso_timestamp
from sessionspec.settings import SETTINGS_FIELD, SessionSettings
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import (
    JsonlLog,
    ensure_directory,
    session_path,
    validate_session_id,
)
from sessionspec.storage.log import Durability
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.storage.urls import create_store_log, is_store_url
from sessionspec.wire.log import SessionHeader

__all__ = [
    "check_config",
    "check_new_arguments",
    "check_redaction",
    "create_session_log",
    "directory_text",
    "free_session_id",
    "generate_session_id",
    "resolve_settings",
]


def create_session_log(
    dir: str | os.PathLike[str],
    cwd: str,
    config: CompactionConfig,
    model: str,
    session_id: str | None,
    fs: FileSystem,
    durability: Durability,
    clock: Callable[[], float],
    parent_session: str | None,
) -> tuple[JsonlLog | DatabaseLog, dict[str, Any]]:
    """Create the session's log holding only its header (COORD-006); the log and header.

    ``dir`` is a directory or a store URL (SQL-008: a ``sqlite://`` or ``postgresql://``
    store). The arguments were checked by :func:`check_new_arguments`."""
    store = is_store_url(dir)
    directory = "" if store else directory_text(dir)
    if not store:
        ensure_directory(fs, directory)
    generated = session_id is None
    if session_id is None:
        session_id = generate_session_id(clock)
        if not store:
            session_id = free_session_id(fs, directory, session_id)
    validate_session_id(session_id)
    timestamp = iso_timestamp(clock())
    base = session_id
    # COORD-006: a generated id comes from the millisecond clock, so two creators in one
    # millisecond (threads, processes, machines sharing a database) draw the same id; the
    # one that loses the creation takes the next free suffix instead of failing.
    for suffix in range(1000 if generated else 1):
        if suffix:
            session_id = f"{base}-{suffix}"
        header = SessionHeader(
            id=session_id, timestamp=timestamp, cwd=cwd, parent_session=parent_session
        ).to_json_dict()
        # COORD-027: the settings that decide are part of the session's state.
        header[SETTINGS_FIELD] = SessionSettings(model, config).to_json()
        try:
            log = (
                create_store_log(str(dir), session_id, header, durability)
                if store
                else JsonlLog.create(
                    session_path(directory, session_id), header, fs=fs, durability=durability
                )
            )
        except SessionExistsError:
            if not generated or suffix == 999:
                raise
            continue
        return log, header
    raise AssertionError("unreachable: the last suffix re-raises")  # pragma: no cover


def generate_session_id(clock: Callable[[], float]) -> str:
    """opi's session id: lowercase hex of the epoch in milliseconds."""
    return format(int(clock() * 1000), "x")


def free_session_id(fs: FileSystem, directory: str, base: str) -> str:
    """``base``, or ``base-1`` .. ``base-999`` if taken (opi's rule for forks)."""
    if not fs.exists(session_path(directory, base)):
        return base
    for suffix in range(1, 1000):
        candidate = f"{base}-{suffix}"
        if not fs.exists(session_path(directory, candidate)):
            return candidate
    raise CallerError(f"no free session id near {base!r} in {directory}")


def directory_text(directory: object) -> str:
    """A directory argument as text, or a :class:`CallerError` (GEN-009)."""
    if isinstance(directory, os.PathLike):
        directory = os.fspath(directory)
    if type(directory) is not str:
        raise CallerError(f"a directory is a string or a path object, not {directory!r}")
    return directory


def check_new_arguments(
    cwd: object, model: object, session_id: object, parent_session: object
) -> None:
    """GEN-009: the arguments of :meth:`SessionCoordinator.new` that name or fill the header
    are checked before anything is created."""
    if type(cwd) is not str:
        raise CallerError(f"cwd must be a string, not {cwd!r}")
    if type(model) is not str:
        raise CallerError(f"model must be a string, not {model!r}")
    if parent_session is not None and type(parent_session) is not str:
        raise CallerError(f"parent_session must be a string or None, not {parent_session!r}")
    if session_id is not None:
        validate_session_id(session_id)  # type: ignore[arg-type]
    for name, value in (("cwd", cwd), ("model", model), ("parent_session", parent_session)):
        if type(value) is str:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise CallerError(f"{name} is not valid Unicode text: {value!r}") from None


def check_redaction(redaction: object) -> RedactionPolicy:
    """The policy in force (COORD-155): the caller's, or secrets only by default."""
    if redaction is None:
        return RedactionPolicy()
    if not isinstance(redaction, RedactionPolicy):
        raise CallerError(
            f"redaction must be a RedactionPolicy or None, got {type(redaction).__name__}"
        )
    return redaction


def check_config(config: object) -> CompactionConfig | None:
    if config is not None and not isinstance(config, CompactionConfig):
        raise CallerError(
            f"compaction_config must be a CompactionConfig or None, got {type(config).__name__}"
        )
    return config


def resolve_settings(
    persisted: SessionSettings | None, config: CompactionConfig | None, model: object
) -> tuple[SessionSettings, bool]:
    """The settings a reopen uses, and whether they differ from the file's (COORD-028).

    No argument: the file's settings (the defaults for a file that has none). An explicit
    argument wins; it is recorded only when it changes what a reopen without arguments
    would decide."""
    if model is not None and not isinstance(model, str):
        raise CallerError(f"model must be a string or None, got {type(model).__name__}")
    base = persisted or SessionSettings()
    chosen = SessionSettings(
        base.model if model is None else model,
        base.compaction if config is None else config,
    )
    return chosen, chosen.to_json() != base.to_json()
