"""The demo chapter tells the truth, and the benchmarks run (quick mode; no timing asserted)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sessionspec.bench import coordinator as bench
from sessionspec.demo import coordinator as demo
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage import DamageKind, read_log


@pytest.mark.slow
@pytest.mark.req("COORD-020", "COORD-025", "COORD-031")
def test_demo_kills_the_writer_mid_turn_and_resumes(tmp_path: Path) -> None:
    out = io.StringIO()
    demo.run(tmp_path, out)
    text = out.getvalue()
    assert "SIGKILL" in text and "exit status -9" in text
    assert "log_torn_tail" in text
    assert "compacted: cmp-16 keeps from msg-11" in text
    assert "usage: 4 turns" in text and "list-2025-11" in text
    assert "settings read from the file: model anthropic:claude-sonnet-4" in text
    assert "anthropic:claude-opus-4-5-20251101: $" in text  # priced by its own model
    assert "secrets redacted: True" in text and "commands kept: True" in text
    path = tmp_path / "coordinator" / f"{demo.SESSION_ID}.jsonl"
    snapshot = read_log(str(path))
    assert snapshot.report.clean  # the resume cut the torn tail; the retried turn followed
    kinds = [d.kind for d in snapshot.report.damage]
    assert DamageKind.TORN_TAIL not in kinds
    resumed = SessionCoordinator.open_existing(path, demo.CONFIG, demo.MODEL)
    assert resumed.usage.turns == 5 and resumed.recovery.clean


@pytest.mark.req("COORD-010")
def test_benchmarks_run_in_quick_mode() -> None:
    results = bench.run(quick=True)
    names = [r.name for r in results]
    assert any("durable turn end" in n for n in names)
    fsyncs = next(r for r in results if r.name == "fsyncs per turn")
    assert fsyncs.value <= 1.0  # a count, not a timing: at most one fsync per turn
