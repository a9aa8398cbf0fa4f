"""The persisted session state's commit lifecycle as one table (spec §7.2, STATE-015).

Rules
-----
1. A state that was never committed nor loaded is ``unpersisted``: its first commit expects
   head 0 and writes everything. A loaded or committed state is ``clean``. A destructive
   change of the graph (``heal_orphaned_leaf`` healed, or the caller rewrote the graph)
   makes it ``replace_required``: the next commit must write the whole graph (STATE-003).
2. A commit that succeeds (``committed``) leaves the state ``clean``; a commit refused with
   ``HeadRevisionConflict`` (``conflicted``) changes nothing (STATE-013), so it loops.
3. ``loaded`` is how a state read from a store begins; a state already in use is never
   loaded again (a fresh object is), so ``loaded`` is refused outside ``unpersisted``.
   (Event names are past participles: ``transitions`` adds one trigger method per event to
   the lifecycle object, which already has ``commit`` and ``check``.)

Theory of operation
-------------------
:class:`~sessionspec.runtime.state.PersistedSessionState` holds a ``transitions`` machine
built from this table; ``graph_replace_required`` and lash's ``park`` rule
(``needs_commit``: ``unpersisted`` or ``replace_required``) are read from its state, so they
cannot disagree with it. The runtime checks an event with the table, does the store call,
and fires the event only after the store answered (GEN-006).
"""

from __future__ import annotations

import enum

from sessionspec.tables.base import MachineTable

__all__ = ["STATE_TABLE", "PersistedStateEvent", "PersistedStatePhase"]


class PersistedStatePhase(enum.Enum):
    #: Never committed nor loaded: the first commit expects head 0.
    UNPERSISTED = "unpersisted"
    #: The store holds what this state holds (as of ``head_revision``).
    CLEAN = "clean"
    #: The graph changed destructively; the next commit writes the whole graph.
    REPLACE_REQUIRED = "replace_required"


class PersistedStateEvent(enum.Enum):
    #: A commit succeeded (STATE-013).
    COMMIT = "committed"
    #: A commit was refused with HeadRevisionConflict; nothing changed (STATE-013).
    CONFLICT = "conflicted"
    #: The state was read from a store (STATE-013).
    LOAD = "loaded"
    #: A destructive change of the graph, such as a healed orphaned leaf (STATE-003).
    GRAPH_REWRITTEN = "graph_rewritten"


_P = PersistedStatePhase
_E = PersistedStateEvent

STATE_TABLE: MachineTable[PersistedStatePhase, PersistedStateEvent] = MachineTable(
    name="persisted_state",
    states=PersistedStatePhase,
    events=PersistedStateEvent,
    initial=_P.UNPERSISTED,
    transitions={
        (_P.UNPERSISTED, _E.COMMIT): _P.CLEAN,
        (_P.UNPERSISTED, _E.CONFLICT): _P.UNPERSISTED,
        (_P.UNPERSISTED, _E.LOAD): _P.CLEAN,
        (_P.UNPERSISTED, _E.GRAPH_REWRITTEN): _P.REPLACE_REQUIRED,
        (_P.CLEAN, _E.COMMIT): _P.CLEAN,
        (_P.CLEAN, _E.CONFLICT): _P.CLEAN,
        (_P.CLEAN, _E.GRAPH_REWRITTEN): _P.REPLACE_REQUIRED,
        (_P.REPLACE_REQUIRED, _E.COMMIT): _P.CLEAN,
        (_P.REPLACE_REQUIRED, _E.CONFLICT): _P.REPLACE_REQUIRED,
        (_P.REPLACE_REQUIRED, _E.GRAPH_REWRITTEN): _P.REPLACE_REQUIRED,
    },
    rejections={
        (_P.CLEAN, _E.LOAD): "already_loaded",
        (_P.REPLACE_REQUIRED, _E.LOAD): "already_loaded",
    },
    requirements={
        (_P.UNPERSISTED, _E.COMMIT): "STATE-013",
        (_P.UNPERSISTED, _E.LOAD): "STATE-013",
        (_P.CLEAN, _E.GRAPH_REWRITTEN): "STATE-003",
        (_P.REPLACE_REQUIRED, _E.COMMIT): "STATE-013",
        (_P.CLEAN, _E.CONFLICT): "STATE-010",
    },
)
