"""The transcript's state, its item declarations and the canonical walk (RT-012, RT-030..032).

:class:`_TranscriptCore` holds everything a transcript knows (items, responses, the
remembered deltas, the frontier heap) and the lifecycle of ``TRANSCRIPT_TABLE``. Items are
declared here (a new item, or a new fact about one: its predecessor, role or response,
checked for conflicts and cycles first) and placed where the walk finds them; the walk pops
the earliest-seen item of the frontier while it is final and turns each complete run of a
response into one assistant message (RT-031), each ready user item into a user message.
The handlers (:mod:`.assembly`, :mod:`.playback`) decide what an event means and call into
this; nothing here reads an event.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from typing import Any, get_args

from sessionspec.errors import (
    CallerError,
    IllegalTransitionError,
)
from sessionspec.lifecycle import Lifecycle
from sessionspec.reference.realtime import (
    STOP_REASON_MAP,
    ApplyStatus,
    Diagnostic,
    DiagnosticCode,
    DiscardedFragment,
)
from sessionspec.runtime.realtime.records import (
    _AWAITING,
    _MATERIALIZED,
    _OBSERVED,
    _READY,
    _SKIPPED,
    _SPOKEN,
    ApplyOutcome,
    JournalRecovery,
    UnattachedUsage,
    _construct,
    _Item,
    _opi_usage,
    _Response,
    _Segment,
    _wall_clock_ms,
)
from sessionspec.storage.jsonl import JsonlLog
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.tables.realtime import (
    TRANSCRIPT_TABLE,
    TranscriptEvent,
    TranscriptState,
)
from sessionspec.wire.messages import (
    ApiKind,
    AssistantMessage,
    TextContent,
    UserMessage,
)
from sessionspec.wire.realtime import (
    JOURNAL_FORMAT_VERSION,
    REALTIME_EVENT_TYPES,
)


class _TranscriptCore:
    """State, declarations and the walk; the handlers live in the subclasses."""

    def __init__(
        self,
        *,
        api: str = "OpenAi",
        provider: str = "openai",
        model: str = "gpt-realtime",
        clock: Callable[[], int] | None = None,
    ) -> None:
        if api not in get_args(ApiKind):
            raise CallerError(f"api must be one of {get_args(ApiKind)}, not {api!r}")
        self.api = api
        self.provider = provider
        self.model = model
        self._clock = clock or _wall_clock_ms
        self._items: dict[str, _Item] = {}
        self._responses: dict[str, _Response] = {}
        #: Accepted deltas: delta id -> its position in the delta log, where
        #: ``_delta_log_texts`` holds its text and ``_delta_log_contexts`` the number of its
        #: context in ``_delta_contexts`` (a context is ``(type, response_id, item_id, prev,
        #: index)``, usually one per segment). A delta's dedup key is its context, id and
        #: text. The dict holds only strings and integers, so the garbage collector does
        #: not track it, and remembering a delta allocates no tracked object (each list is
        #: one tracked object; int-keyed dicts instead, untracked, took the same collection
        #: time and made a delta slower). One dict and two list appends rather than two
        #: dicts (id -> context, id -> text): a store into a second table of ~80,000 keys
        #: is one more random memory access, and the log made that part of a delta 24%
        #: cheaper (median of alternated chunks, bench machine under load).
        self._deltas: dict[str, int] = {}
        self._delta_log_texts: list[str] = []
        self._delta_log_contexts: list[int] = []
        self._delta_contexts: list[tuple[Any, ...]] = []
        #: The context of the last delta the hot path accepted and its segment, while no
        #: checked event has been applied since (``None``: none known).
        self._hot_context: tuple[Any, ...] | None = None
        self._hot_segment = _Segment()
        self._accepted: set[tuple[Any, ...]] = set()
        #: Ranks of the items whose predecessor is consumed (or who have none): a heap.
        self._frontier: list[int] = []
        self._by_rank: list[_Item] = []

        self._waiting_children: dict[str, list[_Item]] = {}
        self._messages: list[UserMessage | AssistantMessage] = []
        self._discarded: list[DiscardedFragment] = []
        #: Usage of ended responses without a message, in the order it became so (RT-027).
        self._unattached: list[UnattachedUsage] = []
        self._lifecycle: Lifecycle[TranscriptState, TranscriptEvent] = Lifecycle(TRANSCRIPT_TABLE)
        #: Mirrors ``self._lifecycle.state is OPEN`` for the hot path; set by :meth:`_commit`.
        self._open = True
        self._journal: JsonlLog | DatabaseLog | None = None
        #: The format version of the journal (RT-044): a version-1 journal, reopened, cannot
        #: take what version 2 added.
        self._journal_version = JOURNAL_FORMAT_VERSION
        self._group_commit = False
        self._pending: list[dict[str, Any]] = []
        self._next_entry = 1
        self._now: int | None = None
        #: The raw event being applied, for the journal (set by :meth:`apply`).
        self._raw: Mapping[str, Any] | None = None
        self._new_messages: list[UserMessage | AssistantMessage] = []
        self._dirty = False
        #: What reopening the journal found (RT-049); empty for a new transcript.
        self.recovery = JournalRecovery()
        #: Event type -> handler, looked up on the class (so a subclass can override one)
        #: and called with the transcript: bound methods kept here would make a cycle
        #: (transcript -> dict -> method -> transcript), and a dropped transcript would wait
        #: for a full collection instead of being freed at once.
        cls = type(self)
        self._handlers: dict[str, Callable[[Any, Mapping[str, Any]], ApplyOutcome]] = {
            kind: getattr(cls, name) for kind, name in _HANDLERS.items()
        }

    # -- lifecycle (RT-043) ---------

    def _commit(self, event: TranscriptEvent) -> None:
        self._lifecycle.commit(event)
        self._open = self._lifecycle.state is TranscriptState.OPEN

    def _check_open(self) -> None:
        decision = TRANSCRIPT_TABLE.decide(self._lifecycle.state, TranscriptEvent.APPLY)
        if not isinstance(decision, TranscriptState):
            raise IllegalTransitionError(
                TRANSCRIPT_TABLE.name, decision.state, decision.event, decision.code
            )

    def _stamp(self) -> int:
        if self._now is None:
            self._now = int(self._clock())
        return self._now

    # -- diagnostics -------------------------------------------------------------------------

    def _reject(
        self,
        code: DiagnosticCode,
        item_id: str | None = None,
        response_id: str | None = None,
        detail: str = "",
    ) -> ApplyOutcome:
        raw = self._raw
        assert raw is not None
        diagnostic = Diagnostic(code, str(raw["type"]), item_id, response_id, detail)
        return ApplyOutcome(ApplyStatus.REJECTED, (), (diagnostic,))

    # -- declarations (RT-012) ---------------------------------------------------------------

    def _declaration_conflict(
        self, item_id: str, prev: str | None, role: str | None, response_id: str | None
    ) -> ApplyOutcome | None:
        if prev == item_id:
            return self._reject(
                DiagnosticCode.PREDECESSOR_CYCLE,
                item_id,
                response_id,
                "an item cannot follow itself",
            )
        item = self._items.get(item_id)
        if item is None:
            if prev is not None:
                # A new item closes a cycle only through a predecessor not yet consumed.
                parent = self._items.get(prev)
                if parent is not None and not parent.consumed and self._reaches(prev, item_id):
                    return self._reject(DiagnosticCode.PREDECESSOR_CYCLE, item_id, response_id)
            return None
        if item.state is not _SKIPPED:
            if role is not None and item.role is not None and role != item.role:
                return self._reject(DiagnosticCode.ROLE_CONFLICT, item_id, response_id)
            if (
                response_id is not None
                and item.response_id is not None
                and response_id != item.response_id
            ):
                return self._reject(DiagnosticCode.RESPONSE_CONFLICT, item_id, response_id)
        if prev is not None and prev != item.prev:
            if item.prev is not None or item.state is not _OBSERVED:
                return self._reject(DiagnosticCode.PREDECESSOR_CONFLICT, item_id, response_id)
            if self._reaches(prev, item_id):
                return self._reject(DiagnosticCode.PREDECESSOR_CYCLE, item_id, response_id)
        return None

    def _reaches(self, start: str, target: str) -> bool:
        items = self._items
        if start != target:
            # The usual case, without allocating: the first step ends at a consumed item.
            node = items.get(start)
            if node is None or node.consumed:
                return False
        seen: set[str] = set()
        current: str | None = start
        while current is not None and current not in seen:
            if current == target:
                return True
            seen.add(current)
            node = items.get(current)
            if node is None or node.consumed:
                return False
            current = node.prev
        return False

    def _declare(
        self, item_id: str, prev: str | None, role: str | None, response_id: str | None
    ) -> tuple[_Item, bool]:
        item = self._items.get(item_id)
        if item is None:
            item = _Item(item_id, len(self._items), role, response_id, prev)
            self._items[item_id] = item
            self._by_rank.append(item)
            if response_id is not None:
                item.response = self._response(response_id)
                item.response.item_ranks.append(item.rank)
            # A new item is open and has the highest rank: it cannot unblock the walk, which
            # stopped before it or stops at it (RT-030), so it does not ask for a walk. An
            # item that becomes final says so itself (``_dirty``).
            self._place(item)
            return item, True
        new = False
        if prev is not None and item.prev is None:
            item.prev = prev
            self._place(item)
            # A re-linked item may leave the frontier (lazily, in the walk): re-walk.
            self._dirty = True
            new = True
        if item.state is not _SKIPPED:
            if role is not None and item.role is None:
                item.role = role
                new = True
            if response_id is not None and item.response_id is None:
                item.response_id = response_id
                item.response = self._response(response_id)
                item.response.item_ranks.append(item.rank)
                new = True
        return item, new

    def _place(self, item: _Item) -> None:
        """Put a new (or newly linked) item where the walk will find it (RT-030)."""
        prev = item.prev
        if prev is None:
            heapq.heappush(self._frontier, item.rank)
            return
        parent = self._items.get(prev)
        if parent is not None and parent.consumed:
            heapq.heappush(self._frontier, item.rank)
        elif parent is not None:
            if parent.children is None:
                parent.children = [item]
            else:
                parent.children.append(item)
        else:
            self._waiting_children.setdefault(prev, []).append(item)

    def _response(self, response_id: str) -> _Response:
        response = self._responses.get(response_id)
        if response is None:
            response = _Response()
            self._responses[response_id] = response
        return response

    def _settle_playback(self, item: _Item) -> None:
        """An item whose playback ended holds what was heard: a message if anything was,
        else an anchor (RT-073, RT-074)."""
        response_id = item.response_id
        assert response_id is not None
        response = self._responses[response_id]
        awaited = item.state is _AWAITING
        if awaited:
            response.awaiting_left -= 1
        if item.has_content():
            item.state = _READY
            response.ready_left += 1
        else:
            item.state = _SKIPPED
            item.segments.clear()
        self._dirty = True
        if awaited:
            # Past its response's end (at the end itself, ``_end`` decides once it is done).
            self._release_usage(response_id, response)

    def _release_usage(self, response_id: str, response: _Response) -> None:
        """RT-027: an ended response none of whose items is ready or awaits its playback
        (and none was materialized: that would have spent its usage) never gets a message;
        its usage, unless zero, becomes unattached, once."""
        if response.usage_spent or response.ready_left or response.awaiting_left:
            return
        response.usage_spent = True
        usage = _opi_usage(response.usage)
        counts = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )
        if any(counts):
            self._unattached.append(UnattachedUsage(response_id, usage, len(self._messages)))

    # -- the walk (RT-030, RT-031) -----------------------------------------------------------

    def _pop(self) -> _Item | None:
        """The next item in canonical order, or ``None``; drops stale frontier entries."""
        frontier = self._frontier
        by_rank = self._by_rank
        items = self._items
        while frontier:
            item = by_rank[frontier[0]]
            if item.consumed:
                heapq.heappop(frontier)
                continue
            prev = item.prev
            if prev is not None:
                parent = items.get(prev)
                if parent is None or not parent.consumed:
                    # Re-linked under a predecessor not yet consumed: it comes back later.
                    heapq.heappop(frontier)
                    continue
            return item
        return None

    def _consume(self, item: _Item, forget: bool = False) -> None:
        """Step past the item at the top of the frontier; its children become available.
        With ``forget`` (a step that will not be undone), it forgets them too."""
        frontier = self._frontier
        heapq.heappop(frontier)
        item.consumed = True
        children = item.children
        if children:
            for child in children:
                heapq.heappush(frontier, child.rank)
        if forget:
            item.children = None
            waiting = self._waiting_children.pop(item.item_id, None)
        else:
            waiting = self._waiting_children.get(item.item_id)
        if waiting:
            for child in waiting:
                heapq.heappush(frontier, child.rank)

    def _walk(self) -> None:
        while True:
            item = self._pop()
            if item is None:
                return
            state = item.state
            if state is _SKIPPED:
                self._consume(item, forget=True)
                continue
            if state is _OBSERVED or state is _AWAITING:
                return
            if item.role == "user":
                self._consume(item, forget=True)
                item.state = _MATERIALIZED
                self._emit_user(item)
                continue
            if not self._walk_run(item):
                return

    def _walk_run(self, first: _Item) -> bool:
        """Emit the run of ``first``'s response that starts at ``first``, if it is complete."""
        response_id = first.response_id
        assert response_id is not None
        response = self._responses[response_id]
        saved_frontier = list(self._frontier)
        passed: list[_Item] = []
        run: list[_Item] = []
        item: _Item | None = first
        ended_by_message = False
        while item is not None:
            state = item.state
            if state is _SKIPPED:
                passed.append(item)
                self._consume(item)
            elif state is _READY and item.role != "user" and item.response_id == response_id:
                run.append(item)
                passed.append(item)
                self._consume(item)
            else:
                ended_by_message = state is _READY
                break
            item = self._pop()
        if not ended_by_message and (response.ready_left != len(run) or response.awaiting_left):
            # RT-031: the run may still grow; undo and wait.
            for undone in passed:
                undone.consumed = False
            self._frontier = saved_frontier
            return False
        for done in passed:
            self._forget_children(done)
        for done in run:
            done.state = _MATERIALIZED
        response.ready_left -= len(run)
        self._emit_assistant(response_id, response, run)
        return True

    def _forget_children(self, item: _Item) -> None:
        item.children = None
        self._waiting_children.pop(item.item_id, None)

    # -- message construction (RT-032) -------------------------------------------------------

    def _emit_user(self, item: _Item) -> None:
        # The fields are built here from validated data: construct without re-validating.
        block = _construct(TextContent, {"type": "text", "text": item.text()}, {"text"}, {})
        message = _construct(
            UserMessage,
            {"role": "user", "content": [block], "timestamp_ms": self._stamp()},
            {"content", "timestamp_ms"},
            {"ss_item_id": item.item_id},
        )
        self._messages.append(message)
        self._new_messages.append(message)

    def _emit_assistant(self, response_id: str, response: _Response, run: list[_Item]) -> None:
        blocks: list[TextContent] = []
        for item in run:
            text = item.text()
            if item.lane is _SPOKEN:
                extra = {"ss_item_id": item.item_id, "ss_lane": "spoken"}
            else:
                extra = {"ss_item_id": item.item_id}
            blocks.append(_construct(TextContent, {"type": "text", "text": text}, {"text"}, extra))
            for segment in item.segments.values():
                segment.deltas.clear()
        usage = response.usage if not response.usage_spent else None
        response.usage_spent = True
        stop_reason = response.stop_reason or "end_turn"
        message = _construct(
            AssistantMessage,
            {
                "role": "assistant",
                "content": blocks,
                "api": self.api,
                "provider": self.provider,
                "model": self.model,
                "response_model": None,
                "response_id": response_id,
                "usage": _opi_usage(usage),
                "stop_reason": STOP_REASON_MAP[stop_reason],
                "error_message": None,
                "timestamp_ms": self._stamp(),
            },
            {
                "content",
                "api",
                "provider",
                "model",
                "response_id",
                "usage",
                "stop_reason",
                "timestamp_ms",
            },
            {"ss_response_id": response_id, "ss_realtime_stop_reason": stop_reason},
        )
        self._messages.append(message)
        self._new_messages.append(message)


#: Event type -> name of the handler method (bound per instance, so subclasses can override).
_HANDLERS: dict[str, str] = {
    "item_observed": "_on_item_observed",
    "item_skipped": "_on_item_skipped",
    "user_transcript_final": "_on_user_final",
    "assistant_text_delta": "_on_delta",
    "assistant_transcript_delta": "_on_delta",
    "assistant_transcript_truncated": "_on_spoken_text",
    "assistant_transcript_final_text": "_on_spoken_text",
    "assistant_turn_completed": "_on_completed",
    "assistant_turn_interrupted": "_on_interrupted",
    "assistant_playback_started": "_on_playback_started",
    "assistant_playback_finished": "_on_playback_finished",
}
assert tuple(_HANDLERS) == REALTIME_EVENT_TYPES
