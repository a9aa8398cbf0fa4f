"""The persisted state of a session, with its graph and head-revision commits (spec §7.1-7.2).

Seed: lash's ``PersistedSessionState`` (research/seeds.md §4). Kept here: the session
graph with its active path and ``heal_orphaned_leaf``, the turn index, token usage, the
token ledger, blob refs and the checkpoint ref; runtime-only, never persisted:
``head_revision`` and ``graph_replace_required`` (STATE-001). lash's tool, plugin and
execution snapshots belong to its runtime, not to a session lifecycle, and are left out.

Rules
-----
* The graph (STATE-002): nodes with unique ids whose parents are earlier nodes; the active
  path walks parents back from the leaf; appending on the active path moves the leaf.
* ``heal_orphaned_leaf`` (STATE-003): a leaf that names no node falls back to the last
  message node; ``normalize`` heals and then requires the next commit to replace the graph.
* The commit lifecycle is the table :data:`~sessionspec.tables.state.STATE_TABLE`
  (STATE-015); ``graph_replace_required`` and ``needs_commit`` are read from it.
* ``commit(store)`` (STATE-013) sends the state with ``expected_head_revision =
  head_revision``; on success it takes the new head and clears ``graph_replace_required``;
  on :class:`~sessionspec.errors.HeadRevisionConflict` it changes nothing. ``needs_commit``
  is lash's ``park`` rule: before the first commit, or when the graph must be replaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessionspec.errors import CallerError, HeadRevisionConflict
from sessionspec.lifecycle import Lifecycle
from sessionspec.pricing import PricingTable
from sessionspec.runtime.ledger import TokenLedger, UsageReport
from sessionspec.runtime.revisions import item_of
from sessionspec.storage.state_store import StateStore
from sessionspec.tables.state import STATE_TABLE, PersistedStateEvent, PersistedStatePhase
from sessionspec.usage import CumulativeUsage
from sessionspec.wire.messages import Message

__all__ = ["PersistedSessionState", "SessionGraph", "SessionNode"]

NODE_KINDS = ("message", "event")


@dataclass(frozen=True, slots=True)
class SessionNode:
    """One node of the session graph; a message node's payload is a wire message."""

    node_id: str
    parent_node_id: str | None
    kind: str
    timestamp: str
    payload: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "parent_node_id": self.parent_node_id,
            "kind": self.kind,
            "timestamp": self.timestamp,
            "payload": dict(self.payload),
        }


def _node_of(data: Any) -> SessionNode:
    if not isinstance(data, Mapping):
        raise CallerError(f"a graph node must be an object, not {data!r}")
    node_id, parent, kind = data.get("node_id"), data.get("parent_node_id"), data.get("kind")
    timestamp, payload = data.get("timestamp"), data.get("payload")
    if not isinstance(node_id, str) or not node_id:
        raise CallerError(f"a node id must be a non-empty string, not {node_id!r}")
    if parent is not None and not isinstance(parent, str):
        raise CallerError(f"node {node_id!r}: parent_node_id must be a string or null")
    if kind not in NODE_KINDS:
        raise CallerError(f"node {node_id!r}: kind must be one of {NODE_KINDS}, not {kind!r}")
    if not isinstance(timestamp, str) or not isinstance(payload, Mapping):
        raise CallerError(f"node {node_id!r}: needs a string timestamp and an object payload")
    if kind == "message":
        payload = item_of(payload)[0].to_json_dict()  # a message node holds a valid message
    return SessionNode(node_id, parent, kind, timestamp, payload)


class SessionGraph:
    """Nodes in append order and the active leaf (STATE-002, STATE-003)."""

    __slots__ = ("_by_id", "leaf_node_id", "nodes")

    def __init__(self) -> None:
        self.nodes: list[SessionNode] = []
        self._by_id: dict[str, SessionNode] = {}
        self.leaf_node_id: str | None = None

    def append(self, node: SessionNode | Mapping[str, Any], *, move_leaf: bool = True) -> None:
        """Add a node (its parent must be known); by default it becomes the leaf."""
        checked = _node_of(node.to_json() if isinstance(node, SessionNode) else node)
        if checked.node_id in self._by_id:
            raise CallerError(f"node id {checked.node_id!r} is already in the graph")
        if checked.parent_node_id is not None and checked.parent_node_id not in self._by_id:
            raise CallerError(
                f"node {checked.node_id!r}: unknown parent {checked.parent_node_id!r}"
            )
        self.nodes.append(checked)
        self._by_id[checked.node_id] = checked
        if move_leaf:
            self.leaf_node_id = checked.node_id

    def active_path(self) -> list[SessionNode]:
        """Nodes from the root to the leaf (empty when the leaf is unset or unknown)."""
        path: list[SessionNode] = []
        seen: set[str] = set()
        cursor = self.leaf_node_id
        while cursor is not None and cursor in self._by_id and cursor not in seen:
            seen.add(cursor)
            node = self._by_id[cursor]
            path.append(node)
            cursor = node.parent_node_id
        path.reverse()
        return path

    def active_messages(self) -> list[Message]:
        return [item_of(n.payload)[0] for n in self.active_path() if n.kind == "message"]

    def heal_orphaned_leaf(self) -> bool:
        """A leaf naming no node falls back to the last message node (STATE-003)."""
        if self.leaf_node_id is None or self.leaf_node_id in self._by_id:
            return False
        messages = [n for n in self.nodes if n.kind == "message"]
        self.leaf_node_id = messages[-1].node_id if messages else None
        return True

    def copy(self) -> SessionGraph:
        twin = SessionGraph()
        twin.nodes = list(self.nodes)
        twin._by_id = dict(self._by_id)
        twin.leaf_node_id = self.leaf_node_id
        return twin

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [n.to_json() for n in self.nodes], "leaf_node_id": self.leaf_node_id}

    @classmethod
    def from_json(cls, data: Any) -> SessionGraph:
        """Nodes are checked as by :meth:`append`; the leaf is kept even if orphaned."""
        if not isinstance(data, Mapping) or not isinstance(data.get("nodes", []), list):
            raise CallerError("a session graph must be an object with a list of nodes")
        graph = cls()
        for node in data.get("nodes", []):
            graph.append(node, move_leaf=False)
        leaf = data.get("leaf_node_id")
        if leaf is not None and not isinstance(leaf, str):
            raise CallerError(f"leaf_node_id must be a string or null, not {leaf!r}")
        graph.leaf_node_id = leaf
        return graph


@dataclass
class PersistedSessionState:
    """The snapshot a state store keeps for one session (STATE-001)."""

    session_id: str
    session_graph: SessionGraph = field(default_factory=SessionGraph)
    turn_index: int = 0
    token_usage: CumulativeUsage = field(default_factory=CumulativeUsage)
    token_ledger: TokenLedger = field(default_factory=TokenLedger)
    blob_refs: list[str] = field(default_factory=list)
    checkpoint_ref: str | None = None
    #: Runtime only: the store head this state was loaded at or last committed (0: none).
    head_revision: int = 0
    #: Runtime only: the commit lifecycle (tables/state.py, STATE-015).
    lifecycle: Lifecycle[PersistedStatePhase, PersistedStateEvent] = field(
        default_factory=lambda: Lifecycle(STATE_TABLE), repr=False, compare=False
    )

    @property
    def phase(self) -> PersistedStatePhase:
        return self.lifecycle.state

    @property
    def graph_replace_required(self) -> bool:
        """Runtime only: the next commit must write the whole graph (STATE-003)."""
        return self.lifecycle.state is PersistedStatePhase.REPLACE_REQUIRED

    def mark_graph_rewritten(self) -> None:
        """A destructive change of the graph: the next commit writes it whole (STATE-003)."""
        self.lifecycle.commit(PersistedStateEvent.GRAPH_REWRITTEN)

    # -- operations ---------------------------------------------------------------------

    def normalize(self) -> bool:
        """Heal an orphaned leaf; if it healed, the graph must be replaced (STATE-003)."""
        healed = self.session_graph.heal_orphaned_leaf()
        if healed:
            self.mark_graph_rewritten()
        return healed

    def append_active_messages(
        self, messages: Sequence[Message | Mapping[str, Any]], node_ids: Sequence[str],
        timestamp: str,
    ) -> None:
        """Append messages on the active path, one node each (ids given by the caller)."""
        if len(messages) != len(node_ids):
            raise CallerError("one node id per message")
        payloads = [item_of(m)[0].to_json_dict() for m in messages]  # validate all first
        staged = self.session_graph.copy()
        for node_id, payload in zip(node_ids, payloads, strict=True):
            staged.append(
                {"node_id": node_id, "parent_node_id": staged.leaf_node_id,
                 "kind": "message", "timestamp": timestamp, "payload": payload}
            )
        self.session_graph = staged

    @property
    def needs_commit(self) -> bool:
        """lash's ``park`` rule: never committed yet, or the graph must be replaced."""
        return self.lifecycle.state is not PersistedStatePhase.CLEAN

    def usage_report(self, pricing: PricingTable | None = None) -> UsageReport:
        return self.token_ledger.report(pricing)

    def commit(self, store: StateStore) -> int:
        """Commit with ``expected_head_revision = head_revision`` (STATE-013)."""
        self.lifecycle.check(PersistedStateEvent.COMMIT)
        try:
            head = store.commit(self.session_id, self.to_json(), self.head_revision)
        except HeadRevisionConflict:
            self.lifecycle.commit(PersistedStateEvent.CONFLICT)  # a loop: nothing changes
            raise
        self.head_revision = head
        self.lifecycle.commit(PersistedStateEvent.COMMIT)
        return head

    @classmethod
    def load(cls, store: StateStore, session_id: str) -> PersistedSessionState | None:
        """The stored state at its head, normalized (STATE-003), or None."""
        stored = store.load(session_id)
        if stored is None:
            return None
        state = cls.from_json(stored.state, head_revision=stored.head_revision)
        state.lifecycle.commit(PersistedStateEvent.LOAD)
        state.normalize()
        return state

    # -- JSON ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The persisted form; ``head_revision`` and the lifecycle are not in it."""
        return {
            "session_id": self.session_id,
            "session_graph": self.session_graph.to_json(),
            "turn_index": self.turn_index,
            "token_usage": self.token_usage.to_dict(),
            "token_ledger": self.token_ledger.to_json(),
            "blob_refs": list(self.blob_refs),
            "checkpoint_ref": self.checkpoint_ref,
        }

    @classmethod
    def from_json(cls, data: Any, *, head_revision: int = 0) -> PersistedSessionState:
        if not isinstance(data, Mapping):
            raise CallerError("a persisted state must be an object")
        session_id = data.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise CallerError(f"session_id must be a non-empty string, not {session_id!r}")
        turn_index = data.get("turn_index", 0)
        if isinstance(turn_index, bool) or not isinstance(turn_index, int) or turn_index < 0:
            raise CallerError(f"turn_index must be an integer >= 0, not {turn_index!r}")
        blob_refs = data.get("blob_refs", [])
        if not isinstance(blob_refs, list) or not all(isinstance(b, str) for b in blob_refs):
            raise CallerError("blob_refs must be a list of strings")
        checkpoint = data.get("checkpoint_ref")
        if checkpoint is not None and not isinstance(checkpoint, str):
            raise CallerError("checkpoint_ref must be a string or null")
        usage = data.get("token_usage", {})
        if not isinstance(usage, Mapping):
            raise CallerError("token_usage must be an object")
        return cls(
            session_id=session_id,
            session_graph=SessionGraph.from_json(data.get("session_graph", {"nodes": []})),
            turn_index=turn_index,
            token_usage=CumulativeUsage.from_dict(usage),
            token_ledger=TokenLedger.from_json(data.get("token_ledger", {})),
            blob_refs=list(blob_refs),
            checkpoint_ref=checkpoint,
            head_revision=head_revision,
        )
