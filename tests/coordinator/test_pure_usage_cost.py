"""Usage counters, pricing and cost (spec §4.2, COORD-130..COORD-143), with opi's test names.

opi's tests: crates/opi-coding-agent/tests/usage_accumulation.rs, session_runtime.rs, and the
unit tests of crates/opi-coding-agent/src/pricing.rs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessionspec.errors import CallerError
from sessionspec.pricing import CostBreakdown, Price, PricingTable, cost_of
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


# --- pricing (opi pricing.rs unit tests) ------------------------------------------------------

TABLE = PricingTable.default()


@pytest.mark.req("COORD-140", "COORD-141")
def test_anthropic_sonnet_resolves() -> None:
    assert TABLE.lookup("anthropic:claude-sonnet-4") == Price(3.0, 15.0, 0.3, 3.75)


@pytest.mark.req("COORD-141")
def test_openai_gpt4o_mini_resolves() -> None:
    price = TABLE.lookup("openai:gpt-4o-mini")
    assert price is not None and price.input == 0.15
    gpt4o = TABLE.lookup("openai:gpt-4o-2024-08-06")
    assert gpt4o is not None and gpt4o.input == 2.5  # rule order: -mini is tried first
    assert TABLE.lookup("openai-responses:gpt-4-turbo") == Price(10.0, 30.0)
    assert TABLE.lookup("openai:gpt-3.5-turbo") == Price(0.5, 1.5)


@pytest.mark.req("COORD-141")
def test_gemini_flash_resolves() -> None:
    price = TABLE.lookup("gemini:gemini-1.5-flash")
    assert price is not None and price.input == 0.075
    assert TABLE.lookup("gemini:gemini-1.5-pro") == Price(1.25, 5.0, 0.3125, 0.0)


@pytest.mark.req("COORD-141")
def test_mistral_large_resolves() -> None:
    price = TABLE.lookup("mistral:mistral-large-latest")
    assert price is not None and price.input == 2.0
    assert TABLE.lookup("mistral:mistral-medium") == Price(2.7, 8.1)
    assert TABLE.lookup("mistral:mistral-small") == Price(0.2, 0.6)


@pytest.mark.req("COORD-141")
def test_anthropic_opus_and_haiku_resolve() -> None:
    assert TABLE.lookup("anthropic:claude-opus-4") == Price(15.0, 75.0, 1.5, 18.75)
    assert TABLE.lookup("anthropic:claude-3-5-haiku") == Price(0.8, 4.0, 0.08, 1.0)


@pytest.mark.req("COORD-141")
def test_openrouter_forwards_to_underlying() -> None:
    price = TABLE.lookup("openrouter:anthropic/claude-sonnet-4")
    assert price is not None and price.input == 3.0
    assert TABLE.lookup("openrouter:openai/gpt-4o") == Price(2.5, 10.0, 1.25, 0.0)
    assert TABLE.lookup("openrouter:google/gemini-flash-1.5") is not None
    assert TABLE.lookup("openrouter:mistralai/mistral-large") == Price(2.0, 6.0)
    assert TABLE.lookup("openrouter:meta-llama/llama-3") is None


@pytest.mark.req("COORD-141")
def test_unknown_model_returns_none() -> None:
    assert TABLE.lookup("anthropic:not-a-real-model") is None
    assert TABLE.lookup("malformed") is None
    assert TABLE.lookup("future-provider:foo") is None


# --- cost (session_runtime.rs) ---------------------------------------------------------------


@pytest.mark.req("COORD-142", "COORD-143")
def test_compaction_engine_reads_pricing_and_reports_cost() -> None:
    usage = CumulativeUsage(input_tokens=1_000_000, output_tokens=500_000)
    cost = cost_of(usage, "anthropic:claude-sonnet-4", TABLE)
    assert cost == CostBreakdown(
        model="anthropic:claude-sonnet-4",
        pricing_version="opi-0.6.3-1",
        input=3.0,
        output=7.5,
        cache_read=0.0,
        cache_write=0.0,
        total=10.5,
    )


@pytest.mark.req("COORD-142")
def test_cost_summary_returns_none_for_unknown_model() -> None:
    assert cost_of(CumulativeUsage(5, 5), "acme:robot-1", TABLE) is None


@pytest.mark.req("COORD-142")
def test_cost_counts_cache_tokens() -> None:
    usage = CumulativeUsage(cache_read_tokens=1_000_000, cache_write_tokens=2_000_000)
    cost = cost_of(usage, "anthropic:claude-opus-4", TABLE)
    assert cost is not None
    assert (cost.cache_read, cost.cache_write, cost.total) == (1.5, 37.5, 39.0)


@pytest.mark.req("COORD-140", "COORD-143")
def test_pricing_table_is_injectable_and_versioned(tmp_path: Path) -> None:
    data = {
        "version": "acme-2026-01",
        "prices": {"robot": {"input": 1.0, "output": 2.0}},
        "families": {"acme": [{"prefix": "robot-", "price": "robot"}]},
        "providers": {"acme": [{"family": "acme"}]},
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    for table in (PricingTable.from_dict(data), PricingTable.from_file(path)):
        assert table.version == "acme-2026-01"
        assert table.lookup("anthropic:claude-sonnet-4") is None  # only what it was given
        cost = cost_of(CumulativeUsage(2_000_000, 1_000_000), "acme:robot-1", table)
        assert cost is not None
        assert (cost.total, cost.pricing_version) == (4.0, "acme-2026-01")


@pytest.mark.req("COORD-140")
def test_bad_pricing_tables_are_caller_errors() -> None:
    good = {"version": "v", "prices": {"p": {"input": 1}}, "families": {"f": [{"contains": "x",
            "price": "p"}]}, "providers": {"x": [{"family": "f"}]}}
    PricingTable.from_dict(good)
    bad_tables = [
        {**good, "version": ""},
        {k: v for k, v in good.items() if k != "version"},
        {**good, "prices": {"p": {"input": -1}}},
        {**good, "families": {"f": [{"contains": "x", "price": "nope"}]}},
        {**good, "providers": {"x": [{"family": "nope"}]}},
        {**good, "providers": {"x": [{"strip_prefix": "a/"}]}},
    ]
    for bad in bad_tables:
        with pytest.raises(CallerError):
            PricingTable.from_dict(bad)
