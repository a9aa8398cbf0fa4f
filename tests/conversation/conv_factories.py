"""The runtime conversation as a case subject, and planted bugs for the conversation machine.

:class:`RuntimeConversation` binds :class:`~sessionspec.Conversation` directly to the case
runner's :class:`ConversationSubject` (the same files also run through the protocol). Two
planted bugs, subclasses of the runtime's ``Conversation`` served by the harness
(``runtime_implementation(conversation_cls=...)``), show that the machine bites through the
protocol: a fork whose pushes land in its source too (a write on one side shows on the
other, CONV-010) and a rewrite that ignores its expected parent (no optimistic concurrency,
CONV-030). Their forks keep the bug. A third shares its metadata map with its forks; a
fourth keeps, in a ``fork_replacing``, the messages after the replaced one.
"""

from __future__ import annotations

from typing import Any

from sessionspec import Conversation, TranscriptEditError, TranscriptRewriteRecord
from sessionspec.conformance.conversation_machine import ConversationSubject
from sessionspec.conformance.harness import PythonImplementation, runtime_implementation


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


def _recast(cls: type[Conversation], conversation: Conversation) -> Any:
    """``conversation``'s state in an instance of the planted subclass ``cls``."""
    made = cls.__new__(cls)
    for name in Conversation.__slots__:
        setattr(made, name, getattr(conversation, name))
    return made


class SharedListFork(Conversation):
    """Planted bug: a fork's pushes land in its source too (no copy on write)."""

    twin: Conversation | None = None

    def fork(self) -> Conversation:
        fork: SharedListFork = _recast(SharedListFork, super().fork())
        fork.twin = self
        return fork

    def push(self, message: Any) -> None:
        super().push(message)
        if self.twin is not None:
            self.twin.push(message)


class IgnoresExpectedParent(Conversation):
    """Planted bug: ``expected_parent_revision`` is not checked."""

    def fork(self) -> Conversation:
        made: Conversation = _recast(IgnoresExpectedParent, super().fork())
        return made

    def fork_at(self, index: int) -> Conversation:
        made: Conversation = _recast(IgnoresExpectedParent, super().fork_at(index))
        return made

    def commit_transcript_rewrite(
        self,
        selection: Any,
        replacement: Any,
        reason: Any,
        actor: str | None = None,
        expected_parent_revision: str | None = None,
    ) -> Any:
        return super().commit_transcript_rewrite(selection, replacement, reason, actor, None)


class SharedMetadataFork(Conversation):
    """Planted bug: a fork shares its source's metadata map (CONV-010, CONV-011)."""

    def fork(self) -> Conversation:
        fork = super().fork()
        fork._metadata = self._metadata  # the copy of CONV-011 left out
        return fork


class ReplacingKeepsLaterMessages(Conversation):
    """Planted bug: ``fork_replacing`` keeps the messages after the replaced one (CONV-012)."""

    def fork_replacing(self, message_index: int, replacement: Any) -> Conversation:
        fork = super().fork_replacing(message_index, replacement)
        for message in self.messages[message_index + 1 :]:
            fork.push(message)
        return fork


def shared_list_fork() -> PythonImplementation:
    """``module:factory`` adapter: the runtime with :class:`SharedListFork`."""
    return runtime_implementation(conversation_cls=SharedListFork)


def ignores_expected_parent() -> PythonImplementation:
    """``module:factory`` adapter: the runtime with :class:`IgnoresExpectedParent`."""
    return runtime_implementation(conversation_cls=IgnoresExpectedParent)
