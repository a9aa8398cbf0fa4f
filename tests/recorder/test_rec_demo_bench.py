"""Smoke tests: the recorder demo tells its story and the benchmark runs (quick mode)."""

from __future__ import annotations

import io
import pathlib

import pytest

from sessionspec.bench.recorder import agent_stream
from sessionspec.bench.recorder import run as run_bench
from sessionspec.demo.recorder import run as run_demo
from sessionspec.runtime.recorder import SessionRecorder


@pytest.mark.req("REC-040", "REC-071", "REC-080")
def test_demo_story(tmp_path: pathlib.Path) -> None:
    out = io.StringIO()
    run_demo(tmp_path, out)
    text = out.getvalue()
    assert "is running with 5 events and 1 turn(s)" in text
    assert "the coordinator holds 2 turns" in text
    assert "formation InactivityTimeout after 1800 s (previous 'morning')" in text
    assert "children helper.openai.gpt-4o.1" in text


def test_bench_quick() -> None:
    results = run_bench(quick=True)
    assert len(results) == 3
    assert all(r.value > 0 and r.baseline > 0 for r in results)


def test_bench_stream_is_recorded_whole() -> None:
    recorder = SessionRecorder()
    for event in agent_stream(12, turns=2):
        recorder.on_event(event)
    recorder.flush()
    sessions = recorder.drain_completed()
    assert [len(s.loops) for s in sessions] == [10, 2]
    assert all(len(loop.turns) == 2 for s in sessions for loop in s.loops)
    assert sessions[0].loops[0].children_loop_ids == [sessions[0].loops[1].loop_id]
