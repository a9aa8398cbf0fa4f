"""The realtime transcript's records and checks (spec/SPEC.md §5).

What :meth:`RealtimeTranscript.apply` returns (:class:`ApplyOutcome`, RT-004) and what a
reopened journal reports (:class:`JournalRecovery`, RT-049); the item, segment and response
records whose ``state`` fields follow ``ITEM_TABLE`` and ``RESPONSE_TABLE``; the field checks
of the checked path (a malformed event raises :class:`InvalidRealtimeEventError`, RT-002);
the dedup key of a completion; and :func:`_construct`, which builds messages from validated
values without pydantic's per-field walk (checked against ``model_construct`` at import).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from sessionspec.errors import (
    CallerError,
)
from sessionspec.reference.realtime import (
    STOP_REASON_MAP,
    ApplyStatus,
    Diagnostic,
    DiscardedFragment,
    Lane,
)
from sessionspec.storage.log import RecoveryReport
from sessionspec.tables.realtime import (
    ItemState,
    ResponseState,
)
from sessionspec.wire.messages import (
    AssistantMessage,
    TextContent,
    Usage,
    UserMessage,
    WireModel,
)
from sessionspec.wire.realtime import (
    RealtimeUsage,
)

_OBSERVED = ItemState.OBSERVED
_READY = ItemState.READY
_MATERIALIZED = ItemState.MATERIALIZED
_SKIPPED = ItemState.SKIPPED
_AWAITING = ItemState.AWAITING_PLAYBACK
_STREAMING = ResponseState.STREAMING
_WAITING = ResponseState.WAITING_FOR_TOOL_RESULTS
_DISPLAY = Lane.DISPLAY
_SPOKEN = Lane.SPOKEN
_STOP_REASONS = frozenset(STOP_REASON_MAP)
_DELTA_KINDS = frozenset({"assistant_text_delta", "assistant_transcript_delta"})


class InvalidRealtimeEventError(CallerError):
    """The event is not one of the eleven types in the wire form (RT-002); nothing changed."""


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What one event did (RT-004)."""

    status: ApplyStatus
    #: The messages this event materialized, in transcript order; empty when inert.
    messages: tuple[UserMessage | AssistantMessage, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Content this event discarded (barge-in, cancel, late content).
    discarded: tuple[DiscardedFragment, ...] = ()

    @property
    def is_inert(self) -> bool:
        return not self.messages


@dataclass(frozen=True, slots=True)
class UnattachedUsage:
    """The usage of an ended response that has no message and never will (RT-027): a
    cancelled or interrupted response of which nothing was kept, or one whose output was all
    anchors (a function call). The provider billed it; :class:`CoordinatorSink` hands it on."""

    response_id: str
    #: In opi's form, as a message would carry it (RT-032).
    usage: Usage
    #: How many messages the transcript had materialized when the usage became unattached:
    #: the hand-off adds it to the turn that holds the next message (RT-050).
    position: int


@dataclass(frozen=True, slots=True)
class SkippedJournalEntry:
    """A committed journal entry that replay skipped (RT-049): where it is and why."""

    line: int
    offset: int
    entry_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class JournalRecovery:
    """What reopening a journal found (RT-049): the log's findings and the skipped entries.

    A transcript that was created, not reopened, has an empty report."""

    log: RecoveryReport | None = None
    skipped: tuple[SkippedJournalEntry, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.skipped and (self.log is None or self.log.clean)


#: The range of a journal entry's ``ts`` (an ``I64`` millisecond time, WIRE-001).
_TS_MAX = 2**63 - 1

_DUPLICATE = ApplyOutcome(ApplyStatus.DUPLICATE)
_ACCEPTED = ApplyOutcome(ApplyStatus.ACCEPTED)


class _Segment:
    __slots__ = (
        "context",
        "context_kind",
        "context_number",
        "context_prev",
        "deltas",
        "final",
        "truncation",
        "user_text",
    )

    def __init__(self) -> None:
        #: The delta context last remembered for this segment, shared by its deltas, and
        #: its number in the transcript's list of contexts.
        self.context: tuple[Any, ...] | None = None
        self.context_number = 0
        #: The two parts of ``context`` that can differ between deltas of one segment (its
        #: response, item and index are the segment's own): the hot path compares these
        #: instead of building the context tuple for every delta.
        self.context_kind: str | None = None
        self.context_prev: str | None = None
        self.deltas: list[str] = []
        self.truncation: str | None = None
        self.final: str | None = None
        self.user_text: str | None = None

    def text(self) -> str:
        if self.user_text is not None:
            return self.user_text
        if self.truncation is not None:
            return self.truncation
        if self.final is not None:
            return self.final
        return "".join(self.deltas)


class _Item:
    __slots__ = (
        "children",
        "consumed",
        "item_id",
        "lane",
        "played",
        "prev",
        "rank",
        "response",
        "response_id",
        "role",
        "segments",
        "state",
    )

    def __init__(
        self, item_id: str, rank: int, role: str | None, response_id: str | None, prev: str | None
    ) -> None:
        self.item_id = item_id
        self.rank = rank
        self.role = role
        self.response_id = response_id
        #: The record of ``response_id``, set with it (the hot path reads its state).
        self.response: _Response | None = None
        self.prev = prev
        self.lane: Lane | None = None
        self.segments: dict[int, _Segment] = {}
        self.state = _OBSERVED
        #: Its audio was played to the end (RT-071).
        self.played = False
        #: Passed by the walk: materialized, or (for an anchor) stepped over (RT-031).
        self.consumed = False
        #: Items declared with this one as predecessor (``None`` until there is one).
        self.children: list[_Item] | None = None

    def text(self) -> str:
        segments = self.segments
        if len(segments) == 1:
            for segment in segments.values():
                return segment.text()
        return "".join(segments[i].text() for i in sorted(segments))

    def has_content(self) -> bool:
        return any(s.text() for s in self.segments.values())

    def playback_settled(self) -> bool:
        """The end of its playback is known: played in full, or cut (RT-073)."""
        return self.played or any(s.truncation is not None for s in self.segments.values())


class _Response:
    __slots__ = (
        "awaiting_left",
        "item_ranks",
        "played_back",
        "ready_left",
        "state",
        "stop_reason",
        "usage",
        "usage_spent",
    )

    def __init__(self) -> None:
        self.state = _STREAMING
        #: The client reports its playback (RT-070).
        self.played_back = False
        #: Items awaiting the end of their playback (RT-072): a run waits for them.
        self.awaiting_left = 0
        self.stop_reason: str | None = None
        self.usage: Mapping[str, Any] | None = None
        #: Ranks of its items, in the order they joined it (ranks, not the items: an item
        #: points to its response, and a pointer back would make a reference cycle per item,
        #: which only a full collection frees).
        self.item_ranks: list[int] = []
        #: Ready items not yet materialized (RT-031: a run waits for all of them).
        self.ready_left = 0
        self.usage_spent = False


def _bad(message: str) -> InvalidRealtimeEventError:
    return InvalidRealtimeEventError(message)


def _req_str(event: Mapping[str, Any], name: str) -> str:
    try:
        value = event[name]
    except KeyError:
        raise _bad(f"{event.get('type')}: missing field {name!r}") from None
    if type(value) is not str:
        raise _bad(f"{event.get('type')}: field {name!r} must be a string")
    return value


def _opt_id(event: Mapping[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if type(value) is not str:
        raise _bad(f"{event.get('type')}: field {name!r} must be a string or null")
    return value.strip() or None


def _index(event: Mapping[str, Any]) -> int:
    try:
        value = event["content_index"]
    except KeyError:
        raise _bad(f"{event.get('type')}: missing field 'content_index'") from None
    if type(value) is not int or not 0 <= value <= 0xFFFFFFFF:
        raise _bad(f"{event.get('type')}: content_index must be an integer in 0..2^32-1")
    return value


def _usage_dict(value: Any, kind: str = "assistant_turn_completed") -> dict[str, Any]:
    """meerkat usage, checked: ``input_tokens`` and ``output_tokens`` always present (0 when
    absent), the cache counters only when given."""
    if type(value) is not dict:
        if isinstance(value, RealtimeUsage):
            return value.to_json_dict()
        if not isinstance(value, Mapping):
            raise _bad(f"{kind}: usage must be an object")
    usage: dict[str, Any] = {}
    for name in ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"):
        count = value.get(name)
        if count is None:
            if name in ("input_tokens", "output_tokens"):
                usage[name] = 0
            continue
        if type(count) is not int or count < 0:
            raise _bad(f"{kind}: usage.{name} must be a non-negative integer")
        usage[name] = count
    return usage


def _completion_key(
    response_id: str,
    stop_reason: Any,
    usage: dict[str, Any],
    kind: str = "assistant_turn_completed",
) -> tuple[Any, ...]:
    """The dedup key of a completion (or, with ``kind``, an interruption). Usually flat, the
    four counters in a fixed order (an absent one as ``None``: a usage dict never holds
    ``None``); with extra usage fields (a model's extras), the sorted items. The two forms
    differ in length, so equal usages give equal keys and different usages different keys,
    as the sorted items alone would."""
    inputs = usage.get("input_tokens")
    outputs = usage.get("output_tokens")
    creation = usage.get("cache_creation_tokens")
    read = usage.get("cache_read_tokens")
    known = (
        (inputs is not None) + (outputs is not None) + (creation is not None) + (read is not None)
    )
    if len(usage) == known:
        return (
            kind,
            response_id,
            stop_reason,
            inputs,
            outputs,
            creation,
            read,
        )
    return (kind, response_id, stop_reason, tuple(sorted(usage.items())))


def _delta_context(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """``(type, response_id, item_id, prev, index)`` of a delta's key
    ``(type, response_id, delta_id, item_id, prev, index, delta)``."""
    return (key[0], key[1], key[3], key[4], key[5])


_strip = str.strip
#: The fields of a delta event, read in one call (KeyError when one is missing, also
#: ``previous_item_id``, which the checked path then reads as absent).
_delta_fields = operator.itemgetter(
    "delta_id", "item_id", "response_id", "delta", "content_index", "previous_item_id"
)
_new_object = object.__new__
_set_status = ApplyOutcome.__dict__["status"].__set__
_set_messages = ApplyOutcome.__dict__["messages"].__set__
_set_diagnostics = ApplyOutcome.__dict__["diagnostics"].__set__
_set_discarded = ApplyOutcome.__dict__["discarded"].__set__


def _outcome(
    status: ApplyStatus,
    messages: tuple[UserMessage | AssistantMessage, ...],
    diagnostics: tuple[Diagnostic, ...],
    discarded: tuple[DiscardedFragment, ...],
) -> ApplyOutcome:
    """``ApplyOutcome(status, messages, diagnostics, discarded)`` through its slots: the
    frozen dataclass's ``__init__`` costs 2.2 us here, this a third of it (measured on the
    bench machine); the tests compare the two."""
    outcome: ApplyOutcome = _new_object(ApplyOutcome)
    _set_status(outcome, status)
    _set_messages(outcome, messages)
    _set_diagnostics(outcome, diagnostics)
    _set_discarded(outcome, discarded)
    return outcome


_M = TypeVar("_M", bound=WireModel)
#: The four slots ``model_construct`` sets, written through their descriptors (declared on
#: ``BaseModel``, so one set serves every model): 1.2 us a message part instead of 1.9 us
#: through ``object.__setattr__`` on the bench machine.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_U32_MAX = 0xFFFFFFFF


def _construct(
    cls: type[_M], values: dict[str, Any], fields_set: set[str], extra: dict[str, Any]
) -> _M:
    """``cls.model_construct(**fields, **extra)`` for trusted values, without its per-field
    walk: ``values`` holds every field in declaration order (defaults included),
    ``fields_set`` the fields given explicitly, ``extra`` the extra fields.

    It sets exactly the four slots ``model_construct`` sets; the tests compare the two
    field by field, and :func:`_check_construct` does so once at import.
    """
    model: _M = _new_object(cls)
    _set_dict(model, values)
    _set_fields_set(model, fields_set)
    _set_extra(model, extra)
    _set_private(model, None)
    return model


def _opi_usage(usage: Mapping[str, Any] | None) -> Usage:
    """meerkat usage -> opi usage: ``cache_write_tokens`` <- ``cache_creation_tokens``."""
    if not usage:
        return _construct(
            Usage,
            {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
            },
            set(),
            {},
        )
    input_tokens = usage.get("input_tokens", 0)
    output_tokens = usage.get("output_tokens", 0)
    cache_read = usage.get("cache_read_tokens") or 0
    cache_write = usage.get("cache_creation_tokens") or 0
    if (
        type(input_tokens) is int
        and type(output_tokens) is int
        and type(cache_read) is int
        and type(cache_write) is int
        and 0 <= input_tokens <= _U32_MAX
        and 0 <= output_tokens <= _U32_MAX
        and 0 <= cache_read <= _U32_MAX
        and 0 <= cache_write <= _U32_MAX
    ):
        # Already valid opi counters: what validation would build, without validating.
        return _construct(
            Usage,
            {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cache_read_tokens": cache_read,
                "cache_write_tokens": cache_write,
            },
            {"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"},
            {},
        )
    # Anything else goes through validation, which converts or rejects it as before.
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _check_construct() -> None:
    """Fail at import if :func:`_construct` no longer builds what ``model_construct`` does
    (a pydantic upgrade changing its internals)."""
    for built, expected in (
        (
            _construct(TextContent, {"type": "text", "text": "t"}, {"text"}, {"ss_x": 1}),
            TextContent.model_construct(text="t", ss_x=1),
        ),
        (_opi_usage(None), Usage()),
        (
            _opi_usage({"input_tokens": 1, "output_tokens": 2}),
            Usage(input_tokens=1, output_tokens=2, cache_read_tokens=0, cache_write_tokens=0),
        ),
    ):
        if (
            type(built) is not type(expected)
            or built.__dict__ != expected.__dict__
            or list(built.__dict__) != list(expected.__dict__)
            or built.__pydantic_fields_set__ != expected.__pydantic_fields_set__
            or built.__pydantic_extra__ != expected.__pydantic_extra__
            or built.__pydantic_private__ != expected.__pydantic_private__
        ):
            raise RuntimeError("sessionspec: fast message construction disagrees with pydantic")


def _has_hooks(cls: type[WireModel]) -> bool:
    return bool(cls.__pydantic_post_init__) or bool(cls.__pydantic_root_model__)


def _copy_event(event: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(event)
    usage = copied.get("usage")
    # ``None`` first: most events have no usage, and an ABC check is slow.
    if usage is not None and isinstance(usage, Mapping):
        copied["usage"] = dict(usage)
    return copied


def _wall_clock_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


for _model in (TextContent, UserMessage, AssistantMessage, Usage):
    if _has_hooks(_model):
        raise RuntimeError(f"sessionspec: {_model.__name__} needs model_construct's hooks")
_check_construct()
