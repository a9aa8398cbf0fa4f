"""The peer and scaling benchmarks (issue 8): their pieces are right and their quick runs
work. No timing is asserted: the figures are for people, these tests only check that the
benchmarks measure what they say (the same conversation on both sides, honest verdicts,
a right line fit)."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

import sessionspec.cli
from sessionspec.bench import peers, scaling
from sessionspec.bench.common import BenchResult
from sessionspec.cli import main
from sessionspec.errors import CallerError
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage.log import Durability
from sessionspec.wire.messages import Message

_MESSAGE: TypeAdapter[Any] = TypeAdapter(Message)


@pytest.mark.req("PERF-001")
def test_the_conversation_is_user_assistant_with_a_tool_call_tool_result() -> None:
    messages = peers.conversation(4, start=7)
    assert [m["role"] for m in messages] == ["user", "assistant", "toolResult"] * 4
    for index in range(0, len(messages), 3):
        call = next(b for b in messages[index + 1]["content"] if b["type"] == "toolCall")
        assert messages[index + 2]["toolCallId"] == call["id"]
    assert messages[0]["timestamp"] != peers.conversation(1)[0]["timestamp"]  # start counts


@pytest.mark.req("PERF-001")
def test_our_shapes_carry_the_same_content_and_pass_our_wire_models() -> None:
    for message in peers.conversation(2):
        ours = peers.ours_from_pi(message)
        parsed = _MESSAGE.validate_python(ours)
        assert parsed.timestamp_ms == message["timestamp"]
        texts = [b["text"] for b in message["content"] if b["type"] == "text"]
        assert [b.text for b in parsed.content if b.type == "text"] == texts
        if message["role"] == "assistant":
            call = next(b for b in parsed.content if b.type == "tool_call").tool_call
            pi_call = next(b for b in message["content"] if b["type"] == "toolCall")
            assert (call.id, call.name) == (pi_call["id"], pi_call["name"])
            assert json.loads(call.arguments) == pi_call["arguments"]
        if message["role"] == "toolResult":
            assert parsed.tool_call_id == message["toolCallId"]


@pytest.mark.req("PERF-001")
def test_an_unknown_role_is_refused_with_a_caller_error() -> None:
    with pytest.raises(CallerError, match="not a pi message role: 'system'"):
        peers.ours_from_pi({"role": "system", "content": []})


@pytest.mark.req("PERF-001")
def test_our_coordinator_accepts_the_conversation_as_turns(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/bench", session_id="shape",
                                         durability=Durability.NO_SYNC)
    ours = [peers.ours_from_pi(m) for m in peers.conversation(3)]
    for index in range(0, len(ours), 3):
        coordinator.on_turn_end(ours[index:index + 3], {"input_tokens": 1, "output_tokens": 1})
    coordinator.close()
    reopened = SessionCoordinator.open_existing(coordinator.session_path)
    assert [m["role"] for m in reopened.context()] == ["user", "assistant", "tool_result"] * 3
    reopened.close()


@pytest.mark.req("PERF-002")
@pytest.mark.parametrize(
    ("ratio", "limit", "at_least", "expected"),
    [
        (0.99, 1.0, False, "PASS (ratio <= 1.00)"),
        (1.0, 1.0, False, "PASS (ratio <= 1.00)"),
        (1.01, 1.0, False, "MISS (ratio <= 1.00)"),
        (0.8, 0.8, True, "PASS (ratio >= 0.80)"),
        (0.79, 0.8, True, "MISS (ratio >= 0.80)"),
        (1.6, 1.5, False, "MISS (ratio <= 1.50)"),
    ],
)
def test_the_verdict_follows_the_direction_of_the_target(
    ratio: float, limit: float, at_least: bool, expected: str
) -> None:
    assert peers.verdict(ratio, limit, at_least=at_least) == expected


@pytest.mark.req("PERF-003")
def test_the_line_fit_recovers_a_line_and_its_r_squared() -> None:
    intercept, slope, r_squared = scaling.fit_line([1, 10, 100, 1000], [5 + 2 * x for x in
                                                                        (1, 10, 100, 1000)])
    assert intercept == pytest.approx(5) and slope == pytest.approx(2)
    assert r_squared == pytest.approx(1)
    _, _, noisy = scaling.fit_line([1, 2, 3, 4], [1, 3, 2, 4])
    assert 0 < noisy < 1


@pytest.mark.req("PERF-003")
@pytest.mark.parametrize(("xs", "ys"), [([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([3.0, 3.0],
                                                                              [1.0, 2.0])])
def test_the_line_fit_refuses_too_few_or_equal_points(xs: list[float], ys: list[float]) -> None:
    with pytest.raises(CallerError, match="a line needs"):
        scaling.fit_line(xs, ys)


@pytest.mark.req("PERF-001")
def test_peers_is_skipped_with_a_message_without_node(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert peers.run(quick=True) == []
    assert "skipped: Node.js and npm are needed" in capsys.readouterr().out


def test_explicit_only_areas_run_only_when_named_and_full_reaches_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[bool, bool]] = []

    def fake_run(quick: bool = False, full: bool = False) -> list[BenchResult]:
        calls.append((quick, full))
        return [BenchResult("fake row", 1.0, 2.0, 0.5, "ms", "(reported)")]

    fake = types.ModuleType("sessionspec.bench.fakescaling")
    fake.run = fake_run  # type: ignore[attr-defined]
    fake.EXPLICIT_ONLY = True  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sessionspec.bench.fakescaling", fake)
    monkeypatch.setattr(sessionspec.cli, "bench_areas", lambda: ["fakescaling"])
    assert main(["bench", "--quick"]) == 0
    assert calls == [] and "== fakescaling" not in capsys.readouterr().out
    assert main(["bench", "fakescaling", "--full"]) == 0
    assert calls == [(False, True)]
    assert "| fakescaling | fake row |" in capsys.readouterr().out


@pytest.mark.req("PERF-002")
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="Node.js and npm are needed for pi's side")
def test_peers_quick_run_reports_every_row_with_its_verdict() -> None:
    results = peers.run(quick=True)
    if not results:
        pytest.skip("pi could not be installed (no registry?)")
    names = [r.name for r in results]
    assert sum("resume (open + context)" in n for n in names) == 1
    assert any("orjson" in n for n in names) and any("JSON.parse" in n for n in names)
    assert any("peak RSS" in n for n in names)
    assert any("per message" in n for n in names) and any("per 3-message turn" in n for n in names)
    assert any("durable turn end" in n for n in names)
    for result in results:
        assert result.value > 0 and result.baseline > 0
        assert result.ratio == pytest.approx(result.value / result.baseline)
        if not result.target.startswith("("):
            assert result.target.startswith(("PASS", "MISS"))
    assert sum(r.target.startswith(("PASS", "MISS")) for r in results) == 5


@pytest.mark.req("PERF-003")
@pytest.mark.slow
def test_scaling_quick_run_reports_the_curves_and_writes_no_plot() -> None:
    before = scaling.PLOT_PATH.stat().st_mtime if scaling.PLOT_PATH.exists() else None
    results = scaling.run(quick=True)
    names = [r.name for r in results]
    assert sum("resume time" in n and "entries, against" in n for n in names) == 2
    assert sum("peak RSS" in n and "entries, against" in n for n in names) == 2
    exponents = [r for r in results if "growth exponent" in r.name]
    assert len(exponents) == 2 and all(r.unit == "exponent" for r in exponents)
    assert any("fork of a 2,000-message" in n for n in names)
    assert any("durable turn end at turn 200 against turn 10" in n for n in names)
    after = scaling.PLOT_PATH.stat().st_mtime if scaling.PLOT_PATH.exists() else None
    assert before == after


@pytest.mark.req("PERF-003")
def test_the_plot_is_skipped_with_a_message_without_matplotlib(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.import_module

    def without_matplotlib(name: str, package: str | None = None) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(scaling, "PLOT_PATH", tmp_path / "scaling.png")
    monkeypatch.setattr(importlib, "import_module", without_matplotlib)
    curve = {"entries": [1.0, 10.0], "seconds": [0.1, 0.2], "rss_mib": [40.0, 41.0]}
    assert "plot skipped: matplotlib is not installed" in scaling._plot(curve)
    assert not (tmp_path / "scaling.png").exists()


@pytest.mark.req("PERF-003")
def test_the_plot_is_a_png_when_matplotlib_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(scaling, "PLOT_PATH", tmp_path / "perf" / "scaling.png")
    curve = {"entries": [1.0, 10.0], "seconds": [0.1, 0.2], "rss_mib": [40.0, 41.0]}
    assert scaling._plot(curve) == f"plot written to {tmp_path / 'perf' / 'scaling.png'}"
    assert (tmp_path / "perf" / "scaling.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.req("PERF-002")
def test_the_peak_rss_is_the_fresh_process_own_not_its_parents(tmp_path: Path) -> None:
    # Linux carries ru_maxrss across fork and exec: a child of a large process would report
    # the parent's size. The figure must stay the child's even when this process is large.
    coordinator = SessionCoordinator.new(tmp_path, "/bench", session_id="rss",
                                         durability=Durability.NO_SYNC)
    coordinator.close()
    ballast = b"x" * 300_000_000  # touched pages: this process is now above 300 MB
    peak_kib = peers.peak_rss_ours(coordinator.session_path)
    assert len(ballast) == 300_000_000
    assert 0 < peak_kib < 250_000


@pytest.mark.req("PERF-004")
@pytest.mark.parametrize(
    ("ratio", "limit", "at_least", "expected"),
    [
        (0.74, 0.8, True, "MISS"),
        (0.8, 0.8, True, "PASS"),
        (2.9, 3.0, False, "PASS"),
        (3.1, 3.0, False, "MISS"),
        (5.0, None, False, None),
    ],
)
def test_a_bounded_row_says_pass_or_miss_in_its_line(
    ratio: float, limit: float | None, at_least: bool, expected: str | None
) -> None:
    row = BenchResult("x", 1.0, 1.0, ratio, "ms", "ratio bound", limit=limit, at_least=at_least)
    assert row.verdict == expected
    if expected is None:
        assert row.line().endswith("(target ratio bound)")
    else:
        assert row.line().endswith(f"(target {expected} (ratio bound))")


@pytest.mark.req("PERF-004")
def test_the_durable_and_realtime_rows_carry_their_bounds(tmp_path: Path) -> None:
    from sessionspec.bench import coordinator, realtime

    throughput, fsyncs, _ = coordinator._turn_end_benchmark(tmp_path, 4)
    assert (throughput.limit, throughput.at_least) == (0.8, True)
    assert throughput.verdict in ("PASS", "MISS") and fsyncs.limit == 1.0
    rows = [r for r in realtime.run(quick=True) if r.name.startswith("realtime apply, in memory")
            or r.name.startswith("realtime reconnect")]
    assert len(rows) == 2
    assert all(r.limit == 3.0 and not r.at_least and r.verdict in ("PASS", "MISS") for r in rows)
