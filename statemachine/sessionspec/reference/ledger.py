"""The reference model of the token ledger (spec/SPEC.md §7.3, STATE-030..STATE-033).

Rules
-----
* Five counters per row (input, output, cache read, cache write, reasoning); a row is keyed
  by ``(source, model)``; a usage whose counters are all zero adds nothing (STATE-030).
* ``merge`` adds key by key and unites requests by id (STATE-031, STATE-033); ``diff`` is its
  inverse and refuses a decrease (STATE-032).

Theory of operation
-------------------
A ledger is a value: anonymous rows sorted by key, and identified requests sorted by id,
each a tuple. Every function returns a new value or ``None`` for a refusal, so the contracts
can state the laws directly; CrossHair checks them on the counter and row functions
(proofs/registry_ledger.py), and the Hypothesis tests check them on whole ledgers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COUNTERS",
    "Counters",
    "RefLedger",
    "Row",
    "diff_counters",
    "diff_rows",
    "is_zero",
    "merge_counters",
    "merge_rows",
    "ref_diff",
    "ref_merge",
    "ref_record",
    "ref_totals",
]

COUNTERS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)

Counters = tuple[int, int, int, int, int]
#: ``(source, model, counters)``
Row = tuple[str, str, Counters]
ZERO: Counters = (0, 0, 0, 0, 0)


def is_zero(counters: Counters) -> bool:
    return all(c == 0 for c in counters)


def merge_counters(a: Counters, b: Counters) -> Counters:
    """Counter-wise sum.

    pre: all(x >= 0 for x in a) and all(x >= 0 for x in b)
    post: __return__ == merge_counters(b, a)
    post: all(r >= x for r, x in zip(__return__, a))
    post: is_zero(__return__) == (is_zero(a) and is_zero(b))
    """
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


def diff_counters(before: Counters, after: Counters) -> Counters | None:
    """``after - before``, or None when a counter decreased (STATE-032).

    pre: all(x >= 0 for x in before) and all(x >= 0 for x in after)
    post: (__return__ is None) == any(b > a for b, a in zip(before, after))
    post: __return__ is None or merge_counters(before, __return__) == after
    """
    result = (
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2],
        after[3] - before[3],
        after[4] - before[4],
    )
    if any(value < 0 for value in result):
        return None
    return result


def merge_rows(a: tuple[Row, ...], b: tuple[Row, ...]) -> tuple[Row, ...]:
    """Rows of ``a`` and ``b`` added key by key, sorted by key, zero rows dropped.

    pre: all(not is_zero(r[2]) and min(r[2]) >= 0 for r in a + b)
    pre: len({(r[0], r[1]) for r in a}) == len(a) and len({(r[0], r[1]) for r in b}) == len(b)
    post: __return__ == merge_rows(b, a)
    post: len({(r[0], r[1]) for r in __return__}) == len(__return__)
    post: {(r[0], r[1]) for r in __return__} == {(r[0], r[1]) for r in a + b}
    """
    totals: dict[tuple[str, str], Counters] = {}
    for source, model, counters in a + b:
        key = (source, model)
        totals[key] = merge_counters(totals.get(key, ZERO), counters)
    return tuple(
        (source, model, counters)
        for (source, model), counters in sorted(totals.items())
        if not is_zero(counters)
    )


def diff_rows(before: tuple[Row, ...], after: tuple[Row, ...]) -> tuple[Row, ...] | None:
    """The rows ``x`` with ``merge_rows(before, x) == after``, or None on a decrease.

    pre: all(not is_zero(r[2]) and min(r[2]) >= 0 for r in before + after)
    pre: len({(r[0], r[1]) for r in before}) == len(before)
    pre: len({(r[0], r[1]) for r in after}) == len(after)
    post: __return__ is None or merge_rows(before, __return__) == merge_rows(after, ())
    """
    old = {(s, m): c for s, m, c in before}
    new = {(s, m): c for s, m, c in after}
    result: list[Row] = []
    for key in sorted(set(old) | set(new)):
        delta = diff_counters(old.get(key, ZERO), new.get(key, ZERO))
        if delta is None:
            return None
        if not is_zero(delta):
            result.append((key[0], key[1], delta))
    return tuple(result)


@dataclass(frozen=True)
class RefLedger:
    """Anonymous rows (sorted by key) and identified requests (sorted by id)."""

    rows: tuple[Row, ...] = ()
    requests: tuple[tuple[str, Row], ...] = ()


def ref_record(
    ledger: RefLedger, source: str, model: str, counters: Counters, request_id: str | None
) -> RefLedger | str:
    """Add one usage; ``"duplicate"`` or ``"conflict"`` for a request seen before."""
    if is_zero(counters):
        return ledger
    row: Row = (source, model, counters)
    if request_id is None:
        return RefLedger(merge_rows(ledger.rows, (row,)), ledger.requests)
    known = dict(ledger.requests)
    if request_id in known:
        return "duplicate" if known[request_id] == row else "conflict"
    known[request_id] = row
    return RefLedger(ledger.rows, tuple(sorted(known.items())))


def ref_merge(a: RefLedger, b: RefLedger) -> RefLedger | None:
    """STATE-031/033; None when one request id carries two different rows."""
    known = dict(a.requests)
    for request_id, row in b.requests:
        if known.get(request_id, row) != row:
            return None
        known[request_id] = row
    return RefLedger(merge_rows(a.rows, b.rows), tuple(sorted(known.items())))


def ref_diff(before: RefLedger, after: RefLedger) -> RefLedger | None:
    """STATE-032; None on a decrease or a request of ``before`` missing from ``after``."""
    later = dict(after.requests)
    for request_id, row in before.requests:
        if later.get(request_id) != row:
            return None
    rows = diff_rows(before.rows, after.rows)
    if rows is None:
        return None
    earlier = dict(before.requests)
    return RefLedger(rows, tuple(sorted((r, w) for r, w in later.items() if r not in earlier)))


def ref_totals(ledger: RefLedger) -> tuple[Row, ...]:
    """Rows and requests together, added by key: what a report counts."""
    return merge_rows(ledger.rows, tuple(row for _, row in ledger.requests))
