"""What a coordinator mismatch is charged to: the rule the observation itself shows broken.

The coordinator driver (:mod:`sessionspec.conformance.coordinator_driver`) finds a mismatch
after a step and charges it to the step's own requirement, or to the observed field that
differs (CONF-060). Some mismatches say more than where they were found: their shape is the
shape of one rule broken, whatever step noticed it. The functions here recognize those
shapes; each is a pure judgement on two values (what the implementation shows, what the
model says), so the driver stays a sequence of checks and this module the reasons.

* :func:`shows_the_effect` -- after an operation whose append failed, memory shows (part of)
  that operation's effect while the file does not hold it: memory was changed before the
  append returned (COORD-002, persist before mutate).
* :func:`renumbered` -- everything as the model says but the numbers of the entry ids (and
  the next id): the id counter is not COORD-004's (one per coordinator, from the file's
  highest id, advanced only by an append that succeeded).
* :func:`only_figures` -- after a reopen, the file and the context are the model's and only
  the figures differ: the resume did not restore the figures the coordinator that kept
  running shows (COORD-020).
* :func:`truncated_usage` -- usage counters equal to the model's modulo 2^32 but not equal:
  a counter of 32 bits (COORD-061).
* :func:`part_of_batch` -- the file holds part of an operation's batch: the batch was not
  atomic (the operation's own rule, COORD-010 for a turn).
* :func:`fork_requirement` -- a fork whose content is the model's but whose leaves count
  usage (COORD-051).
* :func:`another_cut` -- after a compaction that crashed or failed, the file is an outcome
  of the operation but for where it cut (another first kept entry, or a cut where the model
  finds none valid): the cut policy's rule (COORD-104, COORD-105), as when the same
  compaction returns.

And the renaming the driver compares ids modulo where they need not be COORD-004's exactly
(CONF-002; also once COORD-004 itself is masked, CONF-161): :func:`learn_renaming` learns,
entry by entry, which implementation id a file gives each of the model's, and
:func:`in_model_ids` writes a file in the model's ids, so every judgement above applies to it
unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sessionspec.reference.coordinator import ACCOUNTING_FIELD

__all__ = [
    "FIGURE_FIELDS",
    "another_cut",
    "fork_requirement",
    "in_model_ids",
    "learn_renaming",
    "only_figures",
    "part_of_batch",
    "renumbered",
    "shows_the_effect",
    "truncated_usage",
]

Entry = dict[str, Any]
Log = tuple[Entry, ...]

#: The observed fields a resume restores from the accounting record (COORD-016, COORD-020).
FIGURE_FIELDS = frozenset({"usage", "turns", "watermark"})
#: What a difference in the figures can change in consequence: the lifecycle state (the
#: threshold is measured from the watermark) and the cost (priced from the figures).
_FIGURE_CONSEQUENCES = frozenset({"state", "cost"})

#: An entry id of COORD-004 (``msg-N``, ``cmp-N``, ``leaf-N``, ``state-N``), or the summary
#: slot of a compaction (COORD-005).
_ENTRY_ID = re.compile(r"^(msg|cmp|leaf|state)-(\d+)(/summary)?$")
_U32 = 2**32
#: What a compaction entry's cut decides: where it cut, what it counted before the cut and
#: the summary of what it cut (COORD-104, COORD-105).
_CUT_FIELDS = frozenset({"first_kept_entry_id", "tokens_before", "summary", "details"})


def shows_the_effect(
    before: Mapping[str, Any], after: Mapping[str, Any], model_after: Mapping[str, Any]
) -> bool:
    """Whether memory after a failed append shows the operation's effect (COORD-002).

    ``before`` and ``after`` are the implementation's observations around the operation,
    ``model_after`` the model's view had it succeeded (in the implementation's ids). A field
    that moved (the lifecycle state aside, which a failure may change) to the value the
    operation would have given it shows memory taking the operation's new state although its
    append did not land. Memory that moved only elsewhere is another defect (COORD-011,
    COORD-012)."""
    moved = [k for k in before if k != "state" and after.get(k) != before[k]]
    return any(after.get(k) == model_after.get(k) for k in moved)


def renumbered(found: Any, model: Any) -> bool:
    """Whether ``found`` differs from ``model`` only in the numbers of entry ids (COORD-004).

    Both are JSON values (an observation, a log, a returned id). Where the model has an entry
    id, ``found`` has an id of the same kind; the correspondence is one to one across the
    whole value, and nothing else differs except a ``next_seq`` number. A tip moved to
    another entry is not a renumbering: the entry it names keeps its own id elsewhere, so the
    correspondence is not one to one."""
    if found == model:
        return False
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}

    def same(a: Any, b: Any, key: str | None) -> bool:
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            return a.keys() == b.keys() and all(same(a[k], b[k], k) for k in a)
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            return len(a) == len(b) and all(same(x, y, key) for x, y in zip(a, b, strict=True))
        if isinstance(a, str) and isinstance(b, str):
            return _same_id(a, b, mapping, taken)
        if key == "next_seq" and isinstance(a, int) and isinstance(b, int):
            return True
        return bool(a == b)

    return same(found, model, None)


def _same_id(found: str, model: str, mapping: dict[str, str], taken: dict[str, str]) -> bool:
    m, f = _ENTRY_ID.match(model), _ENTRY_ID.match(found)
    if m is None or f is None:
        return found == model
    if m.group(1) != f.group(1) or m.group(3) != f.group(3):
        return False
    model_id, found_id = f"{m.group(1)}-{m.group(2)}", f"{f.group(1)}-{f.group(2)}"
    if mapping.setdefault(model_id, found_id) != found_id:
        return False
    return taken.setdefault(found_id, model_id) == model_id


def only_figures(differing: Iterable[str]) -> bool:
    """Whether the observed fields that differ are the figures (and what they decide)."""
    fields = set(differing)
    return bool(fields & FIGURE_FIELDS) and fields <= FIGURE_FIELDS | _FIGURE_CONSEQUENCES


def truncated_usage(seen: Mapping[str, int], model: Mapping[str, int]) -> bool:
    """Whether usage counters equal the model's modulo 2^32 but not exactly (COORD-061)."""
    return (
        seen != model
        and seen.keys() == model.keys()
        and all(seen[k] == model[k] % _U32 for k in model)
    )


def part_of_batch(durable: Log | None, before: Log, after: Log) -> bool:
    """Whether the file holds the log before plus some, not all, of the operation's batch."""
    return (
        durable is not None
        and len(before) < len(durable) < len(after)
        and durable == after[: len(durable)]
        and after[: len(before)] == before
    )


def fork_requirement(found: Log, entries: Log) -> str:
    """A fork whose content entries are the model's but whose leaves count usage is a fork
    that did not start its own accounting (COORD-051); ids renumbered are COORD-004's; any
    other difference is COORD-050."""

    def content(log: Log) -> list[Entry]:
        return [e for e in log if e.get("type") != "leaf"]

    def counts_usage(entry: Entry) -> bool:
        figures = entry.get(ACCOUNTING_FIELD)
        return isinstance(figures, Mapping) and any(figures.values())

    if renumbered(found, entries):
        return "COORD-004"
    leaves_count = any(e.get("type") == "leaf" and counts_usage(e) for e in found)
    if content(found) == content(entries) and leaves_count:
        return "COORD-051"
    return "COORD-050"


def another_cut(durable: Log | None, before: Log, after: Log) -> bool:
    """Whether the file is the compaction's outcome but for its cut: every entry the
    model's, except compaction entries that differ only in :data:`_CUT_FIELDS`; or, where
    the model finds no valid cut (its log unchanged), the log before followed by a
    compaction entry (COORD-104, COORD-105)."""
    if durable is None or durable == after:
        return False

    def uncut(entry: Entry) -> Entry:
        if entry.get("type") != "compaction":
            return entry
        return {k: v for k, v in entry.items() if k not in _CUT_FIELDS}

    if len(durable) == len(after) and len(after) > len(before):
        return all(uncut(a) == uncut(b) for a, b in zip(durable, after, strict=True))
    return (
        after == before
        and len(durable) > len(before)
        and durable[: len(before)] == before
        and durable[len(before)].get("type") == "compaction"
    )


def learn_renaming(found: Log, model: Log, mapping: dict[str, str]) -> None:
    """Learn into ``mapping`` (model id -> implementation id, one to one) the ids of the
    entries ``found`` holds where ``model`` has the same entry (CONF-002, CONF-161).

    Entries are paired by position, as a file is appended to. A pair teaches its ids only
    when the two entries agree but for the numbers of their entry ids, consistently with what
    ``mapping`` already holds, a compaction's cut aside (where it cut is the cut policy's to
    judge, COORD-104/105, not the renaming's): an entry that differs otherwise teaches
    nothing, so the file keeps the difference for the driver to charge."""
    for found_entry, model_entry in zip(found, model, strict=False):
        if not (isinstance(found_entry, Mapping) and isinstance(model_entry, Mapping)):
            continue
        if found_entry.get("type") != model_entry.get("type"):
            continue
        trial = dict(mapping)
        taken = {v: k for k, v in trial.items()}
        if _agree(_uncut(found_entry), _uncut(model_entry), trial, taken):
            mapping.update(trial)


def in_model_ids(found: Any, mapping: Mapping[str, str]) -> Any:
    """``found`` with every implementation entry id that ``mapping`` knows written as the
    model's (``mapping``: model id -> implementation id); other values as they are."""
    back = {v: k for k, v in mapping.items()}

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            if value in back:
                return back[value]
            m = _ENTRY_ID.match(value)
            base = None if m is None else f"{m.group(1)}-{m.group(2)}"
            if m is not None and m.group(3) and base in back:
                return back[base] + m.group(3)
            return value
        if isinstance(value, Mapping):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(rename(v) for v in value)
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    return rename(found)


def _uncut(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    if entry.get("type") != "compaction":
        return entry
    return {k: v for k, v in entry.items() if k not in _CUT_FIELDS}


def _agree(found: Any, model: Any, mapping: dict[str, str], taken: dict[str, str]) -> bool:
    if isinstance(found, Mapping) and isinstance(model, Mapping):
        return found.keys() == model.keys() and all(
            _agree(found[k], model[k], mapping, taken) for k in model
        )
    if isinstance(found, list | tuple) and isinstance(model, list | tuple):
        return len(found) == len(model) and all(
            _agree(f, m, mapping, taken) for f, m in zip(found, model, strict=True)
        )
    if isinstance(found, str) and isinstance(model, str):
        return _same_id(found, model, mapping, taken)
    return bool(found == model)
