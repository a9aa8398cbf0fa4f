"""The conversation's conformance machine: any implementation vs the reference model (§6).

The machine is bound to an implementation only through a factory returning a
:class:`ConversationSubject` (DESIGN §4). It keeps a pool of conversations, each paired with
its reference value (:mod:`sessionspec.reference.conversation`), and drives them in lock
step: pushes and batches, forks and prefix forks, system prompts, and rewrites whose
expected parent is the current head, a stale one, or absent, with replacements drawn so
that some break the tool shape or change nothing. Every rewrite's outcome (success or the
name of the typed error) must be the model's. The invariant reads every conversation back
(messages, system prompt, revision id): so a fork that sees its sibling's writes
(CONV-010), an id that is not the canonical digest (CONV-021), a missing implicit revision
(CONV-032) or a wrong refusal (CONV-030..CONV-035) is found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sessionspec.reference import conversation as ref

__all__ = [
    "ConversationMachine",
    "ConversationSubject",
    "ConversationSubjectFactory",
    "message_strategy",
    "wire_assistant",
    "wire_tool_result",
    "wire_user",
]

MAX_CONVERSATIONS = 6
WORDS = ("hi", "yes", "no", "read it", "done", "")
CALL_IDS = ("c1", "c2", "c3")


class ConversationSubject(Protocol):
    """What the machine needs from one conversation of the implementation under test."""

    def push(self, message: dict[str, Any]) -> None: ...

    def push_batch(self, messages: list[dict[str, Any]]) -> None: ...

    def fork(self) -> ConversationSubject: ...

    def fork_at(self, index: int) -> ConversationSubject: ...

    def set_system_prompt(self, prompt: str) -> None: ...

    def messages(self) -> list[dict[str, Any]]: ...

    def system_prompt(self) -> str | None: ...

    def revision(self) -> str: ...

    def rewrite(
        self, start: int, end: int, replacement: list[dict[str, Any]], expected: str | None
    ) -> str:
        """``"ok"``, or the class name of the typed error (``RevisionConflict``, ...)."""
        ...

    def has_pending_boundary(self) -> bool: ...

    def records(self) -> list[dict[str, Any]]:
        """The rewrite records of this conversation, in the JSON form of CONV-040."""
        ...

    def validate_record(self, record: dict[str, Any]) -> str:
        """``"ok"`` or the class name of the error validating ``record`` (CONV-040)."""
        ...

    def replay_records(self, records: list[dict[str, Any]]) -> tuple[str, str | None]:
        """Replay (CONV-041): ``("ok", head revision)`` or ``(error class name, None)``."""
        ...


ConversationSubjectFactory = Callable[[], ConversationSubject]


def wire_user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "timestamp_ms": 1}


def wire_assistant(text: str, calls: Sequence[str] = ()) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [
        {"type": "tool_call", "tool_call": {"id": c, "name": "read", "arguments": "{}"}}
        for c in calls
    ]
    return {
        "role": "assistant",
        "content": content,
        "api": "Anthropic",
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "response_model": None,
        "response_id": None,
        "usage": {
            "input_tokens": 1,
            "output_tokens": 1,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
        },
        "stop_reason": "tool_use" if calls else "stop",
        "error_message": None,
        "timestamp_ms": 2,
    }


def wire_tool_result(call_id: str, text: str) -> dict[str, Any]:
    return {
        "role": "tool_result",
        "tool_call_id": call_id,
        "tool_name": "read",
        "content": [{"type": "text", "text": text}],
        "details": None,
        "is_error": False,
        "truncated": False,
        "timestamp_ms": 3,
    }


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


class ConversationMachine(RuleBasedStateMachine):
    def __init__(self, factory: ConversationSubjectFactory) -> None:
        super().__init__()
        self.factory = factory
        self.pool: list[tuple[ConversationSubject, ref.RefConversation]] = []
        #: Every revision id each conversation has shown, to draw stale expectations.
        self.seen: list[list[str]] = []

    def _pick(self, index: int) -> tuple[int, ConversationSubject, ref.RefConversation]:
        slot = index % len(self.pool)
        subject, model = self.pool[slot]
        return slot, subject, model

    def _set(self, slot: int, model: ref.RefConversation) -> None:
        self.pool[slot] = (self.pool[slot][0], model)
        self.seen[slot].append(ref.ref_revision(model))

    def _add(self, subject: ConversationSubject, model: ref.RefConversation) -> None:
        self.pool.append((subject, model))
        self.seen.append([ref.ref_revision(model)])

    @initialize()
    def start(self) -> None:
        self._add(self.factory(), ref.RefConversation())

    @rule(index=st.integers(0, 99), message=message_strategy())
    def push(self, index: int, message: dict[str, Any]) -> None:
        slot, subject, model = self._pick(index)
        subject.push(message)
        self._set(slot, ref.ref_push(model, message))

    @rule(index=st.integers(0, 99), turn=_TURN)
    def push_turn(self, index: int, turn: list[dict[str, Any]]) -> None:
        slot, subject, model = self._pick(index)
        subject.push_batch(turn)
        self._set(slot, ref.ref_push(model, *turn))

    @rule(index=st.integers(0, 99), prompt=st.sampled_from(("be brief", "be kind", "")))
    def set_system_prompt(self, index: int, prompt: str) -> None:
        slot, subject, model = self._pick(index)
        subject.set_system_prompt(prompt)
        self._set(slot, ref.ref_set_system_prompt(model, prompt))

    @precondition(lambda self: len(self.pool) < MAX_CONVERSATIONS)
    @rule(index=st.integers(0, 99))
    def fork(self, index: int) -> None:
        _, subject, model = self._pick(index)
        self._add(subject.fork(), ref.ref_fork(model))

    @precondition(lambda self: len(self.pool) < MAX_CONVERSATIONS)
    @rule(index=st.integers(0, 99), cut=st.integers(0, 12))
    def fork_at(self, index: int, cut: int) -> None:
        _, subject, model = self._pick(index)
        self._add(subject.fork_at(cut), ref.ref_fork_at(model, cut))

    @rule(
        index=st.integers(0, 99),
        bounds=st.tuples(st.integers(-1, 12), st.integers(0, 12)),
        replacement=st.one_of(
            _TURN, st.lists(message_strategy(), max_size=3), st.just([])
        ),
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
        slot, subject, model = self._pick(index)
        expected: str | None = None
        if expectation == "current":
            expected = ref.ref_revision(model)
        elif expectation == "stale":
            expected = data.draw(st.sampled_from(self.seen[slot]), label="stale")
        start, end = bounds
        if data.draw(st.booleans(), label="span within the transcript"):
            size = len(model.messages)
            start, end = sorted((min(max(start, 0), size), min(end, size)))
        outcome = ref.ref_rewrite(model, start, end, replacement, expected)
        observed = subject.rewrite(start, end, replacement, expected)
        if isinstance(outcome, ref.RefRejected):
            assert observed == outcome.code, (observed, outcome.code)
        else:
            assert observed == "ok", (observed, "ok")
            self._set(slot, outcome)

    @invariant()
    def every_conversation_agrees(self) -> None:
        for subject, model in self.pool:
            assert subject.messages() == [dict(m) for m in model.messages]
            assert subject.system_prompt() == model.system_prompt
            assert subject.revision() == ref.ref_revision(model)


def as_plain(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(m) for m in messages]
