"""A session recorder that behaves as phi-core's does (research/seeds.md §2).

:class:`PhiRecorder` is sessionspec's :class:`SessionRecorder` with some of phi-core's
documented behaviours put back (the quirks of seeds.md §2.7), each one a :class:`PhiQuirk`
naming the requirement of spec/SPEC.md §9 it departs from:

* ``DUPLICATE_START_REPLACES`` (REC-014, Q3): an ``AgentStart`` for a loop id that is still
  running replaces its record (the earlier one is lost) instead of being refused.
* ``SILENT_DROPS`` (REC-030): phi-core's ``on_event`` returns nothing, so an event for a
  loop that is not running is dropped without the caller being told: the profile answers
  ``recorded``, the only answer a phi-core adapter could give.
* ``COMPLETION_ORDER`` (REC-022, Q5): a closed loop is appended to its session when it
  closes, not placed at the position of its start.
* ``LATE_CHILDREN_UNLINKED`` (REC-023, Q9 and §2.3): a child that closed before its parent
  started is never listed among the parent's children, and a loop aborted by ``flush`` is
  never linked to its parent.
* ``SPAWN_ONLY_IF_CHILD_EXISTS`` (REC-033): a tool's spawn reference reaches the child's
  session only if that session already exists; a child that starts later keeps none.
* ``NO_SEGMENTS`` (REC-013, Q9): an ``AgentStart`` after ``checkpoint``/``flush`` opens a
  second session object with the same id that is not told apart (every segment is 0).
* ``FLUSH_IN_HASH_ORDER`` (REC-050): ``flush`` completes the open sessions in hash-map order
  (a fixed digest of the session id stands in for Rust's ``HashMap`` order), not in the
  order they opened.
* ``REVERT_NOT_RECORDED`` (REC-041, Q11): ``RevertApplied`` is never appended to a loop's
  events; like every phi-core drop it is silent (the answer is ``recorded``).

The other phi-core rows of §9 are not reproduced, because the recorder machine cannot see
them: ``before_task``'s verdict (REC-012) and ``after_task`` (REC-053) need callbacks the
harness does not install; inactivity rotation (REC-040) needs the rotator; tool results in
``input_messages`` (REC-036) are not compared (the machine compares the number of turns);
``loop_chain_to`` (REC-024), ``save_session`` (REC-061) and ``Pending`` records (REC-042,
which phi-core does not produce either) are not part of the ``recorder.*`` commands;
REC-031 has no phi-core behaviour to put back (its code is dense, only its documentation
says otherwise); a memory-only recorder (REC-070) withholds ``recorder.durable``, which
the suite skips rather than fails (CONF-020).
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Mapping
from typing import Any, ClassVar

from sessionspec.runtime.recorder import SessionRecorder
from sessionspec.runtime.recorder.model import LoopRecord, RecordedSession
from sessionspec.runtime.recorder.recorder import RecordOutcome, parse_event
from sessionspec.tables.recorder import LOOP_TABLE, LoopEvent, SessionEvent
from sessionspec.wire import agent_events as ev
from sessionspec.wire.agent_events import AgentEvent

__all__ = ["QUIRK_REQUIREMENTS", "PhiQuirk", "PhiRecorder", "phi_recorder_class"]


class PhiQuirk(enum.Enum):
    """One documented phi-core behaviour (research/seeds.md §2)."""

    DUPLICATE_START_REPLACES = "duplicate_start_replaces"
    SILENT_DROPS = "silent_drops"
    COMPLETION_ORDER = "completion_order"
    LATE_CHILDREN_UNLINKED = "late_children_unlinked"
    SPAWN_ONLY_IF_CHILD_EXISTS = "spawn_only_if_child_exists"
    NO_SEGMENTS = "no_segments"
    FLUSH_IN_HASH_ORDER = "flush_in_hash_order"
    REVERT_NOT_RECORDED = "revert_not_recorded"

    @property
    def requirement(self) -> str:
        return QUIRK_REQUIREMENTS[self]


QUIRK_REQUIREMENTS: dict[PhiQuirk, str] = {
    PhiQuirk.DUPLICATE_START_REPLACES: "REC-014",
    PhiQuirk.SILENT_DROPS: "REC-030",
    PhiQuirk.COMPLETION_ORDER: "REC-022",
    PhiQuirk.LATE_CHILDREN_UNLINKED: "REC-023",
    PhiQuirk.SPAWN_ONLY_IF_CHILD_EXISTS: "REC-033",
    PhiQuirk.NO_SEGMENTS: "REC-013",
    PhiQuirk.FLUSH_IN_HASH_ORDER: "REC-050",
    PhiQuirk.REVERT_NOT_RECORDED: "REC-041",
}

#: What phi-core's ``on_event`` tells its caller about any event: nothing. A protocol
#: answer has to say something, and "recorded" is what a caller of phi-core assumes.
_SILENT = RecordOutcome("recorded")


def _hash_order(session: RecordedSession) -> int:
    """A fixed stand-in for Rust's ``HashMap`` iteration order (REC-050)."""
    return zlib.crc32(session.session_id.encode("utf-8"))


class PhiRecorder(SessionRecorder):
    """sessionspec's recorder with the quirks in :attr:`quirks` (a subclass sets them)."""

    quirks: ClassVar[frozenset[PhiQuirk]] = frozenset(PhiQuirk)

    def on_event(self, event: AgentEvent | Mapping[str, Any]) -> RecordOutcome:
        parsed = parse_event(event)
        if (
            isinstance(parsed, ev.RevertApplied)
            and parsed.loop_id in self._loops
            and PhiQuirk.REVERT_NOT_RECORDED in self.quirks
        ):
            # Missing from phi-core's loop_id_of: never appended (Q11). For a loop that is
            # not running the drop is the same as ours; whether it is told is REC-030's.
            return _SILENT
        outcome = self._on_parsed(parsed, verdict=None)
        if not outcome.recorded and PhiQuirk.SILENT_DROPS in self.quirks:
            return _SILENT
        return outcome

    def _on_agent_start(self, event: ev.AgentStart, verdict: bool | None) -> RecordOutcome:
        if event.loop_id in self._loops and PhiQuirk.DUPLICATE_START_REPLACES in self.quirks:
            # The running record is lost (Q3). Here rather than in on_event: a journal's
            # replay takes this path too and must decide as the live run did.
            del self._loops[event.loop_id]
            self._partial_turns.pop(event.loop_id, None)
        if PhiQuirk.NO_SEGMENTS in self.quirks:
            self._segments.pop(event.session_id, None)  # every session object is segment 0
        if PhiQuirk.LATE_CHILDREN_UNLINKED not in self.quirks:
            return super()._on_agent_start(event, verdict)
        # phi-core links a child only when the child closes: children that closed before
        # this parent started stay unlisted. The base links them at the parent's start, so
        # undo exactly the links it added.
        session = self._open.get(event.session_id)
        early = (
            set()
            if session is None
            else {x.loop_id for x in session.loops if x.parent_loop_id == event.loop_id}
        )
        outcome = super()._on_agent_start(event, verdict)
        record = self._loops.get(event.loop_id)
        if record is not None:
            record.children_loop_ids = [c for c in record.children_loop_ids if c not in early]
        return outcome

    def _on_tool_end(self, record: LoopRecord, event: ev.ToolExecutionEnd) -> None:
        pending = set(self._pending_spawns)
        super()._on_tool_end(record, event)
        if PhiQuirk.SPAWN_ONLY_IF_CHILD_EXISTS in self.quirks:
            for child in set(self._pending_spawns) - pending:
                del self._pending_spawns[child]  # no child session yet: nothing to enrich

    def _place(self, session: RecordedSession, record: LoopRecord) -> None:
        if PhiQuirk.COMPLETION_ORDER not in self.quirks:
            super()._place(session, record)
            return
        before = len(session.loops)
        super()._place(session, record)
        placed = session.loops.index(record)
        if placed != before:
            session.loops.append(session.loops.pop(placed))  # appended when it closes (Q5)

    def _flush(self) -> None:
        hash_order = PhiQuirk.FLUSH_IN_HASH_ORDER in self.quirks
        unlinked = PhiQuirk.LATE_CHILDREN_UNLINKED in self.quirks
        if not (hash_order or unlinked):
            super()._flush()
            return
        self._partial_turns.clear()
        for record in list(self._loops.values()):
            record.status = LOOP_TABLE.step(record.status, LoopEvent.ABORT)
            del self._loops[record.loop_id]
            session = self._open[record.session_id]
            if unlinked:  # an aborted loop is pushed into its session, never linked
                children = {x.loop_id: list(x.children_loop_ids) for x in session.loops}
                running = {x.loop_id: list(x.children_loop_ids) for x in self._loops.values()}
                self._place(session, record)
                for other in session.loops:
                    if other.loop_id in children:
                        other.children_loop_ids = children[other.loop_id]
                for other in self._loops.values():
                    other.children_loop_ids = running[other.loop_id]
            else:
                self._place(session, record)
        sessions = list(self._open.values())
        if hash_order:
            sessions.sort(key=_hash_order)
        for session in sessions:
            self._complete(session, SessionEvent.FLUSH)


def phi_recorder_class(quirks: frozenset[PhiQuirk]) -> type[PhiRecorder]:
    """A recorder class with exactly ``quirks``."""
    order = list(PhiQuirk)
    name = "Phi" + "".join(q.name.title().replace("_", "") for q in sorted(quirks, key=order.index))
    return type(name, (PhiRecorder,), {"quirks": frozenset(quirks)})
