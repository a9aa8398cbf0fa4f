"""The state store's conformance machine: any store vs a dict of heads (spec §7.2).

Bound to a store only through a factory returning an object with the
:class:`~sessionspec.storage.state_store.StateStore` interface (DESIGN §4). The model is a
dict ``session -> (head, state)``. Commits carry the current head, a stale one or a future
one; the outcome (the new head, or ``HeadRevisionConflict`` with the actual head) must be
the model's (STATE-010). The ``two_stale_writers`` rule plays two writers that read the same
head and commit one after the other: exactly one wins (STATE-012). The invariant loads every
session back and compares it with the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sessionspec.errors import HeadRevisionConflict
from sessionspec.storage.state_store import StateStore

__all__ = ["StateStoreFactory", "StateStoreMachine"]

StateStoreFactory = Callable[[], StateStore]
SESSIONS = ("alpha", "beta", "gamma")
_STATES = st.dictionaries(
    st.sampled_from(("turn_index", "leaf", "note")),
    st.one_of(st.integers(0, 9), st.text(max_size=3), st.none()),
    max_size=3,
)


class StateStoreMachine(RuleBasedStateMachine):
    def __init__(self, factory: StateStoreFactory) -> None:
        super().__init__()
        self.store = factory()
        self.model: dict[str, tuple[int, dict[str, Any]]] = {}

    def _head(self, session: str) -> int:
        return self.model.get(session, (0, {}))[0]

    def _commit(self, session: str, state: dict[str, Any], expected: int) -> bool:
        actual = self._head(session)
        try:
            head = self.store.commit(session, state, expected)
        except HeadRevisionConflict as conflict:
            assert expected != actual, f"refused a current head {expected}"
            assert (conflict.expected, conflict.actual) == (expected, actual)
            return False
        assert expected == actual, f"accepted head {expected}, but the head was {actual}"
        assert head == actual + 1
        self.model[session] = (head, state)
        return True

    @rule(
        session=st.sampled_from(SESSIONS),
        state=_STATES,
        offset=st.sampled_from((0, 0, 0, -1, -2, 1)),
    )
    def commit(self, session: str, state: dict[str, Any], offset: int) -> None:
        self._commit(session, state, max(0, self._head(session) + offset))

    @rule(session=st.sampled_from(SESSIONS), first=_STATES, second=_STATES)
    def two_stale_writers(
        self, session: str, first: dict[str, Any], second: dict[str, Any]
    ) -> None:
        head = self._head(session)
        outcomes = [self._commit(session, first, head), self._commit(session, second, head)]
        assert outcomes == [True, False]

    @invariant()
    def loads_agree(self) -> None:
        for session in SESSIONS:
            stored = self.store.load(session)
            if session not in self.model:
                assert stored is None
                continue
            assert stored is not None
            assert (stored.head_revision, stored.state) == self.model[session]
        assert self.store.sessions() == sorted(self.model)
