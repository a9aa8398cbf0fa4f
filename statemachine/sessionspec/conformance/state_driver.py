"""The state driver: a state store and persisted states, through the protocol, vs a model.

:class:`StateDriver` reaches one store of the implementation through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``state.*`` commands of
``spec/PROTOCOL.md``) and keeps the model beside it: a dict ``session -> (head, state)``
(STATE-010) and, for each persisted-state writer, the head it holds, its lifecycle phase
(STATE-015) and the fields it shows (STATE-001). Every operation is applied to both and
every difference is charged to the requirement it breaks (CONF-060, CONF-140):

* a commit's outcome (the new head, or ``head_revision_conflict`` with the expected and
  actual heads) is the model's (STATE-010); the conflict's typed form is CONF-141;
* two writers holding the same head: exactly one wins (STATE-012);
* a persisted state commits with its own head; success makes it ``clean`` at the new head,
  a conflict changes nothing (STATE-013, STATE-015); a state loaded with an orphaned leaf
  is healed and must be replaced at the next commit (STATE-003);
* the store shows every session as committed, sorted (STATE-010, STATE-014), and a store
  opened again after a power cut or a SIGKILL inside a commit holds the head before or after
  that commit, never less than what was acknowledged (STATE-011).

The Hypothesis machine (:mod:`sessionspec.conformance.state_machine`) draws the operations;
nothing here needs Hypothesis.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from sessionspec.conformance.adapters import Connection, Reply
from sessionspec.conformance.checks import require
from sessionspec.conformance.protocol import Capability

__all__ = ["StateDriver", "Writer", "heal_expected", "restart_possible", "run_steps"]

_STORES = itertools.count(1)
CONFLICT = "head_revision_conflict"


def restart_possible(connection: Connection) -> bool:
    """A store can be reopened after a death: declared durable, and the harness can die."""
    return connection.has(str(Capability.STATE_DURABLE)) and (
        connection.has(str(Capability.STORAGE_SIMULATED))
        or connection.has(str(Capability.CRASH_KILL))
    )


def heal_expected(graph: dict[str, Any]) -> tuple[bool, str | None]:
    """``heal_orphaned_leaf`` by STATE-003: (healed, the leaf afterwards)."""
    nodes = graph.get("nodes", [])
    leaf = graph.get("leaf_node_id")
    if leaf is None or any(n["node_id"] == leaf for n in nodes):
        return False, leaf
    messages = [n["node_id"] for n in nodes if n["kind"] == "message"]
    return True, messages[-1] if messages else None


@dataclass
class Writer:
    """The model of one persisted state a writer holds (STATE-001, STATE-013, STATE-015)."""

    session: str
    head: int
    phase: str
    turn_index: int = 0
    #: Message node ids in graph order.
    nodes: list[str] = field(default_factory=list)
    leaf: str | None = None

    @property
    def orphaned(self) -> bool:
        return self.leaf is not None and self.leaf not in self.nodes


class StateDriver:
    """One store of the implementation and its model, in lock step."""

    def __init__(self, connection: Connection, trace: list[dict[str, Any]]) -> None:
        self.conn = connection
        self.trace = trace
        self.store = f"states-{next(_STORES)}"
        self.model: dict[str, tuple[int, dict[str, Any]]] = {}
        self.writers: dict[str, Writer] = {}
        self.crashes = 0
        self._open()

    # -- plumbing --------------------------------------------------------------------------

    def _open(self) -> None:
        reply = self.conn.call("state.open", handle="store", store=self.store)
        require("CONF-030", reply.ok, f"state.open: {reply.describe()}")

    def _ok(self, cmd: str, reply: Reply) -> dict[str, Any]:
        require("CONF-030", reply.ok, f"{cmd}: {reply.describe()}")
        return reply.result

    def head(self, session: str) -> int:
        return self.model.get(session, (0, {}))[0]

    # -- the store -------------------------------------------------------------------------

    def commit(
        self, session: str, state: dict[str, Any], expected: int, *, record: bool = True
    ) -> bool:
        """One commit, judged by STATE-010; whether it won."""
        if record:
            self.trace.append(
                {"op": "commit", "session": session, "state": state, "expected": expected}
            )
        actual = self.head(session)
        reply = self.conn.call(
            "state.commit",
            handle="store",
            session_id=session,
            state=state,
            expected_head_revision=expected,
        )
        return self._judge_commit(
            f"commit {session} at {expected}",
            reply,
            expected,
            actual,
            lambda head: self.model.__setitem__(session, (head, state)),
        )

    def _judge_commit(self, what: str, reply: Reply, expected: int, actual: int, won: Any) -> bool:
        if reply.status == "rejected" and reply.error_type == CONFLICT:
            require(
                "STATE-010",
                expected != actual,
                f"{what}: refused with head_revision_conflict, but the head is {actual}",
            )
            error = reply.error or {}
            heads = (error.get("expected_head_revision"), error.get("actual_head_revision"))
            require(
                "CONF-141",
                heads == (expected, actual),
                f"{what}: the conflict names heads {heads}, not ({expected}, {actual})",
            )
            return False
        if reply.status == "rejected":
            require(
                "CONF-141",
                False,
                f"{what}: rejected {reply.error_type}, expected "
                + ("ok" if expected == actual else CONFLICT),
            )
        require("CONF-030", reply.ok, f"{what}: {reply.describe()}")
        require(
            "STATE-010",
            expected == actual,
            f"{what}: accepted a stale head {expected}; the head was {actual}",
        )
        head = reply.result.get("head_revision")
        require(
            "STATE-010", head == actual + 1, f"{what}: the new head is {head!r}, not {actual + 1}"
        )
        won(actual + 1)
        return True

    def race(self, session: str, first: dict[str, Any], second: dict[str, Any]) -> None:
        """Two writers that read the same head commit in turn: exactly one wins (STATE-012)."""
        self.trace.append({"op": "race", "session": session, "first": first, "second": second})
        head = self.head(session)
        outcomes = [
            self.commit(session, first, head, record=False),
            self.commit(session, second, head, record=False),
        ]
        require(
            "STATE-012",
            outcomes == [True, False],
            f"two writers at head {head} of {session}: outcomes {outcomes}",
        )

    def check_store(self, sessions: tuple[str, ...], requirement: str = "STATE-010") -> None:
        """Every session loads as the model has it; ``sessions`` lists the committed ones."""
        for session in sessions:
            got = self._ok(
                "state.load", self.conn.call("state.load", handle="store", session_id=session)
            )
            want_head, want_state = self.model.get(session, (0, None))
            seen = (got.get("head_revision"), got.get("state"))
            require(
                requirement,
                seen == (want_head, want_state),
                f"{session} loads as head {seen[0]!r} {seen[1]!r:.200}, model head "
                f"{want_head} {want_state!r:.200}",
            )
        listed = self._ok("state.sessions", self.conn.call("state.sessions", handle="store"))
        require(
            "STATE-014",
            listed.get("sessions") == sorted(self.model),
            f"sessions() is {listed.get('sessions')!r}, model {sorted(self.model)!r}",
        )

    # -- death and reopening (STATE-011) ----------------------------------------------------

    def restart(self, sessions: tuple[str, ...]) -> None:
        """The harness dies between operations; the store opened again holds everything."""
        self.trace.append({"op": "restart"})
        self.crashes += 1
        if self.conn.has(str(Capability.STORAGE_SIMULATED)):
            self.conn.call("sim.power_cut", seed=self.crashes)
        else:
            self.conn.kill_during(
                "state.sessions", {"handle": "store"}, random.Random(self.crashes)
            )
        self._reopened(sessions)

    def kill_in_commit(self, session: str, state: dict[str, Any]) -> None:
        """SIGKILL inside a current commit: the reopened store holds the head before or after
        it, the one after if it was acknowledged (STATE-011)."""
        self.trace.append({"op": "kill_in_commit", "session": session, "state": state})
        self.crashes += 1
        before = self.head(session)
        reply = self.conn.kill_during(
            "state.commit",
            {
                "handle": "store",
                "session_id": session,
                "state": state,
                "expected_head_revision": before,
            },
            random.Random(self.crashes),
        )
        self._open()
        self.writers.clear()
        got = self._ok(
            "state.load", self.conn.call("state.load", handle="store", session_id=session)
        )
        seen = (got.get("head_revision"), got.get("state"))
        old = self.model.get(session, (0, None))
        new = (before + 1, state)
        allowed = [new] if reply is not None and reply.ok else [old, new]
        require(
            "STATE-011",
            seen in allowed,
            f"after a kill inside commit at head {before}: {seen!r:.200}, allowed {allowed!r:.300}",
        )
        if seen == new:
            self.model[session] = (new[0], state)
        self.check_store((session,), "STATE-011")

    def _reopened(self, sessions: tuple[str, ...]) -> None:
        self._open()
        self.writers.clear()  # the dead process's objects are gone
        self.check_store(sessions, "STATE-011")

    # -- persisted states (STATE-001, STATE-003, STATE-013, STATE-015) ----------------------

    def _observe_check(self, name: str, got: dict[str, Any], what: str) -> None:
        writer = self.writers[name]
        require(
            "STATE-013",
            got.get("head_revision") == writer.head,
            f"{what}: head_revision {got.get('head_revision')!r}, model {writer.head}",
        )
        phase = got.get("phase")
        require(
            "STATE-015", phase == writer.phase, f"{what}: phase {phase!r}, model {writer.phase!r}"
        )
        require(
            "STATE-015",
            got.get("needs_commit") == (writer.phase != "clean"),
            f"{what}: needs_commit {got.get('needs_commit')!r} in phase {writer.phase}",
        )
        require(
            "STATE-015",
            got.get("graph_replace_required") == (writer.phase == "replace_required"),
            f"{what}: graph_replace_required {got.get('graph_replace_required')!r} in "
            f"phase {writer.phase}",
        )
        state = got.get("state") or {}
        graph = state.get("session_graph") or {}
        fields = (
            state.get("session_id"),
            state.get("turn_index"),
            [n.get("node_id") for n in graph.get("nodes") or []],
            graph.get("leaf_node_id"),
        )
        want = (writer.session, writer.turn_index, writer.nodes, writer.leaf)
        require(
            "STATE-001",
            fields == want,
            f"{what}: (session, turn_index, nodes, leaf) {fields!r}, model {want!r}",
        )

    def persisted_load(self, name: str, session: str) -> None:
        """``PersistedSessionState.load``: at the stored head, normalized (STATE-003)."""
        self.trace.append({"op": "persisted_load", "persisted": name, "session": session})
        reply = self.conn.call(
            "state.persisted_load", handle="store", persisted=name, session_id=session
        )
        got = self._ok("state.persisted_load", reply)
        if session not in self.model:
            self.writers[name] = Writer(session, 0, "unpersisted")
        else:
            head, stored = self.model[session]
            graph = stored.get("session_graph") or {}
            healed, leaf = heal_expected(graph)
            self.writers[name] = Writer(
                session,
                head,
                "replace_required" if healed else "clean",
                turn_index=int(stored.get("turn_index", 0)),
                nodes=[n["node_id"] for n in graph.get("nodes", [])],
                leaf=leaf,
            )
            requirement = "STATE-003" if healed else "STATE-001"
            state = got.get("state") or {}
            got_leaf = (state.get("session_graph") or {}).get("leaf_node_id")
            require(
                requirement,
                got_leaf == leaf,
                f"load of {session}: leaf {got_leaf!r}, model {leaf!r} (stored leaf "
                f"{graph.get('leaf_node_id')!r})",
            )
            require(
                requirement,
                got.get("phase") == self.writers[name].phase,
                f"load of {session}: phase {got.get('phase')!r}, model "
                f"{self.writers[name].phase!r}",
            )
        self._observe_check(name, got, f"load of {session} as {name}")

    def persisted_edit(
        self, name: str, turn_index: int | None, node: str | None, leaf: str | None
    ) -> None:
        writer = self.writers[name]
        args: dict[str, Any] = {"persisted": name}
        if turn_index is not None:
            args["turn_index"] = turn_index
            writer.turn_index = turn_index
        if node is not None and not writer.orphaned:
            args["append_node"] = [node, f"text of {node}"]
            writer.nodes.append(node)
            writer.leaf = node
        if leaf is not None:
            args["leaf_node_id"] = leaf
            writer.leaf = leaf
        self.trace.append({"op": "persisted_edit", **args})
        got = self._ok("state.persisted_edit", self.conn.call("state.persisted_edit", **args))
        self._observe_check(name, got, f"edit of {name}")

    def persisted_commit(self, name: str) -> None:
        """Commit with the state's own head (STATE-013)."""
        self.trace.append({"op": "persisted_commit", "persisted": name})
        writer = self.writers[name]
        sent = self._ok(
            "state.persisted_observe", self.conn.call("state.persisted_observe", persisted=name)
        )
        actual = self.head(writer.session)
        reply = self.conn.call("state.persisted_commit", handle="store", persisted=name)

        def won(head: int) -> None:
            self.model[writer.session] = (head, dict(sent.get("state") or {}))
            writer.head = head
            writer.phase = "clean"

        self._judge_commit(
            f"persisted commit of {name} ({writer.session}) at {writer.head}",
            reply,
            writer.head,
            actual,
            won,
        )
        got = self._ok(
            "state.persisted_observe", self.conn.call("state.persisted_observe", persisted=name)
        )
        self._observe_check(name, got, f"{name} after its commit")

    def heal(self, graph: dict[str, Any]) -> None:
        """``heal_orphaned_leaf`` on a graph given whole (STATE-003)."""
        self.trace.append({"op": "heal", "graph": graph})
        got = self._ok("state.heal", self.conn.call("state.heal", graph=graph))
        healed, leaf = heal_expected(graph)
        seen = (got.get("healed"), got.get("leaf_node_id"))
        require(
            "STATE-003",
            seen == (healed, leaf),
            f"heal of leaf {graph.get('leaf_node_id')!r}: {seen!r}, model {(healed, leaf)!r}",
        )


def run_steps(
    connection: Connection, steps: list[dict[str, Any]] | tuple[dict[str, Any], ...]
) -> StateDriver:
    """Replay a state trace (the ``op`` steps :class:`StateDriver` records), checking every
    session the trace touches after each step, as the machine's invariant does."""
    driver = StateDriver(connection, [dict(steps[0])])
    touched: set[str] = set()
    for step in steps[1:]:
        op = step["op"]
        if "session" in step:
            touched.add(str(step["session"]))
        if op == "commit":
            driver.commit(step["session"], dict(step["state"]), int(step["expected"]))
        elif op == "race":
            driver.race(step["session"], dict(step["first"]), dict(step["second"]))
        elif op == "heal":
            driver.heal(dict(step["graph"]))
        elif op == "persisted_load":
            driver.persisted_load(step["persisted"], step["session"])
        elif op == "persisted_edit":
            node = step.get("append_node")
            driver.persisted_edit(
                step["persisted"],
                step.get("turn_index"),
                None if node is None else node[0],
                step.get("leaf_node_id"),
            )
        elif op == "persisted_commit":
            driver.persisted_commit(step["persisted"])
        elif op == "restart":
            driver.restart(tuple(sorted(touched | set(driver.model))))
        elif op == "kill_in_commit":
            driver.kill_in_commit(step["session"], dict(step["state"]))
        else:
            raise ValueError(f"unknown state step {op!r}")
        driver.check_store(tuple(sorted(touched | set(driver.model))))
    return driver
