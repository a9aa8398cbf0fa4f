"""Conformance layer: protocol, adapters, machines, runner, case runner (DESIGN §2.6).

Importing the package needs nothing beyond the library's own dependencies: the protocol,
the harness and the case runner work without Hypothesis; the machines and the runner import
it (the ``conformance`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from hypothesis import settings as Settings
    from hypothesis.stateful import RuleBasedStateMachine

__all__ = ["run_machine"]


def run_machine(
    factory: Callable[[], RuleBasedStateMachine], settings: Settings | None = None
) -> None:
    """Run a conformance machine built by ``factory`` (a machine bound to an implementation).

    A thin, typed wrapper over Hypothesis's ``run_state_machine_as_test``, whose annotation
    asks for a class although it accepts any zero-argument factory.
    """
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(cast(Any, factory), settings=settings)
