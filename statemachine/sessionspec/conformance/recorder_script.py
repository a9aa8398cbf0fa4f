"""Hand-written recorder cases (scripts, CONF-074): phi-core's tests, through the protocol.

A recorder script (``machine: recorder``, ``form: "script"``) sends phi-core's JSON events,
each with the outcome the seed test asserts (``recorded``, ``dropped:<reason>``,
``duplicate``, ``invalid``), and the operations ``flush``, ``checkpoint`` (with the number
of sessions it completes) and ``current_loop`` (a partial view of the running record, or
null); at the end, a partial view of every session held, in order, and, with a
``before_task`` configuration, the callback calls. Only the keys a view names are compared;
lists compare whole (README rule 12 lists the keys).

The recorder's configuration (REC-017: ``include_streaming_events``,
``capture_turn_requests``, ``before_task``: ``"accept"`` or ``"reject:<session id>"``) goes
in through ``recorder.new``'s ``config`` and the calls come back through
``recorder.task_calls``: the capability ``recorder.config`` (``spec/PROTOCOL.md`` §13). A
case that needs it declares it and is skipped by a harness without it (CONF-020).

Each difference is charged to the rule of the key that differs (:data:`KEY_REQUIREMENT`),
an event's outcome as the recorder machine charges it
(:func:`~.recorder_driver.outcome_requirement`), a checkpoint to REC-051, ``current_loop``
to REC-052, the callback calls to REC-012 (``before_task``) or REC-053 (``after_task``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.conformance.checks import holds, require
from sessionspec.conformance.recorder_driver import ProtocolRecorder, outcome_requirement

__all__ = ["KEY_REQUIREMENT", "loop_view", "matches", "run_recorder_script", "session_view"]

#: The rule behind each key of the views (the key's own, else its parent's).
KEY_REQUIREMENT = {
    "session_id": "REC-013",
    "segment": "REC-013",
    "formation": "REC-011",
    "rejection": "REC-012",
    "parent_spawn_ref": "REC-033",
    "loops": "REC-022",
    "loop_id": "REC-022",
    "status": "REC-020",
    "parent_loop_id": "REC-023",
    "continuation_kind": "REC-023",
    "children_loop_ids": "REC-023",
    "occurrence": "REC-014",
    "child_loop_refs": "REC-032",
    "config_id": "REC-015",
    "event_types": "REC-031",
    "message_roles": "REC-020",
    "parallel_group": "REC-034",
    "turns": "REC-035",
}


def turn_view(turn: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "index": turn["turn_id"]["turnIndex"],
        "trigger": turn["triggered_by"],
        "input_roles": [m["role"] for m in turn["input_messages"]],
        "output_role": turn["output_message"]["role"],
        "tool_results": len(turn["tool_results"]),
        "tool_result_turn_index": [m["turnId"]["turnIndex"] for m in turn["tool_results"]],
    }


def loop_view(loop: Mapping[str, Any]) -> dict[str, Any]:
    """A loop record (phi-core's JSON, REC-060) in the keys a case may name."""
    group = loop["parallel_group"]
    return {
        "loop_id": loop["loop_id"],
        "status": loop["status"],
        "parent_loop_id": loop["parent_loop_id"],
        "continuation_kind": loop["continuation_kind"],
        "occurrence": loop.get("occurrence", 1),
        "children_loop_ids": loop["children_loop_ids"],
        "child_loop_refs": loop["child_loop_refs"],
        "config_id": None if loop["config"] is None else loop["config"].get("config_id"),
        "event_types": [e["event"]["type"] for e in loop["events"]],
        "message_roles": [m["role"] for m in loop["messages"]],
        "parallel_group": None
        if group is None
        else {
            "all": group["all_loop_ids"],
            "selected": group["selected_loop_id"],
            "is_selected": group["is_selected"],
        },
        "turns": [turn_view(t) for t in loop["turns"]],
    }


def session_view(session: Mapping[str, Any]) -> dict[str, Any]:
    """A session (phi-core's JSON, REC-060) in the keys a case may name."""
    formation = session["formation"]
    return {
        "session_id": session["session_id"],
        "segment": session.get("segment", 0),
        "formation": formation if isinstance(formation, str) else next(iter(formation)),
        "rejection": session["rejection"],
        "parent_spawn_ref": session["parent_spawn_ref"],
        "loops": [loop_view(x) for x in session["loops"]],
    }


def matches(got: Any, want: Any, where: str, rule: str) -> None:
    """``want`` is a partial view: dicts name only the keys to compare, lists compare whole;
    a difference is charged to the rule of the innermost key it is under."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key, value in want.items():
            inner = KEY_REQUIREMENT.get(key, rule)
            if holds(inner, key in got, f"{where}: no {key!r}"):
                matches(got[key], value, f"{where}.{key}", inner)
    elif isinstance(want, list) and isinstance(got, list):
        if holds(
            rule,
            len(got) == len(want),
            f"{where}: {len(got)} items, the case {len(want)}: {got!r:.300}",
        ):
            for index, (g, w) in enumerate(zip(got, want, strict=True)):
                matches(g, w, f"{where}[{index}]", rule)
    else:
        require(rule, got == want, f"{where}: {got!r:.200}, the case {want!r:.200}")


def run_recorder_script(
    connection: Any,
    name: str,
    requirements: Sequence[str],
    steps: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    expected: Mapping[str, Any],
) -> None:
    """Run a recorder script on a fresh in-memory recorder."""
    # Only a configuration that changes something is sent: it needs ``recorder.config``.
    configured = any(bool(value) for value in config.values())
    recorder = ProtocolRecorder(connection, False, config=dict(config) if configured else None)
    try:
        for number, step in enumerate(steps):
            where = f"{name} step {number}"
            if "event" in step:
                event = dict(step["event"])
                got = recorder.on_event(event)
                require(
                    outcome_requirement(step["expect"], got),
                    got == step["expect"],
                    f"{where} ({event.get('type')} {event.get('loop_id')}): {got}, the "
                    f"case {step['expect']}",
                )
            elif step["op"] == "flush":
                recorder.flush()
            elif step["op"] == "checkpoint":
                completed = recorder.checkpoint()
                require(
                    "REC-051",
                    completed == step["expect"],
                    f"{where}: checkpoint completed {completed}, the case {step['expect']}",
                )
            elif step["op"] == "current_loop":
                shown = recorder.current_loop(str(step["loop_id"]))
                want = step["expect"]
                require(
                    "REC-052",
                    (shown is None) is (want is None),
                    f"{where}: current_loop({step['loop_id']}) is "
                    f"{'null' if shown is None else 'a record'}, the case "
                    f"{'null' if want is None else 'a record'}",
                )
                if shown is not None and want is not None:
                    matches(loop_view(shown), want, f"{where} current_loop", "REC-052")
            else:
                raise ValueError(f"{where}: unknown recorder step {step['op']!r}")
        shown_sessions = [session_view(s) for s in recorder.sessions()]
        matches(shown_sessions, expected["sessions"], f"{name}: sessions", "REC-013")
        if "callback_calls" in expected:
            calls = recorder.task_calls()
            want_calls = list(expected["callback_calls"])
            before = [c for c in calls if c.startswith("before_task")]
            require(
                "REC-012",
                before == [c for c in want_calls if c.startswith("before_task")],
                f"{name}: callback calls {calls}, the case {want_calls}",
            )
            require(
                "REC-053",
                calls == want_calls,
                f"{name}: callback calls {calls}, the case {want_calls}",
            )
    finally:
        recorder.close()
