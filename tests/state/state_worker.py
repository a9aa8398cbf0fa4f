"""Worker functions for the multi-process compare-and-swap tests (imported by spawn)."""

from __future__ import annotations

from sessionspec import FileStateStore, HeadRevisionConflict


def race_once(directory: str, session_id: str, expected: int, marker: str) -> str:
    """Commit once with ``expected``; ``won`` or ``conflict``."""
    store = FileStateStore(directory)
    try:
        store.commit(session_id, {"writer": marker}, expected)
    except HeadRevisionConflict:
        return "conflict"
    return "won"


def increment(directory: str, session_id: str, times: int) -> int:
    """Add one to the stored counter ``times`` times, retrying each on a conflict."""
    store = FileStateStore(directory)
    conflicts = 0
    for _ in range(times):
        while True:
            current = store.load(session_id)
            head = 0 if current is None else current.head_revision
            count = 0 if current is None else int(current.state["count"])
            try:
                store.commit(session_id, {"count": count + 1}, head)
                break
            except HeadRevisionConflict:
                conflicts += 1
    return conflicts
