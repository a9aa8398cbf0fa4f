"""OpenAI Realtime API server events -> realtime transcript events (RT-060).

A client of the OpenAI Realtime API receives server events over a WebSocket; this module
turns each into zero or more of the nine transcript events (RT-001), so that what the API
sends can be fed straight into :class:`sessionspec.RealtimeTranscript`:

=================================================  ==========================================
server event                                       transcript events
=================================================  ==========================================
``conversation.item.created`` / ``.added`` /       ``item_observed`` for a message (a user
``.done`` (with ``previous_item_id``)              text part also gives
                                                   ``user_transcript_final``); ``item_skipped``
                                                   for function calls, their outputs and
                                                   system messages
``response.output_item.added``                     ``item_observed`` with the response id
``conversation.item.input_audio_transcription.``   ``user_transcript_final``
``completed``
``conversation.item.input_audio_transcription.``   ``item_skipped`` (nothing will be heard)
``failed``
``response.output_text.delta`` (beta:             ``assistant_text_delta`` (delta id: the
``response.text.delta``)                           server ``event_id``)
``response.output_audio_transcript.delta``         ``assistant_transcript_delta``
(beta: ``response.audio_transcript.delta``)
``response.output_audio_transcript.done``          ``assistant_transcript_final_text``
``conversation.item.truncated``                    ``assistant_transcript_truncated`` with the
                                                   heard prefix, if the client's
                                                   ``heard_prefix`` callback supplies it
``response.done``                                  ``assistant_turn_completed``
``input_audio_buffer.speech_started``              ``assistant_turn_interrupted`` for every
                                                   in-flight response (barge-in, RT-034)
=================================================  ==========================================

Everything else (audio bytes, rate limits, session updates) maps to nothing. The translator
remembers each item's predecessor and response so that later events (deltas carry neither)
name them; it is deterministic, so feeding the same server events again yields the same
transcript events, which the transcript then finds inert (a reconnect replay).

``response.done`` status: ``completed`` -> ``end_turn``, also when the output holds a function
call: an OpenAI response is never resumed after its tool results (the next one has a new id),
so a ``tool_use`` pause (RT-022) would leave its text waiting forever; the call itself is a
skipped anchor. ``incomplete`` -> ``max_tokens`` (``content_filter`` when the reason says
so); ``cancelled`` and ``failed`` -> ``cancelled``. Usage: ``input_tokens``,
``output_tokens``, cached input tokens -> ``cache_read_tokens``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["OpenAIRealtimeTranslator"]

_TEXT_DELTA = ("response.output_text.delta", "response.text.delta")
_AUDIO_DELTA = ("response.output_audio_transcript.delta", "response.audio_transcript.delta")
_AUDIO_DONE = ("response.output_audio_transcript.done", "response.audio_transcript.done")
_ITEM_EVENTS = ("conversation.item.created", "conversation.item.added", "conversation.item.done")

HeardPrefix = Callable[[str, int, int], "str | None"]


class OpenAIRealtimeTranslator:
    """Stateful translator of one Realtime API connection's server events.

    :param heard_prefix: ``(item_id, content_index, audio_end_ms) -> text or None``: what
        the user heard of a truncated item (the API's truncation event carries no text; the
        client knows what it played). Without it truncations map to nothing.
    """

    def __init__(self, heard_prefix: HeardPrefix | None = None) -> None:
        self.heard_prefix = heard_prefix
        self._previous: dict[str, str | None] = {}
        self._response_of: dict[str, str] = {}
        #: Responses created and not yet done, in creation order.
        self._in_flight: dict[str, None] = {}

    def in_flight(self) -> list[str]:
        return list(self._in_flight)

    def translate(self, server_event: Mapping[str, Any]) -> list[dict[str, Any]]:
        kind = server_event.get("type")
        if kind in _ITEM_EVENTS:
            return self._item(server_event["item"], server_event.get("previous_item_id"))
        if kind == "response.created":
            self._in_flight.setdefault(server_event["response"]["id"], None)
            return []
        if kind == "response.output_item.added":
            return self._output_item(server_event["response_id"], server_event["item"])
        if kind == "conversation.item.input_audio_transcription.completed":
            item_id = server_event["item_id"]
            return [
                {
                    "type": "user_transcript_final",
                    "item_id": item_id,
                    "previous_item_id": self._previous.get(item_id),
                    "content_index": server_event.get("content_index", 0),
                    "text": server_event.get("transcript") or "",
                }
            ]
        if kind == "conversation.item.input_audio_transcription.failed":
            item_id = server_event["item_id"]
            return [
                {
                    "type": "item_skipped",
                    "item_id": item_id,
                    "previous_item_id": self._previous.get(item_id),
                }
            ]
        if kind in _TEXT_DELTA or kind in _AUDIO_DELTA:
            response_id = server_event["response_id"]
            item_id = server_event["item_id"]
            self._response_of.setdefault(item_id, response_id)
            self._in_flight.setdefault(response_id, None)
            return [
                {
                    "type": "assistant_text_delta"
                    if kind in _TEXT_DELTA
                    else "assistant_transcript_delta",
                    "response_id": response_id,
                    "delta_id": server_event["event_id"],
                    "item_id": item_id,
                    "previous_item_id": self._previous.get(item_id),
                    "content_index": server_event.get("content_index", 0),
                    "delta": server_event.get("delta", ""),
                }
            ]
        if kind in _AUDIO_DONE:
            transcript = server_event.get("transcript")
            if transcript is None:
                return []
            return [
                {
                    "type": "assistant_transcript_final_text",
                    "response_id": server_event["response_id"],
                    "item_id": server_event["item_id"],
                    "content_index": server_event.get("content_index", 0),
                    "text": transcript,
                }
            ]
        if kind == "conversation.item.truncated":
            return self._truncated(server_event)
        if kind == "response.done":
            return self._done(server_event["response"])
        if kind == "input_audio_buffer.speech_started":
            return [
                {"type": "assistant_turn_interrupted", "response_id": response_id}
                for response_id in self._in_flight
            ]
        return []

    # -- pieces ------------------------------------------------------------------------------

    def _item(self, item: Mapping[str, Any], previous: str | None) -> list[dict[str, Any]]:
        item_id = item["id"]
        if previous is not None or item_id not in self._previous:
            self._previous[item_id] = previous
        previous = self._previous[item_id]
        item_type = item.get("type")
        role = item.get("role")
        if item_type != "message" or role not in ("user", "assistant"):
            return [{"type": "item_skipped", "item_id": item_id, "previous_item_id": previous}]
        events: list[dict[str, Any]] = [
            {
                "type": "item_observed",
                "item_id": item_id,
                "previous_item_id": previous,
                "role": role,
                "response_id": self._response_of.get(item_id) if role == "assistant" else None,
            }
        ]
        if role == "user":
            for index, part in enumerate(item.get("content") or ()):
                if part.get("type") in ("input_text", "text") and part.get("text"):
                    events.append(
                        {
                            "type": "user_transcript_final",
                            "item_id": item_id,
                            "previous_item_id": previous,
                            "content_index": index,
                            "text": part["text"],
                        }
                    )
        return events

    def _output_item(self, response_id: str, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        item_id = item["id"]
        self._in_flight.setdefault(response_id, None)
        if item.get("type") != "message":
            return [
                {
                    "type": "item_skipped",
                    "item_id": item_id,
                    "previous_item_id": self._previous.get(item_id),
                }
            ]
        self._response_of[item_id] = response_id
        return [
            {
                "type": "item_observed",
                "item_id": item_id,
                "previous_item_id": self._previous.get(item_id),
                "role": "assistant",
                "response_id": response_id,
            }
        ]

    def _truncated(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        item_id = event["item_id"]
        response_id = self._response_of.get(item_id)
        if self.heard_prefix is None or response_id is None:
            return []
        index = event.get("content_index", 0)
        text = self.heard_prefix(item_id, index, event.get("audio_end_ms", 0))
        if text is None:
            return []
        return [
            {
                "type": "assistant_transcript_truncated",
                "response_id": response_id,
                "item_id": item_id,
                "content_index": index,
                "text": text,
            }
        ]

    def _done(self, response: Mapping[str, Any]) -> list[dict[str, Any]]:
        response_id = response["id"]
        self._in_flight.pop(response_id, None)
        status = response.get("status")
        details = response.get("status_details") or {}
        if status == "completed":
            stop = "end_turn"
        elif status == "incomplete":
            stop = "content_filter" if details.get("reason") == "content_filter" else "max_tokens"
        else:
            stop = "cancelled"
        raw_usage = response.get("usage") or {}
        usage: dict[str, Any] = {
            "input_tokens": raw_usage.get("input_tokens", 0),
            "output_tokens": raw_usage.get("output_tokens", 0),
        }
        cached = (raw_usage.get("input_token_details") or {}).get("cached_tokens")
        if cached is not None:
            usage["cache_read_tokens"] = cached
        return [
            {
                "type": "assistant_turn_completed",
                "response_id": response_id,
                "stop_reason": stop,
                "usage": usage,
            }
        ]
