"""The checked handlers: items, content and the ends of responses (RT-010..RT-026).

Each handler reads its event's fields (raising :class:`InvalidRealtimeEventError` on a
malformed one, RT-002), computes the event's dedup key (a duplicate changes nothing, RT-010),
finds any conflict (a typed rejection, RT-012), and only then persists and mutates. A
response's end (completed, cancelled; interrupted in :mod:`.playback`) makes its open items
ready or discards them; content after the end is late: reported and discarded, leaving at most
a contentless anchor (RT-021..RT-026).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessionspec.reference.realtime import (
    ApplyStatus,
    Diagnostic,
    DiagnosticCode,
    DiscardedFragment,
    Lane,
)
from sessionspec.runtime.realtime.journal import _Journaled
from sessionspec.runtime.realtime.records import (
    _ACCEPTED,
    _AWAITING,
    _DELTA_KINDS,
    _DISPLAY,
    _DUPLICATE,
    _OBSERVED,
    _READY,
    _SKIPPED,
    _SPOKEN,
    _STOP_REASONS,
    _STREAMING,
    _WAITING,
    ApplyOutcome,
    _bad,
    _completion_key,
    _delta_context,
    _index,
    _Item,
    _opt_id,
    _req_str,
    _Response,
    _Segment,
    _usage_dict,
)
from sessionspec.tables.realtime import (
    ResponseState,
)


class _Assembly(_Journaled):
    """Handlers of the item, content and completion events."""

    # -- handlers ----------------------------------------------------------------------------

    def _on_item_observed(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        role = raw.get("role")
        if role not in ("user", "assistant"):
            raise _bad("item_observed: role must be 'user' or 'assistant'")
        response_id = _opt_id(raw, "response_id")
        key = ("item_observed", item_id, prev, role, response_id)
        if key in self._accepted:
            return _DUPLICATE
        if not item_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, response_id, "empty or blank id")
        if role == "user":
            response_id = None
        conflict = self._declaration_conflict(item_id, prev, role, response_id)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        if existing is not None and existing.state is _SKIPPED:
            return _DUPLICATE
        if response_id is not None and self._response_ended(response_id):
            if (
                existing is not None
                and (prev is None or prev == existing.prev)
                and existing.response_id == response_id
            ):
                return _DUPLICATE
            return self._late(key, item_id, prev, response_id, None, "")
        if existing is not None and not self._would_declare(item_id, prev, role, response_id):
            return _DUPLICATE
        self._persist()
        self._accepted.add(key)
        item, _ = self._declare(item_id, prev, role, response_id)
        if response_id is not None:
            assert item.response is not None  # set by the declaration: the item is not skipped
            self._touch(item.response)
        return _ACCEPTED

    def _would_declare(
        self, item_id: str, prev: str | None, role: str | None, response_id: str | None
    ) -> bool:
        item = self._items.get(item_id)
        if item is None:
            return True
        if prev is not None and item.prev is None:
            return True
        if item.state is not _SKIPPED:
            if role is not None and item.role is None:
                return True
            if response_id is not None and item.response_id is None:
                return True
        return False

    def _on_item_skipped(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        key = ("item_skipped", item_id, prev)
        if key in self._accepted:
            return _DUPLICATE
        if not item_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        conflict = self._declaration_conflict(item_id, prev, None, None)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        if (
            existing is not None
            and existing.state is not _SKIPPED
            and (existing.state is not _OBSERVED or existing.has_content())
        ):
            return self._reject(DiagnosticCode.SKIP_REFUSED, item_id, None, "the item has content")
        if (
            existing is not None
            and existing.state is _SKIPPED
            and not self._would_declare(item_id, prev, None, None)
        ):
            return _DUPLICATE
        self._persist()
        self._accepted.add(key)
        item, _ = self._declare(item_id, prev, None, None)
        self._skip(item)
        return _ACCEPTED

    def _on_user_final(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        index = _index(raw)
        text = _req_str(raw, "text")
        key = ("user_transcript_final", item_id, prev, index, text)
        if key in self._accepted:
            return _DUPLICATE
        if not item_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        conflict = self._declaration_conflict(item_id, prev, "user", None)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        fills = False
        if existing is not None:
            if existing.state is _SKIPPED:
                if text:
                    return self._reject(DiagnosticCode.ITEM_SKIPPED, item_id)
            else:
                segment = existing.segments.get(index)
                old = segment.user_text if segment is not None else None
                if text and old and old != text:
                    return self._reject(DiagnosticCode.CONFLICTING_REPLAY, item_id)
                if text and not old and existing.state is not _OBSERVED:
                    return self._reject(
                        DiagnosticCode.LATE_CONTENT,
                        item_id,
                        None,
                        "the user item is already final",
                    )
                fills = bool(text) and not old
        else:
            fills = bool(text)
        if not fills and not self._would_declare(item_id, prev, "user", None):
            return _DUPLICATE
        self._persist()
        self._accepted.add(key)
        item, _ = self._declare(item_id, prev, "user", None)
        if item.state is _SKIPPED:
            return _ACCEPTED
        segment = item.segments.get(index)
        if segment is None:
            segment = item.segments[index] = _Segment()
        if fills:
            segment.user_text = text
            item.state = _READY
            self._dirty = True
        return _ACCEPTED

    def _on_delta(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        delta_id = _req_str(raw, "delta_id").strip()
        item_id = _req_str(raw, "item_id").strip()
        prev = _opt_id(raw, "previous_item_id")
        index = _index(raw)
        delta = _req_str(raw, "delta")
        kind = raw["type"]
        lane = _DISPLAY if kind == "assistant_text_delta" else _SPOKEN
        key = (kind, response_id, delta_id, item_id, prev, index, delta)
        seen = self._deltas.get(delta_id)
        if (
            seen is not None
            and self._delta_contexts[self._delta_log_contexts[seen]] == _delta_context(key)
            and self._delta_log_texts[seen] == delta
        ):
            return _DUPLICATE
        if not (response_id and delta_id and item_id):
            return self._reject(
                DiagnosticCode.INVALID_ID,
                item_id or None,
                response_id or None,
                "empty or blank id",
            )
        if seen is not None:
            return self._reject(
                DiagnosticCode.CONFLICTING_REPLAY, item_id, response_id, "delta id reused"
            )
        return self._content(
            key, item_id, prev, response_id, lane if delta else None, delta, index, delta_id
        )

    def _on_spoken_text(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        item_id = _req_str(raw, "item_id").strip()
        index = _index(raw)
        text = _req_str(raw, "text")
        key = (raw["type"], response_id, item_id, index, text)
        if key in self._accepted:
            return _DUPLICATE
        if not (response_id and item_id):
            return self._reject(
                DiagnosticCode.INVALID_ID,
                item_id or None,
                response_id or None,
                "empty or blank id",
            )
        return self._content(key, item_id, None, response_id, _SPOKEN, text, index, None)

    def _content(
        self,
        key: tuple[Any, ...],
        item_id: str,
        prev: str | None,
        response_id: str,
        lane: Lane | None,
        text: str,
        index: int,
        delta_id: str | None,
    ) -> ApplyOutcome:
        conflict = self._declaration_conflict(item_id, prev, "assistant", response_id)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        truncation = key[0] == "assistant_transcript_truncated"
        if self._response_ended(response_id):
            if truncation and existing is not None and existing.state is _AWAITING:
                # RT-073: a cut after the response ended is expected; it settles the item.
                self._persist()
                self._accepted.add(key)
                segment = existing.segments.get(index)
                if segment is None:
                    segment = existing.segments[index] = _Segment()
                segment.truncation = text
                self._settle_playback(existing)
                return _ACCEPTED
            return self._late(key, item_id, prev, response_id, lane, text)
        if existing is not None:
            state = existing.state
            if state is _SKIPPED:
                return self._reject(DiagnosticCode.ITEM_SKIPPED, item_id, response_id)
            if state is not _OBSERVED:
                return self._reject(DiagnosticCode.LATE_CONTENT, item_id, response_id)
            if lane is not None and existing.lane is not None and existing.lane is not lane:
                return self._reject(
                    DiagnosticCode.LANE_CONFLICT,
                    item_id,
                    response_id,
                    f"the item is {existing.lane}",
                )
            if delta_id is None:
                segment = existing.segments.get(index)
                if segment is not None:
                    old = segment.truncation if truncation else segment.final
                    if old is not None:
                        if old == text:
                            return _DUPLICATE
                        return self._reject(DiagnosticCode.CONFLICTING_REPLAY, item_id, response_id)
        self._persist()
        if delta_id is None:
            self._accepted.add(key)
        item, _ = self._declare(item_id, prev, "assistant", response_id)
        if lane is not None and item.lane is None:
            item.lane = lane
        segment = item.segments.get(index)
        if segment is None:
            segment = item.segments[index] = _Segment()
        if delta_id is not None:
            self._remember_delta(key, segment)
            segment.deltas.append(text)
        elif truncation:
            segment.truncation = text
        else:
            segment.final = text
        assert item.response is not None  # set by the declaration: the item is not skipped
        self._touch(item.response)
        return _ACCEPTED

    def _on_completed(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        stop_reason = raw.get("stop_reason")
        if type(stop_reason) is not str or stop_reason not in _STOP_REASONS:  # GEN-009
            raise _bad(f"assistant_turn_completed: unknown stop_reason {stop_reason!r}")
        usage = _usage_dict(raw.get("usage", {}))
        key = _completion_key(response_id, stop_reason, usage)
        refused = self._admit_end(key, response_id)
        if refused is not None:
            return refused
        response = self._response(response_id)
        if stop_reason == "tool_use":
            response.state = _WAITING
            return _ACCEPTED
        if stop_reason == "cancelled":
            response.state = ResponseState.CANCELLED
            response.stop_reason = "cancelled"
            response.usage = usage  # RT-024, RT-027: a cancelled response is billed
            return ApplyOutcome(ApplyStatus.ACCEPTED, (), (), self._end(response_id, None))
        response.state = ResponseState.COMPLETED
        response.stop_reason = str(stop_reason)
        response.usage = usage
        discarded = self._end(response_id, "all")
        return ApplyOutcome(ApplyStatus.ACCEPTED, (), (), discarded) if discarded else _ACCEPTED

    def _admit_end(self, key: tuple[Any, ...], response_id: str) -> ApplyOutcome | None:
        """Accept and persist an end of a response, or say why not: a duplicate, a blank id
        (RT-003), or a second, different end (first end wins, RT-025)."""
        if key in self._accepted:
            return _DUPLICATE
        if not response_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        response = self._responses.get(response_id)
        if response is not None and response.state not in (_STREAMING, _WAITING):
            return self._reject(
                DiagnosticCode.ALREADY_TERMINAL, None, response_id, f"it is {response.state.value}"
            )
        self._persist()
        self._accepted.add(key)
        return None

    # -- response ends and late content (RT-021..RT-026) ---------------------------------------

    def _response_ended(self, response_id: str) -> bool:
        response = self._responses.get(response_id)
        # Identity tests: an enum in a frozenset costs a Python-level __hash__.
        return (
            response is not None
            and response.state is not _STREAMING
            and response.state is not _WAITING
        )

    def _touch(self, response: _Response) -> None:
        if response.state is _WAITING:
            response.state = _STREAMING

    def _late(
        self,
        key: tuple[Any, ...],
        item_id: str,
        prev: str | None,
        response_id: str,
        lane: Lane | None,
        text: str,
    ) -> ApplyOutcome:
        raw = self._raw
        assert raw is not None
        fragments: tuple[DiscardedFragment, ...] = ()
        if text:
            fragments = (DiscardedFragment(item_id, response_id, lane or _DISPLAY, text, "late"),)
        diagnostic = Diagnostic(
            DiagnosticCode.LATE_CONTENT,
            str(raw["type"]),
            item_id,
            response_id,
            "the response already ended",
        )
        item = self._items.get(item_id)
        if item is None or (item.state is _OBSERVED and not item.has_content()):
            # The causal residue: the item exists, as a contentless anchor (RT-026).
            self._persist()
            if key[0] in _DELTA_KINDS:
                self._remember_delta(key, None)
            else:
                self._accepted.add(key)
            item, _ = self._declare(item_id, prev, "assistant", response_id)
            self._skip(item)
            self._discarded.extend(fragments)
            return ApplyOutcome(ApplyStatus.ACCEPTED, (), (diagnostic,), fragments)
        return ApplyOutcome(ApplyStatus.REJECTED, (), (diagnostic,), fragments)

    def _remember_delta(self, key: tuple[Any, ...], segment: _Segment | None) -> None:
        """Remember an accepted delta (its 7-field key), sharing the segment's context."""
        context = _delta_context(key)
        if segment is None:
            segment = _Segment()
        if segment.context != context:
            self._new_context(segment, context)
        texts = self._delta_log_texts
        self._deltas[key[2]] = len(texts)
        texts.append(key[6])
        self._delta_log_contexts.append(segment.context_number)

    def _new_context(self, segment: _Segment, context: tuple[Any, ...]) -> None:
        segment.context = context
        segment.context_kind = context[0]
        segment.context_prev = context[3]
        segment.context_number = len(self._delta_contexts)
        self._delta_contexts.append(context)

    def _skip(self, item: _Item) -> None:
        if item.state is not _SKIPPED:
            item.state = _SKIPPED
            item.segments.clear()
            self._dirty = True

    def _end(self, response_id: str, keep: str | None) -> tuple[DiscardedFragment, ...]:
        response = self._responses[response_id]
        fragments: list[DiscardedFragment] = []
        by_rank = self._by_rank
        ranks = response.item_ranks
        for rank in sorted(ranks) if len(ranks) > 1 else ranks:
            item = by_rank[rank]
            if item.state is not _OBSERVED:
                continue
            lane = item.lane or _DISPLAY
            if lane is _SPOKEN:
                # RT-072: whatever the end, a spoken item holds what the user heard.
                if item.playback_settled():
                    self._settle_playback(item)
                    continue
                if response.played_back:
                    item.state = _AWAITING
                    response.awaiting_left += 1
                    continue
            text = item.text()
            if text and (keep == "all" or (keep == "display" and lane is _DISPLAY)):
                item.state = _READY
                response.ready_left += 1
                continue
            if text:
                reason = "barge_in" if keep == "display" else "cancelled"
                fragments.append(DiscardedFragment(item.item_id, response_id, lane, text, reason))
            item.state = _SKIPPED
            item.segments.clear()
        self._discarded.extend(fragments)
        self._dirty = True
        self._release_usage(response_id, response)
        return tuple(fragments)
