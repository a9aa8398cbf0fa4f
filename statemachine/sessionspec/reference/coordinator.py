"""The coordinator's reference model: the log is the state, everything else is a projection.

Rules (spec/SPEC.md §4.1)
-------------------------
* The state of a session is its log: the entry objects read back from the file, in file
  order. Context, tip, usage, turn count, watermark, next id and the lifecycle state are all
  functions of it (:func:`replay`). That is the resume-equivalence rule (COORD-020) stated as
  code: a coordinator that kept running must agree with :func:`replay` of its own file.
* :func:`context_of` is opi's ``reconstruct_context`` with our rules: the active branch is
  chosen by :func:`sessionspec.reference.branch.select_branch` (COORD-021); a compaction keeps
  the buffer from its ``first_kept_entry_id`` on behind a summary slot whose id is derived from
  the compaction entry (COORD-005); a compaction whose first kept entry is not in the buffer
  drops nothing and is reported (COORD-022).
* :func:`figures_of` reads the accounting record (``ss_accounting``, COORD-016) of the last
  leaf that carries one and adds what foreign writers appended after it; a legacy opi file
  without any record is reconstructed from its messages and says so (COORD-023). The record
  carries each model's own usage (``by_model``, COORD-062), summed the same way.
* :func:`settings_of` is the settings in force: the last leaf's ``ss_settings``, else the
  header's (COORD-027); :func:`compaction_due` applies the configured trigger (COORD-037);
  :func:`leaf_batch` refuses a move that leaves a tool call unanswered (COORD-044).
* The operation functions (:func:`turn_batch`, :func:`compaction_batch`, :func:`leaf_batch`,
  :func:`extension_state_batch`, :func:`fork_entries`) say which entries an operation
  appends to a log. The stateful tests run them in lock step with an implementation.

Theory of operation
-------------------
Everything here is slow and obvious: every function replays the whole log. Entries are the
JSON objects of the file (``Mapping[str, Any]``) and never validated here; the runtime
validates lazily and is checked against this module. The small value types (:class:`Figures`,
:class:`Replayed`) are frozen dataclasses; the integer helpers carry PEP 316 contracts that
CrossHair checks (proofs/registry_coordinator_runtime.py).

Nothing here imports the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sessionspec.compaction import (
    BufferItem,
    CompactionConfig,
    CompactionPlan,
    CompactionReason,
    Summarizer,
    compaction_due_now,
    plan_compaction,
    unanswered_tool_calls,
)
from sessionspec.redaction import RedactionPolicy, redact_for_log
from sessionspec.reference.branch import BranchSelection, EntryRef, select_branch
from sessionspec.settings import SETTINGS_FIELD, SessionSettings

__all__ = [
    "ACCOUNTING_FIELD",
    "COUNTER_NAMES",
    "NO_TIP",
    "SUMMARY_SLOT_SUFFIX",
    "Figures",
    "Replayed",
    "active_extension_state",
    "chain_entries",
    "compaction_batch",
    "compaction_due",
    "context_dicts",
    "context_of",
    "entry_refs",
    "extension_state_batch",
    "figures_of",
    "fork_entries",
    "leaf_batch",
    "merge_model_usage",
    "model_spec_of",
    "model_usage_of",
    "next_seq_of",
    "replay",
    "seq_of",
    "settings_batch",
    "settings_of",
    "summary_slot_id",
    "turn_batch",
]

#: The extra field on every leaf sessionspec writes: the accounting after the operation.
ACCOUNTING_FIELD = "ss_accounting"
#: A leaf's ``entry_id`` when the session has no content yet (a turn without messages).
NO_TIP = ""
#: A summary slot's id is ``<compaction entry id>`` + this suffix (COORD-005).
SUMMARY_SLOT_SUFFIX = "/summary"
#: opi's four usage counters, in opi's order.
COUNTER_NAMES = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")

_CONTENT_KINDS = frozenset({"message", "compaction"})


# --------------------------------------------------------------------------------------
# Ids (COORD-004, COORD-005)
# --------------------------------------------------------------------------------------


def seq_of(entry_id: str) -> int:
    """The numeric suffix of an id after its first ``-`` (opi's rule), or 0 if there is none.

    post: __return__ >= 0
    post: implies(__return__ > 0, "-" in entry_id)
    """
    _, dash, suffix = entry_id.partition("-")
    if not dash or not suffix.isascii() or not suffix.isdigit():
        return 0
    return int(suffix)


def implies(condition: bool, consequence: bool) -> bool:
    return consequence or not condition


def next_seq_of(entry_ids: tuple[str, ...]) -> int:
    """The next id number of a session: one more than the highest in its file (COORD-004).

    pre: len(entry_ids) < 4
    pre: all(len(i) < 12 for i in entry_ids)
    post: __return__ >= 1
    post: all(seq_of(i) < __return__ for i in entry_ids)
    """
    highest = 0
    for entry_id in entry_ids:
        highest = max(highest, seq_of(entry_id))
    return highest + 1


def summary_slot_id(compaction_id: str) -> str:
    """The in-memory id of the summary slot a compaction creates; never persisted (COORD-005).

    post: __return__.startswith(compaction_id)
    post: __return__ != compaction_id
    """
    return compaction_id + SUMMARY_SLOT_SUFFIX


# --------------------------------------------------------------------------------------
# Accounting (COORD-016, COORD-023)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """What live accounting uses: opi's four counters, the turn count and the watermark."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    turns: int = 0
    #: The total token count at the last compaction (COORD-030).
    watermark: int = 0
    #: The usage assistant messages reported, per ``provider:model`` (COORD-062): sorted
    #: ``(model spec, input, output, cache read, cache write)`` rows, one per model.
    by_model: tuple[tuple[str, int, int, int, int], ...] = ()

    def total(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + (
            self.cache_write_tokens
        )

    def since_watermark(self) -> int:
        """Tokens counted since the last compaction; never negative for valid figures.

        pre: self.watermark <= self.total()
        post: __return__ >= 0
        """
        return self.total() - self.watermark

    def after_turn(self, usage: Mapping[str, int]) -> Figures:
        """The figures after one more turn with ``usage`` (opi: counted even without messages).

        pre: all(usage.get(name, 0) >= 0 for name in COUNTER_NAMES)
        post: __return__.turns == self.turns + 1
        post: __return__.total() >= self.total()
        post: __return__.watermark == self.watermark
        """
        return Figures(
            self.input_tokens + int(usage.get("input_tokens", 0)),
            self.output_tokens + int(usage.get("output_tokens", 0)),
            self.cache_read_tokens + int(usage.get("cache_read_tokens", 0)),
            self.cache_write_tokens + int(usage.get("cache_write_tokens", 0)),
            self.turns + 1,
            self.watermark,
            self.by_model,
        )

    def with_model_usage(
        self, added: Sequence[tuple[str, int, int, int, int]]
    ) -> Figures:
        """These figures with ``added`` per-model rows summed into :attr:`by_model`."""
        if not added:
            return self
        return Figures(
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.turns,
            self.watermark,
            merge_model_usage(self.by_model, added),
        )

    def after_compaction(self) -> Figures:
        """The figures after a compaction: the watermark moves to the total (opi).

        post: __return__.since_watermark() == 0
        """
        return Figures(
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.turns,
            self.total(),
            self.by_model,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "turns": self.turns,
            "watermark": self.watermark,
            "by_model": {
                spec: dict(zip(COUNTER_NAMES, counters, strict=True))
                for spec, *counters in self.by_model
            },
        }

    @classmethod
    def from_json(cls, obj: object) -> Figures | None:
        """The figures of an accounting record, or ``None`` if it is not a valid one."""
        if not isinstance(obj, Mapping):
            return None
        values: list[int] = []
        for name in (*COUNTER_NAMES, "turns", "watermark"):
            value = obj.get(name)
            if type(value) is not int or value < 0:
                return None
            values.append(value)
        # ``by_model`` is absent from records written before COORD-062: no split is known,
        # and the session's model prices all of it.
        by_model = _model_rows_from_json(obj.get("by_model", {}))
        if by_model is None:
            return None
        inp, out, cache_read, cache_write, turns, watermark = values
        return cls(inp, out, cache_read, cache_write, turns, watermark, by_model)


def _model_rows_from_json(obj: object) -> tuple[tuple[str, int, int, int, int], ...] | None:
    if not isinstance(obj, Mapping):
        return None
    rows: list[tuple[str, int, int, int, int]] = []
    for spec, counters in obj.items():
        if not isinstance(spec, str) or not isinstance(counters, Mapping):
            return None
        values = [counters.get(name, 0) for name in COUNTER_NAMES]
        if any(type(v) is not int or v < 0 for v in values):
            return None
        rows.append((spec, values[0], values[1], values[2], values[3]))
    return tuple(sorted(rows))


def merge_model_usage(
    rows: Sequence[tuple[str, int, int, int, int]],
    added: Sequence[tuple[str, int, int, int, int]],
) -> tuple[tuple[str, int, int, int, int], ...]:
    """Per-model rows summed by model spec, sorted by it. (On every turn's path: one small
    dict, and a sort only when a new model appears.)"""
    merged = {row[0]: row for row in rows}
    grew = False
    for spec, inp, out, read, write in added:
        old = merged.get(spec)
        if old is None:
            merged[spec] = (spec, inp, out, read, write)
            grew = True
        else:
            merged[spec] = (spec, old[1] + inp, old[2] + out, old[3] + read, old[4] + write)
    if grew or len(merged) != len(rows):
        return tuple(sorted(merged.values()))
    return tuple(merged.values())


def model_spec_of(message: Mapping[str, Any]) -> str:
    """The ``provider:model`` that priced an assistant message (COORD-062)."""
    return f"{message.get('provider', '')}:{message.get('model', '')}"


def model_usage_of(
    messages: Sequence[Mapping[str, Any]],
) -> tuple[tuple[str, int, int, int, int], ...]:
    """The usage the assistant messages of ``messages`` report, per model (COORD-062).
    Counters that are not non-negative integers count 0; rows of zeros are left out."""
    rows: list[tuple[str, int, int, int, int]] = []
    for message in messages:
        if message.get("role") != "assistant":
            continue
        usage = message.get("usage")
        if not isinstance(usage, Mapping):
            continue
        counted = [usage.get(name, 0) for name in COUNTER_NAMES]
        for position, value in enumerate(counted):
            if type(value) is not int or value < 0:
                counted[position] = 0
        if any(counted):
            inp, out, read, write = counted
            rows.append((model_spec_of(message), inp, out, read, write))
    if len(rows) == 1:
        return (rows[0],)
    return merge_model_usage((), rows)


def figures_of(
    entries: Sequence[Mapping[str, Any]], chain: Sequence[Mapping[str, Any]]
) -> tuple[Figures, tuple[str, ...]]:
    """The accounting figures of a log, and the names of the figures that were reconstructed.

    The figures come from the accounting record of the last leaf that has one (COORD-016).
    Messages appended after that leaf by another writer add their usage (assistant) and a
    turn (user); a log without any record (a legacy opi file) is reconstructed from the
    messages of the active branch ``chain`` as opi does, with the watermark at the total
    (COORD-023). The second value names what was reconstructed (empty when nothing was).
    """
    base: Figures | None = None
    after = 0
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.get("type") == "leaf":
            found = Figures.from_json(entry.get(ACCOUNTING_FIELD))
            if found is not None:
                base, after = found, index + 1
                break
    if base is None:
        counted = [e for e in chain if e.get("type") == "message"]
        figures = _add_messages(Figures(), counted)
        figures = Figures(
            figures.input_tokens,
            figures.output_tokens,
            figures.cache_read_tokens,
            figures.cache_write_tokens,
            figures.turns,
            figures.total(),
            figures.by_model,
        )
        return figures, (*COUNTER_NAMES, "turns", "watermark")
    foreign = [e for e in entries[after:] if e.get("type") == "message"]
    if not foreign:
        return base, ()
    return _add_messages(base, foreign), (*COUNTER_NAMES, "turns")


def _add_messages(figures: Figures, entries: Sequence[Mapping[str, Any]]) -> Figures:
    counters = dict(zip(COUNTER_NAMES, (
        figures.input_tokens,
        figures.output_tokens,
        figures.cache_read_tokens,
        figures.cache_write_tokens,
    ), strict=True))
    turns = figures.turns
    for entry in entries:
        message = entry.get("message")
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role == "user":
            turns += 1
        elif role == "assistant":
            usage = message.get("usage")
            if isinstance(usage, Mapping):
                for name in COUNTER_NAMES:
                    value = usage.get(name, 0)
                    if type(value) is int and value >= 0:
                        counters[name] += value
    messages = [e["message"] for e in entries if isinstance(e.get("message"), Mapping)]
    return Figures(
        counters["input_tokens"],
        counters["output_tokens"],
        counters["cache_read_tokens"],
        counters["cache_write_tokens"],
        turns,
        figures.watermark,
        figures.by_model,
    ).with_model_usage(model_usage_of(messages))


def compaction_due(
    figures: Figures, items: Sequence[BufferItem], config: CompactionConfig
) -> bool:
    """Whether the threshold trigger fires (COORD-030, COORD-037): usage since the watermark
    or the size of the context ``items`` make, as the config's trigger says."""
    return compaction_due_now(config, figures.since_watermark(), items)


# --------------------------------------------------------------------------------------
# Branch and context (COORD-021, COORD-022)
# --------------------------------------------------------------------------------------


def entry_refs(entries: Sequence[Mapping[str, Any]]) -> tuple[EntryRef, ...]:
    """What branch selection needs of each entry. A no-tip leaf (:data:`NO_TIP`) points at
    nothing on purpose (a turn before any content) and takes no part in the selection."""
    refs: list[EntryRef] = []
    for entry in entries:
        kind = str(entry.get("type"))
        target = entry.get("entry_id") if kind == "leaf" else None
        if kind == "leaf" and target == NO_TIP:
            continue
        parent = entry.get("parent_id")
        refs.append(
            EntryRef(
                id=str(entry.get("id")),
                parent_id=parent if isinstance(parent, str) else None,
                kind=kind,
                target=target if isinstance(target, str) else None,
            )
        )
    return tuple(refs)


def chain_entries(
    entries: Sequence[Mapping[str, Any]],
) -> tuple[BranchSelection, tuple[Mapping[str, Any], ...]]:
    """The branch selection and the entries of the active chain, root to tip."""
    selection = select_branch(entry_refs(entries))
    by_id: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        if entry.get("type") in _CONTENT_KINDS:
            by_id.setdefault(str(entry.get("id")), entry)
    return selection, tuple(by_id[i] for i in selection.chain if i in by_id)


def _apply(
    items: tuple[BufferItem, ...], entry: Mapping[str, Any], missing: list[str]
) -> tuple[BufferItem, ...]:
    entry_id = str(entry.get("id"))
    if entry.get("type") == "message":
        return (*items, BufferItem.of_message(entry_id, entry["message"]))
    first_kept = entry.get("first_kept_entry_id")
    ids = [item.id for item in items]
    if first_kept in ids:
        kept = items[ids.index(str(first_kept)) :]
    else:
        # COORD-022: the first kept entry is not in the buffer; drop nothing.
        missing.append(entry_id)
        kept = items
    return (BufferItem.of_summary(summary_slot_id(entry_id), str(entry.get("summary"))), *kept)


def context_of(entries: Sequence[Mapping[str, Any]]) -> tuple[BufferItem, ...]:
    """The compaction buffer of a log: ``(summary?, *kept, *later)`` of the active branch."""
    _, chain = chain_entries(entries)
    items: tuple[BufferItem, ...] = ()
    for entry in chain:
        items = _apply(items, entry, [])
    return items


def context_dicts(items: Sequence[BufferItem]) -> list[dict[str, Any]]:
    """The context as JSON objects (COORD-041): each message in its wire form, and a summary
    slot as ``{"type": "compaction_summary", "compaction_entry_id", "summary"}``."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.message is None:
            out.append(
                {
                    "type": "compaction_summary",
                    "compaction_entry_id": item.id.removesuffix(SUMMARY_SLOT_SUFFIX),
                    "summary": item.summary,
                }
            )
        else:
            out.append(dict(item.message))
    return out


def active_extension_state(
    entries: Sequence[Mapping[str, Any]], chain_ids: frozenset[str]
) -> Mapping[str, Any] | None:
    """The last extension state entry whose parent is on the active chain or is the session
    root (``parent_id`` null), in file order (COORD-043)."""
    for entry in reversed(entries):
        if entry.get("type") == "extension_state":
            parent = entry.get("parent_id")
            if parent is None or parent in chain_ids:
                found: Mapping[str, Any] = entry
                return found
    return None


# --------------------------------------------------------------------------------------
# Replay (COORD-020)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replayed:
    """Everything a coordinator derives from its log."""

    items: tuple[BufferItem, ...]
    #: The active tip: the last message or compaction on the active branch.
    tip: str | None
    figures: Figures
    next_seq: int
    selection: BranchSelection
    #: Names of the figures reconstructed from messages (COORD-023); empty when recorded.
    reconstructed: tuple[str, ...]
    #: Compactions whose first kept entry was not in the buffer (COORD-022).
    missing_first_kept: tuple[str, ...]
    due: bool


def replay(entries: Sequence[Mapping[str, Any]], config: CompactionConfig) -> Replayed:
    """Replay a log: what a coordinator resumed from it holds (COORD-020)."""
    selection, chain = chain_entries(entries)
    items: tuple[BufferItem, ...] = ()
    missing: list[str] = []
    for entry in chain:
        items = _apply(items, entry, missing)
    figures, reconstructed = figures_of(entries, chain)
    return Replayed(
        items=items,
        tip=str(chain[-1].get("id")) if chain else None,
        figures=figures,
        next_seq=next_seq_of(tuple(str(e.get("id")) for e in entries)),
        selection=selection,
        reconstructed=reconstructed,
        missing_first_kept=tuple(missing),
        due=compaction_due(figures, items, config),
    )


# --------------------------------------------------------------------------------------
# Operations: the entries each one appends (COORD-010, -031, -040, -043, -050)
# --------------------------------------------------------------------------------------


def leaf_entry(seq: int, tip: str | None, figures: Figures, timestamp: str) -> dict[str, Any]:
    """A leaf at ``tip`` carrying the figures after the operation (COORD-016, COORD-021)."""
    return {
        "type": "leaf",
        "id": f"leaf-{seq}",
        "parent_id": tip,
        "timestamp": timestamp,
        "entry_id": NO_TIP if tip is None else tip,
        ACCOUNTING_FIELD: figures.to_json(),
    }


def turn_batch(
    state: Replayed,
    messages: Sequence[Mapping[str, Any]],
    usage: Mapping[str, int],
    *,
    timestamp: str,
    redaction: RedactionPolicy,
    config: CompactionConfig,
) -> tuple[tuple[dict[str, Any], ...], CompactionReason | None]:
    """The one batch a turn appends: its messages (redacted, COORD-017) chained from the tip,
    then a leaf at the new tip carrying the figures after the turn (COORD-010, COORD-014);
    and the compaction reason the turn returns (COORD-030)."""
    seq = state.next_seq
    parent = state.tip
    batch: list[dict[str, Any]] = []
    items = list(state.items)
    for message in messages:
        entry_id = f"msg-{seq}"
        seq += 1
        persisted = redact_for_log(message, redaction)
        batch.append(message_entry(entry_id, parent, timestamp, persisted))
        items.append(BufferItem.of_message(entry_id, persisted))
        parent = entry_id
    figures = state.figures.after_turn(usage).with_model_usage(model_usage_of(messages))
    batch.append(leaf_entry(seq, parent, figures, timestamp))
    reason = CompactionReason.THRESHOLD if compaction_due(figures, items, config) else None
    return tuple(batch), reason


def compaction_batch(
    state: Replayed,
    reason: CompactionReason,
    *,
    timestamp: str,
    config: CompactionConfig,
    summarizer: Summarizer | None = None,
) -> tuple[tuple[dict[str, Any], ...], CompactionPlan | None]:
    """The batch a compaction appends: the compaction entry and a leaf at it carrying the
    moved watermark (COORD-031); empty when there is nothing to compact (COORD-036)."""
    plan = plan_compaction(state.items, reason, policy=config.policy, summarizer=summarizer)
    if plan is None:
        return (), None
    entry = compaction_entry(f"cmp-{state.next_seq}", state.tip, timestamp, plan, reason)
    figures = state.figures.after_compaction()
    leaf = leaf_entry(state.next_seq + 1, entry["id"], figures, timestamp)
    return (entry, leaf), plan


def message_entry(
    entry_id: str, parent_id: str | None, timestamp: str, message: dict[str, Any]
) -> dict[str, Any]:
    """A message entry in opi's form; ``message`` as it is persisted (COORD-010, WIRE-007)."""
    return {
        "type": "message",
        "id": entry_id,
        "parent_id": parent_id,
        "timestamp": timestamp,
        "message": message,
    }


def compaction_entry(
    entry_id: str,
    parent_id: str | None,
    timestamp: str,
    plan: CompactionPlan,
    reason: CompactionReason,
) -> dict[str, Any]:
    """A compaction entry in opi's form plus our two extra fields (COORD-031, WIRE-005)."""
    return {
        "type": "compaction",
        "id": entry_id,
        "parent_id": parent_id,
        "timestamp": timestamp,
        "summary": plan.summary,
        "first_kept_entry_id": plan.first_kept_entry_id,
        "tokens_before": plan.tokens_before,
        "tokens_after": plan.tokens_after,
        "ss_reason": reason.value,
        "ss_summary_source": plan.summary_source,
    }


def leaf_batch(
    entries: Sequence[Mapping[str, Any]], state: Replayed, target: str, *, timestamp: str
) -> tuple[dict[str, Any], ...] | None:
    """The batch a leaf move appends, or ``None`` when the move is a caller error: ``target``
    is not a message or compaction entry of the log (COORD-040), or the branch it selects
    holds a tool call that no tool result on it answers (COORD-044)."""
    if not any(
        e.get("type") in _CONTENT_KINDS and e.get("id") == target for e in entries
    ):
        return None
    leaf = leaf_entry(state.next_seq, target, state.figures, timestamp)
    leaf["parent_id"] = target
    if unanswered_tool_calls(context_of([*entries, leaf])):
        return None
    return (leaf,)


def settings_of(
    header: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]
) -> SessionSettings | None:
    """The settings in force (COORD-027): the last leaf's valid ``ss_settings`` record in
    file order, else the header's; ``None`` when the file has none (defaults apply)."""
    for entry in reversed(entries):
        if entry.get("type") == "leaf" and SETTINGS_FIELD in entry:
            found = SessionSettings.from_json(entry[SETTINGS_FIELD])
            if found is not None:
                return found
    return SessionSettings.from_json(header.get(SETTINGS_FIELD))


def settings_batch(
    state: Replayed, settings: SessionSettings, *, timestamp: str
) -> tuple[dict[str, Any], ...]:
    """The batch an explicit change of settings on reopen appends (COORD-028): one leaf at
    the unchanged tip, carrying the figures and the new settings."""
    leaf = leaf_entry(state.next_seq, state.tip, state.figures, timestamp)
    leaf[SETTINGS_FIELD] = settings.to_json()
    return (leaf,)


def extension_state_batch(
    state: Replayed, value: Any, *, timestamp: str
) -> tuple[dict[str, Any], ...]:
    """The batch an extension state appends: one entry parented to the tip (COORD-043)."""
    return (
        {
            "type": "extension_state",
            "id": f"state-{state.next_seq}",
            "parent_id": state.tip,
            "timestamp": timestamp,
            "state": value,
        },
    )


def fork_entries(
    entries: Sequence[Mapping[str, Any]], *, timestamp: str
) -> tuple[dict[str, Any], ...]:
    """The entries of a fork of this log (COORD-050): the active chain's entries verbatim,
    the active extension state, and a leaf at the tip with fresh accounting (COORD-051)."""
    selection, chain = chain_entries(entries)
    copied: list[dict[str, Any]] = [dict(e) for e in chain]
    state = active_extension_state(entries, frozenset(selection.chain))
    if state is not None:
        copied.append(dict(state))
    tip = str(chain[-1].get("id")) if chain else None
    seq = next_seq_of(tuple(str(e.get("id")) for e in copied))
    copied.append(leaf_entry(seq, tip, Figures(), timestamp))
    return tuple(copied)
