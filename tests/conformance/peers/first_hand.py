"""Every distinct requirement a machine finds *first hand* against an implementation.

The rule lives in the runner (CONF-160, ``Budget.first_hand``): an example is abandoned at
its first failure of an already reported requirement, because after it the implementation
and the model have parted ways and a later check would only report the same divergence
again under another name. This helper runs one machine that way and returns what it found.
"""

from __future__ import annotations

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.runner import Budget, run_conformance


def first_hand_failures(
    connection: Connection,
    machine: str,
    *,
    examples: int,
    steps: int,
    seed: int = 0,
    shrink: bool = True,
) -> dict[str, str]:
    """``{requirement: message}`` of every requirement ``machine`` finds first hand.

    ``shrink=False`` reports each failing example as found: the same requirements (each is
    still the first failure of its example), without the time shrinking can take."""
    budget = Budget(
        examples=examples, steps=steps, shrink_seconds=2, shrinks=50 if shrink else 0,
        max_failures=12, first_hand=True,
    )
    report = run_conformance(
        connection, adapter="first-hand", machines=(machine,), budget=budget, seed=seed
    )
    return {failure.requirement: failure.message for failure in report.failures}
