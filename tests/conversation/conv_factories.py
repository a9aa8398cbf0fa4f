"""Factories binding the conversation conformance machine to implementations, and planted bugs.

The runtime :class:`~sessionspec.Conversation` is bound through :class:`RuntimeConversation`.
Two planted bugs show that the machine bites: a fork that shares its source's mutable list
(a write on one side shows on the other, CONV-010) and a rewrite that ignores its expected
parent (no optimistic concurrency, CONV-030).
"""

from __future__ import annotations

from typing import Any

from sessionspec import Conversation, TranscriptEditError, TranscriptRewriteRecord
from sessionspec.conformance.conversation_machine import ConversationSubject


class RuntimeConversation:
    """The runtime behind the machine's :class:`ConversationSubject` protocol."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    def push(self, message: dict[str, Any]) -> None:
        self.conversation.push(message)

    def push_batch(self, messages: list[dict[str, Any]]) -> None:
        self.conversation.push_batch(messages)

    def fork(self) -> ConversationSubject:
        return type(self)(self.conversation.fork())

    def fork_at(self, index: int) -> ConversationSubject:
        return type(self)(self.conversation.fork_at(index))

    def set_system_prompt(self, prompt: str) -> None:
        self.conversation.set_system_prompt(prompt)

    def messages(self) -> list[dict[str, Any]]:
        return [m.to_json_dict() for m in self.conversation.messages]

    def system_prompt(self) -> str | None:
        return self.conversation.system_prompt

    def revision(self) -> str:
        return self.conversation.transcript_revision()

    def rewrite(
        self, start: int, end: int, replacement: list[dict[str, Any]], expected: str | None
    ) -> str:
        try:
            self.conversation.commit_transcript_rewrite(
                (start, end), replacement, "conformance", None, expected
            )
        except TranscriptEditError as error:
            return type(error).__name__
        return "ok"

    def has_pending_boundary(self) -> bool:
        return self.conversation.has_pending_boundary()

    def records(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.conversation.transcript_rewrite_records()]

    def validate_record(self, record: dict[str, Any]) -> str:
        try:
            TranscriptRewriteRecord.from_json(record).validate()
        except TranscriptEditError as error:
            return type(error).__name__
        return "ok"

    def replay_records(self, records: list[dict[str, Any]]) -> tuple[str, str | None]:
        try:
            parsed = [TranscriptRewriteRecord.from_json(r) for r in records]
            restored = Conversation.from_rewrite_records(parsed)
        except TranscriptEditError as error:
            return type(error).__name__, None
        return "ok", restored.transcript_revision()


def runtime_factory() -> ConversationSubject:
    return RuntimeConversation(Conversation.new())


class SharedListFork(RuntimeConversation):
    """Planted bug: a fork appends into its source's list (no copy on write)."""

    def fork(self) -> ConversationSubject:
        fork = SharedListFork(self.conversation.fork())
        fork.twin = self  # type: ignore[attr-defined]
        return fork

    def push(self, message: dict[str, Any]) -> None:
        super().push(message)
        twin = getattr(self, "twin", None)
        if twin is not None:
            twin.conversation.push(message)


class IgnoresExpectedParent(RuntimeConversation):
    """Planted bug: ``expected_parent_revision`` is not checked."""

    def rewrite(
        self, start: int, end: int, replacement: list[dict[str, Any]], expected: str | None
    ) -> str:
        return super().rewrite(start, end, replacement, None)
