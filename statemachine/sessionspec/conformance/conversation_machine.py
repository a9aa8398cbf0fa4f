"""The conversation's conformance machine: Hypothesis draws what the lock step checks (§6).

:class:`ConversationMachine` keeps a pool of conversations and draws pushes and batches,
forks and prefix forks, system prompts, and rewrites whose expected parent is the current
head, a stale one, or absent, with replacements drawn so that some break the tool shape or
change nothing, and forks that replace a message or one of its blocks (CONV-012), at indexes
and of roles that are sometimes wrong. With ``conversation.metadata`` it also sets, removes
and backfills metadata keys and records usage (CONF-127). Every operation, its checks and the
trace it records are :class:`~.conversation_lockstep.ConversationLockstep`'s (CONF-120; the
header there states the checks); a recorded trace replays through
:func:`~.conversation_lockstep.run_steps`, which needs no Hypothesis (CONF-073).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.conversation_driver import (
    REWRITE_REQUIREMENT,
    wire_assistant,
    wire_tool_result,
    wire_user,
)
from sessionspec.conformance.conversation_lockstep import (
    MAX_CONVERSATIONS,
    REPLACED_ROLE,
    ConversationLockstep,
    replaced,
    run_steps,
)
from sessionspec.reference import conversation as ref

__all__ = [
    "REWRITE_REQUIREMENT",
    "ConversationMachine",
    "message_strategy",
    "replaced",
    "run_steps",
    "wire_assistant",
    "wire_tool_result",
    "wire_user",
]

WORDS = ("hi", "yes", "no", "read it", "done", "")
CALL_IDS = ("c1", "c2", "c3")
METADATA_KEYS = st.sampled_from(("a", "b", "c"))
METADATA_VALUES = st.sampled_from((None, 1, "x", [1, "y"], {"k": True}))


def message_strategy() -> st.SearchStrategy[dict[str, Any]]:
    """User, assistant (with 0-2 tool calls) and tool result messages in the wire form."""
    words = st.sampled_from(WORDS)
    return st.one_of(
        st.builds(wire_user, words),
        st.builds(
            wire_assistant,
            words,
            st.lists(st.sampled_from(CALL_IDS), max_size=2, unique=True),
        ),
        st.builds(wire_tool_result, st.sampled_from(CALL_IDS), words),
    )


def _turn(call_ids: Sequence[str], text: str) -> list[dict[str, Any]]:
    """A well-shaped turn: a user, an assistant calling ``call_ids``, their results."""
    turn = [wire_user(text), wire_assistant(text, call_ids)]
    turn += [wire_tool_result(c, text) for c in call_ids]
    return turn


_TURN = st.builds(
    _turn,
    st.lists(st.sampled_from(CALL_IDS), max_size=2, unique=True),
    st.sampled_from(WORDS),
)


class ConversationMachine(ConversationLockstep, RuleBasedStateMachine):
    """Lock-step conformance of conversations, through the protocol."""

    def __init__(self, connection: Connection) -> None:
        RuleBasedStateMachine.__init__(self)
        ConversationLockstep.__init__(self, connection)

    @initialize()
    def start(self) -> None:
        super().start()

    @rule(index=st.integers(0, 99), message=message_strategy())
    def push(self, index: int, message: dict[str, Any]) -> None:
        super().push(index, message)

    @rule(index=st.integers(0, 99), turn=_TURN)
    def push_turn(self, index: int, turn: list[dict[str, Any]]) -> None:
        super().push_turn(index, turn)

    @rule(index=st.integers(0, 99), prompt=st.sampled_from(("be brief", "be kind", "")))
    def set_system_prompt(self, index: int, prompt: str) -> None:
        super().set_system_prompt(index, prompt)

    @precondition(lambda self: len(self.pool) < MAX_CONVERSATIONS)
    @rule(index=st.integers(0, 99))
    def fork(self, index: int) -> None:
        super().fork(index)

    @precondition(lambda self: len(self.pool) < MAX_CONVERSATIONS)
    @rule(index=st.integers(0, 99), cut=st.integers(0, 12))
    def fork_at(self, index: int, cut: int) -> None:
        super().fork_at(index, cut)

    @precondition(lambda self: len(self.pool) < MAX_CONVERSATIONS)
    @rule(
        index=st.integers(0, 99),
        at=st.integers(-1, 12),
        kind=st.sampled_from(("message", *REPLACED_ROLE)),
        block_index=st.integers(-1, 3),
        message=message_strategy(),
        text=st.sampled_from(WORDS),
    )
    def fork_replacing(
        self,
        index: int,
        at: int,
        kind: str,
        block_index: int,
        message: dict[str, Any],
        text: str,
    ) -> None:
        slot, _, _ = self._pick(index)
        replacement: dict[str, Any] = {"kind": kind}
        if kind == "message":
            replacement["message"] = message
        else:
            replacement.update(block_index=block_index, block={"type": "text", "text": text})
        self.apply_fork_replacing(slot, at, replacement)

    @precondition(lambda self: self.metadata_declared)
    @rule(index=st.integers(0, 99), key=METADATA_KEYS, value=METADATA_VALUES)
    def set_metadata(self, index: int, key: str, value: Any) -> None:
        super().set_metadata(index, key, value)

    @precondition(lambda self: self.metadata_declared)
    @rule(index=st.integers(0, 99), key=METADATA_KEYS)
    def remove_metadata(self, index: int, key: str) -> None:
        super().remove_metadata(index, key)

    @precondition(lambda self: self.metadata_declared)
    @rule(index=st.integers(0, 99), key=METADATA_KEYS, value=METADATA_VALUES)
    def backfill_metadata(self, index: int, key: str, value: Any) -> None:
        super().backfill_metadata(index, key, value)

    @precondition(lambda self: self.metadata_declared)
    @rule(index=st.integers(0, 99), counts=st.tuples(*(st.integers(0, 9) for _ in range(4))))
    def record_usage(self, index: int, counts: tuple[int, ...]) -> None:
        super().record_usage(index, counts)

    @rule(
        index=st.integers(0, 99),
        bounds=st.tuples(st.integers(-1, 12), st.integers(0, 12)),
        replacement=st.one_of(_TURN, st.lists(message_strategy(), max_size=3), st.just([])),
        expectation=st.sampled_from(("current", "stale", "none")),
        data=st.data(),
    )
    def rewrite(
        self,
        index: int,
        bounds: tuple[int, int],
        replacement: list[dict[str, Any]],
        expectation: str,
        data: st.DataObject,
    ) -> None:
        slot, _, model = self._pick(index)
        expected: str | None = None
        if expectation == "current":
            expected = ref.ref_revision(model)
        elif expectation == "stale":
            expected = data.draw(st.sampled_from(self.seen[slot]), label="stale")
        start, end = bounds
        if data.draw(st.booleans(), label="span within the transcript"):
            size = len(model.messages)
            start, end = sorted((min(max(start, 0), size), min(end, size)))
        self.apply_rewrite(slot, start, end, replacement, expected)

    @invariant()
    def every_conversation_agrees(self) -> None:
        super().every_conversation_agrees()
