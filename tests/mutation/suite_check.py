"""The conformance suite as the test command of a mutation run (not collected by pytest).

``tests/mutation/mutate.py`` runs this file once per mutant of a runtime module: the suite
(the coordinator or the realtime machine, in process, on the simulated file system, at a
small fixed budget) against sessionspec's runtime, plus the shipped case files. A mutant is
killed when the suite reports any failing requirement. See spec/reports/mutation.md for the
commands and the results.
"""

from __future__ import annotations

from sessionspec.conformance.adapters import connect
from sessionspec.conformance.runner import Budget, run_conformance

BUDGET = Budget(examples=30, steps=20, shrink_seconds=1.0)


def _failing(machine: str) -> list[str]:
    report = run_conformance(
        connect("runtime"), adapter="runtime", machines=(machine,), budget=BUDGET, seed=0
    )
    return [f"{f.requirement}: {f.message[:200]}" for f in report.failures]


def test_coordinator_suite() -> None:
    assert _failing("coordinator") == []


def test_realtime_suite() -> None:
    assert _failing("realtime") == []
