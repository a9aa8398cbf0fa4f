"""Conformance layer: strategies, machines, adapters and case runner (DESIGN §2.6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from hypothesis import settings as Settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

__all__ = ["run_machine"]


def run_machine(
    factory: Callable[[], RuleBasedStateMachine], settings: Settings | None = None
) -> None:
    """Run a conformance machine built by ``factory`` (a machine bound to an implementation).

    A thin, typed wrapper over Hypothesis's ``run_state_machine_as_test``, whose annotation
    asks for a class although it accepts any zero-argument factory.
    """
    run_state_machine_as_test(cast(Any, factory), settings=settings)
