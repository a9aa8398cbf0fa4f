"""A conversation: messages with copy-on-write forks and transcript revisions (spec §6).

Seed: meerkat's ``Session`` (research/seeds.md §3.1-3.4, 3.6), in snake case, over the one
message model of the package (:mod:`sessionspec.wire.messages`). meerkat's JSON shape is
read and written by the codec :mod:`sessionspec.codecs.meerkat`, never carried inside.

Rules
-----
* The transcript is the system prompt (its own field: the one message model has no system
  role, CONV-002) and the messages. ``push`` appends one message, ``push_batch`` several
  with one timestamp (CONV-003). ``fork`` is O(1) and shares the messages until either side
  writes; neither side ever sees the other's later writes (CONV-010). ``fork_at`` keeps a
  prefix, ``fork_replacing`` keeps a prefix and appends a replacement, with a typed error
  for every bad index and role (CONV-012). A fork has a new id, the same metadata and usage,
  and no revision history (branch identity, CONV-011).
* ``has_pending_boundary`` is true iff the last message is a user message or a tool result
  (CONV-004). Metadata: ``set_metadata`` and ``remove_metadata`` bump ``updated_at``,
  ``backfill_metadata_if_absent`` does not (CONV-005). Usage is recorded and summed
  (CONV-006).
* Revisions (CONV-021, CONV-030..CONV-034): see :mod:`sessionspec.runtime.revisions`;
  ``commit_transcript_rewrite`` decides everything before changing anything, so a refused
  rewrite changes nothing.
* ``externalize_media`` moves inline image bytes into a blob store and is all or nothing:
  every blob is stored before any message changes (CONV-060, a difference from meerkat).

Theory of operation
-------------------
Messages live in an append-only list of ``(message, canonical bytes)`` items shared by
forks, like a Go slice: a conversation sees ``items[:count]``. A push appends in place when
nobody has appended past ``count`` (checked under the list's lock), else it copies its view
first: so a fork is O(1), the first writer keeps appending in place, the other copies once.
Nothing below ``count`` is ever changed in place; a rewrite or an externalization builds a
new list. Because of that, a revision body can be a view of the list, so the implicit
revision each append records once a history exists costs O(1).

The revision id is SHA-256 over the canonical transcript ``{"messages":[...],"system":...}``;
the conversation keeps a running SHA-256 state over ``{"messages":[`` and the items, and
closes a copy of it on demand, so ``transcript_revision`` costs O(1) after a push rather
than a pass over the whole transcript.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from sessionspec.errors import (
    CallerError,
    HistoryStateMalformed,
    InvalidRewriteRange,
    InvalidTranscriptShape,
    MessageIndexOutOfBounds,
    NoOpRewrite,
    RevisionConflict,
)
from sessionspec.reference.conversation import canonical_json, shape_of, tool_shape_violation
from sessionspec.runtime.conversation_edits import (
    ASSISTANT_BLOCK,
    INPUT_BLOCK,
    SYSTEM_CONTEXT_SEPARATOR,
    SYSTEM_CONTEXT_STATE_KEY,
    ReplaceAssistantBlock,
    ReplaceMessage,
    ReplaceToolResultContentBlock,
    ReplaceUserContentBlock,
    TranscriptReplacement,
    checked_block,
    index_value,
    inline_image_bytes,
    is_steer_part,
    replaced_message,
    usage_model,
    without_steers,
)
from sessionspec.runtime.revisions import (
    Item,
    MessageRange,
    RewriteReason,
    TranscriptHistory,
    TranscriptRevisionBody,
    TranscriptRewriteCommit,
    TranscriptRewriteRecord,
    finish_digest,
    item_of,
    items_digest,
    transcript_prefix,
)
from sessionspec.usage import CumulativeUsage
from sessionspec.wire.messages import (
    ApiKind,
    AssistantMessage,
    ImageContent,
    Message,
    TextContent,
    ToolResultMessage,
    UrlSource,
    Usage,
    UserMessage,
)

__all__ = [
    "BLOB_URL_PREFIX",
    "Conversation",
    "ReplaceAssistantBlock",
    "ReplaceMessage",
    "ReplaceToolResultContentBlock",
    "ReplaceUserContentBlock",
    "TranscriptReplacement",
    "new_session_id",
]

#: An externalized image is an ``image`` block whose source is ``url`` with this prefix and
#: the blob id (CONV-061): an opi reader still loads it (a URL image).
BLOB_URL_PREFIX = "ss-blob:"


def new_session_id() -> str:
    """A UUID version 7 (48-bit millisecond time, then random bits), as meerkat's ids are."""
    millis = time.time_ns() // 1_000_000
    value = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    value[6] = (value[6] & 0x0F) | 0x70
    value[8] = (value[8] & 0x3F) | 0x80
    text = value.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class _Chain:
    """An append-only list of items shared by forks; appended only under its lock."""

    __slots__ = ("items", "lock")

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.lock = threading.Lock()


def _default_clock() -> int:
    return time.time_ns()



def _role(model: Message) -> str:
    return model.role


class Conversation:
    """A conversation (meerkat ``Session``): see the module header for the rules."""

    __slots__ = (
        "_chain",
        "_clock",
        "_count",
        "_created_at_ns",
        "_hasher",
        "_history",
        "_id",
        "_metadata",
        "_system_prompt",
        "_updated_at_ns",
        "_usage",
    )

    #: The version of the conversation's own JSON form (meerkat's ``SESSION_VERSION``).
    VERSION = 2

    def __init__(self, session_id: str, *, clock: Callable[[], int] | None = None) -> None:
        if not isinstance(session_id, str) or not session_id.strip():
            raise CallerError(f"a conversation id must be a non-empty string, not {session_id!r}")
        self._clock = clock or _default_clock
        now = self._clock()
        self._id = session_id
        self._created_at_ns = now
        self._updated_at_ns = now
        self._chain = _Chain([])
        self._count = 0
        self._hasher: Any = transcript_prefix((), 0)
        self._system_prompt: str | None = None
        self._metadata: dict[str, Any] = {}
        self._usage = CumulativeUsage()
        self._history: TranscriptHistory | None = None

    # -- construction -------------------------------------------------------------------

    @classmethod
    def new(cls, *, clock: Callable[[], int] | None = None) -> Conversation:
        """An empty conversation with a fresh UUID v7 id (CONV-001)."""
        return cls(new_session_id(), clock=clock)

    @classmethod
    def with_id(cls, session_id: str, *, clock: Callable[[], int] | None = None) -> Conversation:
        """An empty conversation with the given id (for loading)."""
        return cls(session_id, clock=clock)

    @classmethod
    def restore(
        cls,
        session_id: str,
        *,
        messages: Sequence[Message | Mapping[str, Any]] = (),
        system_prompt: str | None = None,
        created_at_ns: int,
        updated_at_ns: int,
        metadata: Mapping[str, Any] | None = None,
        usage: CumulativeUsage | None = None,
        history_records: Sequence[TranscriptRewriteRecord] = (),
        clock: Callable[[], int] | None = None,
    ) -> Conversation:
        """A conversation from stored parts (what a codec reads); validates everything.

        With ``history_records`` the records are replayed (CONV-041) and the messages must be
        the head's, or extend it by normal appends.
        """
        conv = cls(session_id, clock=clock)
        conv._created_at_ns = index_value(created_at_ns, "created_at_ns")
        conv._updated_at_ns = index_value(updated_at_ns, "updated_at_ns")
        items = [item_of(m) for m in messages]
        conv._chain = _Chain(items)
        conv._count = len(items)
        conv._system_prompt = _prompt(system_prompt)
        conv._hasher = transcript_prefix(items, len(items))
        for key, value in (metadata or {}).items():
            conv._metadata[_key(key)] = _json_value(value)
        if usage is not None:
            conv._usage = usage.copy()
        if history_records:
            history = TranscriptHistory.from_rewrite_records(history_records)
            head = history.bodies[history.head]
            span = head.message_count
            if (
                head.system_prompt != conv._system_prompt
                or span > len(items)
                or head.span_digest(0, span) != items_digest(items, 0, span)
            ):
                raise HistoryStateMalformed("the messages do not extend the history's head")
            conv._history = history
            conv._refresh_head()
        return conv

    # -- reading ------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def created_at_ns(self) -> int:
        return self._created_at_ns

    @property
    def updated_at_ns(self) -> int:
        return self._updated_at_ns

    @property
    def messages(self) -> tuple[Message, ...]:
        """The messages (the objects held: treat them as immutable values)."""
        items = self._chain.items
        return tuple(items[k][0] for k in range(self._count))

    def __len__(self) -> int:
        return self._count

    def last_n(self, n: int) -> tuple[Message, ...]:
        """The last ``n`` messages (all of them when there are fewer)."""
        n = index_value(n, "n")
        if n < 0:
            raise CallerError(f"n must not be negative, not {n}")
        items = self._chain.items
        return tuple(items[k][0] for k in range(max(0, self._count - n), self._count))

    @property
    def system_prompt(self) -> str | None:
        return self._system_prompt

    def has_pending_boundary(self) -> bool:
        """True iff the last message is a user message or a tool result (CONV-004)."""
        if not self._count:
            return False
        return _role(self._chain.items[self._count - 1][0]) in ("user", "tool_result")

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the metadata."""
        return copy.deepcopy(self._metadata)

    def total_usage(self) -> CumulativeUsage:
        return self._usage.copy()

    def total_tokens(self) -> int:
        """Input plus output tokens, as meerkat counts (CONV-006)."""
        return self._usage.input_tokens + self._usage.output_tokens

    # -- buffer writes ------------------------------------------------------------------

    def push(self, message: Message | Mapping[str, Any]) -> None:
        """Append one message (validated first; a bad one is a CallerError, CONV-003)."""
        self._append([item_of(message)])
        self._updated_at_ns = self._clock()
        self._refresh_head()

    def push_batch(self, messages: Sequence[Message | Mapping[str, Any]]) -> None:
        """Append several messages with one timestamp; nothing for an empty batch (CONV-003).

        Every message is validated before any is appended."""
        items = [item_of(m) for m in messages]
        if not items:
            return
        self._append(items)
        self._updated_at_ns = self._clock()
        self._refresh_head()

    def touch(self) -> None:
        self._updated_at_ns = self._clock()

    def set_system_prompt(self, prompt: str) -> None:
        """Set or replace the system prompt (CONV-002)."""
        self._system_prompt = _prompt(prompt)
        self._updated_at_ns = self._clock()
        self._refresh_head()

    def append_external_user_content(self, content: str | Sequence[Any]) -> None:
        """Append a user message made of ``content`` (a text or content blocks)."""
        blocks: list[Any]
        if isinstance(content, str):
            blocks = [TextContent(text=content)]
        else:
            blocks = [checked_block(INPUT_BLOCK, b, "user content block") for b in content]
        self.push(UserMessage(content=blocks, timestamp_ms=self._clock() // 1_000_000))

    def append_external_assistant_blocks(
        self,
        blocks: Sequence[Any],
        stop_reason: str = "stop",
        usage: Usage | Mapping[str, Any] | None = None,
        *,
        api: ApiKind = "Anthropic",
        provider: str = "external",
        model: str = "external",
    ) -> None:
        """Append an assistant message if ``blocks`` is not empty; record non-zero usage."""
        checked = [checked_block(ASSISTANT_BLOCK, b, "assistant block") for b in blocks]
        usage_checked = usage_model(usage)
        if checked:
            try:
                message = AssistantMessage(
                    content=checked,
                    api=api,
                    provider=provider,
                    model=model,
                    usage=usage_checked,
                    stop_reason=stop_reason,
                    timestamp_ms=self._clock() // 1_000_000,
                )
            except ValidationError as exc:
                detail = exc.errors()[0]["msg"]
                raise CallerError(f"not a valid assistant message: {detail}") from None
            self.push(message)
        if usage_checked != Usage():
            self.record_usage(usage_checked)

    def discard_transient_runtime_steer_context(self) -> int:
        """Remove request-local operator steers from the prompt and the system context state.

        Returns how many prompt parts and state entries were removed (CONV-007)."""
        removed = 0
        prompt = self._system_prompt
        if prompt is not None:
            parts = prompt.split(SYSTEM_CONTEXT_SEPARATOR)
            kept = [p for p in parts if not is_steer_part(p)]
            if len(kept) != len(parts):
                removed += len(parts) - len(kept)
                self.set_system_prompt(SYSTEM_CONTEXT_SEPARATOR.join(kept))
        state = self._metadata.get(SYSTEM_CONTEXT_STATE_KEY)
        if isinstance(state, Mapping):
            cleaned, count = without_steers(state)
            if count:
                removed += count
                self.set_metadata(SYSTEM_CONTEXT_STATE_KEY, cleaned)
        return removed

    # -- metadata and usage -------------------------------------------------------------

    def set_metadata(self, key: str, value: Any) -> None:
        self._metadata[_key(key)] = _json_value(value)
        self._updated_at_ns = self._clock()

    def backfill_metadata_if_absent(self, key: str, value: Any) -> bool:
        """Set ``key`` only if absent, without touching ``updated_at`` (CONV-005)."""
        key = _key(key)
        if key in self._metadata:
            return False
        self._metadata[key] = _json_value(value)
        return True

    def remove_metadata(self, key: str) -> Any:
        """Remove ``key``; returns its value (None if absent; then nothing changes)."""
        key = _key(key)
        if key not in self._metadata:
            return None
        value = self._metadata.pop(key)
        self._updated_at_ns = self._clock()
        return value

    def record_usage(self, usage: Usage | Mapping[str, Any]) -> None:
        self._usage.add_counters(usage)
        self._updated_at_ns = self._clock()

    # -- forks --------------------------------------------------------------------------

    def _sibling(self, count: int, hasher: Any) -> Conversation:
        fork = Conversation.__new__(Conversation)
        now = self._clock()
        fork._clock = self._clock
        fork._id = new_session_id()
        fork._created_at_ns = now
        fork._updated_at_ns = now
        fork._chain = self._chain
        fork._count = count
        fork._hasher = hasher
        fork._system_prompt = self._system_prompt
        fork._metadata = dict(self._metadata)  # values are never changed in place
        fork._usage = self._usage.copy()
        fork._history = None
        return fork

    def fork(self) -> Conversation:
        """A new conversation sharing these messages until either side writes (CONV-010)."""
        return self._sibling(self._count, self._running_hasher().copy())

    def fork_at(self, index: int) -> Conversation:
        """A fork of the first ``min(index, len)`` messages (CONV-011)."""
        index = index_value(index, "index")
        if index < 0:
            raise MessageIndexOutOfBounds(index, self._count)
        count = min(index, self._count)
        if count == self._count:
            return self.fork()
        return self._sibling(count, None)

    def fork_replacing(
        self, message_index: int, replacement: TranscriptReplacement
    ) -> Conversation:
        """``fork_at(message_index)`` plus the replaced message; later messages are dropped.

        The source is unchanged; every bad index or role is a typed error (CONV-012)."""
        message_index = index_value(message_index, "message_index")
        if not 0 <= message_index < self._count:
            raise MessageIndexOutOfBounds(message_index, self._count)
        original = self._chain.items[message_index][0]
        item = item_of(replaced_message(original, replacement))
        fork = self.fork_at(message_index)
        fork._append([item])
        fork._updated_at_ns = fork._clock()
        return fork

    # -- revisions ----------------------------------------------------------------------

    def transcript_revision(self) -> str:
        """The head revision: the history's head, else the digest of the transcript."""
        if self._history is not None:
            return self._history.head
        return self._digest()

    def transcript_history(self) -> TranscriptHistory | None:
        """A copy of the revision history (None until the first rewrite)."""
        return None if self._history is None else self._history.copy()

    def transcript_rewrite_records(self) -> list[TranscriptRewriteRecord]:
        return [] if self._history is None else self._history.records()

    def transcript_revision_messages(self, revision: str) -> tuple[Message, ...] | None:
        if self._history is None:
            return self.messages if revision == self._digest() else None
        body = self._history.bodies.get(revision)
        return None if body is None else body.messages

    def commit_transcript_rewrite(
        self,
        selection: MessageRange | tuple[int, int],
        replacement: Sequence[Message | Mapping[str, Any]],
        reason: RewriteReason | str,
        actor: str | None = None,
        expected_parent_revision: str | None = None,
    ) -> TranscriptRewriteCommit:
        """Replace ``messages[start:end]`` by ``replacement`` as a new revision (CONV-030).

        Checks, in order: the expected parent (``RevisionConflict``), the range
        (``InvalidRewriteRange``), the tool shape of the result (``InvalidTranscriptShape``),
        that something changes (``NoOpRewrite``). Nothing changes unless all pass.
        """
        if isinstance(selection, tuple):
            selection = MessageRange(*selection)
        if not isinstance(selection, MessageRange):
            raise CallerError(f"selection must be a MessageRange, not {selection!r}")
        if isinstance(reason, str):
            reason = RewriteReason(reason)
        start = index_value(selection.start, "start")
        end = index_value(selection.end, "end")
        parent = self.transcript_revision()
        if expected_parent_revision is not None and expected_parent_revision != parent:
            raise RevisionConflict(expected_parent_revision, parent)
        count = self._count
        if start < 0 or start > end or end > count:
            raise InvalidRewriteRange(start, end, count)
        new_items = [item_of(m) for m in replacement]
        old = self._chain.items
        rewritten = old[:start] + new_items + old[end:count]
        problem = tool_shape_violation(tuple(shape_of(i[0].to_json_dict()) for i in rewritten))
        if problem is not None:
            raise InvalidTranscriptShape(problem)
        hasher = transcript_prefix(rewritten, len(rewritten))
        revision = finish_digest(hasher, self._system_prompt)
        if revision == parent:
            raise NoOpRewrite(revision)
        now = self._clock()
        history = self._history or TranscriptHistory(parent)
        if parent not in history.bodies:
            history.bodies[parent] = TranscriptRevisionBody(
                parent, None, self._system_prompt, old, count, self._updated_at_ns
            )
        if revision not in history.bodies:
            history.bodies[revision] = TranscriptRevisionBody(
                revision, parent, self._system_prompt, rewritten, len(rewritten), now
            )
        commit = TranscriptRewriteCommit(
            parent_revision=parent,
            revision=revision,
            selection=MessageRange(start, end),
            original_span_digest=items_digest(old, start, end),
            replacement_digest=items_digest(rewritten, start, start + len(new_items)),
            messages_before=count,
            messages_after=len(rewritten),
            reason=reason,
            actor=actor,
            committed_at_ns=now,
        )
        history.commits.append(commit)
        history.head = revision
        self._history = history
        self._chain = _Chain(rewritten)
        self._count = len(rewritten)
        self._hasher = hasher
        self._updated_at_ns = now
        return commit

    @classmethod
    def from_rewrite_records(
        cls,
        records: Sequence[TranscriptRewriteRecord],
        session_id: str | None = None,
        *,
        clock: Callable[[], int] | None = None,
    ) -> Conversation:
        """A conversation at the head of the replayed records (CONV-041)."""
        history = TranscriptHistory.from_rewrite_records(records)
        head = history.bodies[history.head]
        times = [head.created_at_ns, *(c.committed_at_ns for c in history.commits)]
        return cls.restore(
            session_id or new_session_id(),
            messages=head.messages,
            system_prompt=head.system_prompt,
            created_at_ns=min(times),
            updated_at_ns=max(times),
            history_records=records,
            clock=clock,
        )

    # -- media --------------------------------------------------------------------------

    def externalize_media(self, store: Any, start: int = 0) -> int:
        """Move inline image bytes of messages from ``start`` on into ``store`` (CONV-060).

        All or nothing: every blob is stored first, then the messages change at once; if the
        store fails, the messages are exactly as before (blobs already stored stay: they
        are content-addressed, so they are unreferenced copies, never damage). Returns the
        number of images moved. ``updated_at`` is not touched; with a history the new
        transcript becomes the head (an implicit revision).
        """
        start = index_value(start, "start")
        if start < 0:
            raise CallerError(f"start must not be negative, not {start}")
        items = self._chain.items
        plan: list[tuple[int, Message]] = []
        moved = 0
        for index in range(start, self._count):
            model = items[index][0]
            if not isinstance(model, UserMessage | ToolResultMessage):
                continue
            blocks: list[Any] = list(model.content)
            changed = False
            for position, block in enumerate(blocks):
                data = inline_image_bytes(block, index, position)
                if data is None:
                    continue
                blob_id = store.put(data)
                blocks[position] = ImageContent(
                    source=UrlSource(url=BLOB_URL_PREFIX + blob_id), media_type=block.media_type
                )
                changed = True
                moved += 1
            if changed:
                plan.append((index, model.model_copy(update={"content": blocks})))
        if not plan:
            return 0
        rewritten = items[: self._count]
        for index, new_model in plan:
            rewritten[index] = item_of(new_model)
        self._chain = _Chain(rewritten)
        self._hasher = transcript_prefix(rewritten, len(rewritten))
        self._refresh_head()
        return moved

    # -- internals ----------------------------------------------------------------------

    def _append(self, new_items: list[Item]) -> None:
        chain = self._chain
        count = self._count
        with chain.lock:
            in_place = len(chain.items) == count
            if in_place:
                chain.items.extend(new_items)
        if not in_place:
            copied = chain.items[:count]
            copied.extend(new_items)
            self._chain = _Chain(copied)
        hasher = self._running_hasher()
        for offset, item in enumerate(new_items):
            if count + offset:
                hasher.update(b",")
            hasher.update(item[1])
        self._count = count + len(new_items)

    def _running_hasher(self) -> Any:
        if self._hasher is None:
            self._hasher = transcript_prefix(self._chain.items, self._count)
        return self._hasher

    def _digest(self) -> str:
        return finish_digest(self._running_hasher(), self._system_prompt)

    def _refresh_head(self) -> None:
        """With a history, the current transcript becomes the head (CONV-032)."""
        history = self._history
        if history is None:
            return
        revision = self._digest()
        if revision == history.head:
            return
        if revision not in history.bodies:
            history.bodies[revision] = TranscriptRevisionBody(
                revision,
                history.head,
                self._system_prompt,
                self._chain.items,
                self._count,
                self._clock(),
            )
        history.head = revision

    def __repr__(self) -> str:
        return f"Conversation(id={self._id!r}, messages={self._count})"


# -- helpers ------------------------------------------------------------------------------


def _prompt(prompt: Any) -> str | None:
    if prompt is not None and not isinstance(prompt, str):
        raise CallerError(f"a system prompt must be a string, not {prompt!r}")
    return prompt


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise CallerError(f"a metadata key must be a string, not {key!r}")
    return key


def _json_value(value: Any) -> Any:
    canonical_json(value)  # refuses what has no canonical JSON form (CONV-020)
    return copy.deepcopy(value)
