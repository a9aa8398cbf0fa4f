"""Prices as versioned data, and the cost of a session's usage (COORD-140..COORD-143).

Rules (spec/SPEC.md §4.2):

* The pricing table is data, not code (COORD-140): ``data/pricing.json`` holds opi v0.6.3's
  per-million-token prices and its lookup rules, under a version string. An embedder
  injects its own table with :meth:`PricingTable.from_dict` or :meth:`PricingTable.from_file`.
* Lookup (COORD-141) takes a ``provider:model`` spec, split at the first ``:`` (no colon: no
  price). The provider's rules are tried in order; a rule may strip a prefix from the model
  name (OpenRouter forwards ``anthropic/``, ``openai/``, ``google/``, ``mistralai/``) and
  names a family; the first rule that applies decides. A family's rules are tried in order
  (``contains`` a substring or starts with a ``prefix``); the first match gives the price,
  no match gives no price. Unknown provider or model: ``None``, never a guess.
* Cost (COORD-142) per counter is ``tokens * price_per_million / 1_000_000``; the total is
  the sum of the four; the breakdown carries the model spec and the version of the table
  that priced it (COORD-143), so a cost figure can always be traced to its prices.

Theory of operation: :class:`PricingTable` is immutable after construction; the default
table is parsed once per call of :meth:`PricingTable.default` from package data.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sessionspec.errors import CallerError
from sessionspec.usage import CumulativeUsage

__all__ = ["CostBreakdown", "FamilyRule", "Price", "PricingTable", "ProviderRule", "cost_of"]

_PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens for each of the four usage counters."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0


@dataclass(frozen=True, slots=True)
class FamilyRule:
    """A model matches if it contains ``contains`` or starts with ``prefix``."""

    price: str
    contains: str | None = None
    prefix: str | None = None

    def matches(self, model: str) -> bool:
        if self.contains is not None:
            return self.contains in model
        if self.prefix is not None:
            return model.startswith(self.prefix)
        return False


@dataclass(frozen=True, slots=True)
class ProviderRule:
    """Applies if the model starts with ``strip_prefix`` (or always, if None)."""

    family: str
    strip_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The cost of a usage in USD, per counter and in total (COORD-142, COORD-143)."""

    model: str
    pricing_version: str
    input: float
    output: float
    cache_read: float
    cache_write: float
    total: float


def _bad(detail: str) -> CallerError:
    return CallerError(f"invalid pricing table: {detail}")


def _parse_price(name: str, data: Any) -> Price:
    if not isinstance(data, Mapping):
        raise _bad(f"price {name!r} is not an object")
    values: dict[str, float] = {}
    for field in _PRICE_FIELDS:
        value = data.get(field, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _bad(f"price {name!r}.{field} must be a non-negative number, got {value!r}")
        values[field] = float(value)
    return Price(**values)


class PricingTable:
    """Prices and lookup rules under a version string (COORD-140)."""

    __slots__ = ("_families", "_prices", "_providers", "version")

    def __init__(
        self,
        version: str,
        prices: Mapping[str, Price],
        families: Mapping[str, tuple[FamilyRule, ...]],
        providers: Mapping[str, tuple[ProviderRule, ...]],
    ) -> None:
        if not version:
            raise _bad("version must be a non-empty string")
        for family, rules in families.items():
            for rule in rules:
                if rule.price not in prices:
                    raise _bad(f"family {family!r} names unknown price {rule.price!r}")
        for provider, provider_rules in providers.items():
            for provider_rule in provider_rules:
                if provider_rule.family not in families:
                    raise _bad(
                        f"provider {provider!r} names unknown family {provider_rule.family!r}"
                    )
        self.version = version
        self._prices = dict(prices)
        self._families = dict(families)
        self._providers = dict(providers)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PricingTable:
        """Build a table from the JSON form of ``data/pricing.json``; CallerError if bad."""
        version = data.get("version")
        if not isinstance(version, str):
            raise _bad("missing string 'version'")
        prices = {name: _parse_price(name, p) for name, p in dict(data.get("prices", {})).items()}
        families: dict[str, tuple[FamilyRule, ...]] = {}
        for family, rules in dict(data.get("families", {})).items():
            try:
                families[family] = tuple(
                    FamilyRule(price=r["price"], contains=r.get("contains"), prefix=r.get("prefix"))
                    for r in rules
                )
            except (KeyError, TypeError, AttributeError) as exc:
                raise _bad(f"family {family!r}: {exc!r}") from exc
        providers: dict[str, tuple[ProviderRule, ...]] = {}
        for provider, rules in dict(data.get("providers", {})).items():
            try:
                providers[provider] = tuple(
                    ProviderRule(family=r["family"], strip_prefix=r.get("strip_prefix"))
                    for r in rules
                )
            except (KeyError, TypeError, AttributeError) as exc:
                raise _bad(f"provider {provider!r}: {exc!r}") from exc
        return cls(version, prices, families, providers)

    @classmethod
    def from_file(cls, path: str | pathlib.Path) -> PricingTable:
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    @classmethod
    def default(cls) -> PricingTable:
        """opi v0.6.3's prices and rules, shipped as ``sessionspec/data/pricing.json``."""
        text = resources.files("sessionspec").joinpath("data/pricing.json").read_text("utf-8")
        return cls.from_dict(json.loads(text))

    def price(self, name: str) -> Price | None:
        """A price by its name in the table."""
        return self._prices.get(name)

    def lookup(self, model_spec: str) -> Price | None:
        """The price of a ``provider:model`` spec, or None if the table has none (COORD-141)."""
        provider, colon, model = model_spec.partition(":")
        if not colon:
            return None
        for rule in self._providers.get(provider, ()):
            name = model
            if rule.strip_prefix is not None:
                if not model.startswith(rule.strip_prefix):
                    continue
                name = model[len(rule.strip_prefix) :]
            for family_rule in self._families[rule.family]:
                if family_rule.matches(name):
                    return self._prices[family_rule.price]
            return None
        return None

    def __repr__(self) -> str:
        return f"PricingTable(version={self.version!r}, prices={len(self._prices)})"


def cost_of(
    usage: CumulativeUsage, model_spec: str, table: PricingTable
) -> CostBreakdown | None:
    """The cost of ``usage`` at ``model_spec``'s price, or None if it has none (COORD-142)."""
    price = table.lookup(model_spec)
    if price is None:
        return None
    per = 1_000_000.0
    input_cost = usage.input_tokens * price.input / per
    output_cost = usage.output_tokens * price.output / per
    read_cost = usage.cache_read_tokens * price.cache_read / per
    write_cost = usage.cache_write_tokens * price.cache_write / per
    return CostBreakdown(
        model=model_spec,
        pricing_version=table.version,
        input=input_cost,
        output=output_cost,
        cache_read=read_cost,
        cache_write=write_cost,
        total=input_cost + output_cost + read_cost + write_cost,
    )
