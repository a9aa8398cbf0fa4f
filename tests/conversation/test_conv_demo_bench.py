"""Smoke tests: the conversation demo tells its story and the benchmark runs (quick mode)."""

from __future__ import annotations

import io
import pathlib

import pytest

from sessionspec.bench.conversation import run as run_bench
from sessionspec.demo.conversation import run as run_demo


@pytest.mark.req("CONV-030", "CONV-060", "STATE-033", "STATE-010")
def test_demo_story(tmp_path: pathlib.Path) -> None:
    out = io.StringIO()
    run_demo(tmp_path, out)
    text = out.getvalue()
    assert "RevisionConflict: expected" in text and "nothing changed" in text
    assert "externalized 1 image" in text
    assert "request req-1 is in both and counted once" in text
    assert "turn         anthropic:claude-sonnet-4                4200" in text
    assert "HeadRevisionConflict, nothing written" in text
    assert list((tmp_path / "blobs").rglob("*"))


@pytest.mark.slow
def test_bench_quick() -> None:
    results = run_bench(quick=True)
    assert len(results) == 4
    assert all(r.value > 0 and r.baseline > 0 for r in results)
