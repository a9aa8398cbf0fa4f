"""The harness's persisted-state commands (``state.*``): state stores and persisted states.

A store is opened by name: the factory gets a real directory (``<root>/<name>.states``, the
root being the workdir on real storage and a private temporary directory on simulated
storage, since a state store keeps its files with ``flock`` and ``rename`` on the real file
system, STATE-011). Persisted states are the implementation's ``PersistedSessionState``
objects, held by name between commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionspec.conformance.harness.answers import Json, Rejection, Skip
from sessionspec.conformance.protocol import Capability, ErrorType

if TYPE_CHECKING:
    from sessionspec.conformance.harness.core import PythonHarness, PythonImplementation

__all__ = ["HANDLERS", "StateFactory", "capabilities"]


@dataclass(frozen=True)
class StateFactory:
    """How a harness opens a state store and makes persisted states."""

    #: ``(directory) -> store`` with ``load``, ``commit`` and ``sessions`` (STATE-014).
    open: Callable[[str], Any]
    #: The persisted state class: ``cls(session_id=...)``, ``cls.load(store, session_id)``
    #: and the instance API of ``sessionspec.PersistedSessionState``.
    persisted: Any
    #: Whether a store opened again on the same directory holds what was committed.
    durable: bool = True
    #: The session graph class: ``cls.from_json(graph)`` and ``heal_orphaned_leaf()``
    #: (STATE-002, STATE-003); ``None``: ``sessionspec.runtime.state.SessionGraph``.
    graph: Any = None


def capabilities(implementation: PythonImplementation) -> list[Capability]:
    """What a harness can offer for this implementation's state stores."""
    if implementation.state is None:
        return []
    if implementation.state.durable:
        return [Capability.STATE, Capability.STATE_DURABLE]
    return [Capability.STATE]


def _factory(h: PythonHarness) -> StateFactory:
    if h.implementation.state is None:
        raise Skip("this implementation has no state store")
    return h.implementation.state


def _store(h: PythonHarness, args: Mapping[str, Any]) -> Any:
    handle = str(args.get("handle", ""))
    if handle not in h.state_stores:
        raise Rejection(ErrorType.NOT_FOUND, f"no state store {handle!r}")
    return h.state_stores[handle]


def _persisted(h: PythonHarness, args: Mapping[str, Any]) -> Any:
    name = str(args.get("persisted", ""))
    if name not in h.persisted_states:
        raise Rejection(ErrorType.NOT_FOUND, f"no persisted state {name!r}")
    return h.persisted_states[name]


def state_open(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    name = str(args.get("store", "state"))
    if not name or "/" in name or name.startswith("."):
        raise Rejection(ErrorType.CALLER_ERROR, f"a store name must be a plain name: {name!r}")
    h.state_stores[str(args["handle"])] = factory.open(f"{h.real_root()}/{name}.states")
    return {}


def state_load(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    stored = _store(h, args).load(str(args["session_id"]))
    if stored is None:
        return {"head_revision": 0, "state": None}
    return {"head_revision": stored.head_revision, "state": dict(stored.state)}


def state_commit(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    head = _store(h, args).commit(
        str(args["session_id"]), dict(args["state"]), args["expected_head_revision"]
    )
    return {"head_revision": head}


def state_sessions(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return {"sessions": list(_store(h, args).sessions())}


def state_heal(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    from sessionspec.runtime.state import SessionGraph

    graph_cls = _factory(h).graph or SessionGraph
    graph = graph_cls.from_json(args["graph"])
    healed = graph.heal_orphaned_leaf()
    return {"healed": healed, "leaf_node_id": graph.leaf_node_id}


def _observation(state: Any) -> Json:
    return {
        "head_revision": state.head_revision,
        "phase": state.phase.value,
        "needs_commit": state.needs_commit,
        "graph_replace_required": state.graph_replace_required,
        "state": state.to_json(),
    }


def persisted_load(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    session_id = str(args["session_id"])
    state = factory.persisted.load(_store(h, args), session_id)
    if state is None:
        state = factory.persisted(session_id=session_id)
    h.persisted_states[str(args["persisted"])] = state
    return _observation(state)


def persisted_edit(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    state = _persisted(h, args)
    if args.get("turn_index") is not None:
        turn_index = args["turn_index"]
        if isinstance(turn_index, bool) or not isinstance(turn_index, int) or turn_index < 0:
            raise Rejection(ErrorType.CALLER_ERROR, f"turn_index {turn_index!r}")
        state.turn_index = turn_index
    if args.get("append_node") is not None:
        node_id, text = args["append_node"]
        message = {
            "role": "user",
            "content": [{"type": "text", "text": str(text)}],
            "timestamp_ms": h.now_ms(),
        }
        state.append_active_messages([message], [str(node_id)], "2026-01-01T00:00:00Z")
    if args.get("leaf_node_id") is not None:
        state.session_graph.leaf_node_id = str(args["leaf_node_id"])
    return _observation(state)


def persisted_commit(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return {"head_revision": _persisted(h, args).commit(_store(h, args))}


def persisted_observe(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return _observation(_persisted(h, args))


HANDLERS: dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]] = {
    "state.open": state_open,
    "state.load": state_load,
    "state.commit": state_commit,
    "state.sessions": state_sessions,
    "state.heal": state_heal,
    "state.persisted_load": persisted_load,
    "state.persisted_edit": persisted_edit,
    "state.persisted_commit": persisted_commit,
    "state.persisted_observe": persisted_observe,
}
