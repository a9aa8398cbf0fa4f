"""Protocol messages of the persisted-state machine (``state.*``, spec/PROTOCOL.md §12).

Two objects are reached: a *state store* (STATE-010..STATE-014), named by a runner-chosen
``handle`` and opened by a store name inside the workdir, which keeps one JSON object per
session under an integer head revision compared and swapped on every commit; and a
*persisted session state* (STATE-001, STATE-013, STATE-015), the snapshot a writer loads
from a store, edits and commits with its own head revision. ``state.heal`` runs
``heal_orphaned_leaf`` on a graph given whole (STATE-003).

A stale commit is ``rejected`` with ``head_revision_conflict`` carrying the expected and the
actual head (STATE-010); nothing else about a conflict is left to the harness.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sessionspec.conformance.protocol.common import Empty, _Command, _Model


class StateOpenArgs(_Model):
    handle: str
    #: The store's name inside the workdir; opening the same name again (after a restart)
    #: reaches what was committed to it (capability ``state.durable``).
    store: str = "state"


class StateOpen(_Command):
    cmd: Literal["state.open"] = "state.open"
    args: StateOpenArgs


class StateSessionArgs(_Model):
    handle: str
    session_id: str


class StateLoad(_Command):
    cmd: Literal["state.load"] = "state.load"
    args: StateSessionArgs


class StateLoadResult(_Model):
    #: 0 when nothing was committed for the session (STATE-010).
    head_revision: int = Field(ge=0)
    #: The stored JSON object, ``null`` when nothing was committed.
    state: dict[str, Any] | None = None


class StateCommitArgs(_Model):
    handle: str
    session_id: str
    state: dict[str, Any]
    expected_head_revision: int = Field(ge=0)


class StateCommit(_Command):
    cmd: Literal["state.commit"] = "state.commit"
    args: StateCommitArgs


class HeadRevisionResult(_Model):
    head_revision: int = Field(ge=0)


class StateHandleArgs(_Model):
    handle: str


class StateSessions(_Command):
    cmd: Literal["state.sessions"] = "state.sessions"
    args: StateHandleArgs


class StateSessionsResult(_Model):
    #: Every stored session id, sorted (STATE-014).
    sessions: list[str]


class StateHealArgs(_Model):
    #: A session graph ``{nodes, leaf_node_id}`` in its JSON form (STATE-002).
    graph: dict[str, Any]


class StateHeal(_Command):
    cmd: Literal["state.heal"] = "state.heal"
    args: StateHealArgs


class StateHealResult(_Model):
    healed: bool
    leaf_node_id: str | None


class PersistedLoadArgs(_Model):
    #: The store handle to load from.
    handle: str
    #: The name of the persisted state object this writer holds from now on.
    persisted: str
    session_id: str


class PersistedLoad(_Command):
    """``PersistedSessionState.load`` (normalized, STATE-003), or a new state when absent."""

    cmd: Literal["state.persisted_load"] = "state.persisted_load"
    args: PersistedLoadArgs


class PersistedArgs(_Model):
    persisted: str


class PersistedEditArgs(_Model):
    persisted: str
    turn_index: int | None = Field(default=None, ge=0)
    #: Appends one user message node with this id and text on the active path (STATE-002).
    append_node: tuple[str, str] | None = None
    #: Points the leaf at any id, a missing one included (an orphaned leaf, STATE-003).
    leaf_node_id: str | None = None


class PersistedEdit(_Command):
    cmd: Literal["state.persisted_edit"] = "state.persisted_edit"
    args: PersistedEditArgs


class PersistedCommitArgs(_Model):
    persisted: str
    #: The store handle to commit to, with the state's own head revision (STATE-013).
    handle: str


class PersistedCommit(_Command):
    cmd: Literal["state.persisted_commit"] = "state.persisted_commit"
    args: PersistedCommitArgs


class PersistedObserve(_Command):
    cmd: Literal["state.persisted_observe"] = "state.persisted_observe"
    args: PersistedArgs


class PersistedObservation(_Model):
    """What a persisted state shows (STATE-001, STATE-013, STATE-015)."""

    head_revision: int = Field(ge=0)
    #: The commit lifecycle's state: ``unpersisted``, ``clean`` or ``replace_required``.
    phase: Literal["unpersisted", "clean", "replace_required"]
    needs_commit: bool
    graph_replace_required: bool
    #: The persisted JSON form (what a commit sends).
    state: dict[str, Any]


#: The persisted state's commands and the model of each ``ok`` result.
COMMANDS: dict[str, tuple[type[_Command], type[_Model]]] = {
    "state.open": (StateOpen, Empty),
    "state.load": (StateLoad, StateLoadResult),
    "state.commit": (StateCommit, HeadRevisionResult),
    "state.sessions": (StateSessions, StateSessionsResult),
    "state.heal": (StateHeal, StateHealResult),
    "state.persisted_load": (PersistedLoad, PersistedObservation),
    "state.persisted_edit": (PersistedEdit, PersistedObservation),
    "state.persisted_commit": (PersistedCommit, HeadRevisionResult),
    "state.persisted_observe": (PersistedObserve, PersistedObservation),
}
