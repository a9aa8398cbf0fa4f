"""Prices as versioned data, and the cost of a session's usage in ``Decimal`` (COORD-140..145).

Rules (spec/SPEC.md §4.2):

* The pricing table is data, not code (COORD-140): ``data/pricing.json`` holds list prices
  per million tokens for each of the four usage counters, by provider and exact model name,
  with aliases, under a version string that names its date and source. An embedder injects
  its own table with :meth:`PricingTable.from_dict` or :meth:`PricingTable.from_file`.
* Lookup (COORD-141) takes a ``provider:model`` spec, split at the first ``:`` (no colon: no
  price). A provider rule may strip a prefix from the model name and name the provider that
  prices it (OpenRouter forwards ``anthropic/``, ``openai/``, ``google/``, ``mistralai/``);
  the first rule that applies decides. The model is then matched **exactly**: its own name,
  else the provider's alias for it, else (once) the name without a trailing date
  (``-20250929``, ``-2024-12-17``). There is no substring or prefix match, so
  ``claude-opus-4-5`` is never priced as ``claude-opus-4`` (COORD-144). Unknown provider or
  model: ``None``, never a guess.
* Money is ``Decimal`` (COORD-145): prices are read as decimals (never through a binary
  float), and the cost of a counter is ``tokens * price / 1,000,000`` computed exactly; the
  total is the sum of the four. A breakdown names the model spec and the table version
  (COORD-143).
* A session's usage is priced per model (COORD-062): the rows of
  :func:`attributed_usage` (each model's own usage, and what no message reports at the
  session's model); one row without a price makes the cost ``None``, and
  :meth:`PricingTable.unpriced` says which models.

Theory of operation: :class:`PricingTable` is immutable after construction; the default
table is parsed once per call of :meth:`PricingTable.default` from package data.
"""

from __future__ import annotations

import decimal
import json
import pathlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from sessionspec.errors import CallerError
from sessionspec.usage import CumulativeUsage

__all__ = [
    "DATE_SUFFIX",
    "CostBreakdown",
    "Price",
    "PricingTable",
    "ProviderRule",
    "UsageRow",
    "attributed_usage",
    "cost_of",
    "cost_of_rows",
]

_PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")
#: A trailing release date on a model name: ``-20250929`` or ``-2024-12-17`` (COORD-141).
DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_MILLION = Decimal(1_000_000)
#: Enough digits that no realistic count times a price is ever rounded.
_EXACT = decimal.Context(prec=80, traps=[decimal.InvalidOperation, decimal.Overflow])
_ZERO = Decimal(0)

#: One model's usage: ``(model spec, input, output, cache read, cache write)``.
UsageRow = tuple[str, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens for each of the four usage counters."""

    input: Decimal
    output: Decimal
    cache_read: Decimal = _ZERO
    cache_write: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class ProviderRule:
    """Applies if the model starts with ``strip_prefix`` (or always, if None); the rest of
    the name is priced under ``provider``."""

    provider: str
    strip_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The cost of a usage in ``Decimal`` USD, per counter and in total (COORD-142..145).

    For a session's cost (:func:`cost_of_rows`), ``model`` lists the models that spent
    tokens (``", "``-joined, in the order of ``by_model``) and ``by_model`` holds one
    breakdown per model, even when there is only one."""

    model: str
    pricing_version: str
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    total: Decimal
    by_model: tuple[CostBreakdown, ...] = ()


def _bad(detail: str) -> CallerError:
    return CallerError(f"invalid pricing table: {detail}")


def _decimal(name: str, field: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _bad(f"price {name!r}.{field} must be a non-negative number, got {value!r}")
    try:
        # A float goes through its shortest repr ("0.075"), never its binary expansion.
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except decimal.InvalidOperation:
        raise _bad(f"price {name!r}.{field} is not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise _bad(f"price {name!r}.{field} must be a non-negative number, got {value!r}")
    return number


def _parse_price(name: str, data: Any) -> Price:
    if not isinstance(data, Mapping):
        raise _bad(f"price {name!r} is not an object")
    unknown = set(data) - set(_PRICE_FIELDS)
    if unknown:
        raise _bad(f"price {name!r} has unknown fields {sorted(unknown)}")
    return Price(*(_decimal(name, field, data.get(field, 0)) for field in _PRICE_FIELDS))


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _bad(f"{what} must be an object")
    return data


class PricingTable:
    """Prices by provider and exact model name, aliases and provider rules, under a version
    string (COORD-140, COORD-141)."""

    __slots__ = ("_aliases", "_models", "_providers", "version")

    def __init__(
        self,
        version: str,
        models: Mapping[str, Mapping[str, Price]],
        aliases: Mapping[str, Mapping[str, str]] | None = None,
        providers: Mapping[str, Sequence[ProviderRule]] | None = None,
    ) -> None:
        if not isinstance(version, str) or not version:
            raise _bad("version must be a non-empty string")
        aliases = aliases or {}
        providers = providers or {}
        for provider, names in aliases.items():
            for alias, target in names.items():
                if target not in models.get(provider, {}):
                    raise _bad(f"alias {provider}:{alias} names unknown model {target!r}")
        for provider, rules in providers.items():
            for rule in rules:
                if rule.provider not in models:
                    raise _bad(f"provider {provider!r} names unknown provider {rule.provider!r}")
        self.version = version
        self._models = {p: dict(m) for p, m in models.items()}
        self._aliases = {p: dict(a) for p, a in aliases.items()}
        self._providers = {p: tuple(r) for p, r in providers.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PricingTable:
        """Build a table from the JSON form of ``data/pricing.json``; CallerError if bad."""
        data = _mapping(data, "the table")
        version = data.get("version")
        if not isinstance(version, str):
            raise _bad("missing string 'version'")
        models: dict[str, dict[str, Price]] = {}
        for provider, entries in _mapping(data.get("models", {}), "models").items():
            models[provider] = {
                name: _parse_price(f"{provider}:{name}", price)
                for name, price in _mapping(entries, f"models.{provider}").items()
            }
        aliases: dict[str, dict[str, str]] = {}
        for provider, names in _mapping(data.get("aliases", {}), "aliases").items():
            aliases[provider] = {}
            for alias, target in _mapping(names, f"aliases.{provider}").items():
                if not isinstance(target, str):
                    raise _bad(f"alias {provider}:{alias} must name a model")
                aliases[provider][alias] = target
        providers: dict[str, tuple[ProviderRule, ...]] = {}
        for provider, rules in _mapping(data.get("providers", {}), "providers").items():
            try:
                providers[provider] = tuple(
                    ProviderRule(provider=r["provider"], strip_prefix=r.get("strip_prefix"))
                    for r in rules
                )
            except (KeyError, TypeError, AttributeError) as exc:
                raise _bad(f"provider {provider!r}: {exc!r}") from exc
        return cls(version, models, aliases, providers)

    @classmethod
    def from_file(cls, path: str | pathlib.Path) -> PricingTable:
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle, parse_float=Decimal))

    @classmethod
    def default(cls) -> PricingTable:
        """The shipped table, ``sessionspec/data/pricing.json`` (its version names its date)."""
        text = resources.files("sessionspec").joinpath("data/pricing.json").read_text("utf-8")
        return cls.from_dict(json.loads(text, parse_float=Decimal))

    def models(self) -> tuple[str, ...]:
        """Every ``provider:model`` the table prices by its own name."""
        return tuple(f"{p}:{m}" for p, names in self._models.items() for m in names)

    def _exact(self, provider: str, model: str) -> Price | None:
        names = self._models.get(provider)
        if names is None:
            return None
        price = names.get(model)
        if price is None:
            target = self._aliases.get(provider, {}).get(model)
            if target is not None:
                price = names[target]
        return price

    def lookup(self, model_spec: str) -> Price | None:
        """The price of a ``provider:model`` spec, or None if the table has none (COORD-141,
        COORD-144): exact name, alias, or the name without a trailing date; nothing else."""
        provider, colon, model = model_spec.partition(":")
        if not colon:
            return None
        for rule in self._providers.get(provider, ()):
            if rule.strip_prefix is not None:
                if not model.startswith(rule.strip_prefix):
                    continue
                model = model[len(rule.strip_prefix) :]
            provider = rule.provider
            break
        else:
            if provider in self._providers:
                return None  # a forwarding provider whose rules do not apply
        price = self._exact(provider, model)
        if price is None:
            undated = DATE_SUFFIX.sub("", model)
            if undated != model:
                price = self._exact(provider, undated)
        return price

    def unpriced(self, rows: Sequence[UsageRow]) -> tuple[str, ...]:
        """The model specs of ``rows`` that spent tokens but have no price (COORD-062)."""
        return tuple(
            spec for spec, *counters in rows if any(counters) and self.lookup(spec) is None
        )

    def __repr__(self) -> str:
        count = sum(len(names) for names in self._models.values())
        return f"PricingTable(version={self.version!r}, models={count})"


def _breakdown(
    spec: str, counters: Sequence[int], price: Price, version: str
) -> CostBreakdown:
    with decimal.localcontext(_EXACT):
        parts = [
            Decimal(tokens) * rate / _MILLION
            for tokens, rate in zip(
                counters,
                (price.input, price.output, price.cache_read, price.cache_write),
                strict=True,
            )
        ]
        total = sum(parts, _ZERO)
    return CostBreakdown(spec, version, parts[0], parts[1], parts[2], parts[3], total)


def cost_of(
    usage: CumulativeUsage, model_spec: str, table: PricingTable
) -> CostBreakdown | None:
    """The cost of ``usage`` at ``model_spec``'s price, or None if it has none (COORD-142)."""
    price = table.lookup(model_spec)
    if price is None:
        return None
    counters = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    return _breakdown(model_spec, counters, price, table.version)


def attributed_usage(
    totals: Sequence[int], by_model: Sequence[UsageRow], session_model: str
) -> tuple[UsageRow, ...]:
    """The rows a session's cost is priced from (COORD-062): each model's own usage, as
    its assistant messages reported it, and, at ``session_model``, what the session's
    counters ``totals`` hold beyond the sum of those rows (usage no message reports: a turn
    without an assistant message, or a usage argument larger than its messages'). Rows of
    zeros are left out; the session model's rows are merged.

    Per counter, the rows hold exactly the larger of the session's count and what the
    messages reported: nothing is priced twice, nothing counted is left unpriced.

    pre: len(totals) == 4 and all(t >= 0 for t in totals)
    pre: len(by_model) <= 2
    pre: all(len(row) == 5 and all(v >= 0 for v in row[1:]) for row in by_model)
    post: all(any(row[1:]) for row in __return__)
    post: _conserves(totals, by_model, __return__)
    """
    reported = [0, 0, 0, 0]
    merged: dict[str, list[int]] = {}
    for spec, *counters in by_model:
        row = merged.setdefault(spec, [0, 0, 0, 0])
        for position, value in enumerate(counters):
            row[position] += value
            reported[position] += value
    rest = [max(0, total - seen) for total, seen in zip(totals, reported, strict=True)]
    if any(rest):
        row = merged.setdefault(session_model, [0, 0, 0, 0])
        for position, value in enumerate(rest):
            row[position] += value
    return tuple(
        (spec, row[0], row[1], row[2], row[3]) for spec, row in merged.items() if any(row)
    )


def _conserves(
    totals: Sequence[int], by_model: Sequence[UsageRow], rows: Sequence[UsageRow]
) -> bool:
    """:func:`attributed_usage`'s contract: per counter, priced = max(counted, reported)."""
    return all(
        sum(int(row[1 + i]) for row in rows)
        == max(totals[i], sum(int(row[1 + i]) for row in by_model))
        for i in range(4)
    )


def cost_of_rows(
    rows: Sequence[UsageRow], table: PricingTable, model: str
) -> CostBreakdown | None:
    """The cost of per-model usage rows, each at its own model's price (COORD-062); ``None``
    if any row that spent tokens has no price. ``model`` names the breakdown when there is
    no row at all (nothing spent: a cost of zero)."""
    parts: list[CostBreakdown] = []
    for spec, *counters in rows:
        price = table.lookup(spec)
        if price is None:
            return None
        parts.append(_breakdown(spec, counters, price, table.version))
    with decimal.localcontext(_EXACT):
        sums = [
            sum((getattr(p, field) for p in parts), _ZERO)
            for field in (*_PRICE_FIELDS, "total")
        ]
    name = ", ".join(p.model for p in parts) if parts else model
    return CostBreakdown(
        name, table.version, sums[0], sums[1], sums[2], sums[3], sums[4], tuple(parts)
    )
