"""The compaction engine: when to compact, where to cut, and what the summary says.

Rules (spec/SPEC.md §4.2, COORD-100..COORD-119):

* **Decision** (COORD-101). A manual request always compacts; an overflow compacts iff the
  engine is enabled; the threshold trigger compacts iff the engine is enabled and the usage
  counted since the last compaction watermark reaches ``threshold_tokens`` (100,000 by
  default, COORD-100). This is opi's ``CompactionEngine::should_compact``.
* **Valid cut** (COORD-103). The buffer is the coordinator's compaction input: at most one
  summary slot (the result of an earlier compaction, normally at index 0) followed by
  persisted messages. A cut ``k`` compacts ``items[:k]`` and keeps ``items[k:]``. It is valid
  iff ``1 <= k < n``; the first kept item is not a summary slot (so ``first_kept_entry_id``
  always names a persisted entry, COORD-111); for every tool-call id, the assistant message
  that made the call and every tool result answering it lie on the same side of the cut;
  and the latest user message is kept. opi's own rule (keep the last ``max(1, n // 4)``
  items) can cut between a call and its result; ours never does (COORD-104, §9).
* **Policies** (COORD-104, COORD-105). A policy proposes; :func:`valid_cuts` disposes.
  :class:`CountTailPolicy` is opi's count rule moved to the nearest valid cut (a tie goes to
  the cut that keeps more). :class:`TokenBudgetPolicy` keeps the most recent items worth at
  least ``keep_tokens`` estimated tokens, as pi does. A custom policy that returns an
  invalid cut is a caller bug: :class:`InvalidCutError` (COORD-106).
* **Nothing to compact** (COORD-107) -- fewer than two items, or no valid cut -- is the only
  silent outcome (``None``). A summarizer's exception propagates unchanged (COORD-109).
* **Estimate** (COORD-102): opi's ``len(utf8(extract_text(item))) // 4``.
* **Core summary** (COORD-108): opi's text, ``"Compacted {n} messages: {combined}"`` where
  ``combined`` joins the extracted texts with ``". "``; when ``combined`` exceeds 500 UTF-8
  bytes it is cut to its longest prefix of at most 496 bytes that ends on a character
  boundary, and ``"..."`` is appended.

Theory of operation. The engine is pure: the runtime coordinator turns its buffer into a
tuple of :class:`BufferItem`, calls :func:`plan_compaction`, persists the compaction entry
the plan describes and only then replaces its buffer (persist first, GEN-006). The cut
logic works on :class:`CutCandidate`, a small frozen record (id, role, tool-call ids, token
estimate), so that the contracts on :func:`is_valid_cut`, :func:`valid_cuts`,
:func:`pair_safe_cut` and the two policy functions can be checked by CrossHair
(proofs/registry_coordinator.py). :func:`is_valid_cut` is the definition, written for
clarity (quadratic); :func:`valid_cuts` is the linear version the policies use, and its
contract says it agrees with the definition. A ``pre: len(items) <= 4`` line on these
functions is CrossHair's search bound (small-scope checking), not a limit of the function:
every function accepts buffers of any size, and the Hypothesis properties in
tests/coordinator/test_pure_compaction.py check the same rules on larger buffers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sessionspec.errors import CallerError

__all__ = [
    "CORE_SUMMARY_BODY_LIMIT",
    "CORE_SUMMARY_CUT_BYTES",
    "SUMMARY_ROLE",
    "BufferItem",
    "CompactionConfig",
    "CompactionPlan",
    "CompactionReason",
    "CompactionTrigger",
    "CountTailPolicy",
    "CutCandidate",
    "CutPolicy",
    "InvalidCutError",
    "LlmSummarizer",
    "Summarizer",
    "TokenBudgetPolicy",
    "bounded_body",
    "budget_cut",
    "candidates_of",
    "compaction_decision",
    "compaction_due_now",
    "context_tokens",
    "core_summary",
    "core_summary_body",
    "core_summary_of_texts",
    "count_tail_first_kept",
    "estimate_text_tokens",
    "estimate_tokens",
    "extract_text",
    "implies",
    "is_utf8_encodable",
    "is_valid_cut",
    "nearest_cut",
    "pair_safe_cut",
    "plan_compaction",
    "render_transcript",
    "should_compact",
    "token_budget_first_kept",
    "unanswered_tool_calls",
    "utf8_length",
    "utf8_prefix",
    "valid_cuts",
]

#: Role of a summary slot in a :class:`CutCandidate` (a message role is never this).
SUMMARY_ROLE = "summary"
#: opi: a combined text of at most this many UTF-8 bytes is used whole (COORD-108).
CORE_SUMMARY_BODY_LIMIT = 500
#: opi: a longer text is cut to at most this many bytes, then "..." is appended (COORD-108).
CORE_SUMMARY_CUT_BYTES = 496


class CompactionReason(enum.Enum):
    """Why a compaction runs; the values are opi's serialized names."""

    MANUAL = "manual"
    THRESHOLD = "threshold"
    OVERFLOW = "overflow"


class InvalidCutError(CallerError):
    """A cut policy proposed a cut that :func:`is_valid_cut` rejects (COORD-106)."""

    def __init__(self, policy: object, index: int, n: int) -> None:
        self.policy = policy
        self.index = index
        self.n = n
        super().__init__(
            f"cut policy {policy!r} returned first kept index {index}, which is not a valid "
            f"cut of a buffer of {n} items (it would split a tool call from its results, drop "
            f"the latest user message, keep a summary slot first, or keep nothing)"
        )


# --------------------------------------------------------------------------------------
# Buffer items, text extraction and the token estimate (COORD-102)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BufferItem:
    """One item of the coordinator's compaction buffer.

    A message item carries the persisted entry id and the wire-form message dict (the shape
    of ``UserMessage(...).to_json_dict()``); a summary slot carries an id derived from its
    compaction entry (``"<cmp-id>/summary"``) and the summary text.
    """

    id: str
    message: Mapping[str, Any] | None
    summary: str | None

    @classmethod
    def of_message(cls, id: str, message: Mapping[str, Any]) -> BufferItem:
        return cls(id=id, message=message, summary=None)

    @classmethod
    def of_summary(cls, id: str, text: str) -> BufferItem:
        return cls(id=id, message=None, summary=text)

    @property
    def role(self) -> str:
        """``"user"``, ``"assistant"``, ``"tool_result"`` or :data:`SUMMARY_ROLE`."""
        if self.message is None:
            return SUMMARY_ROLE
        return str(self.message.get("role", ""))


def _image_placeholder(block: Mapping[str, Any]) -> str:
    return f"[image: {block.get('media_type', '')}]"


def extract_text(item: BufferItem) -> str:
    """opi's ``extract_text``: the text a summary or an estimate sees (COORD-102).

    User and tool-result messages: their text blocks and ``"[image: <media_type>]"`` for
    each image, joined by ``" "``. Assistant messages: only their text blocks (thinking and
    tool calls are not counted). A summary slot: its summary text.
    """
    if item.message is None:
        return item.summary or ""
    role = item.message.get("role")
    parts: list[str] = []
    for block in item.message.get("content") or ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "image" and role in ("user", "tool_result"):
            parts.append(_image_placeholder(block))
    return " ".join(parts)


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (a lone surrogate counts 3 bytes, as CESU-8 would).

    post: __return__ >= len(text)
    post: __return__ <= 4 * len(text)
    """
    return len(text.encode("utf-8", "surrogatepass"))


def estimate_text_tokens(text: str) -> int:
    """opi's estimate for one text: its UTF-8 byte count divided by 4, rounded down.

    post: __return__ >= 0
    post: __return__ * 4 <= utf8_length(text) < (__return__ + 1) * 4
    post: __return__ <= estimate_text_tokens(text + "x")
    """
    return utf8_length(text) // 4


def estimate_tokens(item: BufferItem) -> int:
    """opi's token estimate of one buffer item (COORD-102)."""
    return estimate_text_tokens(extract_text(item))


# --------------------------------------------------------------------------------------
# The decision (COORD-100, COORD-101)
# --------------------------------------------------------------------------------------


def compaction_decision(
    enabled: bool, threshold: int, tokens: int, reason: CompactionReason
) -> bool:
    """opi's ``should_compact`` over plain values (COORD-101).

    ``tokens`` is the usage counted since the last compaction watermark.

    post: implies(reason == CompactionReason.MANUAL, __return__)
    post: implies(reason == CompactionReason.OVERFLOW, __return__ == enabled)
    post: reason != CompactionReason.THRESHOLD or __return__ == (enabled and tokens >= threshold)
    post: implies(not enabled, __return__ == (reason == CompactionReason.MANUAL))
    """
    if reason is CompactionReason.MANUAL:
        return True
    if reason is CompactionReason.OVERFLOW:
        return enabled
    return enabled and tokens >= threshold


def implies(condition: bool, consequence: bool) -> bool:
    """Logical implication, for contracts."""
    return consequence or not condition


# --------------------------------------------------------------------------------------
# Cut candidates and the definition of a valid cut (COORD-103)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CutCandidate:
    """What the cut logic needs to know about one buffer item."""

    id: str
    #: "user" | "assistant" | "tool_result" | "summary"
    role: str
    #: Ids of the tool calls an assistant message makes (empty for other roles).
    tool_call_ids: tuple[str, ...] = ()
    #: The tool-call id a tool result answers (None for other roles).
    tool_result_for: str | None = None
    tokens: int = 0


def _tool_call_ids(message: Mapping[str, Any]) -> tuple[str, ...]:
    ids: list[str] = []
    for block in message.get("content") or ():
        if isinstance(block, Mapping) and block.get("type") == "tool_call":
            call = block.get("tool_call")
            if isinstance(call, Mapping) and "id" in call:
                ids.append(str(call["id"]))
    return tuple(ids)


def unanswered_tool_calls(items: Sequence[BufferItem]) -> tuple[tuple[str, str], ...]:
    """``(message id, tool-call id)`` of every tool call in ``items`` that no later tool
    result answers (COORD-044): a context every provider rejects."""
    pending: dict[str, str] = {}
    for item in items:
        message = item.message
        if message is None:
            continue
        role = message.get("role")
        if role == "assistant":
            for call_id in _tool_call_ids(message):
                pending[call_id] = item.id
        elif role == "tool_result":
            pending.pop(str(message.get("tool_call_id")), None)
    return tuple((entry_id, call_id) for call_id, entry_id in pending.items())


def candidates_of(items: Sequence[BufferItem]) -> tuple[CutCandidate, ...]:
    """The cut candidates of a buffer, in order, with their token estimates."""
    out: list[CutCandidate] = []
    for item in items:
        message = item.message
        role = item.role
        calls: tuple[str, ...] = ()
        result_for: str | None = None
        if message is not None:
            if role == "assistant":
                calls = _tool_call_ids(message)
            elif role == "tool_result" and message.get("tool_call_id") is not None:
                result_for = str(message["tool_call_id"])
        out.append(
            CutCandidate(
                id=item.id,
                role=role,
                tool_call_ids=calls,
                tool_result_for=result_for,
                tokens=estimate_tokens(item),
            )
        )
    return tuple(out)


def _call_ids_of(candidate: CutCandidate) -> tuple[str, ...]:
    if candidate.tool_result_for is not None:
        return (*candidate.tool_call_ids, candidate.tool_result_for)
    return candidate.tool_call_ids


def is_valid_cut(items: tuple[CutCandidate, ...], k: int) -> bool:
    """The definition of a valid cut (COORD-103); quadratic, written to be obviously right.

    ``k`` is the index of the first kept item: ``items[:k]`` is compacted.
    """
    n = len(items)
    if not 1 <= k < n:
        return False
    if items[k].role == SUMMARY_ROLE:
        return False
    compacted_ids = {i for c in items[:k] for i in _call_ids_of(c)}
    kept_ids = {i for c in items[k:] for i in _call_ids_of(c)}
    if compacted_ids & kept_ids:
        return False
    return _latest_user_kept(items, k)


def _latest_user_kept(items: tuple[CutCandidate, ...], k: int) -> bool:
    users = [i for i, c in enumerate(items) if c.role == "user"]
    return not users or users[-1] >= k


def valid_cuts(items: tuple[CutCandidate, ...]) -> tuple[int, ...]:
    """Every valid cut of ``items``, ascending, in time linear in the buffer (COORD-103).

    pre: len(items) <= 4
    post: __return__ == tuple(k for k in range(len(items) + 1) if is_valid_cut(items, k))
    """
    n = len(items)
    if n < 2:
        return ()
    upper = n - 1
    for index in range(n - 1, -1, -1):
        if items[index].role == "user":
            upper = min(upper, index)
            break
    # For every tool-call id, the first and last position it appears at; a cut inside
    # (first, last] would separate two items that carry it.
    first_seen: dict[str, int] = {}
    last_seen: dict[str, int] = {}
    for index, candidate in enumerate(items):
        for call_id in _call_ids_of(candidate):
            first_seen.setdefault(call_id, index)
            last_seen[call_id] = index
    blocked = [0] * (n + 2)
    for call_id, lo in first_seen.items():
        hi = last_seen[call_id]
        if hi > lo:
            blocked[lo + 1] += 1
            blocked[hi + 1] -= 1
    cuts: list[int] = []
    depth = blocked[0]
    for k in range(1, upper + 1):
        depth += blocked[k]
        if depth == 0 and items[k].role != SUMMARY_ROLE:
            cuts.append(k)
    return tuple(cuts)


def nearest_cut(cuts: tuple[int, ...], proposed: int) -> int | None:
    """The member of ``cuts`` nearest to ``proposed``; a tie goes to the smaller one.

    post: (__return__ is None) == (len(cuts) == 0)
    post: __return__ is None or __return__ in cuts
    post: __return__ is None or all(abs(c - proposed) >= abs(__return__ - proposed) for c in cuts)
    post: __return__ is None or all(c >= __return__ for c in cuts if abs(c - proposed) == abs(__return__ - proposed))
    """  # noqa: E501  (contract lines are single expressions)
    best: int | None = None
    for k in cuts:
        distance = abs(k - proposed)
        if best is None or distance < abs(best - proposed) or (
            distance == abs(best - proposed) and k < best
        ):
            best = k
    return best


def pair_safe_cut(items: tuple[CutCandidate, ...], proposed: int) -> int | None:
    """The valid cut nearest to ``proposed``; a tie goes to the smaller index (keeps more).

    ``None`` when the buffer has no valid cut: nothing to compact (COORD-104, COORD-107).

    pre: len(items) <= 4
    post: __return__ is None or is_valid_cut(items, __return__)
    """
    return nearest_cut(valid_cuts(items), proposed)


def count_tail_first_kept(items: tuple[CutCandidate, ...]) -> int | None:
    """opi's count rule (keep the last ``max(1, n // 4)`` items) moved to a valid cut.

    pre: len(items) <= 4
    post: __return__ is None or is_valid_cut(items, __return__)
    """
    n = len(items)
    if n < 2:
        return None
    return pair_safe_cut(items, n - max(1, n // 4))


def budget_cut(cuts: tuple[int, ...], tokens: tuple[int, ...], keep_tokens: int) -> int | None:
    """The largest of ``cuts`` whose tail ``tokens[k:]`` sums to at least ``keep_tokens``.

    pre: all(0 <= c < len(tokens) for c in cuts)
    pre: all(a < b for a, b in zip(cuts, cuts[1:]))
    post: __return__ is None or (__return__ in cuts and sum(tokens[__return__:]) >= keep_tokens)
    post: all(sum(tokens[c:]) < keep_tokens for c in cuts if __return__ is None or c > __return__)
    """
    kept = 0
    position = len(tokens)
    for k in reversed(cuts):
        while position > k:
            position -= 1
            kept += tokens[position]
        if kept >= keep_tokens:
            return k
    return None


def token_budget_first_kept(items: tuple[CutCandidate, ...], keep_tokens: int) -> int | None:
    """Keep the most recent items worth at least ``keep_tokens``; compact the rest.

    The largest valid cut whose kept tail is worth at least ``keep_tokens`` estimated
    tokens; ``None`` when no valid cut keeps that much (the buffer fits the budget).

    pre: len(items) <= 4
    post: __return__ is None or is_valid_cut(items, __return__)
    """
    return budget_cut(valid_cuts(items), tuple(c.tokens for c in items), keep_tokens)


class CutPolicy(Protocol):
    """Chooses the first kept item of a buffer; ``None`` means nothing to compact."""

    def first_kept(self, items: Sequence[CutCandidate]) -> int | None: ...


@dataclass(frozen=True, slots=True)
class CountTailPolicy:
    """opi's default: keep the last quarter of the items, moved to a valid cut (COORD-104)."""

    def first_kept(self, items: Sequence[CutCandidate]) -> int | None:
        return count_tail_first_kept(tuple(items))


@dataclass(frozen=True, slots=True)
class TokenBudgetPolicy:
    """Keep the most recent ``keep_tokens`` estimated tokens, as pi does (COORD-105)."""

    keep_tokens: int

    def __post_init__(self) -> None:
        if self.keep_tokens < 0:
            raise CallerError(f"keep_tokens must be >= 0, got {self.keep_tokens}")

    def first_kept(self, items: Sequence[CutCandidate]) -> int | None:
        return token_budget_first_kept(tuple(items), self.keep_tokens)


class CompactionTrigger(enum.Enum):
    """What the threshold is compared with (COORD-037)."""

    #: opi's rule: the usage counted since the last compaction watermark (COORD-030).
    CUMULATIVE = "cumulative"
    #: The size of the context the next request sends (:func:`context_tokens`).
    CONTEXT_SIZE = "context_size"


@dataclass(frozen=True, slots=True)
class CompactionConfig:
    """opi's ``CompactionConfig`` plus the cut policy and the trigger (COORD-100, COORD-037)."""

    enabled: bool = True
    threshold_tokens: int = 100_000
    policy: CutPolicy = CountTailPolicy()
    trigger: CompactionTrigger = CompactionTrigger.CUMULATIVE

    def __post_init__(self) -> None:
        # GEN-009 (issue 7): "100", 1.5 or True is not a token count, "yes" not a switch.
        if type(self.threshold_tokens) is not int:
            raise CallerError(
                f"threshold_tokens must be an integer, got {self.threshold_tokens!r}"
            )
        if type(self.enabled) is not bool:
            raise CallerError(f"enabled must be a bool, got {self.enabled!r}")
        if self.threshold_tokens < 0:
            raise CallerError(f"threshold_tokens must be >= 0, got {self.threshold_tokens}")
        if not isinstance(self.trigger, CompactionTrigger):
            try:  # the trigger's name is accepted too ("context_size")
                object.__setattr__(self, "trigger", CompactionTrigger(self.trigger))
            except ValueError:
                raise CallerError(
                    f"trigger must be one of {[t.value for t in CompactionTrigger]}, "
                    f"got {self.trigger!r}"
                ) from None
        if not callable(getattr(self.policy, "first_kept", None)):
            raise CallerError(f"policy must be a cut policy (first_kept), got {self.policy!r}")


def should_compact(
    config: CompactionConfig, tokens_since_watermark: int, reason: CompactionReason
) -> bool:
    """Whether a compaction for ``reason`` runs now (COORD-101); see :func:`compaction_decision`."""
    return compaction_decision(
        config.enabled, config.threshold_tokens, tokens_since_watermark, reason
    )


def _seq(entry_id: str) -> int:
    """The number after an id's first ``-`` (``msg-7`` -> 7, ``cmp-9/summary`` -> 9), or 0."""
    _, dash, suffix = entry_id.partition("-")
    digits = suffix.split("/", 1)[0]
    if not dash or not digits.isascii() or not digits.isdigit():
        return 0
    return int(digits)


def _usage_tokens(message: Mapping[str, Any]) -> int:
    usage = message.get("usage")
    if not isinstance(usage, Mapping):
        return 0
    total = 0
    for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        value = usage.get(name, 0)
        if type(value) is int and value > 0:
            total += value
    return total


def context_tokens(items: Sequence[BufferItem]) -> int:
    """The size of the context the next request sends, in tokens (COORD-037).

    The last assistant message answered after the last compaction (its id number above the
    compaction's; with no compaction in the buffer, any) that reports usage measured its own
    request: its input, cache read and
    cache write tokens are the context it was sent, and its output tokens are part of the
    next one. The items after it are estimated (COORD-102). Without such a message (a new
    session, just after a compaction, a file without usage) every item is estimated.
    Assistant messages kept from before the last compaction are ignored: their usage
    measured a context that no longer exists.
    """
    boundary = -1  # no compaction in the buffer: every assistant message measured its context
    for item in items:
        if item.message is None:
            boundary = max(boundary, _seq(item.id))
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        message = item.message
        if message is None or message.get("role") != "assistant" or _seq(item.id) <= boundary:
            continue
        measured = _usage_tokens(message)
        if measured > 0:
            return measured + sum(estimate_tokens(later) for later in items[index + 1 :])
    return sum(estimate_tokens(item) for item in items)


def compaction_due_now(
    config: CompactionConfig, tokens_since_watermark: int, items: Sequence[BufferItem]
) -> bool:
    """Whether the threshold trigger fires (COORD-030, COORD-037): the measure the config's
    trigger names, compared with its threshold, for an enabled engine."""
    if not config.enabled:
        return False
    if config.trigger is CompactionTrigger.CONTEXT_SIZE:
        return context_tokens(items) >= config.threshold_tokens
    return tokens_since_watermark >= config.threshold_tokens


# --------------------------------------------------------------------------------------
# Summaries (COORD-108, COORD-109)
# --------------------------------------------------------------------------------------


def _char_utf8_length(ch: str) -> int:
    code = ord(ch)
    if code < 0x80:
        return 1
    if code < 0x800:
        return 2
    if code < 0x10000:
        return 3
    return 4


def utf8_prefix(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form has at most ``max_bytes`` bytes.

    The cut always falls on a character boundary, so the result is never a broken
    character.

    pre: max_bytes >= 0
    post: text.startswith(__return__)
    post: utf8_length(__return__) <= max_bytes
    post: __return__ == text or utf8_length(text[: len(__return__) + 1]) > max_bytes
    """
    used = 0
    for index, ch in enumerate(text):
        used += _char_utf8_length(ch)
        if used > max_bytes:
            return text[:index]
    return text


def _scrub_surrogates(text: str) -> str:
    """Replace lone surrogates (possible in JSON-decoded text) so the result is UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


def is_utf8_encodable(text: str) -> bool:
    """``text`` has no lone surrogate, so its UTF-8 form exists (for contracts)."""
    return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def bounded_body(combined: str, limit: int, cut: int) -> str:
    """``combined`` if it fits ``limit`` UTF-8 bytes, else its ``cut``-byte prefix + "...".

    pre: is_utf8_encodable(combined)
    pre: 0 <= cut and cut + 3 <= limit
    post: utf8_length(__return__) <= limit
    post: is_utf8_encodable(__return__)
    post: __return__ == combined or combined.startswith(__return__[:-3])
    post: (__return__ == combined) == (utf8_length(combined) <= limit)
    """
    if utf8_length(combined) <= limit:
        return combined
    return utf8_prefix(combined, cut) + "..."


def core_summary_body(combined: str) -> str:
    """opi's 500-byte rule: :func:`bounded_body` with limit 500 and cut 496 (COORD-108)."""
    return bounded_body(combined, CORE_SUMMARY_BODY_LIMIT, CORE_SUMMARY_CUT_BYTES)


def core_summary_of_texts(texts: tuple[str, ...]) -> str:
    """opi's ``generate_core_summary`` over the extracted texts (COORD-108)."""
    combined = _scrub_surrogates(". ".join(texts))
    return f"Compacted {len(texts)} messages: {core_summary_body(combined)}"


def core_summary(items: Sequence[BufferItem]) -> str:
    """The deterministic default summary of the compacted items (COORD-108)."""
    return core_summary_of_texts(tuple(extract_text(item) for item in items))


class Summarizer(Protocol):
    """Writes the summary of the compacted items; ``None`` falls back to the core summary.

    Any exception it raises propagates out of :func:`plan_compaction` unchanged (COORD-109):
    the coordinator then writes nothing and changes nothing.
    """

    def __call__(self, items: Sequence[BufferItem]) -> str | None: ...


#: The default instructions of :class:`LlmSummarizer`.
DEFAULT_SUMMARY_INSTRUCTIONS = (
    "Summarize the conversation below so that an assistant can continue it without the "
    "original messages. Keep the user's goals and constraints, decisions made, files and "
    "identifiers mentioned, tool calls and their outcomes, and open questions. Write plain "
    "prose, no preamble."
)


def render_transcript(items: Sequence[BufferItem]) -> str:
    """A plain-text rendering of the items for a summarization prompt, one block per item."""
    blocks: list[str] = []
    for item in items:
        message = item.message
        if message is None:
            blocks.append(f"[earlier summary]\n{item.summary or ''}")
            continue
        role = item.role
        header = f"[{role}]"
        if role == "tool_result":
            header = f"[tool_result {message.get('tool_name', '')}]"
        lines = [header]
        text = extract_text(item)
        if text:
            lines.append(text)
        for block in message.get("content") or ():
            if isinstance(block, Mapping) and block.get("type") == "tool_call":
                call = block.get("tool_call")
                if isinstance(call, Mapping):
                    name, arguments = call.get("name", ""), call.get("arguments", "")
                    lines.append(f"(calls tool {name} with {arguments})")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


@dataclass(frozen=True, slots=True)
class LlmSummarizer:
    """A :class:`Summarizer` that asks a language model for the summary.

    ``complete`` is any function that sends one prompt to a model and returns its text,
    for instance with the Anthropic SDK::

        client = anthropic.Anthropic()

        def complete(prompt: str) -> str:
            reply = client.messages.create(
                model="claude-sonnet-4-0", max_tokens=1024,
                messages=[{"role": "user", "content": prompt}],
            )
            return "".join(b.text for b in reply.content if b.type == "text")

        config = CompactionConfig()
        plan = plan_compaction(items, CompactionReason.MANUAL, policy=config.policy,
                               summarizer=LlmSummarizer(complete))

    The prompt is ``instructions`` followed by :func:`render_transcript` of the compacted
    items. An empty or blank reply returns ``None`` (the core summary is used instead); an
    exception raised by ``complete`` (network, quota, timeout) propagates, and the
    compaction does not happen (COORD-109).
    """

    complete: Callable[[str], str]
    instructions: str = DEFAULT_SUMMARY_INSTRUCTIONS

    def build_prompt(self, items: Sequence[BufferItem]) -> str:
        return f"{self.instructions}\n\n<conversation>\n{render_transcript(items)}\n</conversation>"

    def __call__(self, items: Sequence[BufferItem]) -> str | None:
        reply = self.complete(self.build_prompt(items)).strip()
        return reply or None


# --------------------------------------------------------------------------------------
# The plan (COORD-107, COORD-110, COORD-111)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactionPlan:
    """What a compaction writes and how the buffer changes.

    The coordinator persists a compaction entry with ``summary``, ``first_kept_entry_id``,
    ``tokens_before`` and ``tokens_after``, then keeps ``items[first_kept_index:]`` behind
    a new summary slot.
    """

    reason: CompactionReason
    summary: str
    #: "core" or "summarizer"
    summary_source: str
    first_kept_index: int
    first_kept_entry_id: str
    tokens_before: int
    tokens_after: int


def plan_compaction(
    items: Sequence[BufferItem],
    reason: CompactionReason,
    *,
    policy: CutPolicy,
    summarizer: Summarizer | None = None,
) -> CompactionPlan | None:
    """Plan a compaction of ``items``; ``None`` means nothing to compact (COORD-107).

    Raises :class:`InvalidCutError` when ``policy`` proposes an invalid cut (COORD-106);
    any exception of ``summarizer`` propagates (COORD-109).
    """
    if len(items) < 2:
        return None
    candidates = candidates_of(items)
    k = policy.first_kept(candidates)
    if k is None:
        return None
    if k not in valid_cuts(candidates):  # linear; agrees with is_valid_cut (its contract)
        raise InvalidCutError(policy, k, len(candidates))
    compacted = items[:k]
    text = summarizer(compacted) if summarizer is not None else None
    source = "summarizer"
    if text is None:
        text = core_summary(compacted)
        source = "core"
    return CompactionPlan(
        reason=reason,
        summary=text,
        summary_source=source,
        first_kept_index=k,
        first_kept_entry_id=candidates[k].id,
        tokens_before=sum(c.tokens for c in candidates),
        tokens_after=sum(c.tokens for c in candidates[k:]),
    )
