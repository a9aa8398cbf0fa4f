"""The shape every lifecycle table has: states and events as enums, transitions as one dict.

A :class:`MachineTable` is plain data (h11's ``EVENT_TRIGGERED_TRANSITIONS``, h2's
``_transitions``): the single source of truth for the runtime (which builds a
``transitions`` machine from it, :mod:`sessionspec.lifecycle`), the reference model, the
Mermaid diagrams in ``spec/diagrams/`` and the exhaustive (state, event) tests (GEN-004).

Every (state, event) pair is either a transition or a rejection. A pair missing from
``transitions`` is rejected with the default code ``"illegal"``; ``rejections`` names the
pairs whose refusal has a more specific code (for instance ``"failed"`` for any write in the
failed state). :meth:`MachineTable.step` raises :class:`IllegalTransitionError` naming the
machine, state and event, and never changes anything (GEN-003).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sessionspec.errors import IllegalTransitionError

__all__ = ["MachineTable", "Rejected"]

S = TypeVar("S", bound=enum.Enum)
E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True, slots=True)
class Rejected:
    """The typed outcome of a refused (state, event) pair."""

    code: str
    state: str
    event: str


@dataclass(frozen=True)
class MachineTable(Generic[S, E]):
    """One lifecycle machine as data.

    :param name: the machine's name as used in the spec (``log``, ``coordinator``, ...).
    :param states: the state enum; its values are the spec's state names.
    :param events: the event enum; its values are the spec's event names.
    :param initial: the state a new machine starts in.
    :param transitions: ``(state, event) -> new state``; everything else is rejected.
    :param rejections: optional specific codes for rejected pairs (default ``"illegal"``).
    :param requirements: optional requirement ids per transition, for the diagrams and docs.
    """

    name: str
    states: type[S]
    events: type[E]
    initial: S
    transitions: Mapping[tuple[S, E], S]
    rejections: Mapping[tuple[S, E], str] = field(default_factory=dict)
    requirements: Mapping[tuple[S, E], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for (state, event), target in self.transitions.items():
            if not isinstance(state, self.states) or not isinstance(target, self.states):
                raise TypeError(f"{self.name}: bad state in transition {state!r}->{target!r}")
            if not isinstance(event, self.events):
                raise TypeError(f"{self.name}: bad event {event!r}")
        overlap = set(self.transitions) & set(self.rejections)
        if overlap:
            raise TypeError(f"{self.name}: pairs both allowed and rejected: {sorted(overlap)}")

    def pairs(self) -> list[tuple[S, E]]:
        """Every (state, event) pair, in enum order: the exhaustive test walks these."""
        return [(s, e) for s in self.states for e in self.events]

    def decide(self, state: S, event: E) -> S | Rejected:
        """The pure decision: the new state, or the typed rejection. Never raises."""
        target = self.transitions.get((state, event))
        if target is not None:
            return target
        code = self.rejections.get((state, event), "illegal")
        return Rejected(code, state.value, event.value)

    def step(self, state: S, event: E) -> S:
        """The new state, or :class:`IllegalTransitionError` naming state and event."""
        outcome = self.decide(state, event)
        if isinstance(outcome, Rejected):
            raise IllegalTransitionError(self.name, outcome.state, outcome.event, outcome.code)
        return outcome

    def allowed_events(self, state: S) -> list[E]:
        return [e for e in self.events if (state, e) in self.transitions]

    def mermaid(self) -> str:
        """A Mermaid ``stateDiagram-v2`` of the table (spec/diagrams/, GEN-005)."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial.value}"]
        for (state, event), target in self.transitions.items():
            label = event.value
            req = self.requirements.get((state, event))
            if req:
                label += f" ({req})"
            lines.append(f"    {state.value} --> {target.value} : {label}")
        return "\n".join(lines) + "\n"
