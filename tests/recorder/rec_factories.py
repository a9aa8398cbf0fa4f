"""Subjects for the recorder's conformance machine: the runtime, and broken variants."""

from __future__ import annotations

import random
from typing import Any

from sessionspec import DuplicateLoopError, InvalidAgentEventError, SessionRecorder
from sessionspec.conformance.recorder_machine import RecorderSubject, SubjectFactory
from sessionspec.runtime.recorder.model import LoopRecord, RecordedSession
from sessionspec.storage.simfs import SimulatedFileSystem
from sessionspec.tables.recorder import LoopState, SessionEvent


class RuntimeSubject:
    """:class:`SessionRecorder` seen through JSON; on a journal when ``durable``."""

    def __init__(self, durable: bool = False, seed: int = 0) -> None:
        self.durable = durable
        self._rng = random.Random(seed)
        self._fs = SimulatedFileSystem()
        self._path = "/journal/recorder.jsonl"
        if durable:
            self._fs.makedirs("/journal")
            self.recorder = self.make(self._path, self._fs)
        else:
            self.recorder = self.make(None, None)

    def make(self, path: str | None, fs: SimulatedFileSystem | None) -> SessionRecorder:
        if path is None:
            return SessionRecorder()
        return SessionRecorder.create(path, fs=fs)

    def reopen(self) -> SessionRecorder:
        return SessionRecorder.open(self._path, fs=self._fs)

    def on_event(self, event: dict[str, Any]) -> str:
        try:
            outcome = self.recorder.on_event(event)
        except DuplicateLoopError:
            return "duplicate"
        except InvalidAgentEventError:
            return "invalid"
        return "recorded" if outcome.recorded else f"dropped:{outcome.reason}"

    def flush(self) -> None:
        self.recorder.flush()

    def checkpoint(self) -> int:
        return self.recorder.checkpoint()

    def drain(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.recorder.drain_completed()]

    def sessions(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.recorder.sessions()]

    def current_loop(self, loop_id: str) -> dict[str, Any] | None:
        record = self.recorder.current_loop(loop_id)
        return None if record is None else record.to_json()

    def restart(self) -> None:
        self._fs.crash(self._rng)
        self.recorder = self.reopen()


def runtime_factory(durable: bool = False) -> SubjectFactory:
    def make() -> RecorderSubject:
        return RuntimeSubject(durable)

    return make


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


class _BrokenSubject(RuntimeSubject):
    recorder_class: type[SessionRecorder] = SessionRecorder

    def make(self, path: str | None, fs: SimulatedFileSystem | None) -> SessionRecorder:
        if path is None:
            return self.recorder_class()
        return self.recorder_class.create(path, fs=fs)

    def reopen(self) -> SessionRecorder:
        return self.recorder_class.open(self._path, fs=self._fs)


def broken_factory(kind: str) -> SubjectFactory:
    classes: dict[str, type[SessionRecorder]] = {
        "overwrites": _OverwritingRecorder,
        "completion_order": _CompletionOrderRecorder,
        "amnesiac": _AmnesiacRecorder,
        "no_pending_spawns": _NoPendingSpawnRecorder,
        "unlinked_flush": _UnlinkedFlushRecorder,
    }

    def make() -> RecorderSubject:
        subject = _BrokenSubject.__new__(_BrokenSubject)
        subject.recorder_class = classes[kind]
        _BrokenSubject.__init__(subject, durable=kind == "amnesiac")
        return subject

    return make
