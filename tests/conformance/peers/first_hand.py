"""Every distinct requirement a machine finds *first hand* against an implementation.

The runner (:func:`sessionspec.conformance.runner.run_conformance`) masks each failing
requirement once found and runs on, so one defect cannot hide the others (CONF-061). After a
masked check has failed, though, the implementation and the model have parted ways, and a
later check of the same example compares against a state the model never had: a defect
surfaces again under the requirement of whatever check notices the divergence next. To ask
"which requirements does this implementation break", the seed-profile tests abandon an
example at its first masked failure (Hypothesis discards it), so every requirement they
collect is one some example broke before anything else went wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import reject as discard_example
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import get_state_machine_test

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.checks import CheckContext, RequirementFailure, checking
from sessionspec.conformance.conversation_machine import ConversationMachine
from sessionspec.conformance.coordinator_machine import CoordinatorMachine
from sessionspec.conformance.realtime_machine import RealtimeMachine
from sessionspec.conformance.recorder_machine import RecorderMachine


@dataclass
class FirstHandContext(CheckContext):
    """A check context that abandons the example at a failure of a masked requirement."""

    def fail(self, requirement: str, message: str) -> None:
        if requirement in self.masked:
            self.masked_hits[requirement] = self.masked_hits.get(requirement, 0) + 1
            discard_example()
        super().fail(requirement, message)


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


def first_hand_failures(
    connection: Connection,
    machine: str,
    *,
    examples: int,
    steps: int,
    rounds: int = 10,
    seed: int = 0,
    shrink: bool = True,
) -> dict[str, str]:
    """``{requirement: message}`` of every requirement found first hand, in rounds: each
    round masks what earlier rounds found, until a round finds nothing new. ``shrink=False``
    reports the first failing example as found: the same requirements (each is still the
    first failure of its example), without the minutes shrinking can take."""
    make: Callable[[], Any] = {
        "coordinator": lambda: CoordinatorMachine(connection),
        "realtime": lambda: RealtimeMachine(connection),
        "conversation": lambda: ConversationMachine(connection),
        "recorder": lambda: RecorderMachine(connection),
    }[machine]
    budget = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=False,
        database=None,
        report_multiple_bugs=True,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        phases=list(Phase) if shrink else [p for p in Phase if p is not Phase.shrink],
    )
    found: dict[str, str] = {}
    for _ in range(rounds):
        context = FirstHandContext(masked=frozenset(found))
        test = get_state_machine_test(make, settings=budget)  # type: ignore[arg-type]
        test = hypothesis_seed(seed)(test)
        try:
            with checking(context):
                test()
        except Unsatisfiable:
            return found  # every example broke a masked requirement first: nothing new
        except BaseException as error:  # a failure, or a group of distinct failures
            leaves = list(_leaves(error))
            if any(not isinstance(leaf, RequirementFailure) for leaf in leaves):
                raise
            new = {
                leaf.requirement: leaf.detail
                for leaf in leaves
                if isinstance(leaf, RequirementFailure)
            }
            if not set(new) - set(found):
                return found
            found.update(new)
            continue
        return found
    return found
