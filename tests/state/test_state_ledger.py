"""The token ledger: rows, merge, diff, dedup by request id, reports (spec §7.3)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionspec import LedgerConflictError, LedgerDecreaseError, TokenLedger
from sessionspec.errors import CallerError
from sessionspec.pricing import PricingTable
from sessionspec.reference import ledger as ref

SONNET = "anthropic:claude-sonnet-4"
HAIKU = "anthropic:claude-3-5-haiku"

SOURCES = st.sampled_from(["turn", "subagent", "compaction"])
MODELS = st.sampled_from([SONNET, HAIKU, "nobody:unknown"])
COUNTS = st.tuples(*(st.integers(0, 50) for _ in range(5)))
ENTRIES = st.lists(
    st.tuples(SOURCES, MODELS, COUNTS, st.one_of(st.none(), st.sampled_from("abcdef"))),
    max_size=8,
)


def build(entries: list[tuple[str, str, tuple[int, ...], str | None]], tag: str) -> TokenLedger:
    """A ledger from entries; a request id is made unique per tag so sides do not clash."""
    ledger = TokenLedger()
    for source, model, counts, request in entries:
        usage = dict(zip(ref.COUNTERS, counts, strict=True))
        rid = None if request is None else f"{tag}-{request}-{source}-{model}-{counts}"
        ledger.record(source, model, usage, rid)
    return ledger


@pytest.mark.req("STATE-030")
def test_rows_by_key_and_zero_usage() -> None:
    ledger = TokenLedger()
    assert ledger.record("turn", SONNET, {"input_tokens": 10, "output_tokens": 2}) is True
    assert ledger.record("turn", SONNET, {"input_tokens": 5}) is True
    assert ledger.record("turn", SONNET, {}) is False
    assert ledger.record("observer", SONNET, {"reasoning_tokens": 7}) is True
    totals = ledger.totals_by_key()
    assert totals[("turn", SONNET)].input_tokens == 15
    assert totals[("observer", SONNET)].reasoning_tokens == 7
    assert totals[("observer", SONNET)].total_tokens == 0
    for bad in ({"input_tokens": -1}, {"bogus": 1}, {"input_tokens": True}):
        with pytest.raises(CallerError):
            ledger.record("turn", SONNET, bad)
    with pytest.raises(CallerError):
        ledger.record("", SONNET, {"input_tokens": 1})


@pytest.mark.req("STATE-033")
def test_one_request_counts_once_across_forks_and_resumes() -> None:
    source = TokenLedger()
    source.record("turn", SONNET, {"input_tokens": 100, "output_tokens": 10}, "req-1")
    fork = source.copy()  # a fork carries what its source counted
    fork.record("turn", SONNET, {"input_tokens": 50}, "req-2")
    replayed = source.copy()
    assert replayed.record("turn", SONNET, {"input_tokens": 100, "output_tokens": 10},
                           "req-1") is False  # a resume replaying its log
    merged = source.merge(fork).merge(replayed)
    assert merged.totals_by_key()[("turn", SONNET)].input_tokens == 150
    with pytest.raises(LedgerConflictError):
        source.record("turn", SONNET, {"input_tokens": 1}, "req-1")
    liar = TokenLedger()
    liar.record("turn", HAIKU, {"input_tokens": 100, "output_tokens": 10}, "req-1")
    with pytest.raises(LedgerConflictError):
        source.merge(liar)


@pytest.mark.req("STATE-032")
def test_diff_refuses_a_decrease() -> None:
    before = TokenLedger()
    before.record("turn", SONNET, {"input_tokens": 10})
    after = TokenLedger()
    after.record("turn", SONNET, {"input_tokens": 4})
    with pytest.raises(LedgerDecreaseError, match="decreased"):
        TokenLedger.diff(before, after)
    with_request = TokenLedger()
    with_request.record("turn", SONNET, {"input_tokens": 1}, "r")
    with pytest.raises(LedgerDecreaseError, match="missing"):
        TokenLedger.diff(with_request, TokenLedger())


@settings(max_examples=80, deadline=None)
@given(ENTRIES, ENTRIES, ENTRIES)
@pytest.mark.req("STATE-031", "STATE-032", "STATE-033")
def test_ledger_laws(a_entries: list, x_entries: list, c_entries: list) -> None:  # type: ignore[type-arg]
    a, x, c = build(a_entries, "a"), build(x_entries, "x"), build(c_entries, "c")
    assert TokenLedger.diff(a, a.merge(x)) == x
    assert a.merge(x) == x.merge(a)
    assert a.merge(x).merge(c) == a.merge(x.merge(c))
    assert a.merge(TokenLedger()) == a
    assert a.merge(a).request_ids == a.request_ids
    assert TokenLedger.from_json(a.to_json()) == a


@settings(max_examples=80, deadline=None)
@given(ENTRIES, ENTRIES)
@pytest.mark.req("STATE-031", "STATE-032", "STATE-033")
def test_runtime_agrees_with_the_reference_model(a_entries: list, b_entries: list) -> None:  # type: ignore[type-arg]
    def as_ref(entries: list, tag: str) -> ref.RefLedger:  # type: ignore[type-arg]
        value = ref.RefLedger()
        for source, model, counts, request in entries:
            rid = None if request is None else f"{tag}-{request}-{source}-{model}-{counts}"
            outcome = ref.ref_record(value, source, model, tuple(counts), rid)
            if isinstance(outcome, ref.RefLedger):
                value = outcome
        return value

    a, b = build(a_entries, "a"), build(b_entries, "b")
    ra, rb = as_ref(a_entries, "a"), as_ref(b_entries, "b")
    merged = ref.ref_merge(ra, rb)
    assert merged is not None
    runtime_rows = {k: v.as_tuple() for k, v in a.merge(b).totals_by_key().items()}
    assert runtime_rows == {(s, m): c for s, m, c in ref.ref_totals(merged)}
    delta = ref.ref_diff(ra, merged)
    assert delta is not None
    assert {k: v.as_tuple() for k, v in TokenLedger.diff(a, a.merge(b)).totals_by_key().items()} \
        == {(s, m): c for s, m, c in ref.ref_totals(delta)}


@pytest.mark.req("STATE-034")
def test_report_by_source_model_and_money_in_decimal() -> None:
    ledger = TokenLedger()
    ledger.record("turn", SONNET, {"input_tokens": 1_000_000, "output_tokens": 1_000}, "r1")
    ledger.record("compaction", SONNET, {"input_tokens": 2_000})
    ledger.record("subagent", "nobody:unknown", {"input_tokens": 5})
    table = PricingTable.default()
    report = ledger.report(table)
    assert report.pricing_version == table.version
    assert set(report.by_source) == {"turn", "compaction", "subagent"}
    assert report.by_model[SONNET].input_tokens == 1_002_000
    assert report.unpriced_models == ("nobody:unknown",)
    price = table.lookup(SONNET)
    assert price is not None
    expected = (
        Decimal(1_002_000) * Decimal(str(price.input)) + Decimal(1_000) * Decimal(str(price.output))
    ) / Decimal(1_000_000)
    assert isinstance(report.total_cost, Decimal) and report.total_cost == expected
    assert report.cost_by_model == {SONNET: expected}
    assert [(r.source, r.model) for r in report.by_source_model] == [
        ("compaction", SONNET), ("subagent", "nobody:unknown"), ("turn", SONNET)]
    assert report.totals.total_tokens == 1_003_005
    assert any("unpriced" in line for line in report.lines())
