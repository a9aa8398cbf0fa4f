"""Worker functions for the multi-process compare-and-swap tests (imported by spawn).

``location`` is anything ``open_state_store`` takes: a directory (the file store) or a
SQLite or PostgreSQL URL (SQL-014)."""

from __future__ import annotations

from sessionspec import HeadRevisionConflict, open_state_store


def race_once(location: str, session_id: str, expected: int, marker: str) -> str:
    """Commit once with ``expected``; ``won`` or ``conflict``."""
    store = open_state_store(location)
    try:
        store.commit(session_id, {"writer": marker}, expected)
    except HeadRevisionConflict:
        return "conflict"
    return "won"


def increment(location: str, session_id: str, times: int) -> int:
    """Add one to the stored counter ``times`` times, retrying each on a conflict."""
    store = open_state_store(location)
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
