"""The session coordinator: turns, compaction, resume, branches and forks (spec/SPEC.md §4.1).

Rules of this module
--------------------
1. **Persist before mutate** (COORD-002, GEN-006). Every operation is three steps: decide
   (the lifecycle table, then a pure plan of the entries to append and of the new memory),
   persist (one :meth:`JsonlLog.append`), apply (replace memory, commit the lifecycle event).
   Nothing in memory changes before the append returned. A failed append that the log undid
   (:class:`AppendFailedError`) leaves the coordinator exactly as it was; one the log could
   not undo (:class:`LogFailedError`) moves it to ``failed`` (COORD-012).
2. **One batch per operation** (COORD-010). A turn is ``[*messages, leaf]``; the leaf is the
   commit record of the turn and carries the accounting after it (``ss_accounting``,
   COORD-016). A compaction is ``[compaction, leaf]``; a leaf move ``[leaf]``; an extension
   state ``[extension_state]``. The log makes each batch atomic on recovery (LOG-003).
3. **The log is the state** (COORD-020). Everything this object holds can be recomputed from
   its file: :meth:`SessionCoordinator.open_existing` does exactly that, and the reference
   model (:mod:`sessionspec.reference.coordinator`) says what the result must be. That
   includes the settings that decide (model and compaction configuration, ``ss_settings``
   on the header and on settings leaves, COORD-027, COORD-028), the per-model usage cost is
   priced from (``by_model`` in the accounting record, COORD-062), and the redacted form of
   every message, which memory keeps exactly as it was persisted (COORD-017).
4. **Memory follows the active branch** (COORD-024). After replay the coordinator keeps only
   the compaction buffer of the active branch (the last summary, the kept tail and what
   followed), validated with pydantic; the rest of the file is dropped.

Theory of operation
-------------------
The in-memory state is small: the buffer (a list of :class:`BufferItem`, each message in its
normalized wire form, redacted exactly as it was persisted, COORD-017), the active tip, the
accounting :class:`Figures`, the next id number, the log head, and the lifecycle. A turn
builds its batch from them, appends it with ``expected_head`` set to the head this object
last saw, and only then extends the buffer and swaps the figures.

A leaf move to another branch needs entries that are not in memory (other branches, or
messages an earlier compaction summarized), so it reads the file once, replays it with the new
leaf added, and swaps the result in after the leaf is durable (COORD-040). A fork reads the
file too and writes the new session under a temporary name, fsyncs it, renames it into place
and fsyncs the directory, so that a crash leaves either no fork or a complete one (COORD-050).
"""

from __future__ import annotations

import functools
import os
import posixpath
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import orjson
from pydantic import TypeAdapter, ValidationError

from sessionspec.collector import collector_paused
from sessionspec.compaction import (
    BufferItem,
    CompactionConfig,
    CompactionPlan,
    CompactionReason,
    CompactionTrigger,
    Summarizer,
    compaction_due_now,
    plan_compaction,
    should_compact,
    unanswered_tool_calls,
)
from sessionspec.errors import (
    CallerError,
    LogFailedError,
    SessionExistsError,
    SessionSpecError,
    StorageError,
    UnpairedToolCallError,
)
from sessionspec.lifecycle import Lifecycle
from sessionspec.pricing import (
    CostBreakdown,
    PricingTable,
    UsageRow,
    attributed_usage,
    cost_of_rows,
)
from sessionspec.redaction import RedactionPolicy, redact_owned
from sessionspec.reference.coordinator import (
    ACCOUNTING_FIELD,
    COUNTER_NAMES,
    NO_TIP,
    SUMMARY_SLOT_SUFFIX,
    Figures,
    compaction_entry,
    leaf_entry,
    message_entry,
    model_usage_of,
    seq_of,
    settings_of,
    summary_slot_id,
)
from sessionspec.settings import SETTINGS_FIELD, SessionSettings
from sessionspec.storage.files import FileSystem, OsFileSystem
from sessionspec.storage.jsonl import (
    JsonlLog,
    ensure_directory,
    session_path,
    validate_session_id,
)
from sessionspec.storage.log import Durability, RecoveryReport
from sessionspec.storage.sqlbase import DatabaseLog
from sessionspec.storage.urls import create_store_log, is_store_url, open_log_at, read_at
from sessionspec.tables.coordinator import (
    COORDINATOR_TABLE,
    CoordinatorEvent,
    CoordinatorState,
)
from sessionspec.usage import CumulativeUsage
from sessionspec.wire.log import SessionHeader
from sessionspec.wire.messages import Message, Usage, WireModel

__all__ = [
    "CompactionResult",
    "Diagnostic",
    "ForkFailedError",
    "ForkResult",
    "ResumeReport",
    "SessionCoordinator",
    "UnknownEntryError",
    "WrittenEntries",
]

_MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)
_CONTENT_KINDS = frozenset({"message", "compaction"})
_STATE_BY_NAME = {state.value: state for state in CoordinatorState}
#: The table's TURN_END rules, by the name of the source state (the turn's hot path).
_TURN_END_TARGETS = {
    state.value: target
    for (state, event), target in COORDINATOR_TABLE.transitions.items()
    if event is CoordinatorEvent.TURN_END
}
_E = CoordinatorEvent


class UnknownEntryError(CallerError):
    """``append_leaf`` named an id that is not a message or compaction entry of the session
    (COORD-040). Nothing was written."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id
        super().__init__(f"no message or compaction entry {entry_id!r} in this session")


class ForkFailedError(StorageError):
    """Writing a fork failed; no fork file was made visible and the source is unchanged
    (COORD-050)."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of a resume, for a person or a log line."""

    #: A stable code, e.g. ``dangling_leaf`` or ``figures_reconstructed``.
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ResumeReport:
    """What opening a session found and did (COORD-025). A new session's report is clean."""

    #: What the log read found (torn or uncommitted tail, corrupt lines, ...; LOG-007).
    log: RecoveryReport | None = None
    #: Leaves whose target is missing; the last valid leaf was used instead (COORD-021).
    dangling_leaves: tuple[str, ...] = ()
    #: The parent walk met an id twice and stopped.
    cycle: bool = False
    #: The file has no leaf: content was taken in file order (opi's legacy rule).
    legacy_order: bool = False
    #: Figures rebuilt from messages instead of read from an accounting record (COORD-023).
    reconstructed: tuple[tuple[str, int], ...] = ()
    #: Compactions whose first kept entry was not in the buffer: nothing dropped (COORD-022).
    missing_first_kept: tuple[str, ...] = ()
    #: Entries on the active branch that failed validation and were skipped (COORD-024).
    invalid_entries: tuple[str, ...] = ()
    #: The parent the branch walk could not find (a damaged or missing entry, COORD-045).
    broken_parent: str | None = None
    #: ``(id, line)`` of the entries the context lost behind that break (COORD-045).
    lost_entries: tuple[tuple[str, int], ...] = ()

    @property
    def clean(self) -> bool:
        return not self.diagnostics()

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        found: list[Diagnostic] = []
        if self.log is not None:
            for damage in self.log.damage:
                found.append(Diagnostic(f"log_{damage.kind.value}", damage.describe()))
        for leaf in self.dangling_leaves:
            found.append(
                Diagnostic(
                    "dangling_leaf",
                    f"leaf {leaf!r} points at a missing entry; the last valid leaf was used",
                )
            )
        if self.cycle:
            found.append(Diagnostic("parent_cycle", "the parent walk met an entry twice"))
        if self.legacy_order:
            found.append(
                Diagnostic("legacy_order", "no leaf in the file: content taken in file order")
            )
        if self.reconstructed:
            figures = ", ".join(f"{name}={value}" for name, value in self.reconstructed)
            found.append(
                Diagnostic(
                    "figures_reconstructed",
                    f"no accounting record covers these figures; rebuilt from messages: {figures}",
                )
            )
        for compaction in self.missing_first_kept:
            found.append(
                Diagnostic(
                    "first_kept_missing",
                    f"compaction {compaction!r} names a first kept entry that is not in the "
                    "buffer; nothing was dropped",
                )
            )
        for entry in self.invalid_entries:
            found.append(
                Diagnostic("invalid_entry", f"entry {entry!r} failed validation and was skipped")
            )
        if self.broken_parent is not None:
            lost = ", ".join(f"{entry} (line {line})" for entry, line in self.lost_entries)
            found.append(
                Diagnostic(
                    "context_lost",
                    f"the active branch breaks at the missing entry {self.broken_parent!r}; "
                    + (f"the context lost {lost}" if lost else "no earlier entry was found"),
                )
            )
        return tuple(found)


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What :meth:`SessionCoordinator.execute_compaction` did (opi ``CompactionResultOutput``)."""

    reason: CompactionReason
    summary: str
    #: ``"core"`` or ``"summarizer"``.
    summary_source: str
    first_kept_entry_id: str
    tokens_before: int
    tokens_after: int
    #: The id of the compaction entry written.
    entry_id: str


@dataclass(frozen=True, slots=True)
class ForkResult:
    """Where :meth:`SessionCoordinator.fork` wrote the new session."""

    session_id: str
    path: str
    parent_session: str
    #: How many entries the fork file holds (copied content, extension state, its leaf).
    entries: int


@dataclass(frozen=True, slots=True)
class WrittenEntries:
    """What the last acknowledged write appended (COORD-071): the ids of its entries in file
    order (for a turn: its messages, then the leaf that commits it) and the active tip after
    it. An embedder keeps these to move the leaf back later or to cite an entry."""

    entry_ids: tuple[str, ...]
    tip: str | None


@dataclass(frozen=True, slots=True)
class _Memory:
    """The coordinator's state apart from the log and the lifecycle (swapped as a whole).

    The buffer is the first ``length`` items of ``store``, a list that successive memories
    share and that is only ever appended to: a turn adds its items to the end instead of
    copying the buffer, so it costs O(its own messages), not O(session length). No item of
    ``store[:length]`` ever changes, so an older memory (or one a failed append left behind)
    keeps seeing exactly its own buffer. A memory whose store has grown past its own length
    (the items of a plan whose append failed) branches off a copy before adding to it.
    """

    store: list[BufferItem]
    length: int
    tip: str | None
    figures: Figures
    next_seq: int

    @classmethod
    def of(
        cls, items: Iterable[BufferItem], tip: str | None, figures: Figures, next_seq: int
    ) -> _Memory:
        store = list(items)
        return cls(store, len(store), tip, figures, next_seq)

    @property
    def items(self) -> tuple[BufferItem, ...]:
        """The compaction buffer, as a tuple (a copy: O(buffer length))."""
        return tuple(self.store[: self.length])

    def extended(
        self, added: Sequence[BufferItem], tip: str | None, figures: Figures, next_seq: int
    ) -> _Memory:
        """The memory after ``added`` joins the buffer. This memory still sees its own
        buffer: the shared store is appended to, never changed below ``length``."""
        store = self.store
        if len(store) != self.length:
            store = store[: self.length]  # items of an abandoned plan follow ours: branch off
        store.extend(added)
        return _Memory(store, len(store), tip, figures, next_seq)

    def moved(self, tip: str | None, figures: Figures, next_seq: int) -> _Memory:
        """The same buffer with another tip, figures or next id."""
        return _Memory(self.store, self.length, tip, figures, next_seq)


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


def _normalize_message(message: WireModel | Mapping[str, Any]) -> dict[str, Any]:
    """A message in its normalized wire form; a caller error if it is not one (COORD-015).

    A plain dict made only of exact JSON types is normalized by :func:`_plain_message`
    without pydantic; anything else (other types, unknown block kinds, values pydantic
    would coerce, invalid messages) is judged by pydantic, which gives the error."""
    if isinstance(message, WireModel):
        try:
            message = message.to_json_dict()
        except ValueError as exc:  # a value pydantic cannot serialize, or nested too deep
            raise CallerError(f"not a valid message: {exc}") from None
    normalized = _plain_message(message)
    if normalized is None:
        # COORD-015: strict, so "5", 1.0 or True is never taken for a number, "no" for a
        # bool, or a number for a string.
        try:
            normalized = _MESSAGE_ADAPTER.validate_python(message, strict=True).to_json_dict()
        except ValidationError as exc:
            raise CallerError(f"not a valid message: {exc.errors()[0]['msg']}") from None
        except (ValueError, TypeError, RecursionError) as exc:  # not JSON, nested too deep
            raise CallerError(f"not a valid message: {exc}") from None
    return normalized


def _fresh_json(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deep copy of JSON objects by orjson's round trip, about four times faster than
    ``copy.deepcopy``. Exact for the buffer: every message in it was written to the log by
    orjson first (an integer beyond 64 bits is refused there, LOG-019)."""
    copied: list[dict[str, Any]] = orjson.loads(orjson.dumps(value))
    return copied


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
# ``_plain_message(m)`` returns exactly ``_MESSAGE_ADAPTER.validate_python(m).to_json_dict()``
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
_TOOL_CALL: _Fields = (
    ("type", _literal("tool_call"), _REQUIRED),
    (
        "tool_call",
        _nested(
            (
                ("id", _exact_str, _REQUIRED),
                ("name", _exact_str, _REQUIRED),
                ("arguments", _exact_str, _REQUIRED),
            )
        ),
        _REQUIRED,
    ),
)
_IMAGE_SOURCE = _tagged_list(
    {
        "url": (("type", _literal("url"), _REQUIRED), ("url", _exact_str, _REQUIRED)),
        "base64": (("type", _literal("base64"), _REQUIRED), ("data", _exact_str, _REQUIRED)),
    }
)


def _image_source(value: Any) -> Any:
    out = _IMAGE_SOURCE([value])
    return _INVALID if out is _INVALID else out[0]


_IMAGE: _Fields = (
    ("type", _literal("image"), _REQUIRED),
    ("source", _image_source, _REQUIRED),
    ("media_type", _literal("image/png", "image/jpeg", "image/gif", "image/webp"), _REQUIRED),
)
_INPUT_CONTENT = _tagged_list({"text": _TEXT, "image": _IMAGE})
_ASSISTANT_CONTENT = _tagged_list(
    {"text": _TEXT, "thinking": _THINKING, "tool_call": _TOOL_CALL}
)
_USAGE_FIELDS = _nested(tuple((name, _u32, 0) for name in COUNTER_NAMES))

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


def _plain_message(message: Any) -> dict[str, Any] | None:
    """``message`` normalized without pydantic, or ``None`` if pydantic must judge it."""
    if type(message) is not dict:
        return None
    role = message.get("role")
    if type(role) is not str or role not in _MESSAGE_FIELDS:
        return None
    return _plain_object(message, _MESSAGE_FIELDS[role], _MESSAGE_NAMES[role])


_COUNTER_SET = frozenset(COUNTER_NAMES)


def _normalize_usage(usage: Usage | Mapping[str, Any] | None) -> dict[str, int]:
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


def _generate_session_id(clock: Callable[[], float]) -> str:
    """opi's session id: lowercase hex of the epoch in milliseconds."""
    return format(int(clock() * 1000), "x")


# --------------------------------------------------------------------------------------
# Replay (COORD-020..COORD-024): the runtime's own, checked against the reference model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Replay:
    memory: _Memory
    report: ResumeReport


@dataclass(frozen=True, slots=True)
class _Branch:
    chain: list[Mapping[str, Any]]
    dangling_leaves: tuple[str, ...]
    cycle: bool
    legacy_order: bool
    highest_seq: int
    #: The parent id at which the walk stopped because no content entry has it (COORD-045).
    broken_parent: str | None = None


def _select_active_branch(entries: Sequence[Mapping[str, Any]]) -> _Branch:
    """The active branch, by the rule of :func:`sessionspec.reference.branch.select_branch`
    (COORD-021), computed in one pass over the raw entries without building an
    :class:`EntryRef` per entry: resume cost is dominated by this loop (DESIGN §5). The
    tests check that both agree (test_resume.py, and the stateful machine, whose model uses
    ``select_branch``)."""
    content: dict[str, Mapping[str, Any]] = {}
    leaves: list[Mapping[str, Any]] = []
    highest = 0
    for entry in entries:
        entry_id = entry.get("id")
        kind = entry.get("type")
        if type(entry_id) is str:
            _, dash, suffix = entry_id.partition("-")
            if dash and suffix.isdigit() and suffix.isascii():
                highest = max(highest, int(suffix))
        if kind == "message" or kind == "compaction":
            content.setdefault(str(entry_id), entry)  # the first with an id counts (COORD-124)
        elif kind == "leaf" and entry.get("entry_id") != NO_TIP:
            leaves.append(entry)
    if not leaves:
        return _Branch(list(content.values()), (), False, True, highest)
    tip: str | None = None
    dangling: list[str] = []
    for leaf in reversed(leaves):
        target = leaf.get("entry_id")
        if isinstance(target, str) and target in content:
            tip = target
            break
        dangling.append(str(leaf.get("id")))
    if tip is None:
        for entry in reversed(entries):
            if entry.get("type") in _CONTENT_KINDS:
                tip = str(entry.get("id"))
                break
    if tip is None:
        return _Branch([], tuple(reversed(dangling)), False, False, highest)
    walk = [content[tip]]
    visited = {tip}
    cycle = False
    parent = content[tip].get("parent_id")
    while isinstance(parent, str) and parent in content:
        if parent in visited:
            cycle = True
            break
        visited.add(parent)
        walk.append(content[parent])
        parent = content[parent].get("parent_id")
    walk.reverse()
    broken = parent if isinstance(parent, str) and not cycle else None
    return _Branch(walk, tuple(reversed(dangling)), cycle, False, highest, broken)


def _replay(
    entries: Sequence[Mapping[str, Any]],
    log_report: RecoveryReport | None,
    lines: Sequence[int] | None = None,
) -> _Replay:
    """Rebuild memory from a log's entries (file order); ``lines`` (their line numbers in
    the file) lets the report name the entries a broken branch lost (COORD-045)."""
    branch = _select_active_branch(entries)
    chain = branch.chain
    highest = branch.highest_seq

    # The buffer, by id only; messages are validated once, at the end, only if they survive.
    ids: list[str] = []
    payloads: list[Mapping[str, Any]] = []
    missing: list[str] = []
    for entry in chain:
        entry_id = str(entry.get("id"))
        if entry.get("type") == "message":
            ids.append(entry_id)
            payloads.append(entry)
            continue
        first_kept = entry.get("first_kept_entry_id")
        try:
            start = ids.index(first_kept) if isinstance(first_kept, str) else -1
        except ValueError:
            start = -1
        if start < 0:
            missing.append(entry_id)  # COORD-022: drop nothing
            start = 0
        ids = [summary_slot_id(entry_id), *ids[start:]]
        payloads = [entry, *payloads[start:]]

    items: list[BufferItem] = []
    invalid: list[str] = []
    for item_id, payload in zip(ids, payloads, strict=True):
        if payload.get("type") == "compaction":
            items.append(BufferItem.of_summary(item_id, str(payload.get("summary", ""))))
            continue
        raw = payload.get("message")
        # The plain normalizer gives pydantic's result for what it accepts, at about twice
        # the speed (tests/coordinator/test_plain_message.py); the rest goes to pydantic.
        message = _plain_message(raw)
        if message is None:
            try:
                message = _MESSAGE_ADAPTER.validate_python(raw).to_json_dict()
            except ValueError:  # invalid, or nested beyond what can be serialized (GEN-009)
                invalid.append(item_id)
                continue
        items.append(BufferItem.of_message(item_id, message))

    figures, reconstructed = _figures(entries, chain)
    tip = str(chain[-1].get("id")) if chain else None
    report = ResumeReport(
        log=log_report,
        dangling_leaves=branch.dangling_leaves,
        cycle=branch.cycle,
        legacy_order=branch.legacy_order and bool(chain),
        reconstructed=tuple((name, getattr(figures, name)) for name in reconstructed),
        missing_first_kept=tuple(missing),
        invalid_entries=tuple(invalid),
        broken_parent=branch.broken_parent,
        lost_entries=(
            _lost_entries(entries, lines, log_report, chain)
            if branch.broken_parent is not None and lines is not None
            else ()
        ),
    )
    return _Replay(_Memory(items, len(items), tip, figures, highest + 1), report)


def _lost_entries(
    entries: Sequence[Mapping[str, Any]],
    lines: Sequence[int],
    log_report: RecoveryReport | None,
    chain: Sequence[Mapping[str, Any]],
) -> tuple[tuple[str, int], ...]:
    """The entries the active branch lost behind a damaged line, as ``(id, line)`` from the
    root (COORD-045). Runs only when the walk from the tip stopped at a parent that no entry
    has. The missing parent is taken to be the damaged line nearest before the branch's
    root; the branch went on from the line just before that one (a message is the next
    one's parent within a batch; a leaf names the tip the next batch continued from), as
    the coordinator writes its batches. From there the parent links are walked as usual."""
    if log_report is None or not chain:
        return ()
    root = chain[0]
    root_line = next(line for entry, line in zip(entries, lines, strict=True) if entry is root)
    damaged = [d.line for d in log_report.damage if d.line < root_line]
    if not damaged:
        return ()
    at = max(damaged)
    before = [index for index, line in enumerate(lines) if line < at]
    if not before:
        return ()
    content: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.get("type") in _CONTENT_KINDS:
            content.setdefault(str(entry.get("id")), index)
    bridge = entries[before[-1]]
    start = bridge.get("entry_id") if bridge.get("type") == "leaf" else bridge.get("id")
    on_chain = {str(entry.get("id")) for entry in chain}
    lost: list[tuple[str, int]] = []
    seen: set[str] = set()
    current = start
    while isinstance(current, str) and current in content and current not in seen:
        if current in on_chain:
            break
        seen.add(current)
        index = content[current]
        lost.append((current, lines[index]))
        current = entries[index].get("parent_id")
    return tuple(reversed(lost))


def _figures(
    entries: Sequence[Mapping[str, Any]], chain: Sequence[Mapping[str, Any]]
) -> tuple[Figures, tuple[str, ...]]:
    """The accounting record of the last leaf that has one, plus foreign messages after it;
    or, for a legacy file, opi's reconstruction from the active chain (COORD-016, -023)."""
    start = 0
    recorded: Figures | None = None
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.get("type") == "leaf" and ACCOUNTING_FIELD in entry:
            recorded = Figures.from_json(entry[ACCOUNTING_FIELD])
            if recorded is not None:
                start = index + 1
                break
    if recorded is None:
        counted: Iterable[Mapping[str, Any]] = chain
        base = Figures()
    else:
        counted = entries[start:]
        base = recorded
    counters = [
        base.input_tokens,
        base.output_tokens,
        base.cache_read_tokens,
        base.cache_write_tokens,
    ]
    turns = base.turns
    foreign: list[Mapping[str, Any]] = []
    for entry in counted:
        if entry.get("type") != "message":
            continue
        message = entry.get("message")
        if not isinstance(message, Mapping):
            continue
        foreign.append(message)
        if message.get("role") == "user":
            turns += 1
        elif message.get("role") == "assistant":
            usage = message.get("usage")
            if isinstance(usage, Mapping):
                for position, name in enumerate(COUNTER_NAMES):
                    value = usage.get(name, 0)
                    if type(value) is int and value >= 0:
                        counters[position] += value
    inp, out, cache_read, cache_write = counters
    by_model = model_usage_of(foreign)  # COORD-062: priced by each message's own model
    if recorded is None:
        rebuilt = Figures(
            inp, out, cache_read, cache_write, turns, sum(counters)
        ).with_model_usage(by_model)
        return rebuilt, (*COUNTER_NAMES, "turns", "watermark")
    if not foreign:
        return recorded, ()
    extended = Figures(
        inp, out, cache_read, cache_write, turns, recorded.watermark, recorded.by_model
    ).with_model_usage(by_model)
    return extended, (*COUNTER_NAMES, "turns")


def _active_extension_state(
    entries: Sequence[Mapping[str, Any]], chain_ids: frozenset[str]
) -> Mapping[str, Any] | None:
    for entry in reversed(entries):
        if entry.get("type") == "extension_state":
            parent = entry.get("parent_id")
            if parent is None or (type(parent) is str and parent in chain_ids):
                found: Mapping[str, Any] = entry
                return found
    return None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _serialized(
    method: Callable[Concatenate[SessionCoordinator, _P], _R],
) -> Callable[Concatenate[SessionCoordinator, _P], _R]:
    """COORD-070: one operation at a time per coordinator, whatever the threads. A second
    thread waits until the first operation is durable and installed, so it plans from the
    memory and head the first left; no acknowledged turn is lost. Reentrant, so
    ``on_turn_end_simple`` holds it across its turn and its compaction."""

    @functools.wraps(method)
    def serialized(self: SessionCoordinator, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._mutex:
            return method(self, *args, **kwargs)

    return serialized


def _message_list(new_messages: object) -> Sequence[Any]:
    """GEN-009: a turn's messages are a list or a tuple (of messages), checked by type."""
    if type(new_messages) is list or type(new_messages) is tuple:
        return new_messages
    if isinstance(new_messages, Sequence) and not isinstance(new_messages, str | bytes):
        return new_messages
    raise CallerError(f"new_messages must be a list of messages, not {new_messages!r:.80}")


# --------------------------------------------------------------------------------------
# The coordinator
# --------------------------------------------------------------------------------------


class SessionCoordinator:
    """One session: a JSONL log on disk and the compaction buffer of its active branch.

    Create one with :meth:`new` or :meth:`open_existing`; see the module docstring for the
    rules. Not thread-safe: one coordinator, one writer (LOG-011).
    """

    def __init__(
        self,
        *,
        log: JsonlLog | DatabaseLog,
        fs: FileSystem,
        header: Mapping[str, Any],
        memory: _Memory,
        report: ResumeReport,
        config: CompactionConfig,
        model: str,
        redaction: RedactionPolicy,
        pricing: PricingTable | None,
        summarizer: Summarizer | None,
        clock: Callable[[], float],
    ) -> None:
        self._log = log
        self._fs = fs
        self._header = dict(header)
        self._memory = memory
        #: The last batch the log acknowledged (COORD-071); kept by reference, never copied.
        self._last_batch: list[dict[str, Any]] = []
        self._report = report
        self._config = config
        self._model = model
        self._redaction = redaction
        self._pricing = pricing
        self._summarizer = summarizer
        self._clock = clock
        self._mutex = threading.RLock()  # COORD-070
        self._head = log.head
        self._lifecycle: Lifecycle[CoordinatorState, CoordinatorEvent] = Lifecycle(
            COORDINATOR_TABLE
        )
        if self._due(memory):
            # The replayed figures are already over the threshold (COORD-030).
            self._commit(_E.THRESHOLD_REACHED)

    # -- construction (COORD-006, COORD-021) -----------------------------------------------

    @classmethod
    def new(
        cls,
        dir: str | os.PathLike[str],
        cwd: str,
        compaction_config: CompactionConfig | None = None,
        model: str = "",
        *,
        session_id: str | None = None,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        redaction: RedactionPolicy | None = None,
        pricing: PricingTable | None = None,
        summarizer: Summarizer | None = None,
        clock: Callable[[], float] = time.time,
        parent_session: str | None = None,
    ) -> SessionCoordinator:
        """Create ``<dir>/<session_id>.jsonl`` holding only the header (COORD-006)."""
        fs = fs or OsFileSystem()
        _check_new_arguments(cwd, model, session_id, parent_session)  # GEN-009
        redaction = _check_redaction(redaction)
        _check_config(compaction_config)  # before anything is created
        store = is_store_url(dir)  # SQL-008: a sqlite:// or postgresql:// store
        directory = "" if store else _directory_text(dir)
        if not store:
            ensure_directory(fs, directory)
        generated = session_id is None
        if session_id is None:
            session_id = _generate_session_id(clock)
            if not store:
                session_id = _free_session_id(fs, directory, session_id)
        validate_session_id(session_id)
        config = _check_config(compaction_config) or CompactionConfig()
        timestamp = iso_timestamp(clock())
        base = session_id
        # COORD-006: a generated id comes from the millisecond clock, so two creators in one
        # millisecond (threads, processes, machines sharing a database) draw the same id; the
        # one that loses the creation takes the next free suffix instead of failing.
        for suffix in range(1000 if generated else 1):
            if suffix:
                session_id = f"{base}-{suffix}"
            header = SessionHeader(
                id=session_id, timestamp=timestamp, cwd=cwd, parent_session=parent_session
            ).to_json_dict()
            # COORD-027: the settings that decide are part of the session's state.
            header[SETTINGS_FIELD] = SessionSettings(model, config).to_json()
            try:
                log = (create_store_log(str(dir), session_id, header, durability) if store
                       else JsonlLog.create(session_path(directory, session_id), header,
                                            fs=fs, durability=durability))
            except SessionExistsError:
                if not generated or suffix == 999:
                    raise
                continue
            break
        return cls(
            log=log,
            fs=fs,
            header=header,
            memory=_Memory([], 0, None, Figures(), 1),
            report=ResumeReport(),
            config=config,
            model=model,
            redaction=_check_redaction(redaction),
            pricing=pricing,
            summarizer=summarizer,
            clock=clock,
        )

    @classmethod
    def open_existing(
        cls,
        path: str | os.PathLike[str],
        compaction_config: CompactionConfig | None = None,
        model: str | None = None,
        *,
        fs: FileSystem | None = None,
        durability: Durability = Durability.SYNC,
        redaction: RedactionPolicy | None = None,
        pricing: PricingTable | None = None,
        summarizer: Summarizer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> SessionCoordinator:
        """Open a session file, cut crash residue, and replay it (COORD-020, COORD-021).

        The coordinator reads and replays the file itself: the caller passes only the path.
        What the read found is in :attr:`recovery`. The model and the compaction
        configuration are the ones persisted in the file (COORD-027); an explicit argument
        that differs overrides them and is recorded as a settings leaf before the
        coordinator is returned (COORD-028).
        """
        fs = fs or OsFileSystem()
        redaction = _check_redaction(redaction)
        _check_config(compaction_config)
        # Reading a long log allocates one dict per line and no reference cycles; the cyclic
        # collector would rescan them again and again (it doubled the time of a 100,000-entry
        # resume). It is paused for the read and the replay, and restored as it was.
        with collector_paused():
            return cls._open(
                path, compaction_config, model, fs, durability, redaction, pricing,
                summarizer, clock,
            )

    @classmethod
    def _open(
        cls,
        path: str | os.PathLike[str],
        compaction_config: CompactionConfig | None,
        model: str | None,
        fs: FileSystem,
        durability: Durability,
        redaction: RedactionPolicy | None,
        pricing: PricingTable | None,
        summarizer: Summarizer | None,
        clock: Callable[[], float],
    ) -> SessionCoordinator:
        log = open_log_at(os.fspath(path), fs=fs, durability=durability)  # SQL-008
        try:
            # COORD-026: JsonlLog.open has fsynced what it read (LOG-020), so the replay
            # below builds only on durable lines (spec/cases/coordinator/
            # resume_after_failed_fsync.json).
            snapshot = log.snapshot
            if snapshot is None:  # pragma: no cover - open always sets it
                raise StorageError(f"{path}: the log returned no snapshot")
            entries = [r.entry for r in snapshot.records]
            lines = [r.line for r in snapshot.records]
            replayed = _replay(entries, snapshot.report, lines)
            header = snapshot.header
            settings, changed = _resolve_settings(
                settings_of(header, entries), _check_config(compaction_config), model
            )
            memory = replayed.memory
            if changed:
                # COORD-028: an explicit setting that differs from the file's is recorded
                # (a leaf at the unchanged tip) before anything is decided with it.
                leaf = leaf_entry(memory.next_seq, memory.tip, memory.figures,
                                  iso_timestamp(clock()))
                leaf[SETTINGS_FIELD] = settings.to_json()
                log.append([leaf], expected_head=log.head)
                memory = memory.moved(memory.tip, memory.figures, memory.next_seq + 1)
        except BaseException:
            log.close()
            raise
        log.snapshot = None  # COORD-024: the file's entries are not kept
        return cls(
            log=log,
            fs=fs,
            header=header,
            memory=memory,
            report=replayed.report,
            config=settings.compaction,
            model=settings.model,
            redaction=_check_redaction(redaction),
            pricing=pricing,
            summarizer=summarizer,
            clock=clock,
        )

    # -- accessors ---------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return str(self._header["id"])

    @property
    def session_path(self) -> str:
        return self._log.path

    @property
    def header(self) -> dict[str, Any]:
        return dict(self._header)

    @property
    def model(self) -> str:
        return self._model

    @property
    def state(self) -> CoordinatorState:
        return self._lifecycle.state

    @property
    def lifecycle(self) -> Lifecycle[CoordinatorState, CoordinatorEvent]:
        """The ``transitions`` machine holding the committed state (GEN-004)."""
        return self._lifecycle

    @property
    def durability(self) -> Durability:
        return self._log.durability

    @property
    def durable(self) -> bool:
        """Whether an acknowledged operation survives a power cut (COORD-013)."""
        return self._log.durability is Durability.SYNC

    @property
    def usage(self) -> CumulativeUsage:
        """A copy of the cumulative usage: opi's four counters and the turn count."""
        figures = self._memory.figures
        return CumulativeUsage(
            input_tokens=figures.input_tokens,
            output_tokens=figures.output_tokens,
            cache_read_tokens=figures.cache_read_tokens,
            cache_write_tokens=figures.cache_write_tokens,
            turns=figures.turns,
        )

    @property
    def figures(self) -> Figures:
        """Usage, turns and the compaction watermark as one value (COORD-016)."""
        return self._memory.figures

    @property
    def last_written(self) -> WrittenEntries:
        """The entries the last acknowledged operation of this object appended and the tip
        after it (COORD-071); empty after an open, since nothing was written yet. A failed
        operation leaves it as it was: it names only what is durable."""
        return WrittenEntries(tuple(str(e["id"]) for e in self._last_batch), self._memory.tip)

    @property
    def compaction_watermark(self) -> int:
        return self._memory.figures.watermark

    @property
    def active_tip(self) -> str | None:
        """The last message or compaction entry of the active branch."""
        return self._memory.tip

    @property
    def next_seq(self) -> int:
        """The number the next entry id will carry (COORD-004)."""
        return self._memory.next_seq

    @property
    def head(self) -> int:
        """The number of entries in the file."""
        return self._head

    @property
    def recovery(self) -> ResumeReport:
        """What opening the session found (COORD-025)."""
        return self._report

    @property
    def compaction_config(self) -> CompactionConfig:
        return self._config

    def compaction_entries(self) -> tuple[BufferItem, ...]:
        """The compaction buffer: ``(summary slot?, *kept, *later)`` (COORD-042)."""
        return self._memory.items

    def context(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """The context an agent sends next (COORD-041).

        What a caller may change: the list is new on every call (add, remove, reorder its
        items freely), and each summary slot is a new object. The message objects in it
        are the coordinator's own, shared with every later call and with
        :meth:`compaction_entries`: read them, serialize them, hand them to a codec
        (``to_anthropic(...)`` builds new objects), but do not change them; a changed
        message would change what later calls return and never reach the log. With
        ``fresh=True`` every object is a new copy the caller owns (an O(context) deep
        copy)."""
        # Sharing instead of deep-copying: copy.deepcopy of 100,000 messages was about half
        # of a resume (1.9-2.3 s of 3.4 s); building this list is about 5 ms (issue 8).
        out: list[dict[str, Any]] = []
        append = out.append
        for item in self._memory.items:
            message = item.message
            if message is None:
                append(
                    {
                        "type": "compaction_summary",
                        "compaction_entry_id": item.id.removesuffix(SUMMARY_SLOT_SUFFIX),
                        "summary": item.summary,
                    }
                )
            else:
                append(message)  # type: ignore[arg-type]  # a dict: _normalize_message's
        if fresh:
            return _fresh_json(out)
        return out

    def cost_summary(self) -> CostBreakdown | None:
        """The cost of the usage so far, in ``Decimal`` USD, under the pricing table, which
        names its version (COORD-060, COORD-062): each assistant message's usage at its own
        ``provider:model``, and usage no message reports at the session's model. ``None``
        when a model that spent tokens has no price (:meth:`unpriced_models` says which)."""
        table = self._pricing or PricingTable.default()
        return cost_of_rows(self.usage_by_model(), table, self._model)

    def unpriced_models(self) -> tuple[str, ...]:
        """The model specs that spent tokens but have no price in the table (COORD-062): the
        diagnostic behind a ``None`` cost."""
        table = self._pricing or PricingTable.default()
        return table.unpriced(self.usage_by_model())

    def usage_by_model(self) -> tuple[UsageRow, ...]:
        """The session's usage per ``provider:model`` as it is priced (COORD-062): each
        assistant message's own usage, and what no message reports at the session's model."""
        figures = self._memory.figures
        totals = (
            figures.input_tokens,
            figures.output_tokens,
            figures.cache_read_tokens,
            figures.cache_write_tokens,
        )
        return attributed_usage(totals, figures.by_model, self._model)

    @property
    def settings(self) -> SessionSettings:
        """The settings in force, as persisted in the file (COORD-027)."""
        return SessionSettings(self._model, self._config)

    # -- turns (COORD-010..COORD-017, COORD-030) ---------------------------------------------

    @_serialized
    def on_turn_end(
        self,
        new_messages: Sequence[WireModel | Mapping[str, Any]],
        usage: Usage | Mapping[str, Any] | None = None,
    ) -> CompactionReason | None:
        """Persist one turn atomically; return ``THRESHOLD`` when a compaction is due.

        The turn's messages and a leaf carrying the turn's usage are appended as one batch
        (one write, one fsync). Memory changes only after the append returned (COORD-002).
        """
        self._turn_end_target()  # the lifecycle's check (raises; changes nothing)
        messages = [_normalize_message(m) for m in _message_list(new_messages)]
        counters = _normalize_usage(usage)
        batch, memory = self._plan_turn(messages, counters)
        self._persist(batch)
        self._memory = memory
        return self._commit_turn(memory)

    def _plan_turn(
        self, messages: Sequence[dict[str, Any]], counters: Mapping[str, int]
    ) -> tuple[list[dict[str, Any]], _Memory]:
        """The turn's batch and the memory after it. O(the turn's messages): the buffer is
        extended, not copied (see :class:`_Memory`); the new items stay invisible until the
        returned memory is installed, which happens only after the append (COORD-002)."""
        memory = self._memory
        timestamp = iso_timestamp(self._clock())
        seq = memory.next_seq
        parent = memory.tip
        batch: list[dict[str, Any]] = []
        added: list[BufferItem] = []
        for_log = self._for_log
        for message in messages:
            entry_id = f"msg-{seq}"
            seq += 1
            # COORD-017: memory keeps exactly what the file gets (redacted in both).
            persisted = for_log(message)
            batch.append(message_entry(entry_id, parent, timestamp, persisted))
            added.append(BufferItem(entry_id, persisted, None))
            parent = entry_id
        figures = memory.figures.after_turn(counters)
        if any(message.get("role") == "assistant" for message in messages):
            figures = figures.with_model_usage(model_usage_of(messages))  # COORD-062
        batch.append(leaf_entry(seq, parent, figures, timestamp))
        return batch, memory.extended(added, parent, figures, seq + 1)

    def _turn_end_target(self) -> CoordinatorState:
        """``self._lifecycle.check(TURN_END)`` on the hot path: the table's answer for the
        committed state, read from a dict keyed by the state's name (``Lifecycle.state``
        builds the enum by value, and the table hashes an enum pair); any state the table
        has no TURN_END rule for goes to the table itself, which raises."""
        name = self._lifecycle.state_name
        target = _TURN_END_TARGETS.get(name)
        if target is None:
            return COORDINATOR_TABLE.step(_STATE_BY_NAME[name], _E.TURN_END)
        return target

    def _commit_turn(self, memory: _Memory) -> CompactionReason | None:
        state = _STATE_BY_NAME[self._lifecycle.state_name]
        after = self._turn_end_target()
        if after is not state:
            self._lifecycle.commit(_E.TURN_END)
        # Not a table rule: whether the threshold is reached is a condition on the figures
        # (or on the context, under the context-size trigger, COORD-037).
        if self._due(memory):
            if after is CoordinatorState.READY:
                self._commit(_E.THRESHOLD_REACHED)
            return CompactionReason.THRESHOLD
        if after is CoordinatorState.COMPACTION_DUE:
            self._commit(_E.THRESHOLD_CLEARED)  # a shorter context (COORD-037)
        return None

    @_serialized
    def on_turn_end_simple(
        self,
        new_messages: Sequence[WireModel | Mapping[str, Any]],
        usage: Usage | Mapping[str, Any] | None = None,
    ) -> CompactionResult | None:
        """:meth:`on_turn_end`, then the compaction it asks for, if any (COORD-035)."""
        reason = self.on_turn_end(new_messages, usage)
        if reason is None:
            return None
        return self.execute_compaction(reason)

    # -- compaction (COORD-031..COORD-036) ---------------------------------------------------

    @_serialized
    def execute_compaction(self, reason: CompactionReason | str) -> CompactionResult | None:
        """Compact the buffer now, whatever the reason (opi does not re-check the threshold).

        Returns ``None`` only when there is nothing to compact (COORD-036); every other
        problem (a summarizer error, an invalid cut from a custom policy, a failed write)
        raises. The compaction entry and its leaf are durable before memory changes.
        """
        self._lifecycle.check(_E.COMPACTION)
        try:
            reason = CompactionReason(reason)
        except ValueError:
            choices = ", ".join(repr(r.value) for r in CompactionReason)
            raise CallerError(
                f"compaction reason must be one of {choices}, not {reason!r}"
            ) from None
        memory = self._memory
        plan = self._plan(reason)
        if plan is None:
            return None
        timestamp = iso_timestamp(self._clock())
        entry_id = f"cmp-{memory.next_seq}"
        entry = compaction_entry(entry_id, memory.tip, timestamp, plan, reason)
        figures = memory.figures.after_compaction()
        leaf = leaf_entry(memory.next_seq + 1, entry_id, figures, timestamp)
        self._persist([entry, leaf])
        kept = memory.store[plan.first_kept_index : memory.length]
        slot = BufferItem.of_summary(summary_slot_id(entry_id), plan.summary)
        self._memory = _Memory.of((slot, *kept), entry_id, figures, memory.next_seq + 2)
        self._commit(_E.COMPACTION)
        self._settle_due()  # a context still over the limit stays due (COORD-037)
        return CompactionResult(
            reason=reason,
            summary=plan.summary,
            summary_source=plan.summary_source,
            first_kept_entry_id=plan.first_kept_entry_id,
            tokens_before=plan.tokens_before,
            tokens_after=plan.tokens_after,
            entry_id=entry_id,
        )

    def _plan(self, reason: CompactionReason) -> CompactionPlan | None:
        return plan_compaction(
            self._memory.items, reason, policy=self._config.policy, summarizer=self._summarizer
        )

    # -- branches and extension state (COORD-040, COORD-043) ---------------------------------

    @_serialized
    def append_leaf(self, entry_id: str) -> None:
        """Make ``entry_id`` the active tip; durable before the tip moves (COORD-040).

        ``entry_id`` must be a message or compaction entry of this session, else
        :class:`UnknownEntryError`; the branch it selects must answer every tool call on it,
        else :class:`UnpairedToolCallError` (COORD-044). Either way nothing is written.
        """
        self._lifecycle.check(_E.LEAF_MOVE)
        batch, memory = self._plan_leaf_move(entry_id)
        self._persist(batch)
        self._memory = memory
        self._commit(_E.LEAF_MOVE)
        self._settle_due()  # the context changed (COORD-037)

    def _plan_leaf_move(self, entry_id: str) -> tuple[list[dict[str, Any]], _Memory]:
        memory = self._memory
        timestamp = iso_timestamp(self._clock())
        leaf = leaf_entry(memory.next_seq, entry_id, memory.figures, timestamp)
        leaf["parent_id"] = entry_id
        if entry_id == memory.tip:
            _refuse_unanswered(entry_id, memory.items)
            return [leaf], memory.moved(memory.tip, memory.figures, memory.next_seq + 1)
        # Not a table rule: the target must exist. Other branches are not in memory, so the
        # file is read once and replayed with the new leaf (what a resume would compute).
        entries = [r.entry for r in read_at(self.session_path, fs=self._fs).records]
        if not any(
            e.get("id") == entry_id and e.get("type") in _CONTENT_KINDS for e in entries
        ):
            raise UnknownEntryError(entry_id)
        replayed = _replay([*entries, leaf], None).memory
        _refuse_unanswered(entry_id, replayed.items)
        return [leaf], replayed.moved(replayed.tip, memory.figures, memory.next_seq + 1)

    @_serialized
    def append_extension_state(self, state: Any) -> str:
        """Append an extension state entry parented to the tip; returns its id (COORD-043)."""
        self._lifecycle.check(_E.EXTENSION_STATE)
        memory = self._memory
        entry_id = f"state-{memory.next_seq}"
        entry = {
            "type": "extension_state",
            "id": entry_id,
            "parent_id": memory.tip,
            "timestamp": iso_timestamp(self._clock()),
            "state": state,
        }
        self._persist([entry])
        self._memory = memory.moved(memory.tip, memory.figures, memory.next_seq + 1)
        self._commit(_E.EXTENSION_STATE)
        return entry_id

    # -- fork (COORD-050, COORD-051) -------------------------------------------------------

    @_serialized
    def fork(
        self, *, dir: str | os.PathLike[str] | None = None, session_id: str | None = None
    ) -> ForkResult:
        """Write the active branch into a new session file with ``parent_session`` lineage.

        The new file holds the active branch's message and compaction entries exactly as
        persisted, the active extension state, and a leaf at the tip with fresh accounting
        (the parent's usage stays with the parent, COORD-051). It is written under a
        temporary name, fsynced, renamed into place and the directory fsynced: a crash
        leaves no fork or a complete one. The source file and this coordinator are unchanged.
        """
        self._lifecycle.check(_E.FORK)
        if session_id is not None:
            validate_session_id(session_id)
        if dir is None and is_store_url(self.session_path):
            raise CallerError("a session in a database store is forked into a directory: pass dir")
        directory = posixpath.dirname(self.session_path) if dir is None else _directory_text(dir)
        timestamp = iso_timestamp(self._clock())
        entries = [r.entry for r in read_at(self.session_path, fs=self._fs).records]
        chain = _select_active_branch(entries).chain
        copied: list[dict[str, Any]] = [dict(e) for e in chain]
        tip = str(copied[-1]["id"]) if copied else None
        extension = _active_extension_state(entries, frozenset(str(e["id"]) for e in chain))
        if extension is not None:
            copied.append(dict(extension))
        seq = 1 + max((seq_of(str(e["id"])) for e in copied), default=0)
        copied.append(leaf_entry(seq, tip, Figures(), timestamp))

        ensure_directory(self._fs, directory)
        if session_id is None:
            session_id = _free_session_id(self._fs, directory, _generate_session_id(self._clock))
        validate_session_id(session_id)
        final = session_path(directory, session_id)
        if self._fs.exists(final):
            raise CallerError(f"{final}: a session with this id already exists")
        temporary = posixpath.join(directory, f".{session_id}.jsonl.tmp")
        header = SessionHeader(
            id=session_id,
            timestamp=timestamp,
            cwd=str(self._header.get("cwd", "")),
            parent_session=self.session_id,
        ).to_json_dict()
        header[SETTINGS_FIELD] = self.settings.to_json()  # the fork decides alike (COORD-027)
        _write_fork(self._fs, temporary, final, header, copied)
        self._commit(_E.FORK)
        return ForkResult(session_id, final, self.session_id, len(copied))

    # -- closing -------------------------------------------------------------------------------

    @_serialized
    def close(self) -> None:
        """Release the log and its lock. Further operations raise IllegalTransitionError."""
        if self._lifecycle.state is CoordinatorState.CLOSED:
            return
        self._lifecycle.check(_E.CLOSE)
        self._log.close()
        self._commit(_E.CLOSE)

    def __enter__(self) -> SessionCoordinator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _commit(self, event: CoordinatorEvent) -> None:
        """Commit ``event`` after its write (GEN-006). A self-loop (most turn ends) changes no
        state, so only the table is consulted; the ``transitions`` trigger fires for real
        changes, as the log does for its appends."""
        if COORDINATOR_TABLE.step(self._lifecycle.state, event) is not self._lifecycle.state:
            self._lifecycle.commit(event)

    def _due(self, memory: _Memory) -> bool:
        """Whether the threshold trigger fires for ``memory`` (COORD-030, COORD-037)."""
        config = self._config
        since = memory.figures.since_watermark()
        if config.trigger is CompactionTrigger.CUMULATIVE:  # O(1): the turn's hot path
            return should_compact(config, since, CompactionReason.THRESHOLD)
        return compaction_due_now(config, since, memory.items)

    def _settle_due(self) -> None:
        """Bring the state in line with :meth:`_due` after an operation that changed the
        buffer without a turn: a leaf move, or a compaction that left the context over the
        limit (COORD-030, COORD-037). Under the cumulative trigger a leaf move changes
        nothing and a compaction leaves nothing counted, so this fires only for a zero
        threshold."""
        due = self._due(self._memory)
        state = self._lifecycle.state
        if due and state is CoordinatorState.READY:
            self._commit(_E.THRESHOLD_REACHED)
        elif not due and state is CoordinatorState.COMPACTION_DUE:
            self._commit(_E.THRESHOLD_CLEARED)

    def _for_log(self, message: dict[str, Any]) -> dict[str, Any]:
        """The form of ``message`` the file gets and memory keeps (COORD-017). Redaction
        touches only assistant tool-call arguments and tool-result details (COORD-150); a
        message with neither is written as it is, without the copy."""
        role = message.get("role")
        if role == "assistant":
            if any(block.get("type") == "tool_call" for block in message["content"]):
                return redact_owned(message, self._redaction)
            return message
        if role == "tool_result" and message.get("details") is not None:
            return redact_owned(message, self._redaction)
        return message

    def _persist(self, batch: list[dict[str, Any]]) -> None:
        """Append one batch (COORD-002). A log failure moves the coordinator to ``failed``."""
        try:
            self._head = self._log.append(batch, expected_head=self._head)
        except LogFailedError:
            self._commit(_E.WRITE_FAILURE)
            raise
        self._last_batch = batch


def _directory_text(directory: object) -> str:
    """A directory argument as text, or a :class:`CallerError` (GEN-009)."""
    if isinstance(directory, os.PathLike):
        directory = os.fspath(directory)
    if type(directory) is not str:
        raise CallerError(f"a directory is a string or a path object, not {directory!r}")
    return directory


def _check_new_arguments(
    cwd: object, model: object, session_id: object, parent_session: object
) -> None:
    """GEN-009: the arguments of :meth:`SessionCoordinator.new` that name or fill the header
    are checked before anything is created."""
    if type(cwd) is not str:
        raise CallerError(f"cwd must be a string, not {cwd!r}")
    if type(model) is not str:
        raise CallerError(f"model must be a string, not {model!r}")
    if parent_session is not None and type(parent_session) is not str:
        raise CallerError(f"parent_session must be a string or None, not {parent_session!r}")
    if session_id is not None:
        validate_session_id(session_id)  # type: ignore[arg-type]
    for name, value in (("cwd", cwd), ("model", model), ("parent_session", parent_session)):
        if type(value) is str:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise CallerError(f"{name} is not valid Unicode text: {value!r}") from None


def _check_redaction(redaction: object) -> RedactionPolicy:
    """The policy in force (COORD-155): the caller's, or secrets only by default."""
    if redaction is None:
        return RedactionPolicy()
    if not isinstance(redaction, RedactionPolicy):
        raise CallerError(
            f"redaction must be a RedactionPolicy or None, got {type(redaction).__name__}"
        )
    return redaction


def _check_config(config: object) -> CompactionConfig | None:
    if config is not None and not isinstance(config, CompactionConfig):
        raise CallerError(
            f"compaction_config must be a CompactionConfig or None, got {type(config).__name__}"
        )
    return config


def _resolve_settings(
    persisted: SessionSettings | None, config: CompactionConfig | None, model: object
) -> tuple[SessionSettings, bool]:
    """The settings a reopen uses, and whether they differ from the file's (COORD-028).

    No argument: the file's settings (the defaults for a file that has none). An explicit
    argument wins; it is recorded only when it changes what a reopen without arguments
    would decide."""
    if model is not None and not isinstance(model, str):
        raise CallerError(f"model must be a string or None, got {type(model).__name__}")
    base = persisted or SessionSettings()
    chosen = SessionSettings(
        base.model if model is None else model,
        base.compaction if config is None else config,
    )
    return chosen, chosen.to_json() != base.to_json()


def _refuse_unanswered(entry_id: str, items: Sequence[BufferItem]) -> None:
    """COORD-044: a leaf move must not select a branch whose context holds a tool call that
    no tool result on it answers (every provider rejects such a context)."""
    unanswered = unanswered_tool_calls(items)
    if unanswered:
        raise UnpairedToolCallError(entry_id, unanswered)


def _free_session_id(fs: FileSystem, directory: str, base: str) -> str:
    """``base``, or ``base-1`` .. ``base-999`` if taken (opi's rule for forks)."""
    if not fs.exists(session_path(directory, base)):
        return base
    for suffix in range(1, 1000):
        candidate = f"{base}-{suffix}"
        if not fs.exists(session_path(directory, candidate)):
            return candidate
    raise CallerError(f"no free session id near {base!r} in {directory}")


def _write_fork(
    fs: FileSystem,
    temporary: str,
    final: str,
    header: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
) -> None:
    """Write a complete session under ``temporary``, then rename it to ``final`` (COORD-050)."""
    directory = posixpath.dirname(final)
    renamed = False
    try:
        if fs.exists(temporary):
            fs.remove(temporary)  # residue of an earlier crashed fork
        log = JsonlLog.create(temporary, header, fs=fs, durability=Durability.SYNC)
        try:
            log.append(list(entries), expected_head=0)
        finally:
            log.close()
        fs.rename(temporary, final)
        renamed = True
        fs.fsync_dir(directory)
    except (OSError, SessionSpecError) as exc:
        # Best effort: take back whatever became visible, so a retry starts clean.
        for leftover in (final,) if renamed else (temporary,):
            try:
                if fs.exists(leftover):
                    fs.remove(leftover)
                    fs.fsync_dir(directory)
            except OSError:
                pass
        raise ForkFailedError(f"fork to {final} failed: {exc}") from exc

