"""Usage counters, pricing and cost (spec §4.2, COORD-130..COORD-143), with opi's test names.

opi's tests: crates/opi-coding-agent/tests/usage_accumulation.rs, session_runtime.rs, and the
unit tests of crates/opi-coding-agent/src/pricing.rs.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sessionspec.errors import CallerError
from sessionspec.pricing import (
    CostBreakdown,
    Price,
    PricingTable,
    attributed_usage,
    cost_of,
    cost_of_rows,
)
from sessionspec.usage import CumulativeUsage
from sessionspec.wire.messages import Usage

# --- usage ---------------------------------------------------------------------------------


@pytest.mark.req("COORD-130", "COORD-131")
def test_usage_accumulation() -> None:
    usage = CumulativeUsage()
    usage.accumulate(Usage(input_tokens=100, output_tokens=50))
    usage.accumulate(Usage(input_tokens=200, output_tokens=75))
    assert (usage.input_tokens, usage.output_tokens, usage.turns) == (300, 125, 2)


@pytest.mark.req("COORD-131")
def test_session_coordinator_accumulates_usage() -> None:
    usage = CumulativeUsage()
    for _ in range(2):
        usage.accumulate({"input_tokens": 100, "output_tokens": 50})
    assert usage.turns == 2 and usage.input_tokens == 200


@pytest.mark.req("COORD-131")
def test_open_existing_replays_usage_from_assistant_messages() -> None:
    # one user turn, two assistant calls: counters add twice, the turn counts once
    usage = CumulativeUsage()
    usage.add_counters({"input_tokens": 100, "output_tokens": 60, "cache_read_tokens": 10})
    usage.add_counters(
        {
            "input_tokens": 200,
            "output_tokens": 70,
            "cache_read_tokens": 20,
            "cache_write_tokens": 15,
        }
    )
    usage.turns += 1
    assert usage.to_dict() == {
        "input_tokens": 300,
        "output_tokens": 130,
        "cache_read_tokens": 30,
        "cache_write_tokens": 15,
        "turns": 1,
    }


@pytest.mark.req("COORD-132")
def test_counters_are_not_truncated_to_u32_differs_from_opi() -> None:
    usage = CumulativeUsage()
    for _ in range(3):
        usage.accumulate(Usage(input_tokens=2**32 - 1))
    assert usage.input_tokens == 3 * (2**32 - 1)
    assert usage.input_tokens != (3 * (2**32 - 1)) % 2**32  # what opi's as_usage would give
    assert usage.total_tokens() == 3 * (2**32 - 1)


@pytest.mark.req("COORD-130")
def test_total_copy_and_round_trip() -> None:
    usage = CumulativeUsage(1, 2, 3, 4, turns=5)
    assert usage.total_tokens() == 10
    copy = usage.copy()
    copy.accumulate({"input_tokens": 1})
    assert usage.input_tokens == 1 and usage.turns == 5
    assert CumulativeUsage.from_dict(usage.to_dict()) == usage
    assert CumulativeUsage.from_dict({}) == CumulativeUsage()


@pytest.mark.req("COORD-131")
def test_bad_counter_is_a_caller_error_and_changes_nothing() -> None:
    usage = CumulativeUsage(10, 10)
    for bad in ({"input_tokens": 1, "output_tokens": -1}, {"input_tokens": "9"},
                {"output_tokens": 1.5}, {"cache_read_tokens": True}):
        with pytest.raises(CallerError):
            usage.accumulate(bad)
    assert usage == CumulativeUsage(10, 10)
    usage.accumulate({"input_tokens": 1, "cache_write_tokens": None})
    assert usage.input_tokens == 11 and usage.turns == 1


# --- pricing (opi pricing.rs unit tests, on today's table) -----------------------------------

TABLE = PricingTable.default()
D = Decimal


def price(*values: str) -> Price:
    return Price(*(D(v) for v in values))


@pytest.mark.req("COORD-140", "COORD-141")
def test_anthropic_sonnet_resolves() -> None:
    assert TABLE.lookup("anthropic:claude-sonnet-4") == price("3", "15", "0.3", "3.75")
    assert TABLE.lookup("anthropic:claude-sonnet-4-5-20250929") == price("3", "15", "0.3", "3.75")


@pytest.mark.req("COORD-141")
def test_openai_gpt4o_mini_resolves() -> None:
    assert TABLE.lookup("openai:gpt-4o-mini") == price("0.15", "0.6", "0.075")
    assert TABLE.lookup("openai:gpt-4o-2024-08-06") == price("2.5", "10", "1.25")  # dated
    assert TABLE.lookup("openai-responses:gpt-4.1") == price("2", "8", "0.5")


@pytest.mark.req("COORD-141")
def test_gemini_flash_resolves() -> None:
    assert TABLE.lookup("gemini:gemini-2.5-flash") == price("0.3", "2.5", "0.03")
    assert TABLE.lookup("google:gemini-2.5-pro") == price("1.25", "10", "0.125")


@pytest.mark.req("COORD-141")
def test_mistral_large_resolves() -> None:
    assert TABLE.lookup("mistral:mistral-large-latest") == price("2", "6")  # alias
    assert TABLE.lookup("mistral:mistral-small-2503") == price("0.1", "0.3")


@pytest.mark.req("COORD-140", "COORD-144")
def test_models_sold_today_are_priced() -> None:
    expected = {
        "anthropic:claude-opus-4-5": ("5", "25", "0.5", "6.25"),
        "anthropic:claude-opus-4-5-20251101": ("5", "25", "0.5", "6.25"),
        "anthropic:claude-opus-4-1-20250805": ("15", "75", "1.5", "18.75"),
        "anthropic:claude-sonnet-4-5": ("3", "15", "0.3", "3.75"),
        "anthropic:claude-haiku-4-5-20251001": ("1", "5", "0.1", "1.25"),
        "openai:gpt-4.1-mini": ("0.4", "1.6", "0.1", "0"),
        "openai:gpt-4.1-nano": ("0.1", "0.4", "0.025", "0"),
        "openai:gpt-5": ("1.25", "10", "0.125", "0"),
        "openai:gpt-5-mini": ("0.25", "2", "0.025", "0"),
        "openai:gpt-5-nano": ("0.05", "0.4", "0.005", "0"),
        "openai:o3": ("2", "8", "0.5", "0"),
        "openai:o4-mini": ("1.1", "4.4", "0.275", "0"),
        "gemini:gemini-2.5-pro": ("1.25", "10", "0.125", "0"),
        "gemini:gemini-2.5-flash-lite": ("0.1", "0.4", "0.01", "0"),
        "openai:gpt-realtime": ("4", "16", "0.4", "0"),
        "openai:gpt-4o-realtime-preview-2024-12-17": ("5", "20", "2.5", "0"),
    }
    for spec, values in expected.items():
        assert TABLE.lookup(spec) == price(*values), spec
    assert "list-2025-11" in TABLE.version and "2026-11-29" in TABLE.version


@pytest.mark.req("COORD-144")
def test_matching_is_exact_never_a_substring_differs_from_opi() -> None:
    # opi's table: "contains opus" prices claude-opus-4-5 as claude-opus-4 (3 times too much).
    assert TABLE.lookup("anthropic:claude-opus-4-5") != TABLE.lookup("anthropic:claude-opus-4")
    for unknown in (
        "anthropic:claude-opus-4-5-turbo",  # not a date suffix
        "anthropic:my-opus-finetune",
        "anthropic:claude-sonnet",
        "openai:gpt-4o-mini-2",
        "openai:gpt-5-mini-20250807x",
        "gemini:gemini-2.5-pro-exp",
        "openai:gpt-4",
    ):
        assert TABLE.lookup(unknown) is None, unknown


@pytest.mark.req("COORD-141")
def test_anthropic_opus_and_haiku_resolve() -> None:
    assert TABLE.lookup("anthropic:claude-opus-4-20250514") == price("15", "75", "1.5", "18.75")
    assert TABLE.lookup("anthropic:claude-3-5-haiku-latest") == price("0.8", "4", "0.08", "1")


@pytest.mark.req("COORD-141")
def test_openrouter_forwards_to_underlying() -> None:
    assert TABLE.lookup("openrouter:anthropic/claude-sonnet-4.5") == price("3", "15", "0.3", "3.75")
    assert TABLE.lookup("openrouter:openai/gpt-4o") == price("2.5", "10", "1.25")
    assert TABLE.lookup("openrouter:google/gemini-2.5-flash") is not None
    assert TABLE.lookup("openrouter:mistralai/mistral-large-latest") == price("2", "6")
    assert TABLE.lookup("openrouter:meta-llama/llama-3") is None


@pytest.mark.req("COORD-141")
def test_unknown_model_returns_none() -> None:
    assert TABLE.lookup("anthropic:not-a-real-model") is None
    assert TABLE.lookup("malformed") is None
    assert TABLE.lookup("future-provider:foo") is None


# --- cost (session_runtime.rs) ---------------------------------------------------------------


@pytest.mark.req("COORD-142", "COORD-143", "COORD-145")
def test_compaction_engine_reads_pricing_and_reports_cost() -> None:
    usage = CumulativeUsage(input_tokens=1_000_000, output_tokens=500_000)
    cost = cost_of(usage, "anthropic:claude-sonnet-4", TABLE)
    assert cost == CostBreakdown(
        model="anthropic:claude-sonnet-4",
        pricing_version=TABLE.version,
        input=D("3"),
        output=D("7.5"),
        cache_read=D("0"),
        cache_write=D("0"),
        total=D("10.5"),
    )
    assert isinstance(cost.total, Decimal)


@pytest.mark.req("COORD-142")
def test_cost_summary_returns_none_for_unknown_model() -> None:
    assert cost_of(CumulativeUsage(5, 5), "acme:robot-1", TABLE) is None


@pytest.mark.req("COORD-142", "COORD-145")
def test_cost_counts_cache_tokens() -> None:
    usage = CumulativeUsage(cache_read_tokens=1_000_000, cache_write_tokens=2_000_000)
    cost = cost_of(usage, "anthropic:claude-opus-4", TABLE)
    assert cost is not None
    assert (cost.cache_read, cost.cache_write, cost.total) == (D("1.5"), D("37.5"), D("39"))


@pytest.mark.req("COORD-145")
def test_money_is_decimal_and_exact_where_a_float_sum_drifts() -> None:
    # 0.1 + 0.2 style drift: ten thousand 1-token costs at a price of $0.3 per million.
    per_call = cost_of(CumulativeUsage(input_tokens=1), "openai:gpt-5-nano", TABLE)
    assert per_call is not None and per_call.input == D("0.00000005")
    floats = sum(0.05 / 1_000_000 for _ in range(10_000))
    decimals = sum((per_call.input for _ in range(10_000)), D(0))
    assert decimals == D("0.0005") and floats != 0.0005
    huge = cost_of(CumulativeUsage(input_tokens=10**30), "openai:gpt-5", TABLE)
    assert huge is not None and huge.input == D("1.25") * 10**24


@pytest.mark.req("COORD-062", "COORD-145")
def test_rows_are_priced_each_by_its_own_model() -> None:
    rows = attributed_usage(
        (3_000_000, 0, 0, 0),
        (("anthropic:claude-opus-4-5", 1_000_000, 0, 0, 0),),
        "anthropic:claude-sonnet-4-5",
    )
    assert rows == (
        ("anthropic:claude-opus-4-5", 1_000_000, 0, 0, 0),
        ("anthropic:claude-sonnet-4-5", 2_000_000, 0, 0, 0),
    )
    cost = cost_of_rows(rows, TABLE, "anthropic:claude-sonnet-4-5")
    assert cost is not None
    assert cost.total == D("11")  # 1M at $5 + 2M at $3
    assert [part.total for part in cost.by_model] == [D("5"), D("6")]
    assert cost.model == "anthropic:claude-opus-4-5, anthropic:claude-sonnet-4-5"
    unknown = (*rows, ("acme:robot-1", 1, 0, 0, 0))
    assert cost_of_rows(unknown, TABLE, "x:y") is None
    assert TABLE.unpriced(unknown) == ("acme:robot-1",)
    assert cost_of_rows((), TABLE, "acme:robot-1") == CostBreakdown(
        "acme:robot-1", TABLE.version, D(0), D(0), D(0), D(0), D(0)
    )


@pytest.mark.req("COORD-140", "COORD-143")
def test_pricing_table_is_injectable_and_versioned(tmp_path: Path) -> None:
    data = {
        "version": "acme-2026-01",
        "models": {"acme": {"robot-1": {"input": 1.0, "output": 2.0}}},
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    for table in (PricingTable.from_dict(data), PricingTable.from_file(path)):
        assert table.version == "acme-2026-01"
        assert table.lookup("anthropic:claude-sonnet-4") is None  # only what it was given
        cost = cost_of(CumulativeUsage(2_000_000, 1_000_000), "acme:robot-1", table)
        assert cost is not None
        assert (cost.total, cost.pricing_version) == (D("4"), "acme-2026-01")


@pytest.mark.req("COORD-140")
def test_bad_pricing_tables_are_caller_errors() -> None:
    good = {"version": "v", "models": {"x": {"m": {"input": 1}}},
            "aliases": {"x": {"n": "m"}}, "providers": {"y": [{"provider": "x"}]}}
    PricingTable.from_dict(good)
    bad_tables: list[Any] = [
        {**good, "version": ""},
        {k: v for k, v in good.items() if k != "version"},
        {**good, "models": {"x": {"m": {"input": -1}}}},
        {**good, "models": {"x": {"m": {"input": True}}}},
        {**good, "models": {"x": {"m": {"input": "NaN"}}}},
        {**good, "models": {"x": {"m": {"input": 1, "audio": 2}}}},
        {**good, "models": ["x"]},
        {**good, "aliases": {"x": {"n": "nope"}}},
        {**good, "providers": {"y": [{"provider": "nope"}]}},
        {**good, "providers": {"y": [{"strip_prefix": "a/"}]}},
        ["not", "a", "table"],
    ]
    for bad in bad_tables:
        with pytest.raises(CallerError):
            PricingTable.from_dict(bad)
