"""Playback and barge-in (RT-070..RT-074, §5.7).

A client that reports playback (``assistant_playback_started``) makes its response's spoken
items hold what the user heard: at the response's end such an item awaits the end of its
playback (``assistant_playback_finished``, or a truncation naming the heard prefix) before
it can become part of a message. A barge-in (``assistant_turn_interrupted``) keeps the
display text, keeps spoken text only as far as it was heard, and discards the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sessionspec.reference.realtime import (
    ApplyStatus,
    DiagnosticCode,
)
from sessionspec.runtime.realtime.assembly import _Assembly
from sessionspec.runtime.realtime.records import (
    _ACCEPTED,
    _AWAITING,
    _DISPLAY,
    _DUPLICATE,
    _OBSERVED,
    _SKIPPED,
    _SPOKEN,
    ApplyOutcome,
    _completion_key,
    _req_str,
    _usage_dict,
)
from sessionspec.tables.realtime import (
    ResponseState,
)


class _Playback(_Assembly):
    """Handlers of the playback events and of the barge-in."""

    def _on_playback_started(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        key = ("assistant_playback_started", response_id)
        if key in self._accepted:
            return _DUPLICATE
        if not response_id:
            return self._reject(DiagnosticCode.INVALID_ID, None, None, "empty or blank id")
        if self._response_ended(response_id):
            return self._reject(
                DiagnosticCode.LATE_CONTENT, None, response_id, "the response already ended"
            )
        self._persist()
        self._accepted.add(key)
        self._response(response_id).played_back = True
        return _ACCEPTED

    def _on_playback_finished(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        item_id = _req_str(raw, "item_id").strip()
        key = ("assistant_playback_finished", response_id, item_id)
        if key in self._accepted:
            return _DUPLICATE
        if not (response_id and item_id):
            return self._reject(
                DiagnosticCode.INVALID_ID,
                item_id or None,
                response_id or None,
                "empty or blank id",
            )
        conflict = self._declaration_conflict(item_id, None, "assistant", response_id)
        if conflict is not None:
            return conflict
        existing = self._items.get(item_id)
        if existing is not None and existing.state is _AWAITING:
            self._persist()
            self._accepted.add(key)
            existing.played = True
            self._settle_playback(existing)
            return _ACCEPTED
        if self._response_ended(response_id):
            return self._late(key, item_id, None, response_id, _SPOKEN, "")
        if existing is not None:
            if existing.state is _SKIPPED:
                return self._reject(DiagnosticCode.ITEM_SKIPPED, item_id, response_id)
            if existing.state is not _OBSERVED:
                return self._reject(DiagnosticCode.LATE_CONTENT, item_id, response_id)
            if existing.lane is _DISPLAY:
                return self._reject(
                    DiagnosticCode.LANE_CONFLICT, item_id, response_id, "the item is display"
                )
        self._persist()
        self._accepted.add(key)
        item, _ = self._declare(item_id, None, "assistant", response_id)
        item.lane = _SPOKEN
        item.played = True
        return _ACCEPTED

    def _on_interrupted(self, raw: Mapping[str, Any]) -> ApplyOutcome:
        response_id = _req_str(raw, "response_id").strip()
        given = raw.get("usage")
        # RT-027: absent (meerkat's form) is zero usage, the same event as a zero usage.
        usage = _usage_dict({} if given is None else given, "assistant_turn_interrupted")
        key = _completion_key(response_id, None, usage, "assistant_turn_interrupted")
        refused = self._admit_end(key, response_id)
        if refused is not None:
            return refused
        response = self._response(response_id)
        response.state = ResponseState.INTERRUPTED
        response.stop_reason = "cancelled"
        response.usage = usage  # RT-023, RT-027: an interrupted response is billed
        return ApplyOutcome(ApplyStatus.ACCEPTED, (), (), self._end(response_id, "display"))
