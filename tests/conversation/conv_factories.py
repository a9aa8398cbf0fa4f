"""Planted bugs for the conversation machine and the conversation cases.

Two planted bugs, subclasses of the runtime's ``Conversation`` served by the harness
(``runtime_implementation(conversation_cls=...)``), show that the machine bites through the
protocol: a fork whose pushes land in its source too (a write on one side shows on the
other, CONV-010) and a rewrite that ignores its expected parent (no optimistic concurrency,
CONV-030). Their forks keep the bug. A third shares its metadata map with its forks; a
fourth keeps, in a ``fork_replacing``, the messages after the replaced one.
"""

from __future__ import annotations

from typing import Any

from sessionspec import Conversation
from sessionspec.conformance.harness import PythonImplementation, runtime_implementation


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
