"""Transcript revisions: bodies, rewrite commits, self-contained records, their validation
and the replay of a history from records (spec/SPEC.md §6.3-6.4, CONV-030..CONV-042).

Rules
-----
* A revision id is the content digest of a transcript (CONV-021); a *body* is a revision with
  its transcript; a *commit* is one rewrite edge ``parent -> revision`` with the selection it
  replaced, the digests of the original span and of the replacement, the message counts, a
  reason (audit only), an actor and a time. A *record* is a commit with both of its bodies:
  it can be checked on its own (CONV-040).
* Record validation (CONV-040): the bodies carry the commit's ids and hash to them; the edge
  is not a self edge; the range lies within the parent; the counts match; the original span
  digest matches; the prefix before the range and the suffix after it are digest-equal in
  the two bodies (so tampering before or after the rewritten span is detected); the
  replacement digest matches; the system prompts are equal; the revision's tool shape holds.
* Replay (CONV-041): records are applied in order; the first seeds the head with its parent;
  a later record must start at the head, or at a transcript that *extends* it (the head's
  messages are a digest-equal prefix of the record's parent, same system prompt: normal
  turns happened between two rewrites). Anything else, a branch in particular, is
  :class:`~sessionspec.errors.HistoryStateMalformed`.

Theory of operation
-------------------
Bodies do not copy messages: a body is a *view* ``(items, count)`` of an append-only item
list of the conversation (see :mod:`sessionspec.runtime.conversation`), which never changes
below ``count``; so the implicit revision that every append creates once a history exists
costs O(1) memory. Items are ``(message, canonical bytes)`` pairs, so digests of spans are
one SHA-256 over bytes that were canonicalized once, at append time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sessionspec.errors import (
    CallerError,
    HistoryStateMalformed,
    InvalidTranscriptShape,
    NoOpRewrite,
)
from sessionspec.reference.conversation import (
    canonical_array,
    canonical_json,
    digest_bytes,
    shape_of,
    tool_shape_violation,
)
from sessionspec.wire.messages import AssistantMessage, Message, ToolResultMessage, UserMessage

__all__ = [
    "Item",
    "MessageRange",
    "RewriteReason",
    "TranscriptHistory",
    "TranscriptRevisionBody",
    "TranscriptRewriteCommit",
    "TranscriptRewriteRecord",
    "item_of",
    "items_digest",
    "transcript_prefix",
]

MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)

#: One stored message: the wire model and its RFC 8785 canonical bytes.
Item = tuple[Message, bytes]

#: The canonical form of a transcript starts with these bytes (keys sort ``messages`` first).
_PREFIX = b'{"messages":['


def item_of(message: Message | Mapping[str, Any]) -> Item:
    """Validate a message (a wire model or its JSON form) and canonicalize it once."""
    model: Message
    if isinstance(message, UserMessage | AssistantMessage | ToolResultMessage):
        model = message
    else:
        try:
            model = MESSAGE_ADAPTER.validate_python(message)
        except ValidationError as exc:
            raise CallerError(f"not a valid message: {exc.errors()[0]['msg']}") from None
    return (model, canonical_json(model.to_json_dict()))


def transcript_prefix(items: Sequence[Item], count: int) -> Any:
    """A SHA-256 state over the canonical transcript up to (not including) ``],"system":``."""
    hasher = hashlib.sha256(_PREFIX)
    for index in range(count):
        if index:
            hasher.update(b",")
        hasher.update(items[index][1])
    return hasher


def finish_digest(hasher: Any, system_prompt: str | None) -> str:
    """Close a running transcript hash (see :func:`transcript_prefix`) into a revision id."""
    final = hasher.copy()
    final.update(b'],"system":' + canonical_json(system_prompt) + b"}")
    return "sha256:" + str(final.hexdigest())


def items_digest(items: Sequence[Item], start: int, end: int) -> str:
    """The span digest of ``items[start:end]`` (CONV-021)."""
    return digest_bytes(canonical_array(tuple(items[k][1] for k in range(start, end))))


@dataclass(frozen=True, slots=True)
class MessageRange:
    """The selection ``[start, end)`` of a rewrite (meerkat ``message_range``)."""

    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {"type": "message_range", "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageRange:
        if data.get("type") != "message_range":
            raise HistoryStateMalformed(f"unknown selection type {data.get('type')!r}")
        return cls(_int(data, "start"), _int(data, "end"))


@dataclass(frozen=True, slots=True)
class RewriteReason:
    """Why a rewrite happened: audit only, never policy."""

    kind: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "note": self.note}


class TranscriptRevisionBody:
    """A revision and its transcript, as a view of an append-only item list."""

    __slots__ = ("_count", "_items", "created_at_ns", "parent_revision", "revision",
                 "system_prompt")

    def __init__(
        self,
        revision: str,
        parent_revision: str | None,
        system_prompt: str | None,
        items: Sequence[Item],
        count: int,
        created_at_ns: int,
    ) -> None:
        self.revision = revision
        self.parent_revision = parent_revision
        self.system_prompt = system_prompt
        self._items = items
        self._count = count
        self.created_at_ns = created_at_ns

    @property
    def message_count(self) -> int:
        return self._count

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(self._items[k][0] for k in range(self._count))

    def items(self) -> Sequence[Item]:
        return self._items[: self._count]

    def computed_digest(self) -> str:
        return finish_digest(transcript_prefix(self._items, self._count), self.system_prompt)

    def span_digest(self, start: int, end: int) -> str:
        return items_digest(self._items, start, end)

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "parent_revision": self.parent_revision,
            "system_prompt": self.system_prompt,
            "messages": [m.to_json_dict() for m in self.messages],
            "created_at_ns": self.created_at_ns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TranscriptRevisionBody:
        messages = data.get("messages")
        if not isinstance(messages, list):
            raise HistoryStateMalformed("a revision body needs a list of messages")
        try:
            items = [item_of(m) for m in messages]
        except CallerError as exc:
            raise HistoryStateMalformed(f"a revision body holds a bad message: {exc}") from None
        return cls(
            _str(data, "revision"),
            _opt_str(data, "parent_revision"),
            _opt_str(data, "system_prompt"),
            items,
            len(items),
            _int(data, "created_at_ns"),
        )


@dataclass(frozen=True, slots=True)
class TranscriptRewriteCommit:
    """One rewrite edge ``parent_revision -> revision`` (CONV-030)."""

    parent_revision: str
    revision: str
    selection: MessageRange
    original_span_digest: str
    replacement_digest: str
    messages_before: int
    messages_after: int
    reason: RewriteReason
    actor: str | None
    committed_at_ns: int

    def to_json(self) -> dict[str, Any]:
        return {
            "parent_revision": self.parent_revision,
            "revision": self.revision,
            "selection": self.selection.to_json(),
            "original_span_digest": self.original_span_digest,
            "replacement_digest": self.replacement_digest,
            "messages_before": self.messages_before,
            "messages_after": self.messages_after,
            "reason": self.reason.to_json(),
            "actor": self.actor,
            "committed_at_ns": self.committed_at_ns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TranscriptRewriteCommit:
        reason = data.get("reason")
        if not isinstance(reason, Mapping):
            raise HistoryStateMalformed("a commit needs a reason object")
        selection = data.get("selection")
        if not isinstance(selection, Mapping):
            raise HistoryStateMalformed("a commit needs a selection object")
        return cls(
            _str(data, "parent_revision"),
            _str(data, "revision"),
            MessageRange.from_json(selection),
            _str(data, "original_span_digest"),
            _str(data, "replacement_digest"),
            _int(data, "messages_before"),
            _int(data, "messages_after"),
            RewriteReason(_str(reason, "kind"), _opt_str(reason, "note")),
            _opt_str(data, "actor"),
            _int(data, "committed_at_ns"),
        )


@dataclass(frozen=True, slots=True)
class TranscriptRewriteRecord:
    """A commit with its two bodies: self-contained and checkable on its own (CONV-040)."""

    commit: TranscriptRewriteCommit
    parent_body: TranscriptRevisionBody
    revision_body: TranscriptRevisionBody

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit.to_json(),
            "parent_body": self.parent_body.to_json(),
            "revision_body": self.revision_body.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TranscriptRewriteRecord:
        parts = [data.get(k) for k in ("commit", "parent_body", "revision_body")]
        if not all(isinstance(p, Mapping) for p in parts):
            raise HistoryStateMalformed("a record needs commit, parent_body and revision_body")
        commit, parent, revision = parts
        assert isinstance(commit, Mapping)
        assert isinstance(parent, Mapping)
        assert isinstance(revision, Mapping)
        return cls(
            TranscriptRewriteCommit.from_json(commit),
            TranscriptRevisionBody.from_json(parent),
            TranscriptRevisionBody.from_json(revision),
        )

    def validate(self) -> None:
        """Every check of CONV-040; raises the typed error of the first that fails."""
        commit, parent, revision = self.commit, self.parent_body, self.revision_body
        if parent.revision != commit.parent_revision or revision.revision != commit.revision:
            raise HistoryStateMalformed("the bodies do not carry the commit's revision ids")
        if revision.parent_revision != commit.parent_revision:
            raise HistoryStateMalformed("the revision body does not name the commit's parent")
        if commit.parent_revision == commit.revision:
            raise NoOpRewrite(commit.revision)
        for body in (parent, revision):
            if body.computed_digest() != body.revision:
                raise HistoryStateMalformed(f"body {body.revision} does not hash to its id")
        if parent.system_prompt != revision.system_prompt:
            raise HistoryStateMalformed("a rewrite changed the system prompt")
        start, end = commit.selection.start, commit.selection.end
        before, after = parent.message_count, revision.message_count
        if not 0 <= start <= end <= before:
            raise HistoryStateMalformed(f"range [{start}, {end}) is not within the parent")
        if commit.messages_before != before or commit.messages_after != after:
            raise HistoryStateMalformed("the message counts do not match the bodies")
        if parent.span_digest(start, end) != commit.original_span_digest:
            raise HistoryStateMalformed("the original span digest does not match")
        suffix = before - end
        replaced = after - start - suffix
        if replaced < 0:
            raise HistoryStateMalformed("the revision is shorter than prefix and suffix")
        if parent.span_digest(0, start) != revision.span_digest(0, start):
            raise HistoryStateMalformed("the prefix before the rewritten span was changed")
        if parent.span_digest(end, before) != revision.span_digest(after - suffix, after):
            raise HistoryStateMalformed("the suffix after the rewritten span was changed")
        if revision.span_digest(start, start + replaced) != commit.replacement_digest:
            raise HistoryStateMalformed("the replacement digest does not match")
        problem = tool_shape_violation(
            tuple(shape_of(item[0].to_json_dict()) for item in revision.items())
        )
        if problem is not None:
            raise InvalidTranscriptShape(problem)


@dataclass
class TranscriptHistory:
    """The revision graph of one conversation: head, commits in order, bodies by id."""

    head: str
    commits: list[TranscriptRewriteCommit] = field(default_factory=list)
    bodies: dict[str, TranscriptRevisionBody] = field(default_factory=dict)

    def copy(self) -> TranscriptHistory:
        return TranscriptHistory(self.head, list(self.commits), dict(self.bodies))

    def records(self) -> list[TranscriptRewriteRecord]:
        """One self-contained record per commit, in commit order."""
        return [
            TranscriptRewriteRecord(c, self.bodies[c.parent_revision], self.bodies[c.revision])
            for c in self.commits
        ]

    def validate(self) -> None:
        """Every record validates, records chain (CONV-041), the head is reachable."""
        TranscriptHistory.from_rewrite_records(self.records())
        if self.head not in self.bodies:
            raise HistoryStateMalformed(f"the head {self.head} has no body")
        if self.commits:
            target = self.commits[-1].revision
            cursor: str | None = self.head
            seen: set[str] = set()
            while cursor is not None and cursor != target and cursor not in seen:
                seen.add(cursor)
                body = self.bodies.get(cursor)
                cursor = None if body is None else body.parent_revision
            if cursor != target:
                raise HistoryStateMalformed("the head is not reachable from the last commit")

    @classmethod
    def from_rewrite_records(
        cls, records: Sequence[TranscriptRewriteRecord]
    ) -> TranscriptHistory:
        """Replay records into a history (CONV-041); raises on the first bad record."""
        if not records:
            raise HistoryStateMalformed("a history needs at least one rewrite record")
        history: TranscriptHistory | None = None
        for number, record in enumerate(records):
            record.validate()
            commit = record.commit
            if history is None:
                history = cls(commit.parent_revision)
            elif commit.parent_revision != history.head and not _extends(
                history.bodies[history.head], record.parent_body
            ):
                raise HistoryStateMalformed(
                    f"record {number} ({commit.parent_revision} -> {commit.revision}) "
                    f"does not extend transcript head {history.head}"
                )
            history.bodies.setdefault(commit.parent_revision, record.parent_body)
            history.bodies.setdefault(commit.revision, record.revision_body)
            history.commits.append(commit)
            history.head = commit.revision
        assert history is not None
        return history


def _extends(head: TranscriptRevisionBody, parent: TranscriptRevisionBody) -> bool:
    """Normal appends lead from ``head`` to ``parent`` (CONV-041)."""
    if parent.parent_revision == head.revision:
        return True
    count = head.message_count
    return (
        head.system_prompt == parent.system_prompt
        and parent.message_count >= count
        and head.span_digest(0, count) == parent.span_digest(0, count)
    )


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise HistoryStateMalformed(f"{key!r} must be a string, not {value!r}")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise HistoryStateMalformed(f"{key!r} must be a string or null, not {value!r}")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise HistoryStateMalformed(f"{key!r} must be an integer, not {value!r}")
    return value
