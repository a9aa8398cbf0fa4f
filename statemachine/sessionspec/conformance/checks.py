"""Checks that name their requirement (CONF-060), and the masks that let a run go on.

Every check of a conformance machine goes through :func:`require`: a failed check raises
:class:`RequirementFailure`, an ``AssertionError`` carrying the requirement id, so Hypothesis
shrinks it like any failure and the runner reports it by id. A :class:`CheckContext` carries
the requirements a run has *masked*: a masked requirement's checks are evaluated but do not
stop the run. The runner uses that to report every distinct failing requirement, not only the
first (CONF-061): it runs, collects the failing requirement, masks it, and runs again until
no new requirement fails (or the budget is spent). In a *first-hand* run (CONF-160) a masked
failure abandons the example instead: Hypothesis discards it, so every requirement reported
is one some example broke before anything else had gone wrong.

While a machine runs, the context also records the steps of the current example (the trace),
so the shrunk example Hypothesis replays last is available as data: a case file, a replay
command (CONF-062).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CheckContext",
    "RequirementFailure",
    "checking",
    "current",
    "holds",
    "require",
]


class RequirementFailure(AssertionError):
    """A check of requirement ``requirement`` failed (CONF-060).

    A verdict about the implementation under test, not an error of this package: it is an
    ``AssertionError`` so Hypothesis and pytest treat it as a failing check (GEN-001 names
    it as the one exception, with ``SimulatedCrash``).
    """

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(f"[{requirement}] {message}")
        self.requirement = requirement
        self.detail = message
        #: The steps of the example that failed, up to and including the failing one.
        self.trace: list[dict[str, Any]] = []


@dataclass
class CheckContext:
    """The masked requirements of a run and what the current example has done so far."""

    masked: frozenset[str] = frozenset()
    #: Checks of masked requirements that failed (requirement -> count), for the report.
    masked_hits: dict[str, int] = field(default_factory=dict)
    #: The steps of the example being run (appended by the machine).
    trace: list[dict[str, Any]] = field(default_factory=list)
    #: The trace of the last example that failed, and its failure.
    failing_trace: list[dict[str, Any]] | None = None
    failure: RequirementFailure | None = None
    #: Requirements whose checks ran (passed or failed) in this run: the coverage of a report.
    exercised: set[str] = field(default_factory=set)
    #: A failure of a masked requirement abandons the example (CONF-160) instead of letting
    #: it go on: after it, implementation and model have parted ways.
    first_hand: bool = False

    def fail(self, requirement: str, message: str) -> None:
        if requirement in self.masked:
            self.masked_hits[requirement] = self.masked_hits.get(requirement, 0) + 1
            if self.first_hand:
                from hypothesis import reject as abandon_example

                abandon_example()
            return
        failure = RequirementFailure(requirement, message)
        failure.trace = list(self.trace)
        self.failure = failure
        self.failing_trace = failure.trace
        raise failure

    def check(self, requirement: str, condition: bool, message: str) -> None:
        self.exercised.add(requirement)
        if not condition:
            self.fail(requirement, message)


#: The context of the machine running in this thread (set by :func:`checking`).
_CURRENT: list[CheckContext] = []


@contextmanager
def checking(context: CheckContext) -> Iterator[CheckContext]:
    """Make ``context`` the one :func:`require` reports to while the block runs."""
    _CURRENT.append(context)
    try:
        yield context
    finally:
        _CURRENT.pop()


def current() -> CheckContext:
    if not _CURRENT:
        # A machine used outside a runner: nothing masked, failures raise.
        return CheckContext()
    return _CURRENT[-1]


def require(requirement: str, condition: bool, message: str) -> None:
    """Check ``condition`` for ``requirement``; raise :class:`RequirementFailure` if it fails
    and the requirement is not masked."""
    current().check(requirement, condition, message)


def holds(requirement: str, condition: bool, message: str) -> bool:
    """:func:`require`, then ``condition``: a machine learns that a masked check failed
    (CONF-061), so it can stop comparing what the failure has already made differ."""
    require(requirement, condition, message)
    return condition
