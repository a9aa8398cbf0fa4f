"""Adapter from a :class:`~sessionspec.tables.MachineTable` to a ``transitions`` machine.

The runtime objects carry a ``transitions`` machine built from their table, so embedders who
use ``transitions`` see a familiar object (``.state``, triggers, callbacks). The order of
work is fixed by GEN-006: decide with the table, persist, and only then fire the trigger.
``transitions`` does not roll back a state change when a later callback raises, so nothing
that can fail runs inside a trigger.
"""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

from transitions import Machine

from sessionspec.tables.base import MachineTable

__all__ = ["Lifecycle"]

S = TypeVar("S", bound=enum.Enum)
E = TypeVar("E", bound=enum.Enum)


class Lifecycle(Generic[S, E]):
    """The committed state of one runtime object, held by a ``transitions`` machine.

    :meth:`check` is the decision (raises :class:`IllegalTransitionError`, changes nothing);
    :meth:`commit` fires the trigger after the caller has persisted (GEN-006).
    """

    def __init__(self, table: MachineTable[S, E]) -> None:
        self.table = table
        self.state_name: str = table.initial.value
        self.machine = Machine(
            model=self,
            states=[s.value for s in table.states],
            transitions=[
                {"trigger": event.value, "source": state.value, "dest": target.value}
                for (state, event), target in table.transitions.items()
            ],
            initial=table.initial.value,
            model_attribute="state_name",
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )

    @property
    def state(self) -> S:
        return self.table.states(self.state_name)

    def check(self, event: E) -> S:
        """The state ``event`` would lead to; raises if the table refuses it."""
        return self.table.step(self.state, event)

    def commit(self, event: E) -> S:
        """Fire ``event`` (after persisting). Returns the new state."""
        self.table.step(self.state, event)
        trigger: Any = getattr(self, event.value)
        trigger()
        return self.state
