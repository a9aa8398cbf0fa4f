"""Smoke tests: the realtime demo tells its story and the benchmark runs (quick mode)."""

from __future__ import annotations

import io
import pathlib

import pytest

from sessionspec.bench.realtime import run as run_bench
from sessionspec.demo.realtime import run as run_demo


@pytest.mark.req("RT-041", "RT-060")
def test_demo_story(tmp_path: pathlib.Path) -> None:
    out = io.StringIO()
    run_demo(tmp_path, out)
    text = out.getvalue()
    assert "Sorry, I meant Porto." in text
    assert "'Tomorrow will be ' (barge_in)" in text
    assert "0 accepted, 0 messages materialized; transcript byte-identical: True" in text


def test_bench_quick() -> None:
    results = run_bench(quick=True)
    assert len(results) == 4
    assert all(r.value > 0 and r.baseline > 0 for r in results)
