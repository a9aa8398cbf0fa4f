"""The token ledger: tokens and cost per (source, model), each request counted once (§7.3).

Seed: lash's ``token_ledger`` (research/seeds.md §4.4). Rules: STATE-030..STATE-034.

* ``record(source, model, usage, request_id=None)`` adds a usage; a usage whose five
  counters are all zero adds nothing (reasoning-only usage counts, unlike lash). With a
  provider request id, the request is counted once: the same request again is a duplicate
  (``record`` returns False and changes nothing); the same id with another row or other
  counters is :class:`~sessionspec.errors.LedgerConflictError`.
* ``merge`` adds key by key and unites requests by id, so a request that reached both sides
  (a fork and its source, a resumed session that replays its log) counts once;
  ``TokenLedger.diff(before, after)`` is its inverse and raises
  :class:`~sessionspec.errors.LedgerDecreaseError` when ``after`` does not contain
  ``before``.
* ``report(pricing)`` gives totals by source, by model and by both, and money as
  :class:`~decimal.Decimal` priced per model by the pricing table (COORD-140).

Theory of operation: anonymous usage is kept summed per key; identified usage is kept per
request id (that is what makes dedup across merges possible). Reports add the two. The pure
reference model is :mod:`sessionspec.reference.ledger`; the conformance machine drives both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sessionspec.errors import CallerError, LedgerConflictError, LedgerDecreaseError
from sessionspec.pricing import PricingTable
from sessionspec.reference.ledger import COUNTERS, Counters, diff_counters, is_zero
from sessionspec.wire.messages import Usage

__all__ = ["LedgerCounts", "LedgerRow", "TokenLedger", "UsageReport"]

_ZERO: Counters = (0, 0, 0, 0, 0)
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class LedgerCounts:
    """Five counters; ``total_tokens`` is input + output + cache read + cache write."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def of(cls, counters: Counters) -> LedgerCounts:
        return cls(*counters)

    def as_tuple(self) -> Counters:
        return (
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def plus(self, other: LedgerCounts) -> LedgerCounts:
        return LedgerCounts.of(_add(self.as_tuple(), other.as_tuple()))

    def to_json(self) -> dict[str, int]:
        return dict(zip(COUNTERS, self.as_tuple(), strict=True))


@dataclass(frozen=True, slots=True)
class LedgerRow:
    source: str
    model: str
    counts: LedgerCounts
    #: None when the model has no price in the table used (never guessed).
    cost: Decimal | None = None


@dataclass(frozen=True)
class UsageReport:
    """Totals by source, by model and by both, with the cost of each model (STATE-034)."""

    pricing_version: str | None
    entry_count: int
    totals: LedgerCounts
    by_source: dict[str, LedgerCounts]
    by_model: dict[str, LedgerCounts]
    by_source_model: list[LedgerRow]
    cost_by_model: dict[str, Decimal]
    total_cost: Decimal
    unpriced_models: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        """A plain-text table of the report."""
        out = [f"{'source':<12} {'model':<34} {'tokens':>10} {'cost (USD)':>14}"]
        for row in self.by_source_model:
            cost = "unpriced" if row.cost is None else f"{row.cost:.6f}"
            out.append(
                f"{row.source:<12} {row.model:<34} {row.counts.total_tokens:>10} {cost:>14}"
            )
        out.append(
            f"{'total':<12} {'':<34} {self.totals.total_tokens:>10} {self.total_cost:>14.6f}"
        )
        return out


def _add(a: Counters, b: Counters) -> Counters:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


def _label(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise CallerError(f"{name} must be a non-empty string, not {value!r}")
    return value


def counters_of(usage: Usage | LedgerCounts | Mapping[str, Any]) -> Counters:
    """The five counters of a usage (a wire ``Usage``, counts, or a mapping of counters)."""
    if isinstance(usage, LedgerCounts):
        return usage.as_tuple()
    source: Mapping[str, Any] = usage.model_dump() if isinstance(usage, Usage) else usage
    if not isinstance(source, Mapping):
        raise CallerError(f"a usage must be a mapping of counters, not {usage!r}")
    unknown = set(source) - set(COUNTERS)
    if unknown:
        raise CallerError(f"unknown usage counters {sorted(unknown)}")
    values = []
    for name in COUNTERS:
        value = source.get(name, 0)
        if value is None:
            value = 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CallerError(f"usage counter {name!r} must be a non-negative integer")
        values.append(value)
    return (values[0], values[1], values[2], values[3], values[4])


class TokenLedger:
    """Tokens per (source, model), each provider request counted once (STATE-030..034)."""

    __slots__ = ("_requests", "_rows")

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Counters] = {}
        self._requests: dict[str, tuple[str, str, Counters]] = {}

    # -- writing ------------------------------------------------------------------------

    def record(
        self,
        source: str,
        model: str,
        usage: Usage | LedgerCounts | Mapping[str, Any],
        request_id: str | None = None,
    ) -> bool:
        """Count a usage; False when it adds nothing (all zero, or a request seen before)."""
        key = (_label(source, "source"), _label(model, "model"))
        counters = counters_of(usage)
        if is_zero(counters):
            return False
        if request_id is None:
            self._rows[key] = _add(self._rows.get(key, _ZERO), counters)
            return True
        request_id = _label(request_id, "request_id")
        entry = (key[0], key[1], counters)
        known = self._requests.get(request_id)
        if known is not None:
            if known != entry:
                raise LedgerConflictError(
                    f"request {request_id!r} was counted as {known}, now {entry}"
                )
            return False
        self._requests[request_id] = entry
        return True

    def merge(self, other: TokenLedger) -> TokenLedger:
        """A new ledger with both: rows added by key, requests united by id (STATE-031)."""
        merged = self.copy()
        for request_id, entry in other._requests.items():
            known = merged._requests.get(request_id)
            if known is not None and known != entry:
                raise LedgerConflictError(
                    f"request {request_id!r} is {known} on one side and {entry} on the other"
                )
        for key, counters in other._rows.items():
            merged._rows[key] = _add(merged._rows.get(key, _ZERO), counters)
        merged._requests.update(other._requests)
        return merged

    @staticmethod
    def diff(before: TokenLedger, after: TokenLedger) -> TokenLedger:
        """The ledger ``x`` with ``before.merge(x) == after`` (STATE-032)."""
        result = TokenLedger()
        for request_id, entry in before._requests.items():
            if after._requests.get(request_id) != entry:
                raise LedgerDecreaseError(
                    f"request {request_id!r} of the earlier ledger is missing from the later one"
                )
        for key in sorted(set(before._rows) | set(after._rows)):
            delta = diff_counters(before._rows.get(key, _ZERO), after._rows.get(key, _ZERO))
            if delta is None:
                raise LedgerDecreaseError(
                    f"token ledger decreased for {key[0]}/{key[1]}: "
                    f"{before._rows.get(key, _ZERO)} -> {after._rows.get(key, _ZERO)}"
                )
            if not is_zero(delta):
                result._rows[key] = delta
        for request_id, entry in after._requests.items():
            if request_id not in before._requests:
                result._requests[request_id] = entry
        return result

    def copy(self) -> TokenLedger:
        twin = TokenLedger()
        twin._rows = dict(self._rows)
        twin._requests = dict(self._requests)
        return twin

    # -- reading ------------------------------------------------------------------------

    @property
    def request_ids(self) -> frozenset[str]:
        return frozenset(self._requests)

    def totals_by_key(self) -> dict[tuple[str, str], LedgerCounts]:
        """Rows and requests added by (source, model), sorted by key."""
        totals: dict[tuple[str, str], Counters] = dict(self._rows)
        for source, model, counters in self._requests.values():
            totals[(source, model)] = _add(totals.get((source, model), _ZERO), counters)
        return {key: LedgerCounts.of(totals[key]) for key in sorted(totals)}

    def report(self, pricing: PricingTable | None = None) -> UsageReport:
        """Totals by source, model and both; cost per model in Decimal (STATE-034)."""
        table = pricing if pricing is not None else PricingTable.default()
        by_key = self.totals_by_key()
        by_source: dict[str, LedgerCounts] = {}
        by_model: dict[str, LedgerCounts] = {}
        totals = LedgerCounts()
        for (source, model), counts in by_key.items():
            by_source[source] = by_source.get(source, LedgerCounts()).plus(counts)
            by_model[model] = by_model.get(model, LedgerCounts()).plus(counts)
            totals = totals.plus(counts)
        cost_by_model: dict[str, Decimal] = {}
        unpriced: list[str] = []
        for model, counts in sorted(by_model.items()):
            cost = _cost(table, model, counts)
            if cost is None:
                unpriced.append(model)
            else:
                cost_by_model[model] = cost
        rows = [
            LedgerRow(source, model, counts, _cost(table, model, counts))
            for (source, model), counts in by_key.items()
        ]
        return UsageReport(
            pricing_version=table.version,
            entry_count=len(self._rows) + len(self._requests),
            totals=totals,
            by_source=dict(sorted(by_source.items())),
            by_model=dict(sorted(by_model.items())),
            by_source_model=rows,
            cost_by_model=cost_by_model,
            total_cost=sum(cost_by_model.values(), Decimal(0)),
            unpriced_models=tuple(unpriced),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TokenLedger):
            return NotImplemented
        return self._rows == other._rows and self._requests == other._requests

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TokenLedger(rows={len(self._rows)}, requests={len(self._requests)})"

    # -- JSON ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [
                {"source": s, "model": m, **LedgerCounts.of(c).to_json()}
                for (s, m), c in sorted(self._rows.items())
            ],
            "requests": [
                {"request_id": r, "source": s, "model": m, **LedgerCounts.of(c).to_json()}
                for r, (s, m, c) in sorted(self._requests.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenLedger:
        """The inverse of :meth:`to_json`; a bad entry is a CallerError naming it."""
        ledger = cls()
        if not isinstance(data, Mapping):
            raise CallerError("a token ledger must be an object")
        for entry in _entries(data.get("rows", [])):
            counts = counters_of({k: entry[k] for k in COUNTERS if k in entry})
            ledger.record(entry.get("source", ""), entry.get("model", ""), LedgerCounts.of(counts))
        for entry in _entries(data.get("requests", [])):
            counts = counters_of({k: entry[k] for k in COUNTERS if k in entry})
            ledger.record(
                entry.get("source", ""),
                entry.get("model", ""),
                LedgerCounts.of(counts),
                entry.get("request_id"),
            )
        return ledger


def _entries(value: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise CallerError("ledger rows and requests must be lists of objects")
    return value


def _cost(table: PricingTable, model: str, counts: LedgerCounts) -> Decimal | None:
    price = table.lookup(model)
    if price is None:
        return None
    # str() first: the table may hold floats or Decimals; either way the printed value is
    # the price the table states, never a binary float expansion.
    return (
        counts.input_tokens * Decimal(str(price.input))
        + counts.output_tokens * Decimal(str(price.output))
        + counts.cache_read_tokens * Decimal(str(price.cache_read))
        + counts.cache_write_tokens * Decimal(str(price.cache_write))
    ) / _MILLION
