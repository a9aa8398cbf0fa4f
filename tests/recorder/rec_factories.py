"""Implementations for the recorder's conformance machine: the runtime, and broken variants.

The machine reaches each through the driver protocol (an in-process harness), as it reaches
any implementation (CONF-142).
"""

from __future__ import annotations

from typing import Any

from sessionspec import SessionRecorder
from sessionspec.conformance.harness import PythonImplementation, runtime_implementation
from sessionspec.runtime.recorder.model import LoopRecord, RecordedSession
from sessionspec.tables.recorder import LoopState, SessionEvent


def runtime_recorder() -> PythonImplementation:
    """sessionspec's runtime, whose recorder the machine reaches through the protocol."""
    return runtime_implementation()


# -- deliberately broken variants (the machine must catch each) --------------------------------


class _OverwritingRecorder(SessionRecorder):
    """phi-core's Q3: a second AgentStart for a running loop replaces its record."""

    def on_event(self, event: Any) -> Any:
        if isinstance(event, dict) and event.get("type") == "AgentStart":
            self._loops.pop(str(event.get("loop_id")), None)
        return super().on_event(event)


class _CompletionOrderRecorder(SessionRecorder):
    """phi-core's Q5: loops appended in completion order."""

    def _place(self, session: RecordedSession, record: LoopRecord) -> None:
        super()._place(session, record)
        session.loops.remove(record)
        session.loops.append(record)


class _NoPendingSpawnRecorder(SessionRecorder):
    """phi-core's enrichment: a spawn reported before the child starts is lost."""

    def _on_tool_end(self, record: LoopRecord, event: Any) -> None:
        before = dict(self._pending_spawns)
        super()._on_tool_end(record, event)
        self._pending_spawns = before


class _UnlinkedFlushRecorder(SessionRecorder):
    """phi-core's flush: aborted loops are placed without linking them to their parent."""

    def _flush(self) -> None:
        self._partial_turns.clear()
        for record in list(self._loops.values()):
            record.status = LoopState.ABORTED
            del self._loops[record.loop_id]
            self._open[record.session_id].loops.append(record)
            self._open[record.session_id].loops.sort(key=lambda x: x.start_index)
        for session in list(self._open.values()):
            self._complete(session, SessionEvent.FLUSH)


class _AmnesiacRecorder(SessionRecorder):
    """Forgets its journal on reopen: what it acknowledged is lost in a crash."""

    @classmethod
    def open(cls, path: str, **kwargs: Any) -> SessionRecorder:
        return SessionRecorder()


#: Each planted bug and the requirement the machine must name when it finds it.
PLANTED: dict[str, tuple[type[SessionRecorder], str]] = {
    "overwrites": (_OverwritingRecorder, "REC-014"),
    "completion_order": (_CompletionOrderRecorder, "REC-022"),
    "amnesiac": (_AmnesiacRecorder, "REC-071"),
    "no_pending_spawns": (_NoPendingSpawnRecorder, "REC-033"),
    "unlinked_flush": (_UnlinkedFlushRecorder, "REC-023"),
}


def broken_recorder(kind: str) -> PythonImplementation:
    """The runtime with the planted recorder ``kind`` (served through the protocol)."""
    return runtime_implementation(recorder_cls=PLANTED[kind][0])
