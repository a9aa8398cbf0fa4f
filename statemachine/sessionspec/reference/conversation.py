"""The reference model of a conversation and its transcript revisions (spec/SPEC.md §6).

Rules (CONV-020..CONV-034)
--------------------------
* The canonical form of a JSON value is RFC 8785 (JCS): object keys sorted by UTF-16 code
  units, no white space, numbers in ECMAScript form, strings with the minimal escapes. The
  ``rfc8785`` package implements it; a value it cannot express (an integer beyond 2**53, NaN,
  a non-string key) is a :class:`~sessionspec.errors.CanonicalFormError` (CONV-020).
* A transcript is the object ``{"messages": [...], "system": prompt-or-null}``: the system
  prompt is not a message in the one message model (DESIGN §2), so it is its own field. Its
  revision id is ``"sha256:"`` + the lower-case hex SHA-256 of its canonical form (CONV-021).
  A span digest is the same function over the canonical form of a JSON array of messages.
* Tool shape (CONV-034): every assistant message with tool calls is followed at once by a
  run of tool results whose call ids are unique and are exactly the set of the assistant's
  call ids (which are unique too); a tool result anywhere else is an orphan.

Theory of operation
-------------------
Everything here is pure and slow on purpose: a conversation is a frozen value holding a
tuple of JSON messages, every revision id is recomputed from scratch, and the history is a
tuple of bodies and commits. The runtime (:mod:`sessionspec.runtime.conversation`) computes
the same ids incrementally; the stateful tests hold the two to the same answers. CrossHair
checks the contracts of :func:`tool_shape_violation` (abstract shapes) and
:func:`canonical_array` (proofs/registry_conversation.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import rfc8785

from sessionspec.errors import CanonicalFormError

__all__ = [
    "MessageShape",
    "RefBody",
    "RefCommit",
    "RefConversation",
    "RefRejected",
    "canonical_array",
    "canonical_json",
    "digest_bytes",
    "ref_fork",
    "ref_fork_at",
    "ref_push",
    "ref_revision",
    "ref_rewrite",
    "ref_set_system_prompt",
    "shape_of",
    "span_digest",
    "tool_shape_violation",
    "transcript_digest",
]

#: ``(kind, ids)``: kind is ``user``, ``assistant`` or ``tool_result``; ids are the tool
#: call ids of an assistant message, or the one call id a tool result answers.
MessageShape = tuple[str, tuple[str, ...]]


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value`` (CONV-020)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise CanonicalFormError(f"no canonical JSON form: {exc}") from exc


def canonical_array(items: tuple[bytes, ...]) -> bytes:
    """The canonical form of a JSON array whose elements have canonical forms ``items``.

    pre: all(len(i) > 0 for i in items)
    post: __return__.startswith(b"[") and __return__.endswith(b"]")
    post: len(__return__) == 2 + sum(len(i) for i in items) + max(0, len(items) - 1)
    post: (__return__ == b"[]") == (len(items) == 0)
    """
    return b"[" + b",".join(items) + b"]"


def digest_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def span_digest(messages: Sequence[Mapping[str, Any]]) -> str:
    """The digest of a JSON array of messages (a span of a transcript, CONV-021)."""
    return digest_bytes(canonical_array(tuple(canonical_json(m) for m in messages)))


def transcript_digest(system_prompt: str | None, messages: Sequence[Mapping[str, Any]]) -> str:
    """The revision id of a transcript: digest of ``{"messages": [...], "system": ...}``."""
    return digest_bytes(canonical_json({"messages": list(messages), "system": system_prompt}))


def shape_of(message: Mapping[str, Any]) -> MessageShape:
    """The abstract tool shape of one message in the wire JSON form."""
    role = message.get("role")
    if role == "assistant":
        ids = tuple(
            block["tool_call"]["id"]
            for block in message.get("content", ())
            if block.get("type") == "tool_call"
        )
        return ("assistant", ids)
    if role == "tool_result":
        return ("tool_result", (str(message.get("tool_call_id")),))
    return (str(role), ())


def tool_shape_violation(shape: tuple[MessageShape, ...]) -> str | None:
    """None when tool calls and results are paired, unique and adjacent; else why not.

    pre: all(len(ids) == 1 for kind, ids in shape if kind == "tool_result")
    post: (__return__ is None) == _shape_holds(shape)
    """
    index = 0
    count = len(shape)
    while index < count:
        kind, ids = shape[index]
        if kind == "tool_result":
            return f"message {index}: tool result {ids[0]!r} does not answer the message before it"
        if kind == "assistant" and ids:
            if len(set(ids)) != len(ids):
                return f"message {index}: the assistant repeats a tool call id"
            answers: list[str] = []
            following = index + 1
            while following < count and shape[following][0] == "tool_result":
                answers.append(shape[following][1][0])
                following += 1
            if not answers:
                return f"message {index}: tool calls {list(ids)} are not followed by results"
            if len(set(answers)) != len(answers):
                return f"message {index}: a tool result is repeated"
            if set(answers) != set(ids):
                return (
                    f"message {index}: results {sorted(set(answers))} do not answer "
                    f"the calls {sorted(set(ids))}"
                )
            index = following
            continue
        index += 1
    return None


def _shape_holds(shape: tuple[MessageShape, ...]) -> bool:
    """The declarative statement of CONV-034, used as the contract of the walk above."""
    for position, (kind, _) in enumerate(shape):
        if kind != "tool_result":
            continue
        owner = position - 1
        while owner >= 0 and shape[owner][0] == "tool_result":
            owner -= 1
        if owner < 0 or shape[owner][0] != "assistant" or not shape[owner][1]:
            return False
    for position, (kind, ids) in enumerate(shape):
        if kind != "assistant" or not ids:
            continue
        run_end = position + 1
        while run_end < len(shape) and shape[run_end][0] == "tool_result":
            run_end += 1
        answers = [shape[k][1][0] for k in range(position + 1, run_end)]
        if len(set(ids)) != len(ids) or len(set(answers)) != len(answers):
            return False
        if set(answers) != set(ids):
            return False
    return True


# --- the list-based reference model ---------------------------------------------------


@dataclass(frozen=True)
class RefBody:
    revision: str
    parent_revision: str | None
    system_prompt: str | None
    messages: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class RefCommit:
    parent_revision: str
    revision: str
    start: int
    end: int


@dataclass(frozen=True)
class RefConversation:
    """A conversation as a value. ``history`` is None until the first rewrite (CONV-032)."""

    messages: tuple[Mapping[str, Any], ...] = ()
    system_prompt: str | None = None
    head: str | None = None
    bodies: tuple[RefBody, ...] = ()
    commits: tuple[RefCommit, ...] = ()


@dataclass(frozen=True)
class RefRejected:
    """A refused edit: ``code`` is the error class name of the runtime's typed error."""

    code: str


def _freeze(message: Mapping[str, Any]) -> Mapping[str, Any]:
    # a private deep copy, so no caller can change a value held by the model
    frozen: Mapping[str, Any] = json.loads(json.dumps(message))
    return frozen


def ref_revision(conv: RefConversation) -> str:
    """The head if there is a history, else the digest of the current transcript."""
    if conv.head is not None:
        return conv.head
    return transcript_digest(conv.system_prompt, conv.messages)


def _with_implicit_revision(before: RefConversation, after: RefConversation) -> RefConversation:
    """After a mutation: with a history, the new digest becomes the head (CONV-032)."""
    if before.head is None:
        return after
    revision = transcript_digest(after.system_prompt, after.messages)
    if revision == before.head:
        return after
    bodies = after.bodies
    if all(b.revision != revision for b in bodies):
        bodies = (
            *bodies,
            RefBody(revision, before.head, after.system_prompt, after.messages),
        )
    return replace(after, head=revision, bodies=bodies)


def ref_push(conv: RefConversation, *messages: Mapping[str, Any]) -> RefConversation:
    if not messages:
        return conv
    after = replace(conv, messages=conv.messages + tuple(_freeze(m) for m in messages))
    return _with_implicit_revision(conv, after)


def ref_set_system_prompt(conv: RefConversation, prompt: str) -> RefConversation:
    return _with_implicit_revision(conv, replace(conv, system_prompt=prompt))


def ref_fork(conv: RefConversation) -> RefConversation:
    """A fork has the same transcript and no history (branch identity, CONV-011)."""
    return RefConversation(conv.messages, conv.system_prompt)


def ref_fork_at(conv: RefConversation, index: int) -> RefConversation:
    return RefConversation(conv.messages[: max(0, min(index, len(conv.messages)))],
                           conv.system_prompt)


def ref_rewrite(
    conv: RefConversation,
    start: int,
    end: int,
    replacement: Sequence[Mapping[str, Any]],
    expected_parent_revision: str | None,
) -> RefConversation | RefRejected:
    """``commit_transcript_rewrite`` as a pure function (CONV-030..CONV-034)."""
    parent = ref_revision(conv)
    if expected_parent_revision is not None and expected_parent_revision != parent:
        return RefRejected("RevisionConflict")
    if start < 0 or start > end or end > len(conv.messages):
        return RefRejected("InvalidRewriteRange")
    rewritten = conv.messages[:start] + tuple(_freeze(m) for m in replacement) + conv.messages[end:]
    if tool_shape_violation(tuple(shape_of(m) for m in rewritten)) is not None:
        return RefRejected("InvalidTranscriptShape")
    revision = transcript_digest(conv.system_prompt, rewritten)
    if revision == parent:
        return RefRejected("NoOpRewrite")
    bodies = conv.bodies
    if all(b.revision != parent for b in bodies):
        bodies = (*bodies, RefBody(parent, None, conv.system_prompt, conv.messages))
    if all(b.revision != revision for b in bodies):
        bodies = (*bodies, RefBody(revision, parent, conv.system_prompt, rewritten))
    return RefConversation(
        rewritten,
        conv.system_prompt,
        revision,
        bodies,
        (*conv.commits, RefCommit(parent, revision, start, end)),
    )
