"""Cumulative token usage of a session (spec/SPEC.md §4.2, COORD-130..COORD-132).

Rules:

* Four counters, as opi keeps them (input, output, cache read, cache write), plus the
  number of turns (COORD-130).
* :meth:`CumulativeUsage.accumulate` adds one provider call's usage and counts one turn;
  :meth:`CumulativeUsage.add_counters` adds usage without counting a turn (for replaying
  the assistant messages of a turn on resume, where the turn is counted once) (COORD-131).
* Counters are Python integers and never wrap or truncate: opi's ``as_usage`` casts its
  u64 totals to u32 and silently loses everything above 2**32 - 1 (COORD-132, §9).

Theory of operation: this is the one mutable value type of the pure layer. The runtime
coordinator owns one instance, updates it only after the turn it belongs to is durable
(persist first, GEN-006), and hands out :meth:`copy` results so a caller can never change
the coordinator's counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sessionspec.errors import CallerError
from sessionspec.wire.messages import Usage

__all__ = ["USAGE_COUNTERS", "CumulativeUsage"]

#: The four token counters, with opi's field names.
USAGE_COUNTERS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def _counter(source: Mapping[str, Any], name: str) -> int:
    value = source.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CallerError(f"usage counter {name!r} must be a non-negative integer, got {value!r}")
    return value


def _as_mapping(usage: Usage | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(usage, Usage):
        return usage.model_dump()
    return usage


@dataclass(slots=True)
class CumulativeUsage:
    """Token totals of a session and the number of turns (COORD-130)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    turns: int = 0

    def accumulate(self, usage: Usage | Mapping[str, Any]) -> None:
        """Add one call's usage and count one turn (COORD-131).

        Raises :class:`CallerError` (and changes nothing) if a counter is not a
        non-negative integer. A missing cache counter counts as 0, as in opi.
        """
        self.add_counters(usage)
        self.turns += 1

    def add_counters(self, usage: Usage | Mapping[str, Any]) -> None:
        """Add one call's usage without counting a turn (COORD-131)."""
        source = _as_mapping(usage)
        values = [_counter(source, name) for name in USAGE_COUNTERS]  # validate all first
        self.input_tokens += values[0]
        self.output_tokens += values[1]
        self.cache_read_tokens += values[2]
        self.cache_write_tokens += values[3]

    def total_tokens(self) -> int:
        """The sum of the four counters (what the threshold trigger counts, COORD-101)."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def copy(self) -> CumulativeUsage:
        return CumulativeUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            turns=self.turns,
        )

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CumulativeUsage:
        """The inverse of :meth:`to_dict`; missing keys are 0, bad values a CallerError."""
        return cls(
            **{name: _counter(data, name) for name in (*USAGE_COUNTERS, "turns")}
        )
