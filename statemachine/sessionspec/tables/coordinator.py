"""The coordinator's lifecycle as one table (spec/SPEC.md §4.1, COORD-001..COORD-006).

Rules
-----
1. Everything that decides whether a coordinator operation is allowed lives in this table;
   the runtime (:mod:`sessionspec.runtime.coordinator`) consults it before doing any I/O and
   commits the event only after the operation is durable (GEN-006, COORD-002).
2. The states say what the coordinator may still do, not what it holds: ``ready`` and
   ``compaction_due`` accept every write; ``failed`` accepts only ``close``; ``closed``
   accepts nothing.

Theory of operation
-------------------
``compaction_due`` is the state in which the usage counted since the compaction watermark
has reached the threshold of an enabled engine (COORD-030). It is a pure function of the
persisted figures, so a coordinator resumed from the file is in the same state as the one
that kept running (COORD-020): the runtime fires ``threshold_reached`` after a turn that
crossed the threshold, and once at open time when the replayed figures are already over it.
A successful compaction moves the watermark to the current total and leaves the state
``ready``; under the context-size trigger (COORD-037) the state follows the size of the
context instead, so a leaf move or a turn that shortens it fires ``threshold_cleared`` and
a compaction that leaves it over the limit fires ``threshold_reached`` again. "Nothing to
compact" changes nothing at all, so it fires no event (COORD-036).

``write_failure`` is fired when the log could not undo a failed append (the log itself is
``failed``, LOG-006): nothing in memory was changed, but the file can no longer be trusted,
so the coordinator refuses every write until it is opened again from disk (COORD-012). A
failed append that the log undid cleanly fires nothing: the coordinator stays where it was.

The two odd rules that are not in the table sit in the runtime next to the code that needs
them, each with a comment: which of ``turn_end``/``threshold_reached`` to fire (a data
condition, the threshold), and the validation of ``leaf_move`` targets.
"""

from __future__ import annotations

import enum

from sessionspec.tables.base import MachineTable

__all__ = ["COORDINATOR_TABLE", "CoordinatorEvent", "CoordinatorState"]


class CoordinatorState(enum.Enum):
    #: Accepting operations; usage since the watermark is below the threshold.
    READY = "ready"
    #: Accepting operations; usage since the watermark reached the threshold (COORD-030).
    COMPACTION_DUE = "compaction_due"
    #: The log could not undo a failed write; only ``close`` is accepted (COORD-012).
    FAILED = "failed"
    #: Closed; nothing is accepted.
    CLOSED = "closed"


class CoordinatorEvent(enum.Enum):
    #: A turn (its messages, its usage and its leaf) was appended (COORD-010).
    TURN_END = "turn_end"
    #: The usage since the watermark reached the threshold (COORD-030).
    THRESHOLD_REACHED = "threshold_reached"
    #: The measure fell back under the threshold without a compaction: a leaf move or a
    #: turn left a shorter context under the context-size trigger (COORD-037).
    THRESHOLD_CLEARED = "threshold_cleared"
    #: A compaction entry and its leaf were appended (COORD-031).
    COMPACTION = "compaction"
    #: A leaf moving the active tip was appended (COORD-040).
    LEAF_MOVE = "leaf_move"
    #: An extension state entry was appended (COORD-043).
    EXTENSION_STATE = "extension_state"
    #: A fork was written to a new file; the source is unchanged (COORD-050).
    FORK = "fork"
    #: The coordinator released its log.
    CLOSE = "close"
    #: The log could not undo a failed append (COORD-012).
    WRITE_FAILURE = "write_failure"


_S = CoordinatorState
_E = CoordinatorEvent

_WRITES = (
    _E.TURN_END,
    _E.THRESHOLD_REACHED,
    _E.THRESHOLD_CLEARED,
    _E.COMPACTION,
    _E.LEAF_MOVE,
    _E.EXTENSION_STATE,
    _E.FORK,
    _E.WRITE_FAILURE,
)

#: The coordinator lifecycle. Every pair not listed is rejected: with code ``failed`` in
#: the failed state, ``closed`` in the closed state (GEN-003).
COORDINATOR_TABLE: MachineTable[CoordinatorState, CoordinatorEvent] = MachineTable(
    name="coordinator",
    states=CoordinatorState,
    events=CoordinatorEvent,
    initial=CoordinatorState.READY,
    transitions={
        # State: ready
        (_S.READY, _E.TURN_END): _S.READY,
        (_S.READY, _E.THRESHOLD_REACHED): _S.COMPACTION_DUE,
        (_S.READY, _E.THRESHOLD_CLEARED): _S.READY,
        (_S.READY, _E.COMPACTION): _S.READY,
        (_S.READY, _E.LEAF_MOVE): _S.READY,
        (_S.READY, _E.EXTENSION_STATE): _S.READY,
        (_S.READY, _E.FORK): _S.READY,
        (_S.READY, _E.CLOSE): _S.CLOSED,
        (_S.READY, _E.WRITE_FAILURE): _S.FAILED,
        # State: compaction_due (usage since the watermark never decreases, so under the
        # cumulative trigger a turn keeps the compaction due and only a compaction clears
        # it; under the context-size trigger a shorter context clears it, COORD-037)
        (_S.COMPACTION_DUE, _E.TURN_END): _S.COMPACTION_DUE,
        (_S.COMPACTION_DUE, _E.THRESHOLD_REACHED): _S.COMPACTION_DUE,
        (_S.COMPACTION_DUE, _E.THRESHOLD_CLEARED): _S.READY,
        (_S.COMPACTION_DUE, _E.COMPACTION): _S.READY,
        (_S.COMPACTION_DUE, _E.LEAF_MOVE): _S.COMPACTION_DUE,
        (_S.COMPACTION_DUE, _E.EXTENSION_STATE): _S.COMPACTION_DUE,
        (_S.COMPACTION_DUE, _E.FORK): _S.COMPACTION_DUE,
        (_S.COMPACTION_DUE, _E.CLOSE): _S.CLOSED,
        (_S.COMPACTION_DUE, _E.WRITE_FAILURE): _S.FAILED,
        # State: failed
        (_S.FAILED, _E.CLOSE): _S.CLOSED,
    },
    rejections={
        **{(_S.FAILED, event): "failed" for event in _WRITES},
        **{(_S.CLOSED, event): "closed" for event in CoordinatorEvent},
    },
    requirements={
        (_S.READY, _E.TURN_END): "COORD-010",
        (_S.READY, _E.THRESHOLD_REACHED): "COORD-030",
        (_S.READY, _E.COMPACTION): "COORD-031",
        (_S.READY, _E.LEAF_MOVE): "COORD-040",
        (_S.READY, _E.EXTENSION_STATE): "COORD-043",
        (_S.READY, _E.FORK): "COORD-050",
        (_S.READY, _E.WRITE_FAILURE): "COORD-012",
        (_S.COMPACTION_DUE, _E.TURN_END): "COORD-030",
        (_S.COMPACTION_DUE, _E.COMPACTION): "COORD-031",
        (_S.COMPACTION_DUE, _E.THRESHOLD_CLEARED): "COORD-037",
        (_S.COMPACTION_DUE, _E.WRITE_FAILURE): "COORD-012",
        (_S.FAILED, _E.CLOSE): "COORD-012",
    },
)
