"""Shared pieces of the benchmarks: a result row and a best-of-N timer.

Benchmarks report a ratio against a baseline measured in the same run, because these
machines are noisy; they are never timed tests (DESIGN §5).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BenchResult", "measure", "measure_interleaved", "measure_pair"]


@dataclass(frozen=True, slots=True)
class BenchResult:
    #: What was measured, e.g. ``append throughput (entries/s)``.
    name: str
    #: The measured value of sessionspec.
    value: float
    #: The baseline's value, measured in the same run.
    baseline: float
    #: ``value / baseline`` for throughputs, ``value / baseline`` for times too: ``unit``
    #: and ``target`` say which direction is good.
    ratio: float
    unit: str
    #: The target as text, e.g. ``ratio >= 0.8``.
    target: str
    #: The bound on ``ratio`` the target names, when it names one: :attr:`verdict` and
    #: :meth:`line` then say PASS or MISS.
    limit: float | None = None
    #: Whether ``ratio`` must be at least ``limit`` (a throughput against its baseline)
    #: rather than at most (a time against its baseline).
    at_least: bool = False

    @property
    def verdict(self) -> str | None:
        """``PASS`` or ``MISS`` against :attr:`limit`; None for a figure only reported."""
        if self.limit is None:
            return None
        passed = self.ratio >= self.limit if self.at_least else self.ratio <= self.limit
        return "PASS" if passed else "MISS"

    @property
    def judged_target(self) -> str:
        """The target, after the verdict when there is one: ``MISS (ratio >= 0.8)``."""
        verdict = self.verdict
        return self.target if verdict is None else f"{verdict} ({self.target})"

    def line(self) -> str:
        return (
            f"{self.name}: {self.value:,.1f} {self.unit} vs baseline {self.baseline:,.1f} "
            f"{self.unit} -> ratio {self.ratio:.2f} (target {self.judged_target})"
        )


def measure(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best wall time of ``repeat`` calls of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_pair(
    ours: Callable[[], object], baseline: Callable[[], object], rounds: int = 3
) -> tuple[float, float]:
    """Best wall times of ``ours`` and ``baseline``, run alternately ``rounds`` times.

    Alternating spreads the machine's background noise over both sides, so the ratio is
    steadier than two measurements taken one after the other.
    """
    best_ours = best_baseline = float("inf")
    for _ in range(rounds):
        best_ours = min(best_ours, measure(ours, repeat=1))
        best_baseline = min(best_baseline, measure(baseline, repeat=1))
    return best_ours, best_baseline


def measure_interleaved(
    count: int,
    ours: Callable[[int], object],
    baseline: Callable[[int], object],
    after_ours: Callable[[int], object] | None = None,
) -> tuple[float, float]:
    """Median wall times of ``ours(i)`` and ``baseline(i)`` over ``i`` in ``range(count)``.

    The two run one operation at a time, turn about, and the side going first alternates:
    on a shared disk, fsync latency drifts by several times within seconds, and only
    pairing every operation with its baseline keeps that drift out of the ratio. Medians,
    not totals: a single stall of the virtual disk (tens of milliseconds, landing on
    whichever side happens to be in its fsync) would otherwise decide the ratio.
    ``after_ours(i)``, if given, runs untimed right after ``ours(i)`` (for instance to
    record the bytes the baseline must write).
    """
    ours_times: list[float] = []
    baseline_times: list[float] = []
    clock = time.perf_counter

    def run_ours(index: int) -> None:
        start = clock()
        ours(index)
        ours_times.append(clock() - start)
        if after_ours is not None:
            after_ours(index)

    def run_baseline(index: int) -> None:
        start = clock()
        baseline(index)
        baseline_times.append(clock() - start)

    for index in range(count):
        if index % 2:
            run_baseline(index)
            run_ours(index)
        else:
            run_ours(index)
            run_baseline(index)
    return statistics.median(ours_times), statistics.median(baseline_times)
