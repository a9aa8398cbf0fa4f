"""What a turn brings in, normalized before anything is planned (COORD-007, COORD-015).

A turn's messages come as wire models or as plain dicts; its usage as a :class:`Usage` or
a mapping of opi's four counters. Each is brought to its normalized wire form here, or
refused with a :class:`CallerError` naming what is wrong, before the coordinator plans a
batch: a bad input writes nothing (GEN-009). Most inputs are plain dicts of exact JSON
types, which :func:`plain_message` normalizes without pydantic, giving exactly pydantic's
result (tests/coordinator/test_plain_message.py); everything else goes to pydantic, which
also gives the error. :func:`iso_timestamp` is the entries' clock text (opi's ``now_iso``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from sessionspec.errors import CallerError
from sessionspec.reference.coordinator import COUNTER_NAMES
from sessionspec.wire.messages import Message, Usage, WireModel

__all__ = [
    "MESSAGE_ADAPTER",
    "iso_timestamp",
    "message_list",
    "normalize_message",
    "normalize_usage",
    "normalized_as_is",
    "plain_message",
]

MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


_TIMESTAMP_CACHE: list[Any] = [-1, ""]


def iso_timestamp(epoch_seconds: float) -> str:
    """opi's ``now_iso``: UTC, second precision, ``YYYY-MM-DDTHH:MM:SSZ`` (COORD-007).

    The text of the last whole second is cached: a clock read many times a second formats
    it once (``time.gmtime`` truncates a non-negative time to its whole second, as
    ``int`` does)."""
    if type(epoch_seconds) is float and 0.0 <= epoch_seconds < 1e15:
        second = int(epoch_seconds)
        cache = _TIMESTAMP_CACHE
        if cache[0] == second:
            text: str = cache[1]
            return text
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        cache[1] = text
        cache[0] = second
        return text
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def normalize_message(message: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    """A message in its normalized wire form; a caller error if it is not one (COORD-015).

    A plain dict made only of exact JSON types is normalized by :func:`plain_message`
    without pydantic; anything else (other types, unknown block kinds, values pydantic
    would coerce, invalid messages) is judged by pydantic, which gives the error."""
    if isinstance(message, WireModel):
        try:
            message = message.to_json_dict()
        except ValueError as exc:  # a value pydantic cannot serialize, or nested too deep
            raise CallerError(f"not a valid message: {exc}") from None
    if normalized_as_is(message):
        # The common case: a caller's message already in the normalized form; a copy of
        # its known shape replaces plain_message's walk: 6.1 instead of 9.1 µs per message
        # of the peers benchmark's conversation, ~4% of a one-message turn end (issue 8).
        return _copy_normalized(message)  # type: ignore[arg-type]  # a dict: checked
    normalized = plain_message(message)
    if normalized is None:
        # COORD-015: strict, so "5", 1.0 or True is never taken for a number, "no" for a
        # bool, or a number for a string.
        try:
            normalized = MESSAGE_ADAPTER.validate_python(message, strict=True).to_json_dict()
        except ValidationError as exc:
            raise CallerError(f"not a valid message: {exc.errors()[0]['msg']}") from None
        except (ValueError, TypeError, RecursionError) as exc:  # not JSON, nested too deep
            raise CallerError(f"not a valid message: {exc}") from None
    return normalized


def _refuse_usage_keys(usage: Mapping[Any, Any]) -> None:
    """WIRE-003: usage names exactly opi's four counters; a misspelt or provider-named key
    (``input_token``, ``prompt_tokens``, ``cache_read_input_tokens``) is refused by name,
    never dropped (provider shapes are translated at the edge)."""
    unknown = sorted(repr(key) for key in usage if key not in _COUNTER_SET)
    if unknown:
        raise CallerError(
            f"unknown usage counter {', '.join(unknown)}; the counters are "
            f"{', '.join(COUNTER_NAMES)}"
        )


# -- messages normalized without pydantic (COORD-015) ------------------------------------
#
# ``plain_message(m)`` returns exactly ``MESSAGE_ADAPTER.validate_python(m).to_json_dict()``
# for the inputs it accepts, and ``None`` for every other input (which then goes to
# pydantic). It accepts only what pydantic takes without coercion: dicts, lists, and values
# whose type is exactly ``str``, ``int`` (in range), ``bool`` or ``None``; each model's
# declared fields come out in declaration order with their defaults filled in, then its
# extra fields in input order (``extra="allow"``; extras only with string keys and scalar
# values, which a JSON-mode dump leaves as they are). Every container in the result is
# new, so the caller's objects are never shared with the buffer or the log.
# tests/coordinator/test_plain_message.py checks the equality against pydantic.

_INVALID: Any = object()
_REQUIRED: Any = object()
_MISSING: Any = object()
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_U32_MAX = 2**32 - 1
_EXTRA_TYPES = frozenset({str, int, bool, type(None)})

_Check = Callable[[Any], Any]
_Fields = tuple[tuple[str, _Check, Any], ...]


def _exact_str(value: Any) -> Any:
    return value if type(value) is str else _INVALID


def _optional_str(value: Any) -> Any:
    return value if value is None or type(value) is str else _INVALID


def _i64(value: Any) -> Any:
    return value if type(value) is int and _I64_MIN <= value <= _I64_MAX else _INVALID


def _u32(value: Any) -> Any:
    return value if type(value) is int and 0 <= value <= _U32_MAX else _INVALID


def _exact_bool(value: Any) -> Any:
    return value if type(value) is bool else _INVALID


def _null(value: Any) -> Any:
    return None if value is None else _INVALID


def _literal(*allowed: str) -> _Check:
    choices = frozenset(allowed)

    def check(value: Any) -> Any:
        return value if type(value) is str and value in choices else _INVALID

    return check


def _plain_object(obj: Any, fields: _Fields, names: frozenset[str]) -> dict[str, Any] | None:
    """One model's object: declared fields in order (defaults filled in), then extras."""
    if type(obj) is not dict:
        return None
    out: dict[str, Any] = {}
    found = 0
    for name, check, default in fields:
        value = obj.get(name, _MISSING)
        if value is _MISSING:
            if default is _REQUIRED:
                return None
            value = default
        else:
            value = check(value)
            if value is _INVALID:
                return None
            found += 1
        out[name] = value
    if found != len(obj):
        for key, value in obj.items():
            if key in names:
                continue
            if type(key) is not str or type(value) not in _EXTRA_TYPES:
                return None
            out[key] = value
    return out


def _nested(fields: _Fields) -> _Check:
    names = frozenset(name for name, _, _ in fields)

    def check(value: Any) -> Any:
        out = _plain_object(value, fields, names)
        return _INVALID if out is None else out

    return check


def _tagged_list(kinds: Mapping[str, _Fields], tag: str = "type") -> _Check:
    """A list of objects discriminated by ``tag`` (a content block list)."""
    by_kind = {kind: (fields, frozenset(n for n, _, _ in fields)) for kind, fields in kinds.items()}

    def check(value: Any) -> Any:
        if type(value) is not list:
            return _INVALID
        out: list[dict[str, Any]] = []
        for element in value:
            if type(element) is not dict:
                return _INVALID
            kind = element.get(tag)
            if type(kind) is not str or kind not in by_kind:
                return _INVALID
            fields, names = by_kind[kind]
            block = _plain_object(element, fields, names)
            if block is None:
                return _INVALID
            out.append(block)
        return out

    return check


_TEXT: _Fields = (("type", _literal("text"), _REQUIRED), ("text", _exact_str, _REQUIRED))
_THINKING: _Fields = (
    ("type", _literal("thinking"), _REQUIRED),
    ("thinking", _exact_str, _REQUIRED),
)
_TOOL_CALL_FIELDS: _Fields = (
    ("id", _exact_str, _REQUIRED),
    ("name", _exact_str, _REQUIRED),
    ("arguments", _exact_str, _REQUIRED),
)
_TOOL_CALL: _Fields = (
    ("type", _literal("tool_call"), _REQUIRED),
    ("tool_call", _nested(_TOOL_CALL_FIELDS), _REQUIRED),
)
_URL_SOURCE: _Fields = (("type", _literal("url"), _REQUIRED), ("url", _exact_str, _REQUIRED))
_BASE64_SOURCE: _Fields = (
    ("type", _literal("base64"), _REQUIRED),
    ("data", _exact_str, _REQUIRED),
)
_IMAGE_SOURCE = _tagged_list({"url": _URL_SOURCE, "base64": _BASE64_SOURCE})


def _image_source(value: Any) -> Any:
    out = _IMAGE_SOURCE([value])
    return _INVALID if out is _INVALID else out[0]


_IMAGE: _Fields = (
    ("type", _literal("image"), _REQUIRED),
    ("source", _image_source, _REQUIRED),
    ("media_type", _literal("image/png", "image/jpeg", "image/gif", "image/webp"), _REQUIRED),
)
_INPUT_CONTENT = _tagged_list({"text": _TEXT, "image": _IMAGE})
_ASSISTANT_CONTENT = _tagged_list({"text": _TEXT, "thinking": _THINKING, "tool_call": _TOOL_CALL})
_USAGE_COUNTERS: _Fields = tuple((name, _u32, 0) for name in COUNTER_NAMES)
_USAGE_FIELDS = _nested(_USAGE_COUNTERS)

_MESSAGE_FIELDS: dict[str, _Fields] = {
    "user": (
        ("role", _literal("user"), _REQUIRED),
        ("content", _INPUT_CONTENT, _REQUIRED),
        ("timestamp_ms", _i64, _REQUIRED),
    ),
    "assistant": (
        ("role", _literal("assistant"), _REQUIRED),
        ("content", _ASSISTANT_CONTENT, _REQUIRED),
        ("api", _literal("Anthropic", "OpenAi", "Google", "Mistral"), _REQUIRED),
        ("provider", _exact_str, _REQUIRED),
        ("model", _exact_str, _REQUIRED),
        ("response_model", _optional_str, None),
        ("response_id", _optional_str, None),
        ("usage", _USAGE_FIELDS, _REQUIRED),
        ("stop_reason", _literal("stop", "length", "tool_use", "error", "aborted"), _REQUIRED),
        ("error_message", _optional_str, None),
        ("timestamp_ms", _i64, _REQUIRED),
    ),
    "tool_result": (
        ("role", _literal("tool_result"), _REQUIRED),
        ("tool_call_id", _exact_str, _REQUIRED),
        ("tool_name", _exact_str, _REQUIRED),
        ("content", _INPUT_CONTENT, _REQUIRED),
        ("details", _null, None),
        ("is_error", _exact_bool, _REQUIRED),
        ("truncated", _exact_bool, False),
        ("timestamp_ms", _i64, _REQUIRED),
    ),
}
_MESSAGE_NAMES = {
    role: frozenset(name for name, _, _ in fields) for role, fields in _MESSAGE_FIELDS.items()
}


def plain_message(message: Any) -> dict[str, Any] | None:
    """``message`` normalized without pydantic, or ``None`` if pydantic must judge it."""
    if type(message) is not dict:
        return None
    role = message.get("role")
    if type(role) is not str or role not in _MESSAGE_FIELDS:
        return None
    return _plain_object(message, _MESSAGE_FIELDS[role], _MESSAGE_NAMES[role])


# -- messages already in normalized form (resume's fast path, issue 8) ------------------
#
# ``normalized_as_is(m)`` is true only when ``plain_message(m)`` equals ``m`` (same values,
# types and key order): every declared field present in declaration order, no extra, every
# value passing the same checks as in the tables above. Then ``m`` itself is the normalized
# form and a replay keeps it instead of building a copy. Messages the coordinator wrote are
# in this form (it writes what ``normalize_message`` returned, COORD-017), so a resume of
# its own file takes this path; anything else (a foreign writer's omitted defaults, extras,
# another key order) gets ``plain_message`` or pydantic, as before.
#
# Written out per role instead of walking the tables: a key-tuple compare per object and
# inline type tests, no call per field and no dict built. It checks a message in 1.7-4.5 µs
# where ``plain_message`` takes 3.2-9 µs and allocates a copy that the collector scans and
# frees later; with it a 100,000-message resume took 0.82x the time of the walk (side by
# side, issue 8: 1.12x pi instead of 1.37x in that run). tests/coordinator/
# test_plain_message.py holds it equal to ``plain_message`` over generated messages.

_TEXT_KEYS = ("type", "text")
_IMAGE_KEYS = ("type", "source", "media_type")
_THINKING_KEYS = ("type", "thinking")
_TOOL_CALL_KEYS = ("type", "tool_call")
_TOOL_CALL_FIELD_KEYS = ("id", "name", "arguments")
_URL_KEYS = ("type", "url")
_BASE64_KEYS = ("type", "data")
_USAGE_KEYS = tuple(COUNTER_NAMES)
_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_APIS = frozenset({"Anthropic", "OpenAi", "Google", "Mistral"})
_STOP_REASONS = frozenset({"stop", "length", "tool_use", "error", "aborted"})
_ROLE_KEYS = {
    role: tuple(name for name, _, _ in fields) for role, fields in _MESSAGE_FIELDS.items()
}
_OPTIONAL_STR = (str, type(None))


def _text_as_is(block: dict[str, Any]) -> bool:
    kind = block["type"]
    return type(kind) is str and kind == "text" and type(block["text"]) is str


def _image_as_is(block: dict[str, Any]) -> bool:
    kind, source, media = block["type"], block["source"], block["media_type"]
    if type(kind) is not str or kind != "image" or type(media) is not str:
        return False
    if media not in _MEDIA_TYPES or type(source) is not dict:
        return False
    keys = tuple(source)
    tag = source.get("type")
    if keys == _URL_KEYS:
        return type(tag) is str and tag == "url" and type(source["url"]) is str
    if keys == _BASE64_KEYS:
        return type(tag) is str and tag == "base64" and type(source["data"]) is str
    return False


def _input_content_as_is(blocks: Any) -> bool:
    if type(blocks) is not list:
        return False
    for block in blocks:
        if type(block) is not dict:
            return False
        keys = tuple(block)
        if keys == _TEXT_KEYS:
            if not _text_as_is(block):
                return False
        elif keys != _IMAGE_KEYS or not _image_as_is(block):
            return False
    return True


def _assistant_content_as_is(blocks: Any) -> bool:
    if type(blocks) is not list:
        return False
    for block in blocks:
        if type(block) is not dict:
            return False
        keys = tuple(block)
        if keys == _TEXT_KEYS:
            if not _text_as_is(block):
                return False
        elif keys == _TOOL_CALL_KEYS:
            kind, call = block["type"], block["tool_call"]
            if type(kind) is not str or kind != "tool_call" or type(call) is not dict:
                return False
            if tuple(call) != _TOOL_CALL_FIELD_KEYS:
                return False
            if type(call["id"]) is not str or type(call["name"]) is not str:
                return False
            if type(call["arguments"]) is not str:
                return False
        elif keys == _THINKING_KEYS:
            kind = block["type"]
            if type(kind) is not str or kind != "thinking" or type(block["thinking"]) is not str:
                return False
        else:
            return False
    return True


def _copy_normalized(message: dict[str, Any]) -> dict[str, Any]:
    """A copy sharing no container with ``message``, which :func:`normalized_as_is`
    accepted: its containers are the message, its content list and blocks, a tool call or
    an image source inside a block, and an assistant's usage."""
    copied = dict(message)
    blocks: list[dict[str, Any]] = []
    for block in message["content"]:
        block = dict(block)
        if "tool_call" in block:
            block["tool_call"] = dict(block["tool_call"])
        elif "source" in block:
            block["source"] = dict(block["source"])
        blocks.append(block)
    copied["content"] = blocks
    if "usage" in copied:
        copied["usage"] = dict(copied["usage"])
    return copied


def _i64_as_is(value: Any) -> bool:
    return type(value) is int and _I64_MIN <= value <= _I64_MAX


def normalized_as_is(message: Any) -> bool:
    """Whether ``message`` already is its normalized form: ``plain_message(message)`` would
    return an equal dict, key order included (then the replay keeps ``message`` itself)."""
    if type(message) is not dict:
        return False
    role = message.get("role")
    if type(role) is not str or role not in _ROLE_KEYS or tuple(message) != _ROLE_KEYS[role]:
        return False
    get = message.__getitem__
    if role == "user":
        return _input_content_as_is(get("content")) and _i64_as_is(get("timestamp_ms"))
    if role == "assistant":
        api, stop, usage = get("api"), get("stop_reason"), get("usage")
        if type(api) is not str or api not in _APIS:
            return False
        if type(stop) is not str or stop not in _STOP_REASONS:
            return False
        if type(get("provider")) is not str or type(get("model")) is not str:
            return False
        if type(get("response_model")) not in _OPTIONAL_STR:
            return False
        if type(get("response_id")) not in _OPTIONAL_STR:
            return False
        if type(get("error_message")) not in _OPTIONAL_STR:
            return False
        if type(usage) is not dict or tuple(usage) != _USAGE_KEYS:
            return False
        for count in usage.values():
            if type(count) is not int or not 0 <= count <= _U32_MAX:
                return False
        return _assistant_content_as_is(get("content")) and _i64_as_is(get("timestamp_ms"))
    # tool_result
    if type(get("tool_call_id")) is not str or type(get("tool_name")) is not str:
        return False
    if get("details") is not None:
        return False
    if type(get("is_error")) is not bool or type(get("truncated")) is not bool:
        return False
    return _input_content_as_is(get("content")) and _i64_as_is(get("timestamp_ms"))


_COUNTER_SET = frozenset(COUNTER_NAMES)


def normalize_usage(usage: Usage | Mapping[str, Any] | None) -> dict[str, int]:
    if usage is None:
        return dict.fromkeys(COUNTER_NAMES, 0)
    # The common case, checked without pydantic: a dict of opi's u32 counters (WIRE-003).
    if type(usage) is dict:
        counters = dict.fromkeys(COUNTER_NAMES, 0)
        for name, value in usage.items():
            if name not in counters or type(value) is not int or not 0 <= value <= _U32_MAX:
                break
            counters[name] = value
        else:
            return counters
    if isinstance(usage, Usage):
        if usage.model_extra:
            _refuse_usage_keys(usage.model_extra)
        return {name: int(getattr(usage, name)) for name in COUNTER_NAMES}
    if not isinstance(usage, Mapping):
        raise CallerError(f"usage is a mapping of counters or a Usage, not {usage!r}")
    _refuse_usage_keys(usage)
    try:
        # COORD-131: strict, so "5", 1.0 or True is never taken for a count.
        model = Usage.model_validate(dict(usage), strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise CallerError(f"not a valid usage: {where}: {error['msg']}") from None
    return {name: int(getattr(model, name)) for name in COUNTER_NAMES}


def message_list(new_messages: object) -> Sequence[Any]:
    """GEN-009: a turn's messages are a list or a tuple (of messages), checked by type."""
    if type(new_messages) is list or type(new_messages) is tuple:
        return new_messages
    if isinstance(new_messages, Sequence) and not isinstance(new_messages, str | bytes):
        return new_messages
    raise CallerError(f"new_messages must be a list of messages, not {new_messages!r:.80}")
