"""Storage layer: the file layer, the log interface and the JSONL backend (DESIGN §2.5)."""

from sessionspec.storage.files import FileHandle, FileLock, FileSystem, OsFileSystem
from sessionspec.storage.jsonl import (
    JsonlLog,
    LogCreateError,
    LogNotFoundError,
    read_log,
    scan_log_bytes,
    session_path,
    validate_session_id,
)
from sessionspec.storage.log import (
    Damage,
    DamageKind,
    Durability,
    LogRecord,
    LogSnapshot,
    LogState,
    LogStore,
    RecoveryReport,
)
from sessionspec.storage.simfs import SimulatedCrash, SimulatedFileSystem

__all__ = [
    "Damage",
    "DamageKind",
    "Durability",
    "FileHandle",
    "FileLock",
    "FileSystem",
    "JsonlLog",
    "LogCreateError",
    "LogNotFoundError",
    "LogRecord",
    "LogSnapshot",
    "LogState",
    "LogStore",
    "OsFileSystem",
    "RecoveryReport",
    "SimulatedCrash",
    "SimulatedFileSystem",
    "read_log",
    "scan_log_bytes",
    "session_path",
    "validate_session_id",
]
