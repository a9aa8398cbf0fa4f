"""Codecs at the edge (DESIGN §2): other tools' session files and provider message shapes.

Session file readers (spec §10, FILES) turn a file into a :class:`SessionRead`: the entry
tree, the active branch, the context an agent resumes with, usage records and findings.
:func:`read_session` detects the format from the first lines (FILES-001) unless one is
named. Provider codecs (:mod:`~sessionspec.codecs.anthropic`,
:mod:`~sessionspec.codecs.openai_chat`, :mod:`~sessionspec.codecs.openai_responses`;
spec §11, CODEC) translate messages to and from the one message model.
:mod:`~sessionspec.codecs.openai_realtime` maps the OpenAI Realtime API's server events into
the transcript's events (RT-060..RT-077), and :mod:`~sessionspec.codecs.meerkat` meerkat's
session JSON shape (CONV), and :mod:`~sessionspec.codecs.phi` phi-core's messages (REC).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from sessionspec.codecs import claude_code, codex, native, opi_legacy, pi
from sessionspec.codecs.model import (
    Entry,
    EntryKind,
    Finding,
    SessionRead,
    Severity,
    UsageRecord,
)
from sessionspec.collector import collector_paused
from sessionspec.errors import UnknownFormatError

__all__ = [
    "CONTEXT_ENCODERS",
    "FORMATS",
    "Entry",
    "EntryKind",
    "Finding",
    "SessionRead",
    "Severity",
    "UsageRecord",
    "detect_format",
    "read_session",
    "read_session_bytes",
    "request_messages",
]

Reader = Callable[[str, bytes], SessionRead]

#: How many leading JSON lines format detection looks at.
_SNIFFED_LINES = 5

#: Every session file format with a reader, by the name ``--format`` takes.
FORMATS: Mapping[str, Reader] = {
    native.FORMAT: native.read_native,
    pi.FORMAT: pi.read_pi,
    claude_code.FORMAT: claude_code.read_claude_code,
    codex.FORMAT: codex.read_codex,
    opi_legacy.FORMAT: opi_legacy.read_opi_legacy,
}


def _first_objects(data: bytes, wanted: int = 2) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    start = 0
    while len(found) < wanted and start < len(data):
        end = data.find(b"\n", start)
        stop = len(data) if end < 0 else end
        raw = data[start:stop].strip()
        start = stop + 1
        if not raw:
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            break
        if not isinstance(obj, dict):
            break
        found.append(obj)
    return found


def detect_format(data: bytes, path: str = "<memory>") -> str:
    """The format of a session file from its first lines (FILES-001).

    A ``type: session`` header is ours (opi v1 with snake-case fields), opi's older layout
    (entries without ids) or pi's (any version); a ``{timestamp, type, payload}`` line is a
    Codex rollout; a line with ``sessionId``/``uuid``/``leafUuid`` is a Claude Code
    transcript. Anything else is an :class:`UnknownFormatError`.
    """
    objects = _first_objects(data, _SNIFFED_LINES)
    if not objects:
        raise UnknownFormatError(path, "no JSON object on the first line")
    first = objects[0]
    second = objects[1] if len(objects) > 1 else None
    if first.get("type") == "session":
        if native.looks_like(first, second):
            return native.FORMAT
        if opi_legacy.looks_like(first, second):
            return opi_legacy.FORMAT
        if pi.looks_like(first):
            return pi.FORMAT
        raise UnknownFormatError(path, f"a session header of version {first.get('version')!r}")
    # Headerless formats: a newer writer may open with a line type this reader does not
    # know, so the first few lines are looked at, in order.
    for obj in objects:
        if codex.looks_like(obj):
            return codex.FORMAT
        if claude_code.looks_like(obj):
            return claude_code.FORMAT
    raise UnknownFormatError(path, f"the first line has type {first.get('type')!r}")


def read_session_bytes(
    data: bytes, path: str = "<memory>", format: str | None = None
) -> SessionRead:
    """Read a session file's bytes with the named reader, or the detected one."""
    if format is None:
        format = detect_format(data, path)
    reader = FORMATS.get(format)
    if reader is None:
        raise UnknownFormatError(path, f"no reader named {format!r} (known: {', '.join(FORMATS)})")
    # A read builds one acyclic dict per line by the thousand: the cyclic collector could
    # free nothing and would rescan them again and again (as for the log, LOG-007).
    with collector_paused():
        return reader(path, data)


def read_session(path: str | os.PathLike[str], format: str | None = None) -> SessionRead:
    """Read a session file written by any tool this package knows (FILES-001)."""
    name = os.fspath(path)
    with open(name, "rb") as handle:
        data = handle.read()
    return read_session_bytes(data, name, format)


def _encoders() -> dict[str, Callable[[Sequence[Any]], list[dict[str, Any]]]]:
    from sessionspec.codecs.anthropic import to_anthropic
    from sessionspec.codecs.openai_chat import to_openai_chat
    from sessionspec.codecs.openai_responses import to_openai_responses

    return {
        "anthropic": to_anthropic,
        "openai_chat": to_openai_chat,
        "openai_responses": to_openai_responses,
    }


#: The provider shapes a context can be sent in (CODEC-004), by name.
CONTEXT_ENCODERS: Mapping[str, Callable[[Sequence[Any]], list[dict[str, Any]]]] = _encoders()


def request_messages(source: Any, format: str) -> list[dict[str, Any]]:
    """What the next request sends, in a provider's shape (CODEC-004): ``source`` is a
    coordinator (its ``context()`` is used) or a context / list of wire messages.

    ``request_messages(coordinator, "anthropic")`` is ``to_anthropic(coordinator.context())``.
    """
    encoder = CONTEXT_ENCODERS.get(format)
    if encoder is None:
        known = ", ".join(CONTEXT_ENCODERS)
        raise UnknownFormatError("<context>", f"no provider shape named {format!r} ({known})")
    context = source.context() if callable(getattr(source, "context", None)) else source
    return encoder(context)
