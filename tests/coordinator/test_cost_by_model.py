"""Money (issue 7, item 10): COORD-062, COORD-144, COORD-145.

Each assistant message is priced by its own provider and model, not by the session's one
model; money is ``Decimal``; an unknown model gives no cost and says which model, never a
wrong price.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.coordinator.coord_helpers import clock, user

from sessionspec import SessionCoordinator
from sessionspec.wire.messages import AssistantMessage, TextContent, Usage

SONNET = "anthropic:claude-sonnet-4-5"


def answer(provider: str, model: str, input_tokens: int, output_tokens: int) -> dict[str, object]:
    return AssistantMessage(
        content=[TextContent(text="done")],
        api="Anthropic",
        provider=provider,
        model=model,
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
        stop_reason="stop",
        timestamp_ms=1,
    ).to_json_dict()


@pytest.mark.req("COORD-062", "COORD-145")
def test_a_turn_answered_by_another_model_is_priced_at_its_own_rate(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", model=SONNET, session_id="s",
                                         clock=clock)
    sonnet_turn = [user("a"), answer("anthropic", "claude-sonnet-4-5", 1_000_000, 100_000)]
    opus_turn = [user("b"), answer("anthropic", "claude-opus-4-1-20250805", 1_000_000, 100_000)]
    coordinator.on_turn_end(sonnet_turn, {"input_tokens": 1_000_000, "output_tokens": 100_000})
    coordinator.on_turn_end(opus_turn, {"input_tokens": 1_000_000, "output_tokens": 100_000})
    cost = coordinator.cost_summary()
    assert cost is not None
    # sonnet: $3 + $1.5; opus 4.1: $15 + $7.5. Priced at the session's model it would be $9.
    assert cost.total == Decimal("27")
    assert isinstance(cost.total, Decimal) and isinstance(cost.input, Decimal)
    assert {part.model: part.total for part in cost.by_model} == {
        "anthropic:claude-opus-4-1-20250805": Decimal("22.5"),
        "anthropic:claude-sonnet-4-5": Decimal("4.5"),
    }
    coordinator.close()
    resumed = SessionCoordinator.open_existing(tmp_path / "s.jsonl", clock=clock)
    assert resumed.cost_summary() == cost  # the split is persisted with the accounting
    fork = resumed.fork(session_id="f")
    forked = SessionCoordinator.open_existing(fork.path, clock=clock)
    assert forked.cost_summary() is not None
    assert forked.cost_summary().total == Decimal(0)  # type: ignore[union-attr]  # COORD-051


@pytest.mark.req("COORD-062")
def test_usage_no_message_reports_is_priced_at_the_session_model(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", model=SONNET, session_id="s",
                                         clock=clock)
    coordinator.on_turn_end([], {"input_tokens": 1_000_000})  # no assistant message
    coordinator.on_turn_end(
        [answer("openai", "gpt-5", 1_000_000, 0)],
        {"input_tokens": 1_500_000},  # 500,000 beyond what the message reports
    )
    assert coordinator.usage_by_model() == (
        ("openai:gpt-5", 1_000_000, 0, 0, 0),
        (SONNET, 1_500_000, 0, 0, 0),
    )
    cost = coordinator.cost_summary()
    assert cost is not None and cost.total == Decimal("1.25") + Decimal("4.5")


@pytest.mark.req("COORD-062", "COORD-144")
def test_an_unknown_model_gives_no_cost_and_names_the_model(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(tmp_path, "/w", model=SONNET, session_id="s",
                                         clock=clock)
    coordinator.on_turn_end([user("a"), answer("anthropic", "claude-opus-4-5", 10, 10)])
    assert coordinator.cost_summary() is not None
    coordinator.on_turn_end([user("b"), answer("anthropic", "claude-opus-4-5-preview", 10, 1)])
    assert coordinator.cost_summary() is None  # never the price of another model
    assert coordinator.unpriced_models() == ("anthropic:claude-opus-4-5-preview",)
