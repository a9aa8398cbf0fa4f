"""The recorder's two lifecycles as tables: a loop and a session (spec/SPEC.md §8).

Rules
-----
1. A loop record is ``running`` from its ``AgentStart`` until exactly one end: ``completed``
   (``AgentEnd`` without a rejection, REC-020), ``rejected`` (``AgentEnd`` with a rejection,
   or a session refused by ``before_task``, REC-012) or ``aborted`` (``flush`` while it was
   still running, REC-050). Ends are final: nothing moves a closed record again (REC-021).
2. A session (one *segment* of a session id, REC-013) is ``open`` from the ``AgentStart``
   that created it until ``checkpoint`` (no loop of it running, REC-051) or ``flush``
   (REC-050) completes it. A completed segment takes no new loop; the next ``AgentStart``
   for its id opens a new segment.

Theory of operation
-------------------
The runtime (:mod:`sessionspec.runtime.recorder`) keeps one status per record and steps it
with :meth:`MachineTable.step` (a ``transitions`` machine per record would cost more than the
record; :func:`sessionspec.lifecycle.Lifecycle` builds one from these tables for embedders who
want it). Events for a loop that is not running never reach the table: they are dropped with
a reason before anything is decided (REC-030), so the only refusals the table makes are
programming errors of the runtime, and each is named (GEN-003). The odd rules that are not
in the table sit in the runtime next to the code that needs them, each with a comment: the
eligibility of a session for ``checkpoint`` (a data condition: no running loop), and which
end an ``AgentEnd`` is (a data condition: its ``rejection`` field).
"""

from __future__ import annotations

import enum

from sessionspec.tables.base import MachineTable

__all__ = [
    "LOOP_TABLE",
    "SESSION_TABLE",
    "LoopEvent",
    "LoopState",
    "SessionEvent",
    "SessionState",
]


class LoopState(enum.Enum):
    #: Started (``AgentStart``), accepting its events (REC-010).
    RUNNING = "running"
    #: Ended by ``AgentEnd`` without a rejection (REC-020).
    COMPLETED = "completed"
    #: Ended by ``AgentEnd`` with a rejection, or refused by ``before_task`` (REC-012).
    REJECTED = "rejected"
    #: Still running when ``flush`` was called (REC-050).
    ABORTED = "aborted"


class LoopEvent(enum.Enum):
    #: One of the loop's events was recorded with the next sequence number (REC-031).
    RECORD = "record"
    #: ``AgentEnd`` without a rejection (REC-020).
    END = "end"
    #: ``AgentEnd`` with a rejection (REC-020).
    END_REJECTED = "end_rejected"
    #: ``before_task`` returned false for the loop's session (REC-012).
    REFUSE = "refuse"
    #: ``flush`` found the loop running (REC-050).
    ABORT = "abort"


class SessionState(enum.Enum):
    #: Taking loops (REC-011).
    OPEN = "open"
    #: Moved to the completed list by ``checkpoint`` or ``flush`` (REC-050, REC-051).
    COMPLETED = "completed"


class SessionEvent(enum.Enum):
    #: A loop of this session started (REC-011).
    LOOP_START = "loop_start"
    #: A loop of this session ended and was placed in start order (REC-022).
    LOOP_CLOSE = "loop_close"
    #: ``checkpoint`` found no loop of it running (REC-051).
    CHECKPOINT = "checkpoint"
    #: ``flush`` (REC-050).
    FLUSH = "flush"


_LS = LoopState
_LE = LoopEvent
_SS = SessionState
_SE = SessionEvent

#: A loop record's lifecycle; every end is final (REC-021).
LOOP_TABLE: MachineTable[LoopState, LoopEvent] = MachineTable(
    name="recorder_loop",
    states=LoopState,
    events=LoopEvent,
    initial=LoopState.RUNNING,
    transitions={
        (_LS.RUNNING, _LE.RECORD): _LS.RUNNING,
        (_LS.RUNNING, _LE.END): _LS.COMPLETED,
        (_LS.RUNNING, _LE.END_REJECTED): _LS.REJECTED,
        (_LS.RUNNING, _LE.REFUSE): _LS.REJECTED,
        (_LS.RUNNING, _LE.ABORT): _LS.ABORTED,
    },
    rejections={
        (state, event): "loop_closed"
        for state in (_LS.COMPLETED, _LS.REJECTED, _LS.ABORTED)
        for event in LoopEvent
    },
    requirements={
        (_LS.RUNNING, _LE.RECORD): "REC-031",
        (_LS.RUNNING, _LE.END): "REC-020",
        (_LS.RUNNING, _LE.END_REJECTED): "REC-020",
        (_LS.RUNNING, _LE.REFUSE): "REC-012",
        (_LS.RUNNING, _LE.ABORT): "REC-050",
    },
)

#: A session segment's lifecycle (REC-013).
SESSION_TABLE: MachineTable[SessionState, SessionEvent] = MachineTable(
    name="recorder_session",
    states=SessionState,
    events=SessionEvent,
    initial=SessionState.OPEN,
    transitions={
        (_SS.OPEN, _SE.LOOP_START): _SS.OPEN,
        (_SS.OPEN, _SE.LOOP_CLOSE): _SS.OPEN,
        (_SS.OPEN, _SE.CHECKPOINT): _SS.COMPLETED,
        (_SS.OPEN, _SE.FLUSH): _SS.COMPLETED,
    },
    rejections={(_SS.COMPLETED, event): "session_completed" for event in SessionEvent},
    requirements={
        (_SS.OPEN, _SE.LOOP_START): "REC-011",
        (_SS.OPEN, _SE.LOOP_CLOSE): "REC-022",
        (_SS.OPEN, _SE.CHECKPOINT): "REC-051",
        (_SS.OPEN, _SE.FLUSH): "REC-050",
    },
)
