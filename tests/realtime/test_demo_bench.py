"""Smoke tests: the realtime demo tells its story and the benchmark runs (quick mode)."""

from __future__ import annotations

import io
import pathlib

import pytest

from sessionspec.bench.realtime import run as run_bench
from sessionspec.demo.realtime import run as run_demo


@pytest.mark.req("RT-041", "RT-060", "RT-072", "RT-075")
def test_demo_story(tmp_path: pathlib.Path) -> None:
    out = io.StringIO()
    run_demo(tmp_path, out)
    text = out.getvalue()
    assert "Sorry, I meant Porto." in text
    # The barge-in keeps what was heard of the answer, and nothing of the rest.
    assert "assistant : Tomorrow will be  [spoken; stop aborted (cancelled)" in text
    assert "rainy" not in text
    assert "0 accepted, 0 messages materialized; transcript byte-identical: True" in text


def test_bench_quick() -> None:
    results = run_bench(quick=True)
    assert len(results) == 4
    assert all(r.value > 0 and r.baseline > 0 for r in results)
