"""The coordinator, told as a story: turns, compaction, branches, forks, failures, resume.

Each test names the spec rules it checks. Tests of the lifecycle table are in
test_lifecycle.py; opi's own test cases are in test_opi_cases.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.coordinator.coord_helpers import (
    assistant,
    clock,
    file_entries,
    texts,
    tool_result,
    user,
)

from sessionspec import SessionCoordinator
from sessionspec.compaction import CompactionConfig, CompactionReason, TokenBudgetPolicy
from sessionspec.errors import (
    AppendFailedError,
    CallerError,
    IllegalTransitionError,
    LogFailedError,
    LogLockedError,
)
from sessionspec.pricing import PricingTable
from sessionspec.reference import coordinator as ref
from sessionspec.runtime.coordinator import ForkFailedError, UnknownEntryError
from sessionspec.storage.jsonl import read_log
from sessionspec.storage.log import Durability
from sessionspec.storage.simfs import SimulatedFileSystem
from sessionspec.tables.coordinator import CoordinatorState

SONNET = "anthropic:claude-sonnet-4"


def new(tmp_path: Path, **kwargs: object) -> SessionCoordinator:
    return SessionCoordinator.new(
        tmp_path, "/work", model=SONNET, session_id="s1", clock=clock, **kwargs  # type: ignore[arg-type]
    )


@pytest.mark.req("COORD-006", "COORD-007", "COORD-010", "COORD-014", "COORD-016")
def test_a_turn_is_one_batch_whose_leaf_carries_the_accounting(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    assert coordinator.session_path == str(tmp_path / "s1.jsonl")
    assert coordinator.on_turn_end([user("hi"), assistant("hello")], {"input_tokens": 7}) is None
    entries = file_entries(coordinator.session_path)
    assert [e["type"] for e in entries] == ["message", "message", "leaf"]
    first, second, leaf = entries
    assert (first["id"], first["parent_id"]) == ("msg-1", None)
    assert (second["id"], second["parent_id"]) == ("msg-2", "msg-1")
    assert (leaf["id"], leaf["parent_id"], leaf["entry_id"]) == ("leaf-3", "msg-2", "msg-2")
    assert leaf["timestamp"] == "2023-11-14T22:13:20Z"
    assert leaf[ref.ACCOUNTING_FIELD] == {
        "input_tokens": 7, "output_tokens": 0, "cache_read_tokens": 0,
        "cache_write_tokens": 0, "turns": 1, "watermark": 0,
        # COORD-062: what each model's messages reported, for pricing by model.
        "by_model": {"anthropic:claude-sonnet-4": {
            "input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 0,
            "cache_write_tokens": 0,
        }},
    }
    # The whole turn is one batch: one commit marker, on the leaf (LOG-003).
    lines = [json.loads(x) for x in Path(coordinator.session_path).read_text().splitlines()]
    assert [line.get("ss_end", False) for line in lines[1:]] == [False, False, True]


@pytest.mark.req("COORD-014")
def test_a_turn_without_messages_still_records_its_usage(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([], {"input_tokens": 100, "output_tokens": 50})
    (leaf,) = file_entries(coordinator.session_path)
    assert leaf["entry_id"] == ref.NO_TIP and leaf["parent_id"] is None
    coordinator.on_turn_end([user("q")], None)
    coordinator.on_turn_end([], {"input_tokens": 1})
    assert file_entries(coordinator.session_path)[-1]["entry_id"] == "msg-2"
    path = coordinator.session_path
    coordinator.close()
    resumed = SessionCoordinator.open_existing(path, clock=clock)
    assert (resumed.usage.input_tokens, resumed.usage.turns) == (101, 3)
    assert resumed.recovery.clean


@pytest.mark.req("COORD-015")
def test_messages_are_accepted_as_models_or_dicts_and_bad_ones_write_nothing(
    tmp_path: Path,
) -> None:
    from sessionspec.wire.messages import TextContent, Usage, UserMessage

    coordinator = new(tmp_path)
    model = UserMessage(content=[TextContent(text="as a model")], timestamp_ms=5)
    coordinator.on_turn_end([model, user("as a dict")], Usage(input_tokens=3))
    assert texts(coordinator.context()) == ["as a model", "as a dict"]
    size = Path(coordinator.session_path).stat().st_size
    with pytest.raises(CallerError):
        coordinator.on_turn_end([{"role": "user", "content": "not a list"}])
    with pytest.raises(CallerError):
        coordinator.on_turn_end([user("ok")], {"input_tokens": -1})
    with pytest.raises(CallerError):
        coordinator.append_extension_state({"too big": 2**70})
    assert Path(coordinator.session_path).stat().st_size == size
    assert coordinator.usage.turns == 1 and coordinator.next_seq == 4


@pytest.mark.req("COORD-017", "COORD-151", "COORD-153")
def test_secrets_are_redacted_in_the_file_and_in_memory_alike(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    arguments = json.dumps({"command": "cat secret.txt", "api_key": "k-123"})
    call = assistant("run", calls=(("c1", arguments),))
    result = tool_result("c1", "the output", details={"cwd": "/home/alice/project"})
    coordinator.on_turn_end([user("go"), call, result])
    on_disk = Path(coordinator.session_path).read_text()
    assert "k-123" not in on_disk and "[REDACTED]" in on_disk
    assert "cat secret.txt" in on_disk and "/home/alice" in on_disk  # not secrets
    context = coordinator.context()
    assert json.loads(context[1]["content"][1]["tool_call"]["arguments"]) == {
        "command": "cat secret.txt",
        "api_key": "[REDACTED]",
    }
    assert context[2]["details"] == {"cwd": "/home/alice/project"}
    assert [e["message"] for e in file_entries(coordinator.session_path)[:3]] == context
    # context(fresh=True) hands out copies: mutating them changes nothing inside (COORD-041).
    copied = coordinator.context(fresh=True)
    copied[0]["content"][0]["text"] = "changed"
    assert texts(coordinator.context())[0] == "go"


@pytest.mark.req("COORD-030", "COORD-031", "COORD-005", "COORD-033", "COORD-034", "COORD-041")
def test_threshold_makes_compaction_due_and_compaction_persists_first(tmp_path: Path) -> None:
    coordinator = new(tmp_path, compaction_config=CompactionConfig(threshold_tokens=1000))
    for i in range(3):
        reason = coordinator.on_turn_end(
            [user(f"question {i}"), assistant(f"answer {i}")], {"input_tokens": 400}
        )
    assert reason is CompactionReason.THRESHOLD
    assert coordinator.state is CoordinatorState.COMPACTION_DUE
    result = coordinator.execute_compaction(reason)
    assert result is not None
    assert coordinator.state.value == "ready"
    assert result.first_kept_entry_id == "msg-7" and result.entry_id == "cmp-10"
    assert coordinator.compaction_watermark == 1200
    context = coordinator.context()
    assert context[0] == {
        "type": "compaction_summary",
        "compaction_entry_id": "cmp-10",
        "summary": result.summary,
    }
    assert texts(context)[1:] == ["question 2", "answer 2"]
    assert coordinator.compaction_entries()[0].id == "cmp-10/summary"
    compaction, leaf = file_entries(coordinator.session_path)[-2:]
    assert compaction["ss_reason"] == "threshold" and compaction["ss_summary_source"] == "core"
    assert compaction["first_kept_entry_id"] == "msg-7" and compaction["parent_id"] == "msg-8"
    assert leaf["entry_id"] == "cmp-10" and leaf[ref.ACCOUNTING_FIELD]["watermark"] == 1200
    # The next turn counts from the watermark: 400 < 1000, nothing due.
    assert coordinator.on_turn_end([user("more")], {"input_tokens": 400}) is None


@pytest.mark.req("COORD-036")
def test_nothing_to_compact_is_silent_and_changes_nothing(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("only one")])
    size = Path(coordinator.session_path).stat().st_size
    assert coordinator.execute_compaction("manual") is None
    assert Path(coordinator.session_path).stat().st_size == size
    assert coordinator.next_seq == 3


@pytest.mark.req("COORD-036")
def test_a_summarizer_error_propagates_and_writes_nothing(tmp_path: Path) -> None:
    class Broken:
        def __call__(self, items: object) -> str | None:
            raise RuntimeError("model unavailable")

    coordinator = new(tmp_path, summarizer=Broken())
    for i in range(3):
        coordinator.on_turn_end([user(f"q{i}"), assistant(f"a{i}")])
    size = Path(coordinator.session_path).stat().st_size
    with pytest.raises(RuntimeError, match="model unavailable"):
        coordinator.execute_compaction(CompactionReason.MANUAL)
    assert Path(coordinator.session_path).stat().st_size == size
    assert len(coordinator.compaction_entries()) == 6


@pytest.mark.req("COORD-032")
def test_compaction_never_separates_a_call_from_its_result(tmp_path: Path) -> None:
    config = CompactionConfig(policy=TokenBudgetPolicy(keep_tokens=1))
    coordinator = new(tmp_path, compaction_config=config)
    coordinator.on_turn_end([user("start"), assistant("ok")])
    coordinator.on_turn_end(
        [
            user("list files"),
            assistant("calling", calls=(("c1", "{}"), ("c2", "{}"))),
            tool_result("c1", "a.txt " * 40),
            tool_result("c2", "b.txt " * 40),
        ]
    )
    result = coordinator.execute_compaction("manual")
    assert result is not None
    roles = [item.get("role") for item in coordinator.context()[1:]]
    # The latest user message is kept, and with it the call and both results.
    assert roles == ["user", "assistant", "tool_result", "tool_result"]


@pytest.mark.req("COORD-040")
def test_append_leaf_switches_branch_after_the_write_and_validates(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("root"), assistant("a")])
    coordinator.on_turn_end([user("branch one")])
    coordinator.append_leaf("msg-2")
    assert coordinator.active_tip == "msg-2"
    coordinator.on_turn_end([user("branch two")])
    assert texts(coordinator.context()) == ["root", "a", "branch two"]
    coordinator.append_leaf("msg-4")
    assert texts(coordinator.context()) == ["root", "a", "branch one"]
    size = Path(coordinator.session_path).stat().st_size
    for bad in ("msg-99", "leaf-3", ""):
        with pytest.raises(UnknownEntryError):
            coordinator.append_leaf(bad)
    assert Path(coordinator.session_path).stat().st_size == size


@pytest.mark.req("COORD-043")
def test_extension_state_is_parented_to_the_tip_and_does_not_move_it(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("x")])
    assert coordinator.append_extension_state({"plan": [1, 2]}) == "state-3"
    entry = file_entries(coordinator.session_path)[-1]
    assert entry == {
        "type": "extension_state", "id": "state-3", "parent_id": "msg-1",
        "timestamp": "2023-11-14T22:13:20Z", "state": {"plan": [1, 2]},
    }
    assert coordinator.active_tip == "msg-1"


@pytest.mark.req("COORD-050", "COORD-051")
def test_fork_copies_the_active_branch_into_a_new_file_with_lineage(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.append_extension_state({"v": 0})
    coordinator.on_turn_end([user("root"), assistant("a")], {"input_tokens": 50})
    coordinator.on_turn_end([user("dead branch")])
    coordinator.append_leaf("msg-3")
    coordinator.append_extension_state({"v": 1})
    source_bytes = Path(coordinator.session_path).read_bytes()
    fork = coordinator.fork(session_id="f1")
    assert Path(coordinator.session_path).read_bytes() == source_bytes
    assert fork.path == str(tmp_path / "f1.jsonl") and fork.parent_session == "s1"
    header = json.loads(Path(fork.path).read_text().splitlines()[0])
    assert header["parent_session"] == "s1" and header["cwd"] == "/work"
    entries = file_entries(fork.path)
    assert [e["id"] for e in entries] == ["msg-2", "msg-3", "state-8", "leaf-9"]
    assert entries[-1]["entry_id"] == "msg-3"
    assert entries[-1][ref.ACCOUNTING_FIELD]["input_tokens"] == 0
    forked = SessionCoordinator.open_existing(fork.path, clock=clock)
    assert texts(forked.context()) == ["root", "a"] and forked.usage.turns == 0
    assert forked.recovery.clean
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.req("COORD-050")
def test_a_failed_fork_leaves_no_file_and_the_source_untouched() -> None:
    fs = SimulatedFileSystem()
    coordinator = SessionCoordinator.new("/d", "/w", session_id="s", fs=fs, clock=clock)
    coordinator.on_turn_end([user("x")])
    fs.arm("rename", 0)
    with pytest.raises(ForkFailedError):
        coordinator.fork(session_id="f")
    assert fs.listdir("/d") == ["s.jsonl"]
    assert coordinator.state is CoordinatorState.READY
    coordinator.on_turn_end([user("still writable")])


@pytest.mark.req("COORD-011", "COORD-002")
def test_a_failed_write_is_undone_and_changes_nothing() -> None:
    fs = SimulatedFileSystem()
    coordinator = SessionCoordinator.new("/d", "/w", session_id="s", fs=fs, clock=clock)
    coordinator.on_turn_end([user("kept")], {"input_tokens": 5})
    before = (coordinator.context(), coordinator.figures, coordinator.next_seq)
    data = fs.read_bytes("/d/s.jsonl")
    fs.arm("fsync", 0)
    with pytest.raises(AppendFailedError):
        coordinator.on_turn_end([user("lost"), assistant("lost")], {"input_tokens": 9})
    assert fs.read_bytes("/d/s.jsonl") == data
    assert (coordinator.context(), coordinator.figures, coordinator.next_seq) == before
    fs.arm("write", 0, partial=0.5)
    with pytest.raises(AppendFailedError):
        coordinator.append_leaf("msg-1")
    assert coordinator.state is CoordinatorState.READY
    coordinator.on_turn_end([user("next")])
    assert [e["id"] for e in file_entries_sim(fs)][-2:] == ["msg-3", "leaf-4"]


def file_entries_sim(fs: SimulatedFileSystem) -> list[dict[str, object]]:
    return [r.entry for r in read_log("/d/s.jsonl", fs=fs).records]


@pytest.mark.req("COORD-012")
def test_a_failed_cut_back_fails_the_coordinator_until_it_is_opened_again() -> None:
    fs = SimulatedFileSystem()
    coordinator = SessionCoordinator.new("/d", "/w", session_id="s", fs=fs, clock=clock)
    coordinator.on_turn_end([user("kept")])
    fs.arm("fsync", 0)
    fs.arm("truncate", 0)
    with pytest.raises(LogFailedError):
        coordinator.on_turn_end([user("in doubt")])
    assert coordinator.state is CoordinatorState.FAILED
    assert texts(coordinator.context()) == ["kept"]
    for operation in (
        lambda: coordinator.on_turn_end([user("no")]),
        lambda: coordinator.execute_compaction("manual"),
        lambda: coordinator.append_leaf("msg-1"),
        lambda: coordinator.append_extension_state({}),
        lambda: coordinator.fork(session_id="f"),
    ):
        with pytest.raises(IllegalTransitionError) as refused:
            operation()
        assert refused.value.state == "failed"
    coordinator.close()
    reopened = SessionCoordinator.open_existing("/d/s.jsonl", fs=fs, clock=clock)
    assert texts(reopened.context()) in (["kept"], ["kept", "in doubt"])


@pytest.mark.req("COORD-001")
def test_closed_refuses_everything_and_releases_the_lock(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    with pytest.raises(LogLockedError):
        SessionCoordinator.open_existing(coordinator.session_path)
    coordinator.close()
    coordinator.close()  # harmless
    with pytest.raises(IllegalTransitionError, match="closed"):
        coordinator.on_turn_end([user("late")])
    with SessionCoordinator.open_existing(coordinator.session_path) as again:
        assert again.state is CoordinatorState.READY


@pytest.mark.req("COORD-013")
def test_durability_is_explicit(tmp_path: Path) -> None:
    assert new(tmp_path).durable
    fast = SessionCoordinator.new(tmp_path, "/w", durability=Durability.NO_SYNC, session_id="x")
    assert not fast.durable and fast.durability is Durability.NO_SYNC


@pytest.mark.req("COORD-004")
def test_ids_are_per_session_and_continue_after_the_highest_in_the_file(tmp_path: Path) -> None:
    first = new(tmp_path)
    first.on_turn_end([user("a")])
    second = SessionCoordinator.new(tmp_path, "/w", session_id="s2", clock=clock)
    second.on_turn_end([user("b")])
    assert file_entries(second.session_path)[0]["id"] == "msg-1"  # not a process counter
    first.on_turn_end([user("c")])
    first.close()
    resumed = SessionCoordinator.open_existing(tmp_path / "s1.jsonl", clock=clock)
    assert resumed.next_seq == 5
    resumed.append_extension_state(None)
    assert file_entries(resumed.session_path)[-1]["id"] == "state-5"


@pytest.mark.req("COORD-020", "COORD-030")
def test_resume_is_equivalent_including_watermark_turns_and_due_state(tmp_path: Path) -> None:
    config = CompactionConfig(threshold_tokens=500)
    live = new(tmp_path, compaction_config=config)
    live.on_turn_end([user("one"), assistant("two")], {"input_tokens": 300})
    live.on_turn_end([], {"output_tokens": 100})
    live.on_turn_end([user("three")], {"input_tokens": 300})
    live.execute_compaction("threshold")
    live.on_turn_end([assistant("four")], {"input_tokens": 600})
    assert live.state is CoordinatorState.COMPACTION_DUE
    observed = (live.context(), live.figures, live.active_tip, live.next_seq, live.state)
    live.close()
    resumed = SessionCoordinator.open_existing(live.session_path, config, clock=clock)
    assert (
        resumed.context(), resumed.figures, resumed.active_tip, resumed.next_seq, resumed.state
    ) == observed
    assert resumed.usage.turns == 4  # opi would count 2 (user messages on the branch)


@pytest.mark.req("COORD-060")
def test_cost_summary_names_the_pricing_version(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([], {"input_tokens": 1_000_000, "output_tokens": 500_000})
    cost = coordinator.cost_summary()
    assert cost is not None
    assert cost.total == pytest.approx(10.5)
    assert cost.pricing_version == PricingTable.default().version
    custom = PricingTable.from_dict(
        {
            "version": "test-7",
            "models": {"anthropic": {"claude-sonnet-4": {"input": 1.0, "output": 1.0}}},
        }
    )
    priced = SessionCoordinator.new(
        tmp_path, "/w", model=SONNET, session_id="p", pricing=custom, clock=clock
    )
    priced.on_turn_end([], {"input_tokens": 2_000_000})
    custom_cost = priced.cost_summary()
    assert custom_cost is not None and custom_cost.pricing_version == "test-7"
    assert custom_cost.total == pytest.approx(2.0)


@pytest.mark.req("COORD-061")
def test_usage_counters_do_not_wrap_at_32_bits(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    for _ in range(3):
        coordinator.on_turn_end([], {"input_tokens": 2**32 - 1})
    assert coordinator.usage.input_tokens == 3 * (2**32 - 1)
    coordinator.close()
    resumed = SessionCoordinator.open_existing(coordinator.session_path)
    assert resumed.usage.input_tokens == 3 * (2**32 - 1)


@pytest.mark.req("COORD-035", "COORD-042")
def test_on_turn_end_simple_compacts_inline_when_due(tmp_path: Path) -> None:
    coordinator = new(tmp_path, compaction_config=CompactionConfig(threshold_tokens=100))
    assert coordinator.on_turn_end_simple([user("a"), assistant("b")], {"input_tokens": 10}) is None
    result = coordinator.on_turn_end_simple([user("c"), assistant("d")], {"input_tokens": 95})
    assert result is not None and coordinator.state is CoordinatorState.READY
    ids = [item.id for item in coordinator.compaction_entries()]
    assert ids[0] == f"{result.entry_id}/summary"
    assert len(ids) == len(coordinator.context())


@pytest.mark.req("COORD-003")
def test_every_line_reads_as_an_opi_v1_entry(tmp_path: Path) -> None:
    from sessionspec.wire.log import ENTRY_TYPES, SessionHeader, parse_entry

    coordinator = new(tmp_path, compaction_config=CompactionConfig(threshold_tokens=10))
    coordinator.append_extension_state({"k": 1})
    coordinator.on_turn_end([], {"input_tokens": 1})
    coordinator.on_turn_end([user("q"), assistant("a", calls=(("c", "{}"),)),
                             tool_result("c", "r")], {"input_tokens": 20})
    coordinator.on_turn_end_simple([user("q2"), assistant("a2")], {"input_tokens": 20})
    coordinator.append_leaf("msg-3")
    lines = Path(coordinator.session_path).read_text().splitlines()
    SessionHeader.model_validate(json.loads(lines[0]))
    for line in lines[1:]:
        entry = json.loads(line)
        assert entry["type"] in ENTRY_TYPES
        parse_entry(entry)  # the opi v1 model, extra fields allowed (WIRE-005)
