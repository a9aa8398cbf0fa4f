"""The realtime conformance cases (spec/cases/realtime/*.json): meerkat's tests, by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.realtime.rt_cases import CASE_DIR, build_cases

from sessionspec import RealtimeTranscript
from sessionspec.reference import realtime as ref

CASE_FILES = sorted(CASE_DIR.glob("*.json"))


def _abstract(message: dict[str, Any]) -> dict[str, Any]:
    if message["role"] == "user":
        return {"role": "user", "text": message["content"][0]["text"]}
    return {
        "role": "assistant",
        "response_id": message["response_id"],
        "stop_reason": message["ss_realtime_stop_reason"],
        "blocks": [
            {"text": b["text"], "lane": b.get("ss_lane", "display")} for b in message["content"]
        ],
        "usage": {
            "input_tokens": message["usage"]["input_tokens"],
            "output_tokens": message["usage"]["output_tokens"],
        },
    }


def _matches(got: dict[str, Any], want: dict[str, Any]) -> bool:
    return all(got.get(key) == value for key, value in want.items())


@pytest.mark.req("RT-001")
def test_case_files_are_current() -> None:
    built = {case["name"]: case for case in build_cases()}
    on_disk = {path.stem: json.loads(path.read_text()) for path in CASE_FILES}
    assert on_disk == built, "run: python tests/realtime/rt_cases.py"


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
@pytest.mark.req("RT-010", "RT-013", "RT-021", "RT-023", "RT-026", "RT-030", "RT-031")
def test_case_on_runtime(path: Any) -> None:
    case = json.loads(path.read_text())
    transcript = RealtimeTranscript(clock=lambda: 0)
    for number, step in enumerate(case["steps"]):
        outcome = transcript.apply(step["event"])
        expect = step["expect"]
        where = f"step {number}: {step['event']}"
        assert outcome.status.value == expect["status"], where
        assert len(outcome.messages) == expect["materialized"], where
        assert [d.code.value for d in outcome.diagnostics] == expect["diagnostics"], where
    got = [_abstract(m.to_json_dict()) for m in transcript.messages()]
    want = case["expected"]["messages"]
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert _matches(g, w), (g, w)
    if "in_flight_response_ids" in case["expected"]:
        assert transcript.in_flight_response_ids() == case["expected"]["in_flight_response_ids"]


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
@pytest.mark.req("RT-035")
def test_case_on_reference(path: Any) -> None:
    case = json.loads(path.read_text())
    history: tuple[ref.RtEvent, ...] = ()
    for step in case["steps"]:
        verdict, history = ref.step(history, ref.event_from_wire(step["event"]))
        assert verdict.status.value == step["expect"]["status"]
        assert [d.code.value for d in verdict.diagnostics] == step["expect"]["diagnostics"]
    got = ref.transcript_of(history)
    want = case["expected"]["messages"]
    assert [m.role.value for m in got] == [w["role"] for w in want]
    for message, w in zip(got, want, strict=True):
        if w["role"] == "assistant":
            assert [(b.text, b.lane.value) for b in message.blocks] == [
                (b["text"], b["lane"]) for b in w["blocks"]
            ]
            assert message.stop_reason == w["stop_reason"]
        else:
            assert message.blocks[0].text == w["text"]
