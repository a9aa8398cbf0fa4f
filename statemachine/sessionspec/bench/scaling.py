"""Scaling curves (issue 8, item 5): ``sessionspec bench scaling [--full]``.

How the costs grow with the session, so a reader sees whether they are linear and with
what slope:

* resume (``SessionCoordinator.open_existing`` + ``context()``) at 1k, 10k and 100k entries
  (and 1M with ``--full``): the median time in this process and the peak RSS of a fresh
  process per size. Each size's row sets its figure against the size before (the ratio
  beside the growth of the session), and one row per curve gives the growth exponent of a
  log-log fit (1.0: linear) with the least-squares slope ``b`` of ``a + b * entries``.
* fork of a 100,000-message conversation against a 10-message one (the conversation
  benchmark's measurement; CONV-010 wants O(1)).
* the durable turn end at turn 10 against the same turn end on a session grown to 100,000
  turns, or as many as fit in the growth budget (40 s), measured interleaved.

The sessions are the peer benchmark's conversation (user, assistant with a tool call, tool
result, and our leaf with the turn's usage: 4 entries a turn). With matplotlib installed
(the optional ``plot`` extra), the full run writes ``spec/perf/scaling.png``; the quick run
never writes it.
"""

from __future__ import annotations

import importlib
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sessionspec.bench.common import BenchResult, measure_interleaved
from sessionspec.bench.conversation import _fork_benchmark
from sessionspec.bench.peers import _turn_usage, conversation, ours_from_pi, peak_rss_ours
from sessionspec.compaction import CompactionConfig
from sessionspec.errors import CallerError
from sessionspec.runtime.coordinator import SessionCoordinator
from sessionspec.storage.log import Durability

__all__ = ["EXPLICIT_ONLY", "PLOT_PATH", "fit_line", "run"]

#: Run only when named (``sessionspec bench scaling``): the full run takes minutes.
EXPLICIT_ONLY = True
PLOT_PATH = Path(__file__).resolve().parents[3] / "spec" / "perf" / "scaling.png"
_ENTRIES_PER_TURN = 4
_GROWTH_BUDGET_SECONDS = 40.0


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + b x``: returns ``(a, b, r_squared)``."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise CallerError(
            f"a line needs at least two points and as many x as y: {len(xs)} x, {len(ys)} y"
        )
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        raise CallerError("a line needs at least two different x values")
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    r_squared = 1.0 if total == 0 else 1 - residual / total
    return intercept, slope, r_squared


def _grow(
    directory: Path, name: str, turns: int, budget: float = float("inf")
) -> tuple[str, int]:
    """A session of up to ``turns`` turns written without fsync, stopping at ``budget``
    seconds; returns its path and the turns written."""
    coordinator = SessionCoordinator.new(
        directory, "/bench", CompactionConfig(enabled=False), session_id=name,
        durability=Durability.NO_SYNC, clock=lambda: 1_790_000_000.0,
    )
    started = time.perf_counter()
    written = 0
    chunk = 1_000
    while written < turns and time.perf_counter() - started < budget:
        size = min(chunk, turns - written)
        messages = [ours_from_pi(m) for m in conversation(size, start=written)]
        for index in range(0, len(messages), 3):
            turn = messages[index:index + 3]
            coordinator.on_turn_end(turn, _turn_usage(turn))
        written += size
    path = coordinator.session_path
    coordinator.close()
    return path, written


def _resume_seconds(path: str, rounds: int) -> float:
    times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        coordinator = SessionCoordinator.open_existing(path)
        coordinator.context()
        times.append(time.perf_counter() - started)
        coordinator.close()
    return statistics.median(times)


def _resume_curve(
    directory: Path, sizes: Sequence[int]
) -> tuple[list[BenchResult], dict[str, list[float]]]:
    entries: list[float] = []
    seconds: list[float] = []
    rss_mib: list[float] = []
    for size in sizes:
        path, _ = _grow(directory, f"resume-{size}", size // _ENTRIES_PER_TURN)
        with open(path, "rb") as handle:
            entries.append(sum(1 for _ in handle) - 1)
        seconds.append(_resume_seconds(path, 3 if size <= 100_000 else 1))
        rss_mib.append(peak_rss_ours(path) / 1024)
    rows: list[BenchResult] = []
    for what, unit, values, scale in (
        ("resume time (open + context)", "ms", seconds, 1000.0),
        ("peak RSS of a fresh process resuming", "MiB", rss_mib, 1.0),
    ):
        scaled = [v * scale for v in values]
        for index, (count, value) in enumerate(zip(entries, scaled, strict=True)):
            if index == 0:
                continue
            previous_count, previous = entries[index - 1], scaled[index - 1]
            rows.append(BenchResult(
                f"{what}, {int(count):,} entries, against {int(previous_count):,} entries",
                value, previous, value / previous, unit,
                f"(the session grew {count / previous_count:.1f}x)"))
        # The exponent of the growth (log-log fit: 1.0 is linear) and the cost per entry
        # (least squares on the raw figures, which the largest sizes dominate).
        _, exponent, _ = fit_line([math.log(x) for x in entries], [math.log(y) for y in scaled])
        intercept, slope, r_squared = fit_line(entries, scaled)
        per_entry = slope * 1000 if unit == "ms" else slope * 1024
        per_unit = "µs/entry" if unit == "ms" else "KiB/entry"
        rows.append(BenchResult(
            f"{what}: fitted slope {per_entry:,.2f} {per_unit} (R² {r_squared:.3f}, "
            f"intercept {intercept:,.1f} {unit}); value: growth exponent (log-log fit)",
            exponent, 1.0, exponent, "exponent", "(1.0 = linear; below 1: a fixed cost"
            " dominates the small sizes)"))
    return rows, {"entries": entries, "seconds": seconds, "rss_mib": rss_mib}


def _turn_end_rows(directory: Path, big_turns: int, samples: int) -> list[BenchResult]:
    small_path, _ = _grow(directory, "turn-small", 10)
    big_path, grown = _grow(directory, "turn-big", big_turns, _GROWTH_BUDGET_SECONDS)
    small = SessionCoordinator.open_existing(small_path)
    big = SessionCoordinator.open_existing(big_path)
    extra = [ours_from_pi(m) for m in conversation(samples + 1, start=big_turns + 10)]
    turns = [extra[index:index + 3] for index in range(0, len(extra), 3)]
    try:
        big_time, small_time = measure_interleaved(
            samples,
            lambda i: big.on_turn_end(turns[i], _turn_usage(turns[i])),
            lambda i: small.on_turn_end(turns[i], _turn_usage(turns[i])),
        )
    finally:
        big.close()
        small.close()
    return [BenchResult(
        f"durable turn end at turn {grown:,} against turn 10 (median, fsync included)",
        big_time * 1e6, small_time * 1e6, big_time / small_time, "µs",
        "(near 1: a turn end does not grow with the session)")]


def _plot(curve: dict[str, list[float]]) -> str:
    try:
        # Imported by name: matplotlib is an optional extra (``plot``), absent from the
        # development install the type checker sees.
        matplotlib: Any = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        return "plot skipped: matplotlib is not installed (pip install 'sessionspec[plot]')"
    entries = curve["entries"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(entries, [s * 1000 for s in curve["seconds"]], marker="o")
    left.set(xscale="log", yscale="log", xlabel="entries", ylabel="ms",
             title="resume (open + context)")
    right.plot(entries, curve["rss_mib"], marker="o")
    right.set(xscale="log", xlabel="entries", ylabel="MiB", title="peak RSS of the resume")
    for axes in (left, right):
        axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    PLOT_PATH.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT_PATH, dpi=100)
    plt.close(figure)
    return f"plot written to {PLOT_PATH}"


def run(quick: bool = False, full: bool = False) -> list[BenchResult]:
    if quick:
        sizes: tuple[int, ...] = (200, 600, 1_500)
    else:
        sizes = (1_000, 10_000, 100_000, 1_000_000) if full else (1_000, 10_000, 100_000)
    with tempfile.TemporaryDirectory(prefix="sessionspec-bench-scaling-") as tmp:
        directory = Path(tmp)
        rows, curve = _resume_curve(directory, sizes)
        rows.append(_fork_benchmark(2_000 if quick else 100_000, 50 if quick else 500))
        rows += _turn_end_rows(directory, 200 if quick else 100_000, 10 if quick else 50)
    if not quick:
        print(f"  {_plot(curve)}", flush=True)
    return rows
