"""OpenAI Realtime API server events -> realtime transcript events (RT-060..RT-076).

Rules
-----
* Every server event type of the API, under its GA name and its beta name, is either
  mapped or ignored for a stated reason: :data:`SERVER_EVENTS` is that table (the spec's
  copy is ``spec/formats/openai-realtime.md``); an unknown type maps to nothing.
* What the transcript holds of spoken output is what the user heard (RT-070..RT-074). A
  response's playback is reported with ``assistant_playback_started`` (``playback``:
  ``"auto"``, the default, on WebRTC's ``output_audio_buffer.started``; ``"client"``, at the
  response's first audio, for a WebSocket client that plays the audio itself; ``"off"``,
  never: spoken text counts at completion, as in meerkat). Its end settles each spoken item:
  ``output_audio_buffer.stopped`` or :meth:`playback_finished` (played in full:
  ``assistant_playback_finished``), ``conversation.item.truncated`` or :meth:`playback_cut`
  (cut at ``audio_end_ms``: ``assistant_transcript_truncated`` with the heard prefix).
* The heard prefix (RT-075) comes from the ``heard_prefix`` callback when it gives one, else
  from :func:`estimate_heard_prefix`: the transcript known so far, cut in proportion
  ``audio_end_ms`` / the audio streamed for that item (WebSocket audio deltas; without them,
  WebRTC, the transcript's length at :data:`CHARS_PER_SECOND`), back to a word boundary; a cut
  under :data:`MIN_HEARD_MS` keeps nothing.
* Nothing waits forever (RT-076). A spoken item of a reported playback that was never
  settled is settled when the next response is created (played in full; kept to nothing if
  its audio was cleared without a cut), or by :meth:`finish`. A user audio item gets a
  transcript or becomes a skipped anchor: at once when input transcription is off, on
  ``...transcription.failed``, on an empty transcript, when :data:`MISSING_TRANSCRIPT_AFTER`
  later user items got theirs, or at :meth:`finish`. Each such decision is a
  :class:`TranslatorNote` in :attr:`OpenAIRealtimeTranslator.notes`.
* Normal traffic produces no rejection (RT-061): a function call's item is announced only
  by ``conversation.item.*``, which carries its predecessor (``response.output_item.added``
  does not); a barge-in is the response's own ``response.done`` with status ``cancelled``
  and reason ``turn_detected`` (``assistant_turn_interrupted``), not
  ``input_audio_buffer.speech_started``, after which the server still sends that response's
  end; a cut of an item whose response ended without a reported playback (which the
  transcript would refuse as late) becomes a ``cut_without_playback`` note instead.

Theory of operation
-------------------
The translator keeps, per connection, what later events need and do not carry: each item's
predecessor and response, each response's spoken items in output order, the transcript text
and the audio duration streamed for each spoken item, which playbacks were reported, cleared
or settled, and which user audio items still wait for a transcript. It is deterministic: the
same server events give the same transcript events, so a reconnect replay through a fresh
translator is inert in the transcript.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sessionspec.errors import CallerError

__all__ = [
    "CHARS_PER_SECOND",
    "MIN_HEARD_MS",
    "MISSING_TRANSCRIPT_AFTER",
    "SERVER_EVENTS",
    "HeardPrefix",
    "InvalidServerEventError",
    "OpenAIRealtimeTranslator",
    "PlaybackMode",
    "TranslatorNote",
    "TranslatorNoteCode",
    "estimate_heard_prefix",
]

#: Speaking rate used to estimate an item's audio duration from its transcript when no
#: audio was streamed to the client (WebRTC): about 15 characters per second of speech.
CHARS_PER_SECOND = 15.0
#: A cut before this much audio was played keeps nothing of the item (RT-075).
MIN_HEARD_MS = 250
#: A user audio item still without a transcript once this many later user items got theirs
#: is skipped (transcripts arrive out of order by one or two items in real traffic).
MISSING_TRANSCRIPT_AFTER = 3

#: ``(item_id, content_index, audio_end_ms) -> heard text, or None for the default``.
HeardPrefix = Callable[[str, int, int], "str | None"]

_TEXT_DELTA = ("response.output_text.delta", "response.text.delta")
_AUDIO_TRANSCRIPT_DELTA = (
    "response.output_audio_transcript.delta",
    "response.audio_transcript.delta",
)
_AUDIO_TRANSCRIPT_DONE = (
    "response.output_audio_transcript.done",
    "response.audio_transcript.done",
)
_AUDIO_DELTA = ("response.output_audio.delta", "response.audio.delta")
_ITEM_EVENTS = ("conversation.item.created", "conversation.item.added", "conversation.item.done")

_MAPPED = "mapped"
_IGNORED = "ignored"

#: Every server event type (GA and beta names) -> (``mapped`` or ``ignored``, what and why).
SERVER_EVENTS: Mapping[str, tuple[str, str]] = {
    "error": (_IGNORED, "no transcript fact; kept as a provider_error note"),
    "session.created": (_MAPPED, "reads input transcription on/off and the output format"),
    "session.updated": (_MAPPED, "reads input transcription on/off and the output format"),
    "transcription_session.updated": (_IGNORED, "beta transcription-only session: no replies"),
    "conversation.created": (_IGNORED, "beta: the conversation object, no items"),
    "conversation.item.created": (_MAPPED, "beta: item_observed / item_skipped with predecessor"),
    "conversation.item.added": (_MAPPED, "item_observed / item_skipped with predecessor"),
    "conversation.item.done": (_MAPPED, "as .added; a user transcript it carries is final"),
    "conversation.item.retrieved": (_IGNORED, "answer to a client query; no new fact"),
    "conversation.item.deleted": (_IGNORED, "the history is append-only (RT-033)"),
    "conversation.item.truncated": (_MAPPED, "assistant_transcript_truncated, heard prefix"),
    "conversation.item.input_audio_transcription.completed": (
        _MAPPED,
        "user_transcript_final; empty -> item_skipped",
    ),
    "conversation.item.input_audio_transcription.delta": (
        _IGNORED,
        "partial; the completed event carries the whole transcript",
    ),
    "conversation.item.input_audio_transcription.segment": (
        _IGNORED,
        "diarized segment; the completed event carries the whole transcript",
    ),
    "conversation.item.input_audio_transcription.failed": (_MAPPED, "item_skipped (RT-076)"),
    "input_audio_buffer.committed": (_MAPPED, "remembers the user item's predecessor"),
    "input_audio_buffer.cleared": (_IGNORED, "no item was created"),
    "input_audio_buffer.speech_started": (
        _IGNORED,
        "not a barge-in by itself: the server ends the response it cancels with response.done",
    ),
    "input_audio_buffer.speech_stopped": (_IGNORED, "the item follows as committed/added"),
    "input_audio_buffer.timeout_triggered": (_IGNORED, "the item follows as committed/added"),
    "input_audio_buffer.dtmf_event_received": (_IGNORED, "keypad input, not conversation text"),
    "output_audio_buffer.started": (_MAPPED, "assistant_playback_started (WebRTC)"),
    "output_audio_buffer.stopped": (_MAPPED, "assistant_playback_finished per spoken item"),
    "output_audio_buffer.cleared": (_MAPPED, "remembered: the cut (truncated) follows"),
    "rate_limits.updated": (_IGNORED, "quota information"),
    "response.created": (_MAPPED, "in flight; settles earlier unsettled playbacks (RT-076)"),
    "response.done": (_MAPPED, "assistant_turn_completed / assistant_turn_interrupted"),
    "response.output_item.added": (_MAPPED, "item_observed for a message (no predecessor yet)"),
    "response.output_item.done": (_IGNORED, "its text is in the *.done events"),
    "response.content_part.added": (_MAPPED, "an audio part marks the item spoken"),
    "response.content_part.done": (_IGNORED, "its text is in the *.done events"),
    "response.output_text.delta": (_MAPPED, "assistant_text_delta"),
    "response.text.delta": (_MAPPED, "beta: assistant_text_delta"),
    "response.output_text.done": (_IGNORED, "the display text is its deltas (RT-014)"),
    "response.text.done": (_IGNORED, "beta: the display text is its deltas (RT-014)"),
    "response.output_audio.delta": (_MAPPED, "counts the audio streamed for the item"),
    "response.audio.delta": (_MAPPED, "beta: counts the audio streamed for the item"),
    "response.output_audio.done": (_IGNORED, "the end of the audio stream, not of playback"),
    "response.audio.done": (_IGNORED, "beta: the end of the audio stream, not of playback"),
    "response.output_audio_transcript.delta": (_MAPPED, "assistant_transcript_delta"),
    "response.audio_transcript.delta": (_MAPPED, "beta: assistant_transcript_delta"),
    "response.output_audio_transcript.done": (_MAPPED, "assistant_transcript_final_text"),
    "response.audio_transcript.done": (_MAPPED, "beta: assistant_transcript_final_text"),
    "response.function_call_arguments.delta": (_IGNORED, "a function call is an anchor"),
    "response.function_call_arguments.done": (_IGNORED, "a function call is an anchor"),
    "response.mcp_call_arguments.delta": (_IGNORED, "an MCP call is an anchor"),
    "response.mcp_call_arguments.done": (_IGNORED, "an MCP call is an anchor"),
    "response.mcp_call.in_progress": (_IGNORED, "an MCP call is an anchor"),
    "response.mcp_call.completed": (_IGNORED, "an MCP call is an anchor"),
    "response.mcp_call.failed": (_IGNORED, "an MCP call is an anchor"),
    "mcp_list_tools.in_progress": (_IGNORED, "tool listing, not conversation text"),
    "mcp_list_tools.completed": (_IGNORED, "tool listing, not conversation text"),
    "mcp_list_tools.failed": (_IGNORED, "tool listing, not conversation text"),
}


class InvalidServerEventError(CallerError):
    """A server event of a type the codec maps lacks a field it needs, or has one of the
    wrong type; the translator's state is unchanged."""


#: Event type -> the string fields it must carry (``item.id``: a field of a nested object).
_REQUIRED: dict[str, tuple[str, ...]] = {
    **{kind: ("item.id",) for kind in _ITEM_EVENTS},
    **{
        kind: ("response_id", "item_id", "event_id")
        for kind in (*_TEXT_DELTA, *_AUDIO_TRANSCRIPT_DELTA)
    },
    **{kind: ("response_id", "item_id") for kind in _AUDIO_TRANSCRIPT_DONE},
    "response.created": ("response.id",),
    "response.done": ("response.id",),
    "response.output_item.added": ("response_id", "item.id"),
    "response.content_part.added": ("response_id", "item_id"),
    "conversation.item.input_audio_transcription.completed": ("item_id",),
    "conversation.item.input_audio_transcription.failed": ("item_id",),
    "conversation.item.truncated": ("item_id",),
    "output_audio_buffer.started": ("response_id",),
    "output_audio_buffer.stopped": ("response_id",),
}


def _check(event: Mapping[str, Any], kind: str) -> None:
    for name in _REQUIRED.get(kind, ()):
        outer, _, inner = name.partition(".")
        value: Any = event.get(outer)
        if inner:
            if not isinstance(value, Mapping):
                raise InvalidServerEventError(f"{kind}: field {outer!r} must be an object")
            value = value.get(inner)
        if type(value) is not str:
            raise InvalidServerEventError(f"{kind}: field {name!r} must be a string")
    for name in ("transcript", "delta"):
        value = event.get(name)
        if value is not None and type(value) is not str:
            raise InvalidServerEventError(f"{kind}: field {name!r} must be a string or null")
    for name in ("content_index", "audio_end_ms"):
        value = event.get(name)
        if value is not None and (type(value) is not int or value < 0):
            raise InvalidServerEventError(f"{kind}: field {name!r} must be a non-negative integer")


class PlaybackMode(enum.Enum):
    """Who reports a response's playback (RT-070)."""

    #: WebRTC: the server's ``output_audio_buffer.*`` events.
    AUTO = "auto"
    #: A WebSocket client playing the audio itself: every response with audio is tracked
    #: from its first audio; the client reports the end (:meth:`playback_finished`, or a
    #: ``conversation.item.truncate`` whose echo is ``conversation.item.truncated``).
    CLIENT = "client"
    #: Never: spoken text counts when the response completes (meerkat's behaviour).
    OFF = "off"


class TranslatorNoteCode(enum.Enum):
    #: A user audio item became a skipped anchor without a transcript (RT-076); the detail
    #: says why: ``transcription_off``, ``failed``, ``empty``, ``never_came``, ``finish``.
    USER_TRANSCRIPT_MISSING = "user_transcript_missing"
    #: A transcript for a user item already skipped was dropped.
    LATE_USER_TRANSCRIPT = "late_user_transcript"
    #: A playback was settled by the fallback (RT-076): the next response, or ``finish``.
    PLAYBACK_SETTLED_BY_FALLBACK = "playback_settled_by_fallback"
    #: A playback start for a response that already ended was not reported (RT-070).
    PLAYBACK_STARTED_LATE = "playback_started_late"
    #: A cut of an item whose response ended without a reported playback was not reported:
    #: its text already counted in full (use playback mode ``client`` over WebSocket).
    CUT_WITHOUT_PLAYBACK = "cut_without_playback"
    #: The server sent an ``error`` event.
    PROVIDER_ERROR = "provider_error"


@dataclass(frozen=True, slots=True)
class TranslatorNote:
    code: TranslatorNoteCode
    item_id: str | None = None
    response_id: str | None = None
    detail: str = ""


def estimate_heard_prefix(
    text: str,
    audio_end_ms: int | None,
    streamed_ms: float | None = None,
    *,
    chars_per_second: float = CHARS_PER_SECOND,
    min_heard_ms: int = MIN_HEARD_MS,
) -> str:
    """The part of ``text`` the user heard when playback was cut at ``audio_end_ms`` (RT-075).

    ``streamed_ms`` is the audio duration streamed for the item so far; without it the
    duration is estimated from the text at ``chars_per_second``. The prefix is proportional
    to ``audio_end_ms`` / duration, cut back to the last word boundary; a cut under
    ``min_heard_ms`` (or an unknown cut position) keeps nothing, a cut at or past the end
    keeps everything.
    """
    if audio_end_ms is None or audio_end_ms < min_heard_ms or not text:
        return ""
    duration = streamed_ms if streamed_ms else len(text) * 1000.0 / chars_per_second
    if audio_end_ms >= duration:
        return text
    keep = int(len(text) * audio_end_ms / duration)
    if keep < len(text) and not text[keep].isspace():
        # Inside a word: back to the end of the previous one.
        while keep > 0 and not text[keep - 1].isspace():
            keep -= 1
    return text[:keep].rstrip()


def _bytes_per_ms(format_value: Any) -> float:
    """Audio bytes per millisecond of an output format (beta string or GA object)."""
    if isinstance(format_value, Mapping):
        kind = format_value.get("type")
        if kind in ("audio/pcmu", "audio/pcma"):
            return 8.0
        rate = format_value.get("rate") or 24000
        return float(rate) * 2 / 1000 if isinstance(rate, int) else 48.0
    if format_value in ("g711_ulaw", "g711_alaw"):
        return 8.0
    return 48.0


def _base64_length(data: Any) -> int:
    if not isinstance(data, str) or not data:
        return 0
    return len(data) * 3 // 4 - data[-2:].count("=")


class OpenAIRealtimeTranslator:
    """Stateful translator of one Realtime API connection's server events.

    :param heard_prefix: ``(item_id, content_index, audio_end_ms) -> text or None``: what
        the user heard of a truncated item, when the client knows better than the default
        estimate (:func:`estimate_heard_prefix`), which a ``None`` falls back to.
    :param playback: who reports playback (:class:`PlaybackMode`, or its value).
    :param missing_transcript_after: see :data:`MISSING_TRANSCRIPT_AFTER`.
    """

    def __init__(
        self,
        heard_prefix: HeardPrefix | None = None,
        *,
        playback: PlaybackMode | str = PlaybackMode.AUTO,
        missing_transcript_after: int = MISSING_TRANSCRIPT_AFTER,
    ) -> None:
        try:
            self.playback = PlaybackMode(playback)
        except ValueError:
            raise CallerError(
                f"playback must be one of {[m.value for m in PlaybackMode]}, not {playback!r}"
            ) from None
        if type(missing_transcript_after) is not int or missing_transcript_after < 1:
            raise CallerError("missing_transcript_after must be a positive integer")
        self.heard_prefix = heard_prefix
        self.missing_transcript_after = missing_transcript_after
        #: Decisions the transcript events do not show (RT-076), in order.
        self.notes: list[TranslatorNote] = []
        self._previous: dict[str, str | None] = {}
        self._response_of: dict[str, str] = {}
        #: Responses created and not yet done, in creation order.
        self._in_flight: dict[str, None] = {}
        self._done: set[str] = set()
        # Playback (RT-070..RT-076).
        self._tracked: dict[str, None] = {}
        self._spoken: dict[str, dict[str, None]] = {}
        self._settled: set[str] = set()
        self._cleared: set[str] = set()
        self._text: dict[str, str] = {}
        self._streamed_bytes: dict[str, int] = {}
        self._bytes_per_ms = 48.0
        # User transcripts (RT-076).
        self._transcribing: bool | None = None
        #: User audio items waiting for a transcript -> how many later ones got theirs.
        self._awaiting_transcript: dict[str, int] = {}
        self._skipped_users: set[str] = set()

    def in_flight(self) -> list[str]:
        return list(self._in_flight)

    # -- the mapping -------------------------------------------------------------------------

    def translate(self, server_event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The transcript events for one server event (often none).

        :raises InvalidServerEventError: a mapped event lacks a field or has a wrong one.
        """
        if not isinstance(server_event, Mapping):
            raise InvalidServerEventError("a server event is an object")
        kind = server_event.get("type")
        if type(kind) is not str:
            raise InvalidServerEventError("a server event has a string 'type'")
        _check(server_event, kind)
        if kind in _AUDIO_TRANSCRIPT_DELTA or kind in _TEXT_DELTA:
            return self._delta(server_event, kind in _TEXT_DELTA)
        if kind in _AUDIO_DELTA:
            item_id = server_event.get("item_id")
            if isinstance(item_id, str):
                self._streamed_bytes[item_id] = self._streamed_bytes.get(
                    item_id, 0
                ) + _base64_length(server_event.get("delta"))
                return self._spoken_part(server_event.get("response_id"), item_id)
            return []
        if kind in _ITEM_EVENTS:
            return self._item(server_event["item"], server_event.get("previous_item_id"))
        if kind in _AUDIO_TRANSCRIPT_DONE:
            return self._transcript_done(server_event)
        if kind == "response.created":
            return self._response_created(server_event["response"]["id"])
        if kind == "response.output_item.added":
            return self._output_item(server_event["response_id"], server_event["item"])
        if kind == "response.content_part.added":
            part = server_event.get("part") or {}
            if part.get("type") in ("audio", "output_audio"):
                return self._spoken_part(server_event["response_id"], server_event["item_id"])
            return []
        if kind == "conversation.item.input_audio_transcription.completed":
            return self._user_transcript(server_event)
        if kind == "conversation.item.input_audio_transcription.failed":
            return self._skip_user(server_event["item_id"], "failed")
        if kind == "input_audio_buffer.committed":
            item_id = server_event.get("item_id")
            previous = server_event.get("previous_item_id")
            if isinstance(item_id, str) and previous is not None:
                self._previous.setdefault(item_id, previous)
            return []
        if kind == "conversation.item.truncated":
            return self.playback_cut(
                server_event["item_id"],
                server_event.get("content_index", 0),
                server_event.get("audio_end_ms"),
            )
        if kind == "output_audio_buffer.started":
            if self.playback is PlaybackMode.OFF:
                return []
            return self._track(server_event["response_id"])
        if kind == "output_audio_buffer.stopped":
            return self.playback_finished(server_event["response_id"])
        if kind == "output_audio_buffer.cleared":
            response_id = server_event.get("response_id")
            if isinstance(response_id, str):
                self._cleared.add(response_id)
            return []
        if kind == "response.done":
            return self._done_event(server_event["response"])
        if kind in ("session.created", "session.updated"):
            self._session(server_event.get("session") or {})
            return []
        if kind == "error":
            error = server_event.get("error") or {}
            self.notes.append(
                TranslatorNote(
                    TranslatorNoteCode.PROVIDER_ERROR, detail=str(error.get("message", ""))
                )
            )
        return []

    # -- what the client reports (RT-071, RT-073) -------------------------------------------

    def playback_finished(self, response_id: str) -> list[dict[str, Any]]:
        """The response's audio was played to the end: its unsettled spoken items were heard
        in full (``assistant_playback_finished`` each)."""
        if response_id not in self._tracked:
            return []
        events: list[dict[str, Any]] = []
        for item_id in self._spoken.get(response_id, {}):
            if item_id not in self._settled:
                self._settled.add(item_id)
                events.append(
                    {
                        "type": "assistant_playback_finished",
                        "response_id": response_id,
                        "item_id": item_id,
                    }
                )
        return events

    def playback_cut(
        self, item_id: str, content_index: int = 0, audio_end_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """Playback of the item was cut at ``audio_end_ms``: the heard prefix (RT-075).

        Audio plays in order, so the response's spoken items before this one were heard in
        full (``assistant_playback_finished`` each, first), and those after it not at all
        (they settle to nothing when they end, RT-076).
        """
        response_id = self._response_of.get(item_id)
        if response_id is None:
            return []
        if response_id in self._done and response_id not in self._tracked:
            # RT-061: the transcript would refuse it as late; say so here instead.
            self.notes.append(
                TranslatorNote(
                    TranslatorNoteCode.CUT_WITHOUT_PLAYBACK,
                    item_id,
                    response_id,
                    f"cut at {audio_end_ms} ms after the response ended; nobody reported its "
                    "playback, so its text counted in full",
                )
            )
            return []
        text: str | None = None
        if self.heard_prefix is not None and audio_end_ms is not None:
            text = self.heard_prefix(item_id, content_index, audio_end_ms)
        if text is None:
            streamed = self._streamed_bytes.get(item_id, 0) / self._bytes_per_ms
            text = estimate_heard_prefix(self._text.get(item_id, ""), audio_end_ms, streamed)
        events: list[dict[str, Any]] = []
        spoken = list(self._spoken.get(response_id, {}))
        if item_id in spoken and response_id in self._tracked:
            for earlier in spoken[: spoken.index(item_id)]:
                if earlier not in self._settled:
                    self._settled.add(earlier)
                    events.append(
                        {
                            "type": "assistant_playback_finished",
                            "response_id": response_id,
                            "item_id": earlier,
                        }
                    )
        self._cleared.add(response_id)
        self._settled.add(item_id)
        events.append(
            {
                "type": "assistant_transcript_truncated",
                "response_id": response_id,
                "item_id": item_id,
                "content_index": content_index,
                "text": text,
            }
        )
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The connection ended: settle every unsettled playback (heard in full; nothing if
        its audio was cleared) and skip every user item still without a transcript."""
        events = self._settle_playbacks(None, "finish")
        for item_id in list(self._awaiting_transcript):
            events.extend(self._skip_user(item_id, "finish"))
        return events

    # -- pieces ------------------------------------------------------------------------------

    def _session(self, session: Mapping[str, Any]) -> None:
        if "input_audio_transcription" in session:  # beta
            self._transcribing = session["input_audio_transcription"] is not None
        audio = session.get("audio")
        if isinstance(audio, Mapping):  # GA
            audio_input = audio.get("input")
            if isinstance(audio_input, Mapping) and "transcription" in audio_input:
                self._transcribing = audio_input["transcription"] is not None
            audio_output = audio.get("output")
            if isinstance(audio_output, Mapping) and "format" in audio_output:
                self._bytes_per_ms = _bytes_per_ms(audio_output["format"])
        if "output_audio_format" in session:  # beta
            self._bytes_per_ms = _bytes_per_ms(session["output_audio_format"])

    def _delta(self, event: Mapping[str, Any], display: bool) -> list[dict[str, Any]]:
        response_id = event["response_id"]
        item_id = event["item_id"]
        self._response_of.setdefault(item_id, response_id)
        self._in_flight.setdefault(response_id, None)
        delta = event.get("delta", "")
        events: list[dict[str, Any]] = []
        if not display:
            events.extend(self._spoken_part(response_id, item_id))
            self._text[item_id] = self._text.get(item_id, "") + (delta or "")
        events.append(
            {
                "type": "assistant_text_delta" if display else "assistant_transcript_delta",
                "response_id": response_id,
                "delta_id": event["event_id"],
                "item_id": item_id,
                "previous_item_id": self._previous.get(item_id),
                "content_index": event.get("content_index", 0),
                "delta": delta,
            }
        )
        return events

    def _transcript_done(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        transcript = event.get("transcript")
        if transcript is None:
            return []
        item_id = event["item_id"]
        self._text[item_id] = transcript
        events = self._spoken_part(event["response_id"], item_id)
        events.append(
            {
                "type": "assistant_transcript_final_text",
                "response_id": event["response_id"],
                "item_id": item_id,
                "content_index": event.get("content_index", 0),
                "text": transcript,
            }
        )
        return events

    def _spoken_part(self, response_id: Any, item_id: str) -> list[dict[str, Any]]:
        """The item carries audio: remember it; a client playback starts here (RT-070)."""
        if not isinstance(response_id, str):
            return []
        self._response_of.setdefault(item_id, response_id)
        self._spoken.setdefault(response_id, {}).setdefault(item_id, None)
        if self.playback is PlaybackMode.CLIENT:
            return self._track(response_id)
        return []

    def _track(self, response_id: str) -> list[dict[str, Any]]:
        if response_id in self._tracked:
            return []
        if response_id in self._done:
            self.notes.append(
                TranslatorNote(
                    TranslatorNoteCode.PLAYBACK_STARTED_LATE,
                    response_id=response_id,
                    detail="the response already ended; its spoken text counts as streamed",
                )
            )
            return []
        self._tracked[response_id] = None
        return [{"type": "assistant_playback_started", "response_id": response_id}]

    def _response_created(self, response_id: str) -> list[dict[str, Any]]:
        # RT-076: a new response means the user is no longer hearing earlier ones.
        events = self._settle_playbacks(response_id, "next response")
        self._in_flight.setdefault(response_id, None)
        return events

    def _settle_playbacks(self, except_response: str | None, why: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for response_id in self._tracked:
            if except_response is not None and (
                response_id == except_response or response_id not in self._done
            ):
                # At a new response only the responses that already ended are settled.
                continue
            for item_id in self._spoken.get(response_id, {}):
                if item_id in self._settled:
                    continue
                self.notes.append(
                    TranslatorNote(
                        TranslatorNoteCode.PLAYBACK_SETTLED_BY_FALLBACK,
                        item_id,
                        response_id,
                        f"settled at the {why}"
                        + (" as cut, to nothing" if response_id in self._cleared else ""),
                    )
                )
                if response_id in self._cleared:
                    events.extend(self.playback_cut(item_id, 0, None))
                else:
                    self._settled.add(item_id)
                    events.append(
                        {
                            "type": "assistant_playback_finished",
                            "response_id": response_id,
                            "item_id": item_id,
                        }
                    )
        return events

    def _item(self, item: Mapping[str, Any], previous: str | None) -> list[dict[str, Any]]:
        item_id = item["id"]
        if previous is not None or item_id not in self._previous:
            self._previous[item_id] = previous
        previous = self._previous[item_id]
        item_type = item.get("type")
        role = item.get("role")
        if item_type != "message" or role not in ("user", "assistant"):
            return [{"type": "item_skipped", "item_id": item_id, "previous_item_id": previous}]
        if role == "assistant":
            return [
                {
                    "type": "item_observed",
                    "item_id": item_id,
                    "previous_item_id": previous,
                    "role": "assistant",
                    "response_id": self._response_of.get(item_id),
                }
            ]
        if item_id in self._skipped_users:
            return [{"type": "item_skipped", "item_id": item_id, "previous_item_id": previous}]
        events: list[dict[str, Any]] = []
        audio_without_transcript = False
        for index, part in enumerate(item.get("content") or ()):
            part_type = part.get("type")
            text = part.get("text") if part_type in ("input_text", "text") else None
            if part_type == "input_audio":
                text = part.get("transcript")
                audio_without_transcript = audio_without_transcript or not text
            if text:
                events.append(
                    {
                        "type": "user_transcript_final",
                        "item_id": item_id,
                        "previous_item_id": previous,
                        "content_index": index,
                        "text": text,
                    }
                )
        if events:
            self._awaiting_transcript.pop(item_id, None)
            return events
        if audio_without_transcript and self._transcribing is False:
            return self._skip_user(item_id, "transcription_off")
        if audio_without_transcript:
            self._awaiting_transcript.setdefault(item_id, 0)
        return [
            {
                "type": "item_observed",
                "item_id": item_id,
                "previous_item_id": previous,
                "role": "user",
                "response_id": None,
            }
        ]

    def _user_transcript(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        item_id = event["item_id"]
        transcript = event.get("transcript") or ""
        if item_id in self._skipped_users:
            if transcript.strip():
                self.notes.append(
                    TranslatorNote(
                        TranslatorNoteCode.LATE_USER_TRANSCRIPT,
                        item_id,
                        detail="the item was already skipped; its transcript is dropped",
                    )
                )
            return []
        if not transcript.strip():
            return self._skip_user(item_id, "empty")
        events: list[dict[str, Any]] = [
            {
                "type": "user_transcript_final",
                "item_id": item_id,
                "previous_item_id": self._previous.get(item_id),
                "content_index": event.get("content_index", 0),
                "text": transcript,
            }
        ]
        # RT-076: a user item older than this one still without a transcript has waited
        # one more item; after enough of them its transcript is taken as lost.
        waiting = self._awaiting_transcript
        if item_id in waiting:
            older = list(waiting)[: list(waiting).index(item_id)]
            del waiting[item_id]
            for other in older:
                waiting[other] += 1
                if waiting[other] >= self.missing_transcript_after:
                    events.extend(self._skip_user(other, "never_came"))
        return events

    def _skip_user(self, item_id: str, why: str) -> list[dict[str, Any]]:
        self._awaiting_transcript.pop(item_id, None)
        if item_id in self._skipped_users:
            return []
        self._skipped_users.add(item_id)
        self.notes.append(
            TranslatorNote(TranslatorNoteCode.USER_TRANSCRIPT_MISSING, item_id, None, why)
        )
        return [
            {
                "type": "item_skipped",
                "item_id": item_id,
                "previous_item_id": self._previous.get(item_id),
            }
        ]

    def _output_item(self, response_id: str, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        item_id = item["id"]
        self._in_flight.setdefault(response_id, None)
        self._response_of.setdefault(item_id, response_id)
        if item.get("type") != "message":
            # RT-061: announced by conversation.item.*, which carries the predecessor.
            return []
        events: list[dict[str, Any]] = [
            {
                "type": "item_observed",
                "item_id": item_id,
                "previous_item_id": self._previous.get(item_id),
                "role": "assistant",
                "response_id": response_id,
            }
        ]
        if any(
            (part or {}).get("type") in ("audio", "output_audio")
            for part in item.get("content") or ()
        ):
            events.extend(self._spoken_part(response_id, item_id))
        return events

    def _done_event(self, response: Mapping[str, Any]) -> list[dict[str, Any]]:
        response_id = response["id"]
        self._in_flight.pop(response_id, None)
        self._done.add(response_id)
        status = response.get("status")
        details = response.get("status_details") or {}
        raw_usage = response.get("usage") or {}
        usage: dict[str, Any] = {
            "input_tokens": raw_usage.get("input_tokens", 0),
            "output_tokens": raw_usage.get("output_tokens", 0),
        }
        cached = (raw_usage.get("input_token_details") or {}).get("cached_tokens")
        if cached is not None:
            usage["cache_read_tokens"] = cached
        if status == "cancelled" and details.get("reason") == "turn_detected":
            # Barge-in (RT-023): the server cancelled the response because the user spoke;
            # what it generated until then is billed (RT-027).
            interrupted: dict[str, Any] = {
                "type": "assistant_turn_interrupted",
                "response_id": response_id,
            }
            if raw_usage:
                interrupted["usage"] = usage
            return [interrupted]
        if status == "completed":
            stop = "end_turn"
        elif status == "incomplete":
            stop = "content_filter" if details.get("reason") == "content_filter" else "max_tokens"
        else:
            stop = "cancelled"
        return [
            {
                "type": "assistant_turn_completed",
                "response_id": response_id,
                "stop_reason": stop,
                "usage": usage,
            }
        ]
