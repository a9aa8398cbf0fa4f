"""The persisted-state conformance machine: any store, through the protocol (spec §7, CONF-140).

The machine reaches an implementation only through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``state.*`` commands of
``spec/PROTOCOL.md``; DESIGN §4); :class:`~sessionspec.conformance.state_driver.StateDriver`
keeps the model (a dict ``session -> (head, state)`` and each writer's persisted state) and
names the requirement of every check.

Rules. Raw commits to the store carry the current head, a stale one or a future one
(STATE-010); ``two_stale_writers`` plays two writers that read the same head and commit one
after the other: exactly one wins (STATE-012). Persisted-state writers (two of them, on two
sessions of their own, so their JSON is always a persisted state) load, edit the turn index,
append message nodes, point the leaf anywhere (an orphaned leaf included), and commit with
their own head: success cleans them, a conflict changes nothing (STATE-013, STATE-015), and a
state loaded with an orphaned leaf comes back healed and must be replaced (STATE-003).
``heal`` checks ``heal_orphaned_leaf`` on drawn graphs. When the harness declares
``state.durable`` and can die (``storage.simulated`` or ``crash.kill``, CONF-143), the
harness dies between operations and, with ``crash.kill``, inside a commit; the store opened
again holds what was acknowledged (STATE-011). The invariant loads every session back.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sessionspec.conformance import checks
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.protocol import Capability
from sessionspec.conformance.state_driver import StateDriver, restart_possible

__all__ = ["PERSISTED_SESSIONS", "SESSIONS", "StateStoreMachine"]

#: Sessions the raw commits write (free-form JSON objects).
SESSIONS = ("alpha", "beta", "gamma")
#: Sessions the persisted-state writers own (their JSON is always a persisted state).
PERSISTED_SESSIONS = ("p1", "p2")
WRITERS = ("w1", "w2")
_STATES = st.dictionaries(
    st.sampled_from(("turn_index", "leaf", "note")),
    st.one_of(st.integers(0, 9), st.text(max_size=3), st.none()),
    max_size=3,
)
_NODE_IDS = ("n1", "n2", "n3")


@st.composite
def _graphs(draw: st.DrawFn) -> dict[str, Any]:
    """A small session graph, its leaf a node, nothing, or an id no node has."""
    kinds = draw(st.lists(st.sampled_from(("message", "event")), max_size=3))
    nodes = []
    for number, kind in enumerate(kinds):
        payload = (
            {"role": "user", "content": [{"type": "text", "text": f"m{number}"}], "timestamp_ms": 1}
            if kind == "message"
            else {"note": number}
        )
        nodes.append(
            {
                "node_id": _NODE_IDS[number],
                "parent_node_id": _NODE_IDS[number - 1] if number else None,
                "kind": kind,
                "timestamp": "2026-01-01T00:00:00Z",
                "payload": payload,
            }
        )
    leaf = draw(st.sampled_from((None, "ghost", *_NODE_IDS[: len(nodes)])))
    return {"nodes": nodes, "leaf_node_id": leaf}


class StateStoreMachine(RuleBasedStateMachine):
    """Lock-step conformance of a state store and its persisted states, via the protocol."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.conn = connection
        trace: list[dict[str, Any]] = [{"op": "start"}]
        checks.current().trace = trace
        self.d = StateDriver(connection, trace)
        self.nodes = 0
        self.can_restart = restart_possible(connection)
        self.can_kill = self.can_restart and connection.has(str(Capability.CRASH_KILL))

    @property
    def all_sessions(self) -> tuple[str, ...]:
        return (*SESSIONS, *PERSISTED_SESSIONS)

    # -- the store -------------------------------------------------------------------------

    @rule(
        session=st.sampled_from(SESSIONS),
        state=_STATES,
        offset=st.sampled_from((0, 0, 0, -1, -2, 1)),
    )
    def commit(self, session: str, state: dict[str, Any], offset: int) -> None:
        self.d.commit(session, state, max(0, self.d.head(session) + offset))

    @rule(session=st.sampled_from(SESSIONS), first=_STATES, second=_STATES)
    def two_stale_writers(
        self, session: str, first: dict[str, Any], second: dict[str, Any]
    ) -> None:
        self.d.race(session, first, second)

    @rule(graph=_graphs())
    def heal(self, graph: dict[str, Any]) -> None:
        self.d.heal(graph)

    # -- persisted states ------------------------------------------------------------------

    @rule(writer=st.sampled_from(WRITERS), session=st.sampled_from(PERSISTED_SESSIONS))
    def persisted_load(self, writer: str, session: str) -> None:
        self.d.persisted_load(writer, session)

    @precondition(lambda self: bool(self.d.writers))
    @rule(
        data=st.data(),
        turn_index=st.one_of(st.none(), st.integers(0, 9)),
        append=st.booleans(),
        leaf=st.sampled_from((None, None, "ghost", "first")),
    )
    def persisted_edit(
        self, data: st.DataObject, turn_index: int | None, append: bool, leaf: str | None
    ) -> None:
        name = data.draw(st.sampled_from(sorted(self.d.writers)))
        writer = self.d.writers[name]
        node = None
        if append:
            self.nodes += 1
            node = f"node-{self.nodes}"
        target = leaf
        if leaf == "first":
            target = writer.nodes[0] if writer.nodes else None
        self.d.persisted_edit(name, turn_index, node, target)

    @precondition(lambda self: bool(self.d.writers))
    @rule(data=st.data())
    def persisted_commit(self, data: st.DataObject) -> None:
        self.d.persisted_commit(data.draw(st.sampled_from(sorted(self.d.writers))))

    @rule(session=st.sampled_from(PERSISTED_SESSIONS), turn_index=st.integers(0, 9))
    def stale_persisted_writers(self, session: str, turn_index: int) -> None:
        """Two writers load one session; the first commits, the second's commit conflicts and
        changes nothing of it, twice over (STATE-012, STATE-013)."""
        first, second = WRITERS
        self.d.persisted_load(first, session)
        self.d.persisted_load(second, session)
        self.d.persisted_edit(first, turn_index, None, None)
        self.d.persisted_commit(first)
        self.d.persisted_commit(second)
        self.d.persisted_commit(second)

    @rule(
        writer=st.sampled_from(WRITERS),
        session=st.sampled_from(PERSISTED_SESSIONS),
        appended=st.booleans(),
    )
    def store_an_orphaned_leaf(self, writer: str, session: str, appended: bool) -> None:
        """Load, point the leaf at a node no one has, commit, load again: the state comes
        back healed and must replace its graph at the next commit (STATE-003)."""
        self.d.persisted_load(writer, session)
        node = None
        if appended:
            self.nodes += 1
            node = f"node-{self.nodes}"
        self.d.persisted_edit(writer, None, node, None)
        self.d.persisted_edit(writer, None, None, "ghost")
        self.d.persisted_commit(writer)
        self.d.persisted_load(writer, session)

    # -- death (STATE-011, CONF-143) -------------------------------------------------------

    @precondition(lambda self: self.can_restart)
    @rule()
    def restart(self) -> None:
        self.d.restart(self.all_sessions)

    @precondition(lambda self: self.can_kill)
    @rule(session=st.sampled_from(SESSIONS), state=_STATES)
    def kill_inside_commit(self, session: str, state: dict[str, Any]) -> None:
        self.d.kill_in_commit(session, state)

    @invariant()
    def loads_agree(self) -> None:
        self.d.check_store(self.all_sessions)
