"""Settings that decide persist (issue 7, item 9) and compaction by context size (item 11):
COORD-027, COORD-028, COORD-037.

A reopen that passes no model and no compaction configuration makes the same decisions as
the coordinator that kept running; an explicit argument overrides and is recorded. The
context-size trigger compacts when the context the next request sends passes the limit,
whatever the cumulative usage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.coordinator.coord_helpers import (
    assistant,
    clock,
    file_entries,
    message_entry,
    user,
    write_opi_file,
)

from sessionspec import (
    CompactionConfig,
    CompactionTrigger,
    CountTailPolicy,
    SessionCoordinator,
    SessionSettings,
    TokenBudgetPolicy,
)
from sessionspec.compaction import BufferItem, CompactionReason, CutCandidate, context_tokens
from sessionspec.errors import CallerError
from sessionspec.settings import SETTINGS_FIELD, UnrestoredPolicy
from sessionspec.tables.coordinator import CoordinatorState
from sessionspec.wire.log import LeafEntry, SessionHeader

OPUS = "anthropic:claude-opus-4-5"
CONFIG = CompactionConfig(threshold_tokens=1_000, policy=TokenBudgetPolicy(keep_tokens=5))


def state(coordinator: SessionCoordinator) -> CoordinatorState:
    """The state, read through a call (mypy narrows a property after an assert)."""
    return coordinator.state


def header_of(path: str | Path) -> dict[str, object]:
    first: dict[str, object] = json.loads(Path(path).read_text().splitlines()[0])
    return first


@pytest.mark.req("COORD-027", "COORD-020")
def test_a_reopen_without_arguments_makes_the_same_decisions(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(
        tmp_path, "/w", CONFIG, OPUS, session_id="s", clock=clock
    )
    assert SessionHeader.model_validate(header_of(coordinator.session_path))  # opi's type
    assert header_of(coordinator.session_path)[SETTINGS_FIELD] == {
        "model": OPUS,
        "compaction": {
            "enabled": True,
            "threshold_tokens": 1_000,
            "trigger": "cumulative",
            "policy": {"kind": "token_budget", "keep_tokens": 5},
        },
    }
    for number in range(3):
        coordinator.on_turn_end([user(f"q{number}")], {"input_tokens": 400})
    running = (coordinator.state, coordinator.cost_summary(), coordinator.settings)
    coordinator.close()
    resumed = SessionCoordinator.open_existing(tmp_path / "s.jsonl", clock=clock)
    # Before COORD-027 the threshold fell back to 100,000 and the cost to None.
    assert (resumed.state, resumed.cost_summary(), resumed.settings) == running
    assert resumed.state is CoordinatorState.COMPACTION_DUE
    assert resumed.model == OPUS and resumed.compaction_config == CONFIG
    assert resumed.head == 6  # nothing was written by the reopen


@pytest.mark.req("COORD-028")
def test_an_explicit_argument_overrides_and_is_recorded(tmp_path: Path) -> None:
    coordinator = SessionCoordinator.new(
        tmp_path, "/w", CONFIG, OPUS, session_id="s", clock=clock
    )
    coordinator.on_turn_end([user("q")], {"input_tokens": 700})
    coordinator.close()
    path = tmp_path / "s.jsonl"
    lower = CompactionConfig(threshold_tokens=500)
    overridden = SessionCoordinator.open_existing(path, lower, clock=clock)
    assert overridden.state is CoordinatorState.COMPACTION_DUE  # decided with the new one
    assert overridden.settings == SessionSettings(OPUS, lower)
    leaf = file_entries(path)[-1]
    assert LeafEntry.model_validate(leaf).entry_id == "msg-1"  # opi's leaf, one extra field
    assert leaf[SETTINGS_FIELD]["compaction"]["threshold_tokens"] == 500
    assert leaf["id"] == "leaf-3" and overridden.next_seq == 4
    overridden.close()
    again = SessionCoordinator.open_existing(path, clock=clock)  # the override persists
    assert again.settings == SessionSettings(OPUS, lower)
    assert again.state is CoordinatorState.COMPACTION_DUE
    again.close()
    same = SessionCoordinator.open_existing(path, lower, OPUS, clock=clock)
    assert same.head == 3  # an argument equal to the file's writes nothing
    same.close()
    remodelled = SessionCoordinator.open_existing(path, model="openai:gpt-5", clock=clock)
    assert remodelled.settings == SessionSettings("openai:gpt-5", lower)
    assert remodelled.head == 4


@pytest.mark.req("COORD-027")
def test_a_file_without_settings_opens_with_the_defaults_and_stays_untouched(
    tmp_path: Path,
) -> None:
    path = write_opi_file(
        tmp_path / "legacy.jsonl", [message_entry("msg-1", None, user("hello"))]
    )
    before = path.read_bytes()
    resumed = SessionCoordinator.open_existing(path, clock=clock)
    assert resumed.settings == SessionSettings()
    assert path.read_bytes() == before


@pytest.mark.req("COORD-027")
def test_a_custom_policy_must_be_passed_again(tmp_path: Path) -> None:
    class KeepLastTwo:
        def first_kept(self, items: Sequence[CutCandidate]) -> int | None:
            return len(items) - 2 if len(items) > 2 else None

    policy = KeepLastTwo()
    coordinator = SessionCoordinator.new(
        tmp_path, "/w", CompactionConfig(policy=policy), session_id="s", clock=clock
    )
    coordinator.on_turn_end([user(f"u{n}") for n in range(4)])
    coordinator.close()
    path = tmp_path / "s.jsonl"
    forgetful = SessionCoordinator.open_existing(path, clock=clock)
    assert isinstance(forgetful.compaction_config.policy, UnrestoredPolicy)
    with pytest.raises(CallerError, match="KeepLastTwo"):
        forgetful.execute_compaction("manual")
    forgetful.close()
    told = SessionCoordinator.open_existing(path, CompactionConfig(policy=policy), clock=clock)
    assert told.head == 5  # the same policy, by name: nothing recorded
    assert told.execute_compaction("manual") is not None


def _assistant_with_context(text: str, context: int) -> dict[str, object]:
    return assistant(text, usage={"input_tokens": context, "output_tokens": 10})


@pytest.mark.req("COORD-037")
def test_context_size_trigger_measures_the_next_request_not_the_cumulative_usage(
    tmp_path: Path,
) -> None:
    by_size = CompactionConfig(threshold_tokens=5_000, trigger=CompactionTrigger.CONTEXT_SIZE)
    by_usage = CompactionConfig(threshold_tokens=5_000)
    sized = SessionCoordinator.new(tmp_path, "/w", by_size, session_id="a", clock=clock)
    summed = SessionCoordinator.new(tmp_path, "/w", by_usage, session_id="b", clock=clock)
    # Ten small requests of 1,000 tokens each, much of it cache reads: cumulatively 10,000.
    for number in range(10):
        turn = [user(f"q{number}"), _assistant_with_context(f"a{number}", 1_000)]
        usage = {"input_tokens": 200, "cache_read_tokens": 800}
        assert sized.on_turn_end(turn, usage) is None  # the context is ~1,010 tokens
        summed.on_turn_end(turn, usage)
    assert summed.state is CoordinatorState.COMPACTION_DUE  # opi's rule fires on a tiny context
    assert sized.state is CoordinatorState.READY
    # One request whose context is 6,000 tokens: due by size.
    big = [user("big"), _assistant_with_context("long", 6_000)]
    assert sized.on_turn_end(big, {"input_tokens": 6_000}) is CompactionReason.THRESHOLD
    assert state(sized) is CoordinatorState.COMPACTION_DUE
    sized.close()
    resumed = SessionCoordinator.open_existing(tmp_path / "a.jsonl", clock=clock)
    assert resumed.state is CoordinatorState.COMPACTION_DUE  # the trigger persisted
    assert resumed.compaction_config.trigger is CompactionTrigger.CONTEXT_SIZE
    # After the compaction the old usage measured a context that is gone: estimate instead.
    assert resumed.execute_compaction("threshold") is not None
    assert state(resumed) is CoordinatorState.READY


@pytest.mark.req("COORD-037")
def test_a_leaf_move_to_a_short_branch_clears_a_due_context(tmp_path: Path) -> None:
    config = CompactionConfig(threshold_tokens=5_000, trigger="context_size")  # type: ignore[arg-type]
    coordinator = SessionCoordinator.new(tmp_path, "/w", config, session_id="s", clock=clock)
    coordinator.on_turn_end([user("short"), _assistant_with_context("ok", 100)])
    coordinator.on_turn_end([user("long"), _assistant_with_context("ok", 9_000)])
    assert coordinator.state is CoordinatorState.COMPACTION_DUE
    coordinator.append_leaf("msg-2")
    assert state(coordinator) is CoordinatorState.READY
    coordinator.append_leaf("msg-5")
    assert state(coordinator) is CoordinatorState.COMPACTION_DUE


@pytest.mark.req("COORD-037")
def test_the_context_measure() -> None:
    def message(entry_id: str, role: str, tokens: int = 0) -> BufferItem:
        body: dict[str, object] = {"role": role, "content": [{"type": "text", "text": "x" * 40}]}
        if role == "assistant":
            body["usage"] = {"input_tokens": tokens, "cache_read_tokens": 5, "output_tokens": 2}
        return BufferItem.of_message(entry_id, body)

    items = [message("msg-1", "user"), message("msg-2", "assistant", 100), message("msg-3", "user")]
    assert context_tokens(items) == 107 + 10  # usage of msg-2 + the estimate of msg-3
    assert context_tokens([]) == 0
    compacted = [BufferItem.of_summary("cmp-4/summary", "s" * 8), *items[1:]]
    assert context_tokens(compacted) == 2 + 10 + 10  # msg-2 predates cmp-4: all estimated
    later = [*compacted, message("msg-5", "assistant", 50)]
    assert context_tokens(later) == 57
    foreign = [message("a1b2", "user"), message("c3d4", "assistant", 100)]  # ids without numbers
    assert context_tokens(foreign) == 107


@pytest.mark.req("COORD-037", "COORD-100")
def test_trigger_is_validated() -> None:
    assert CompactionConfig(trigger="cumulative").trigger is CompactionTrigger.CUMULATIVE  # type: ignore[arg-type]
    with pytest.raises(CallerError, match="trigger"):
        CompactionConfig(trigger="sometimes")  # type: ignore[arg-type]


@pytest.mark.req("COORD-100")
def test_a_policy_that_is_not_one_is_a_caller_error() -> None:
    with pytest.raises(CallerError, match="policy"):
        CompactionConfig(policy="count_tail")  # type: ignore[arg-type]


SETTINGS = st.builds(
    SessionSettings,
    model=st.text(max_size=20),
    compaction=st.builds(
        CompactionConfig,
        enabled=st.booleans(),
        threshold_tokens=st.integers(0, 2**40),
        policy=st.sampled_from([CountTailPolicy(), UnrestoredPolicy("Mine")])
        | st.builds(TokenBudgetPolicy, st.integers(0, 10**6)),
        trigger=st.sampled_from(list(CompactionTrigger)),
    ),
)


@settings(max_examples=200, deadline=None)
@given(value=SETTINGS)
@pytest.mark.req("COORD-027")
def test_settings_round_trip_through_their_record(value: SessionSettings) -> None:
    record = json.loads(json.dumps(value.to_json()))  # exactly what the file holds
    assert SessionSettings.from_json(record) == value


@pytest.mark.req("COORD-027")
def test_a_damaged_settings_record_is_ignored_not_trusted() -> None:
    good = SessionSettings("openai:gpt-5", CONFIG).to_json()
    bad: object
    for bad in (
        None, [], {"model": 5, "compaction": good["compaction"]},
        {"model": "m", "compaction": {**good["compaction"], "threshold_tokens": -1}},
        {"model": "m", "compaction": {**good["compaction"], "threshold_tokens": "5"}},
        {"model": "m", "compaction": {**good["compaction"], "trigger": "often"}},
        {"model": "m", "compaction": {**good["compaction"], "policy": {"kind": "magic"}}},
        {"model": "m", "compaction": {**good["compaction"], "enabled": 1}},
    ):
        assert SessionSettings.from_json(bad) is None, bad
