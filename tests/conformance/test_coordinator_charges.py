"""The shapes the coordinator driver charges to the rule they show broken (CONF-060)."""

from __future__ import annotations

from typing import Any

import pytest

from sessionspec.conformance.coordinator_charges import (
    another_cut,
    only_figures,
    renumbered,
    shows_the_effect,
    truncated_usage,
)


def _view(**changes: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "context": [{"role": "user", "content": [{"type": "text", "text": "a"}]}],
        "ids": ["msg-1", "msg-2"],
        "tip": "msg-2",
        "usage": {"input_tokens": 10, "output_tokens": 0},
        "turns": 1,
        "state": "ready",
        "watermark": 0,
        "next_seq": 4,
    }
    return {**view, **changes}


@pytest.mark.req("COORD-004")
def test_ids_renumbered_one_to_one_are_coord_004() -> None:
    model = _view()
    assert renumbered(_view(ids=["msg-11", "msg-12"], tip="msg-12", next_seq=14), model)
    assert renumbered([{"id": "state-9", "parent_id": "msg-8"}],
                      [{"id": "state-3", "parent_id": "msg-2"}])
    assert renumbered("cmp-7/summary", "cmp-5/summary")
    # Not a renumbering: the same value, another kind of id, anything else that differs,
    # or a tip moved to another entry (the correspondence is not one to one).
    assert not renumbered(model, model)
    assert not renumbered(_view(ids=["cmp-1", "msg-2"]), model)
    assert not renumbered(_view(ids=["msg-11", "msg-12"], tip="msg-12", turns=2), model)
    assert not renumbered(_view(tip="msg-1"), model)
    assert not renumbered(_view(ids=["zmsg-1", "zmsg-2"], tip="zmsg-2"), model)


@pytest.mark.req("COORD-002", "COORD-011")
def test_memory_showing_a_failed_operations_effect_is_coord_002() -> None:
    before = _view()
    model_after = _view(usage={"input_tokens": 30, "output_tokens": 5}, turns=2,
                        ids=["msg-1", "msg-2", "msg-4"], tip="msg-4", next_seq=6)
    # The usage the failed turn would have counted is in memory: changed before the append.
    assert shows_the_effect(before, _view(usage=model_after["usage"], turns=2), model_after)
    # A tip moved to the failed leaf move's target.
    assert shows_the_effect(before, _view(tip="msg-1"), _view(tip="msg-1", next_seq=5))
    # Memory moved elsewhere, or not at all (a failure may still leave the state failed).
    assert not shows_the_effect(before, _view(turns=7), model_after)
    assert not shows_the_effect(before, _view(state="failed"), model_after)


@pytest.mark.req("COORD-020", "COORD-061")
def test_figures_alone_and_truncated_usage() -> None:
    assert only_figures(["usage", "turns", "watermark", "state", "cost"])
    assert only_figures(["turns"])
    assert not only_figures(["state", "cost"])  # the settings decide those (COORD-027)
    assert not only_figures(["usage", "context"])
    big = {"input_tokens": 2**33 - 2, "output_tokens": 7}
    assert truncated_usage({"input_tokens": 2**32 - 2, "output_tokens": 7}, big)
    assert not truncated_usage(big, big)
    assert not truncated_usage({"input_tokens": 5, "output_tokens": 7}, big)


@pytest.mark.req("COORD-104", "COORD-105")
def test_a_file_that_is_the_compaction_but_for_its_cut_is_the_cut_policys() -> None:
    before = (
        {"type": "message", "id": "msg-1", "parent_id": None},
        {"type": "message", "id": "msg-2", "parent_id": "msg-1"},
    )
    model_cut = {"type": "compaction", "id": "cmp-3", "parent_id": "msg-2",
                 "first_kept_entry_id": "msg-2", "tokens_before": 9, "summary": "a"}
    after = (*before, model_cut)
    other_cut = {**model_cut, "first_kept_entry_id": "msg-1", "tokens_before": 0,
                 "summary": ""}
    assert another_cut((*before, other_cut), before, after)
    # The model finds no valid cut (its log unchanged), the file has a compaction.
    assert another_cut((*before, other_cut), before, before)
    # Not the cut's: the outcome itself, the log before, no file, another entry changed,
    # or something other than a compaction appended.
    assert not another_cut(after, before, after)
    assert not another_cut(before, before, after)
    assert not another_cut(None, before, after)
    assert not another_cut((*before, {**model_cut, "parent_id": "msg-1"}), before, after)
    assert not another_cut((*before, {**before[1], "id": "msg-3"}), before, before)
