"""Kept for compatibility: the OpenAI Realtime codec lives in
:mod:`sessionspec.codecs.openai_realtime` (RT-060)."""

from __future__ import annotations

from sessionspec.codecs.openai_realtime import (
    CHARS_PER_SECOND,
    MIN_HEARD_MS,
    MISSING_TRANSCRIPT_AFTER,
    SERVER_EVENTS,
    HeardPrefix,
    InvalidServerEventError,
    OpenAIRealtimeTranslator,
    PlaybackMode,
    TranslatorNote,
    TranslatorNoteCode,
    estimate_heard_prefix,
)

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
