"""The recorder's conformance cases (spec/cases/recorder/*.json): phi-core's tests, by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.recorder.rec_cases import CASE_DIR, build_cases

from sessionspec import (
    DuplicateLoopError,
    InvalidAgentEventError,
    RecordedSession,
    RecorderConfig,
    SessionRecorder,
)
from sessionspec.conformance.recorder_machine import from_wire
from sessionspec.reference import recorder as ref

CASE_FILES = sorted(CASE_DIR.glob("*.json"))


def turn_view(turn: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": turn["turn_id"]["turnIndex"],
        "trigger": turn["triggered_by"],
        "input_roles": [m["role"] for m in turn["input_messages"]],
        "output_role": turn["output_message"]["role"],
        "tool_results": len(turn["tool_results"]),
        "tool_result_turn_index": [m["turnId"]["turnIndex"] for m in turn["tool_results"]],
    }


def loop_view(loop: dict[str, Any]) -> dict[str, Any]:
    group = loop["parallel_group"]
    return {
        "loop_id": loop["loop_id"],
        "status": loop["status"],
        "parent_loop_id": loop["parent_loop_id"],
        "continuation_kind": loop["continuation_kind"],
        "occurrence": loop["occurrence"],
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


def session_view(session: dict[str, Any]) -> dict[str, Any]:
    (formation,) = session["formation"]
    return {
        "session_id": session["session_id"],
        "segment": session["segment"],
        "formation": formation,
        "rejection": session["rejection"],
        "parent_spawn_ref": session["parent_spawn_ref"],
        "loops": [loop_view(x) for x in session["loops"]],
    }


def matches(got: Any, want: Any, where: str) -> None:
    """``want`` is a partial view: dicts name only the keys to compare; lists compare whole."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key, value in want.items():
            assert key in got, f"{where}: no {key!r}"
            matches(got[key], value, f"{where}.{key}")
    elif isinstance(want, list) and isinstance(got, list):
        assert len(got) == len(want), f"{where}: {len(got)} items, want {len(want)}: {got}"
        for index, (g, w) in enumerate(zip(got, want, strict=True)):
            matches(g, w, f"{where}[{index}]")
    else:
        assert got == want, f"{where}: {got!r}, want {want!r}"


def recorder_for(config: dict[str, Any], calls: list[str]) -> SessionRecorder:
    before = config.get("before_task")

    def before_task(session: RecordedSession) -> bool:
        calls.append(f"before_task {session.session_id}")
        return not (isinstance(before, str) and before == f"reject:{session.session_id}")

    def after_task(session: RecordedSession) -> None:
        calls.append(f"after_task {session.session_id}/{session.segment}")

    return SessionRecorder(
        RecorderConfig(
            include_streaming_events=bool(config.get("include_streaming_events", False)),
            capture_turn_requests=bool(config.get("capture_turn_requests", False)),
            before_task=before_task if before is not None else None,
            after_task=after_task if before is not None else None,
        )
    )


def outcome_of(recorder: SessionRecorder, event: dict[str, Any]) -> str:
    try:
        outcome = recorder.on_event(event)
    except DuplicateLoopError:
        return "duplicate"
    except InvalidAgentEventError:
        return "invalid"
    return "recorded" if outcome.recorded else f"dropped:{outcome.reason}"


@pytest.mark.req("REC-001")
def test_case_files_are_current() -> None:
    built = {item["name"]: item for item in build_cases()}
    on_disk = {path.stem: json.loads(path.read_text()) for path in CASE_FILES}
    assert on_disk == built, "run: python tests/recorder/rec_cases.py"


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
@pytest.mark.req("REC-010", "REC-020", "REC-023", "REC-030", "REC-035")
def test_case_on_runtime(path: Path) -> None:
    item = json.loads(path.read_text())
    calls: list[str] = []
    recorder = recorder_for(item["config"], calls)
    for number, step in enumerate(item["steps"]):
        where = f"step {number}"
        if "event" in step:
            assert outcome_of(recorder, step["event"]) == step["expect"], where
        elif step["op"] == "flush":
            recorder.flush()
        elif step["op"] == "checkpoint":
            assert recorder.checkpoint() == step["expect"], where
        elif step["op"] == "current_loop":
            record = recorder.current_loop(step["loop_id"])
            if step["expect"] is None:
                assert record is None, where
            else:
                assert record is not None, where
                matches(loop_view(record.to_json()), step["expect"], where)
        else:  # pragma: no cover - a case file names an unknown operation
            raise AssertionError(f"{where}: unknown operation {step['op']!r}")
    shown = [session_view(s.to_json()) for s in recorder.sessions()]
    matches(shown, item["expected"]["sessions"], "sessions")
    if "callback_calls" in item["expected"]:
        assert calls == item["expected"]["callback_calls"]


def _reference_view(model: ref.RecorderModel) -> list[dict[str, Any]]:
    """The reference model's sessions in the case view (the keys it tracks)."""
    return [
        {
            "session_id": session.session_id,
            "segment": session.segment,
            "loops": [
                {
                    "loop_id": loop.loop_id,
                    "status": loop.status.capitalize(),
                    "parent_loop_id": loop.parent,
                    "occurrence": loop.occurrence,
                    "children_loop_ids": list(loop.children),
                    "events": loop.events,
                    "turns": loop.turns,
                    "parallel_group": None
                    if loop.group is None
                    else {
                        "all": list(loop.group[0]),
                        "selected": loop.group[1],
                        "is_selected": loop.group[3],
                    },
                }
                for loop in session.loops
            ],
        }
        for session in (*model.completed, *model.open)
    ]


_TRACKED = {
    "loop_id",
    "status",
    "parent_loop_id",
    "occurrence",
    "children_loop_ids",
    "parallel_group",
    "event_types",
    "turns",
}


def _tracked(want: Any) -> Any:
    """The expectations the reference model can be held to (it tracks no content)."""
    sessions = []
    for session in want:
        kept = {k: v for k, v in session.items() if k in ("session_id", "segment")}
        if "loops" in session:
            loops = []
            for loop in session["loops"]:
                view = {k: v for k, v in loop.items() if k in _TRACKED}
                if "event_types" in view:
                    view["events"] = len(view.pop("event_types"))
                if "turns" in view:
                    view["turns"] = len(view["turns"])
                loops.append(view)
            kept["loops"] = loops
        sessions.append(kept)
    return sessions


REFERENCE_CASES = [p for p in CASE_FILES if not json.loads(p.read_text())["config"]]


@pytest.mark.parametrize("path", REFERENCE_CASES, ids=lambda p: p.stem)
@pytest.mark.req("REC-014", "REC-022", "REC-023", "REC-030", "REC-050")
def test_case_on_reference(path: Path) -> None:
    item = json.loads(path.read_text())
    model = ref.RecorderModel()
    for number, step in enumerate(item["steps"]):
        where = f"step {number}"
        if "event" in step:
            model, outcome = ref.step(model, from_wire(step["event"]))
            assert outcome == step["expect"], where
        elif step["op"] == "flush":
            model, _ = ref.step(model, ref.Flush())
        elif step["op"] == "checkpoint":
            model, outcome = ref.step(model, ref.Checkpoint())
            assert outcome == f"checkpoint:{step['expect']}", where
        elif step["op"] == "current_loop":
            running = [loop.loop_id for loop in model.running]
            assert (step["loop_id"] in running) is (step["expect"] is not None), where
    matches(_reference_view(model), _tracked(item["expected"]["sessions"]), "sessions")
