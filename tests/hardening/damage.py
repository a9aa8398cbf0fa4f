"""Damaged session files and the judges of what a reader may do with them (issue 7).

``base_session()`` and ``base_journal()`` build real files with the public API (a session
with turns, a tool call, a compaction, a leaf move and extension state; a realtime journal
with a user turn and an assistant response). ``damages(data)`` is a Hypothesis strategy
that damages such bytes the ways the outside harness did: byte flips, truncation, garbage
and duplicated lines, CRLF, invalid UTF-8, NULs, deep nesting, huge lines, and bad types in
every field of a line re-framed with a *valid* checksum (so the damage reaches the decoder
instead of stopping at the CRC).

``only_residue_cut(before, after)`` is the byte-for-byte judge of a writer's open (LOG-008):
``after`` equals ``before`` or is a prefix of it whose removed part is only a torn last line
and complete framed lines without a commit record (and blank lines among them). It is
written from the framing rules (LOG-002), not from the reader's code.
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from hypothesis import strategies as st

from sessionspec import CompactionConfig, CompactionReason, RealtimeTranscript, SessionCoordinator
from sessionspec.storage.framing import CRC_MARKER, frame_line
from sessionspec.wire.messages import (
    AssistantMessage,
    TextContent,
    ToolCall,
    ToolCallContent,
    ToolResultMessage,
    Usage,
    UserMessage,
)

CLOCK = 1_700_000_000.0


def user(text: str) -> dict[str, Any]:
    return UserMessage(content=[TextContent(text=text)], timestamp_ms=1).to_json_dict()


def assistant(text: str, call: str | None = None) -> dict[str, Any]:
    content: list[Any] = [TextContent(text=text)]
    if call is not None:
        content.append(
            ToolCallContent(tool_call=ToolCall(id=call, name="shell", arguments='{"cmd":"ls"}'))
        )
    return AssistantMessage(
        content=content,
        api="Anthropic",
        provider="anthropic",
        model="claude-sonnet-4",
        usage=Usage(input_tokens=10, output_tokens=5),
        stop_reason="tool_use" if call else "stop",
        timestamp_ms=2,
    ).to_json_dict()


def tool_result(call: str, text: str) -> dict[str, Any]:
    return ToolResultMessage(
        tool_call_id=call,
        tool_name="shell",
        content=[TextContent(text=text)],
        is_error=False,
        timestamp_ms=3,
    ).to_json_dict()


def _build_session(directory: Path) -> bytes:
    coordinator = SessionCoordinator.new(
        directory,
        "/work",
        CompactionConfig(enabled=False),
        "anthropic:claude-sonnet-4",
        session_id="s1",
        clock=lambda: CLOCK,
    )
    with coordinator:
        coordinator.on_turn_end([user("one"), assistant("two")], {"input_tokens": 7})
        coordinator.on_turn_end(
            [user("run"), assistant("calling", "c1"), tool_result("c1", "done")],
            {"input_tokens": 9, "output_tokens": 3},
        )
        coordinator.append_extension_state({"mode": "plan", "n": [1, 2]})
        coordinator.on_turn_end([user("three"), assistant("four")])
        coordinator.execute_compaction(CompactionReason.MANUAL)
        coordinator.append_leaf("msg-1")
        coordinator.on_turn_end([user("branch"), assistant("other")])
        path = coordinator.session_path
    return Path(path).read_bytes()


def _build_journal(directory: Path) -> bytes:
    path = directory / "rt.jsonl"
    with RealtimeTranscript.create(str(path), clock=lambda: 1_700_000_000_000) as transcript:
        for event in (
            {"type": "item_observed", "item_id": "u1", "previous_item_id": None,
             "role": "user", "response_id": None},
            {"type": "user_transcript_final", "item_id": "u1", "previous_item_id": None,
             "content_index": 0, "text": "hello"},
            {"type": "item_observed", "item_id": "a1", "previous_item_id": "u1",
             "role": "assistant", "response_id": "r1"},
            {"type": "assistant_text_delta", "response_id": "r1", "delta_id": "d1",
             "item_id": "a1", "previous_item_id": "u1", "content_index": 0, "delta": "hi "},
            {"type": "assistant_text_delta", "response_id": "r1", "delta_id": "d2",
             "item_id": "a1", "previous_item_id": "u1", "content_index": 0, "delta": "there"},
            {"type": "assistant_turn_completed", "response_id": "r1", "stop_reason": "end_turn",
             "usage": {"input_tokens": 4, "output_tokens": 2}},
        ):  # fmt: skip
            transcript.apply(event)
    return path.read_bytes()


_BASES: dict[str, bytes] = {}


def base_session() -> bytes:
    if "session" not in _BASES:
        with tempfile.TemporaryDirectory() as directory:
            _BASES["session"] = _build_session(Path(directory))
    return _BASES["session"]


def base_journal() -> bytes:
    if "journal" not in _BASES:
        with tempfile.TemporaryDirectory() as directory:
            _BASES["journal"] = _build_journal(Path(directory))
    return _BASES["journal"]


# -- damage ----------------------------------------------------------------------------------


def _deep(levels: int) -> Any:
    value: Any = 0
    for index in range(levels):
        value = [value] if index % 2 else {"d": value}
    return value


#: Values of the wrong type (or shape) for any field.
BAD_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [None, True, False, 0, -1, 1.5, 2**64, "", " ", "x", [], {}, ["message"],
         {"type": "message"}, [None], "\ud800", "msg-1", "leaf-99"]
    ),
    st.integers(300, 1000).map(_deep),
    st.text(max_size=5),
)  # fmt: skip


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _unframe(line: bytes) -> tuple[dict[str, Any], int, bool] | None:
    """The object of a framed line without its framing, its ``ss_seq`` and ``ss_end``."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or type(obj.get("ss_seq")) is not int:
        return None
    seq = obj.pop("ss_seq")
    end = obj.pop("ss_end", False) is True
    obj.pop("ss_crc", None)
    return obj, seq, end


def _reframe(obj: dict[str, Any], seq: int, end: bool) -> bytes:
    try:
        body = orjson.dumps(obj)
    except TypeError:  # nested beyond what orjson writes: write it by hand
        body = dump_deep(obj).encode("utf-8", "surrogatepass")
    return frame_line(body, seq, end)


def dump_deep(value: Any) -> str:
    """JSON text for values orjson refuses to write (deeper than 254 levels), iteratively
    enough for the nesting built by :func:`_deep` (recursion depth one per level is fine
    below Python's limit only with a loop over the spine)."""
    prefix: list[str] = []
    suffix: list[str] = []
    while isinstance(value, dict | list):
        if isinstance(value, list):
            if len(value) != 1:
                break
            prefix.append("[")
            suffix.append("]")
            value = value[0]
        else:
            if len(value) != 1:
                break
            ((key, inner),) = value.items()
            prefix.append("{" + orjson.dumps(key).decode() + ":")
            suffix.append("}")
            value = inner
    try:
        middle = orjson.dumps(value).decode()
    except TypeError:
        middle = _dump_flat(value)
    return "".join(prefix) + middle + "".join(reversed(suffix))


def _dump_flat(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(orjson.dumps(str(k)).decode() + ":" + dump_deep(v) for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(dump_deep(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + "".join(f"\\u{ord(c):04x}" for c in value) + '"'
    if type(value) is int:
        return str(value)  # beyond 64 bits: orjson refuses it, JSON does not
    return orjson.dumps(value).decode()


def deep_value(levels: int) -> Any:
    """Objects and lists nested ``levels`` deep."""
    return _deep(levels)


def every_field_replaced(data: bytes, values: tuple[Any, ...]) -> Iterator[bytes]:
    """``data`` with one field (any depth, any line) replaced by a bad value, for every field
    in turn; the values rotate. Framed lines are re-framed with a valid checksum."""
    lines = _lines(data)
    turn = 0
    for index, line in enumerate(lines):
        unframed = _unframe(line)
        if unframed is None:
            continue
        obj, seq, end = unframed
        for path in _field_paths(obj):
            copy = orjson.loads(orjson.dumps(obj))
            container = copy
            for key in path[:-1]:
                container = container[key]
            container[path[-1]] = values[turn % len(values)]
            turn += 1
            yield b"".join([*lines[:index], _reframe(copy, seq, end), *lines[index + 1 :]])


def _field_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from _field_paths(value, (*prefix, key))


@st.composite
def _bad_field(draw: st.DrawFn, data: bytes) -> bytes:
    """A field of one line (any depth) replaced by a bad value; the line re-framed with a
    valid checksum, or written unframed (a legacy line) when it was unframed."""
    lines = _lines(data)
    index = draw(st.integers(0, len(lines) - 1))
    unframed = _unframe(lines[index])
    if unframed is None:
        return data
    obj, seq, end = unframed
    paths: list[tuple[Any, Any]] = []

    def walk(container: Any) -> None:
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in list(items):
            paths.append((container, key))
            if isinstance(value, dict | list) and len(paths) < 200:
                walk(value)

    walk(obj)
    if paths:
        container, key = draw(st.sampled_from(paths))
        container[key] = draw(BAD_VALUES)
    else:
        obj[draw(st.sampled_from(["type", "id", "x"]))] = draw(BAD_VALUES)
    if draw(st.booleans()):
        line = _reframe(obj, seq, end)
    else:
        line = dump_deep(obj).encode("utf-8", "surrogatepass") + b"\n"
    newline = b"\r\n" if lines[index].endswith(b"\r\n") else b"\n"
    lines[index] = line[:-1] + newline
    return b"".join(lines)


@st.composite
def _flip(draw: st.DrawFn, data: bytes) -> bytes:
    position = draw(st.integers(0, len(data) - 1))
    mask = draw(st.integers(1, 255))
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


@st.composite
def _truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


@st.composite
def _insert_line(draw: st.DrawFn, data: bytes) -> bytes:
    lines = _lines(data)
    kind = draw(st.sampled_from(["garbage", "duplicate", "deep", "huge", "nul", "utf8", "blank"]))
    if kind == "garbage":
        line = draw(st.binary(max_size=80)).replace(b"\n", b"") + b"\n"
    elif kind == "duplicate":
        line = draw(st.sampled_from(lines))
    elif kind == "deep":
        levels = draw(st.integers(200, 1200))
        line = b"[" * levels + b"]" * levels + b"\n"
        if draw(st.booleans()):
            obj = {"type": "message", "id": "deep", "parent_id": None, "message": _deep(levels)}
            line = _reframe(obj, draw(st.integers(0, 40)), draw(st.booleans()))
    elif kind == "huge":
        obj = {"type": "extension_state", "id": "huge", "parent_id": None, "timestamp": "t",
               "state": "x" * draw(st.integers(100_000, 400_000))}  # fmt: skip
        line = _reframe(obj, draw(st.integers(0, 40)), True)
    elif kind == "nul":
        line = b"\0" * draw(st.integers(1, 50)) + b"\n"
    elif kind == "utf8":
        line = b'{"type":"message","id":"\xff\xfe","x":"\xc3"}\n'
    else:
        line = b" \t \n"
    position = draw(st.integers(0, len(lines)))
    return b"".join([*lines[:position], line, *lines[position:]])


@st.composite
def _splice(draw: st.DrawFn, data: bytes) -> bytes:
    """Invalid UTF-8, NULs or a CR somewhere inside a line."""
    position = draw(st.integers(0, len(data)))
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\0", b"\0\0\0", b"\r", b"\xed\xa0\x80"]))
    return data[:position] + junk + data[position:]


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@st.composite
def damages(draw: st.DrawFn, data: bytes) -> bytes:
    """One to three damages applied in turn."""
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "truncate", "line", "field", "splice", "crlf"]))
        if kind == "flip":
            data = draw(_flip(data))
        elif kind == "truncate":
            data = draw(_truncate(data))
        elif kind == "line":
            data = draw(_insert_line(data))
        elif kind == "field":
            data = draw(_bad_field(data))
        elif kind == "splice":
            data = draw(_splice(data))
        else:
            data = _crlf(data)
    return data


# -- the judges --------------------------------------------------------------------------------


def _is_pending_frame(line: bytes) -> bool:
    """A complete line that is framed with a valid checksum and is not a commit record."""
    body = line.rstrip(b"\n")
    if body.endswith(b"\r"):
        body = body[:-1]
    marker = body.rfind(CRC_MARKER)
    if marker < 0 or not body.endswith(b'"}') or len(body) - marker != len(CRC_MARKER) + 10:
        return False
    crc = b"%08x" % (zlib.crc32(body[:marker]) & 0xFFFFFFFF)
    if body[marker + len(CRC_MARKER) : -2] != crc:
        return False
    return b',"ss_end":true' not in body[:marker]


def only_residue_cut(before: bytes, after: bytes) -> str | None:
    """``None`` when ``after`` is ``before`` minus crash residue at most, else why not."""
    if after == before:
        return None
    if not before.startswith(after):
        return "the file changed in a way other than a cut at its end"
    if after and not after.endswith(b"\n"):
        return f"the cut at byte {len(after)} is not at a line boundary"
    removed = before[len(after) :]
    lines = removed.split(b"\n")
    torn = lines.pop()  # the part after the last newline: a torn line (or empty)
    del torn
    for line in lines:
        if not line.strip():
            continue
        if not _is_pending_frame(line + b"\n"):
            return f"the cut at byte {len(after)} removed a committed line: {line[:80]!r}"
    return None


class Hang(Exception):
    """A reader ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread if the block runs longer than ``seconds``."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


Reader = Callable[[str, str], object]
