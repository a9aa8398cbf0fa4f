"""opi's own coordinator tests (research/seeds.md §1.10), replayed against our coordinator.

Where our rule agrees with opi, the test has opi's name and opi's outcome. Where it differs,
the test is named ``..._differs_from_opi`` and shows both outcomes: opi's, as the seed
documents it, and ours, with the requirement id of the rule (spec §9).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.coordinator.coord_helpers import (
    assistant,
    clock,
    compaction_entry,
    file_entries,
    leaf_entry,
    message_entry,
    texts,
    tool_result,
    user,
    write_opi_file,
)

from sessionspec import SessionCoordinator
from sessionspec.compaction import CompactionConfig
from sessionspec.errors import AppendFailedError
from sessionspec.redaction import RedactionPolicy
from sessionspec.reference.coordinator import context_dicts, context_of
from sessionspec.runtime.coordinator import UnknownEntryError
from sessionspec.storage.simfs import SimulatedFileSystem


def new(tmp_path: Path, **kwargs: object) -> SessionCoordinator:
    return SessionCoordinator.new(tmp_path, "/work", clock=clock, **kwargs)  # type: ignore[arg-type]


def reconstruct(entries: list[dict[str, object]]) -> list[str]:
    return texts(context_dicts(context_of(entries)))


# -- crates/opi-coding-agent/tests/session_runtime.rs ------------------------------------


@pytest.mark.req("COORD-006")
def test_session_coordinator_creates_jsonl_file(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    assert [p.suffix for p in tmp_path.iterdir()] == [".jsonl"]
    header = json.loads(Path(coordinator.session_path).read_text().splitlines()[0])
    assert header["type"] == "session" and header["cwd"] == "/work"
    assert header["id"] == coordinator.session_id
    assert file_entries(coordinator.session_path) == []


@pytest.mark.req("COORD-010")
def test_session_coordinator_persists_messages_on_turn_end(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("one"), user("two")])
    entries = file_entries(coordinator.session_path)
    assert [e["type"] for e in entries] == ["message", "message", "leaf"]


@pytest.mark.req("COORD-017", "COORD-151")
def test_session_coordinator_redacts_tool_result_details_but_keeps_content_differs_from_opi(
    tmp_path: Path,
) -> None:
    # opi redacts content keys (command, cwd, ...) in the file and keeps them in memory, so a
    # resume shows the model other details than it saw. With opi's policy we redact the same
    # values, but in memory too; the default redacts only secrets (COORD-151).
    details = {"command": "echo CANARY-123", "cwd": "/home/me"}
    opi_like = new(tmp_path / "opi", redaction=RedactionPolicy.opi())
    opi_like.on_turn_end([tool_result("c1", "visible content", details=details)])
    text = Path(opi_like.session_path).read_text()
    assert "CANARY-123" not in text and "visible content" in text
    message = file_entries(opi_like.session_path)[0]["message"]
    assert message["details"] == {"command": "[REDACTED]", "cwd": "[REDACTED]"}
    assert opi_like.context()[0]["details"] == message["details"]  # memory = file
    ours = new(tmp_path / "ours")
    ours.on_turn_end([tool_result("c1", "visible content", details=details)])
    assert file_entries(ours.session_path)[0]["message"]["details"] == details


@pytest.mark.req("COORD-017", "COORD-153")
def test_session_coordinator_redacts_assistant_tool_call_arguments(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    arguments = json.dumps({"command": "curl -H 'token: sk-CANARY4567890abcdef'"})
    coordinator.on_turn_end([assistant("x", calls=(("c1", arguments),))])
    text = Path(coordinator.session_path).read_text()
    assert "sk-CANARY4567890abcdef" not in text and "[REDACTED]" in text
    assert "curl -H" in text  # the command itself is not a secret


@pytest.mark.req("COORD-014", "COORD-016")
def test_session_coordinator_accumulates_usage_differs_from_opi(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    for _ in range(2):
        coordinator.on_turn_end([], {"input_tokens": 100, "output_tokens": 50})
    # Same figures as opi ...
    assert (coordinator.usage.turns, coordinator.usage.input_tokens) == (2, 200)
    # ... but opi writes nothing for a turn without messages, so its resume loses them.
    # We write a leaf carrying the turn's usage, and a resume keeps the figures.
    assert [e["type"] for e in file_entries(coordinator.session_path)] == ["leaf", "leaf"]
    coordinator.close()
    resumed = SessionCoordinator.open_existing(coordinator.session_path)
    assert (resumed.usage.turns, resumed.usage.input_tokens) == (2, 200)


@pytest.mark.req("COORD-021")
def test_reconstruct_context_from_session_entries() -> None:
    entries = [
        message_entry("e1", None, user("Hello")),
        message_entry("e2", "e1", assistant("World")),
    ]
    assert reconstruct(entries) == ["Hello", "World"]


@pytest.mark.req("COORD-022")
def test_reconstruct_context_includes_compaction_summaries() -> None:
    entries = [
        message_entry("e1", None, user("Hello")),
        message_entry("e2", "e1", assistant("World")),
        compaction_entry("c1", "e2", first_kept="e2"),
        message_entry("e3", "c1", user("Follow up")),
    ]
    assert reconstruct(entries) == ["earlier talk", "World", "Follow up"]


@pytest.mark.req("COORD-022")
def test_reconstruct_context_missing_first_kept_id_differs_from_opi(tmp_path: Path) -> None:
    entries = [
        message_entry("e1", None, user("Hello")),
        compaction_entry("c1", "e1", first_kept="missing"),
        message_entry("e2", "c1", user("After")),
    ]
    # opi: [summary, e2] -- e1 is silently dropped. Ours: nothing is dropped, and the
    # resume reports which compaction named a missing entry.
    assert reconstruct(entries) == ["earlier talk", "Hello", "After"]
    path = write_opi_file(tmp_path / "s.jsonl", entries)
    resumed = SessionCoordinator.open_existing(path)
    assert texts(resumed.context()) == ["earlier talk", "Hello", "After"]
    assert resumed.recovery.missing_first_kept == ("c1",)
    assert "first_kept_missing" in [d.code for d in resumed.recovery.diagnostics()]


@pytest.mark.req("COORD-031")
def test_compaction_shrinks_buffer_and_returns_summary_plus_kept(tmp_path: Path) -> None:
    coordinator = new(tmp_path, compaction_config=CompactionConfig(threshold_tokens=1))
    messages = []
    for i in range(8):
        messages += [user(f"question number {i}"), assistant(f"answer number {i}")]
    reason = coordinator.on_turn_end(messages, {"input_tokens": 10})
    assert reason is not None
    result = coordinator.execute_compaction(reason)
    assert result is not None
    context = coordinator.context()
    assert context[0]["type"] == "compaction_summary"
    assert len(context) < 16
    assert result.tokens_after <= result.tokens_before


@pytest.mark.req("COORD-060")
def test_compaction_engine_reads_pricing_and_reports_cost(tmp_path: Path) -> None:
    coordinator = new(tmp_path, model="anthropic:claude-sonnet-4-20250514")
    coordinator.on_turn_end([], {"input_tokens": 1_000_000, "output_tokens": 500_000})
    cost = coordinator.cost_summary()
    assert cost is not None and cost.total == pytest.approx(10.5)


@pytest.mark.req("COORD-060")
def test_cost_summary_returns_none_for_unknown_model(tmp_path: Path) -> None:
    coordinator = new(tmp_path, model="nobody:unknown-model")
    coordinator.on_turn_end([], {"input_tokens": 5})
    assert coordinator.cost_summary() is None


@pytest.mark.req("COORD-021")
def test_open_existing_appends_to_original_file(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("first")])
    coordinator.close()
    resumed = SessionCoordinator.open_existing(coordinator.session_path)
    assert resumed.session_id == coordinator.session_id
    resumed.on_turn_end([user("second")])
    entries = file_entries(coordinator.session_path)
    assert sum(e["type"] == "message" for e in entries) == 2
    assert entries[-1]["type"] == "leaf"


@pytest.mark.req("COORD-021", "COORD-023")
def test_open_existing_preserves_kept_tail_after_compaction(tmp_path: Path) -> None:
    path = write_opi_file(
        tmp_path / "s.jsonl",
        [
            message_entry("msg-1", None, user("one")),
            message_entry("msg-2", "msg-1", user("two")),
            compaction_entry("cmp-1", "msg-2", first_kept="msg-2"),
        ],
    )
    resumed = SessionCoordinator.open_existing(path)
    assert [i.id for i in resumed.compaction_entries()] == ["cmp-1/summary", "msg-2"]
    assert resumed.recovery.legacy_order


@pytest.mark.req("COORD-021")
def test_reconstruct_context_follows_last_leaf_to_active_branch() -> None:
    entries = [
        message_entry("e1", None, user("root")),
        message_entry("e2a", "e1", user("a")),
        message_entry("e2b", "e1", user("b")),
        message_entry("e3a", "e2a", user("a2")),
        leaf_entry("l1", "e3a"),
    ]
    assert reconstruct(entries) == ["root", "a", "a2"]


@pytest.mark.req("COORD-021")
def test_reconstruct_context_uses_last_leaf_when_multiple_present() -> None:
    entries = [
        message_entry("e1", None, user("root")),
        message_entry("e2a", "e1", user("a")),
        message_entry("e2b", "e1", user("b")),
        leaf_entry("l1", "e2a"),
        leaf_entry("l2", "e2b"),
    ]
    assert reconstruct(entries) == ["root", "b"]


@pytest.mark.req("COORD-040")
def test_session_coordinator_append_leaf_switches_active_branch(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("root"), user("a")])
    coordinator.append_leaf("msg-1")
    coordinator.on_turn_end([user("b")])
    coordinator.append_leaf("msg-2")
    assert file_entries(coordinator.session_path)[-1]["entry_id"] == "msg-2"
    assert texts(coordinator.context()) == ["root", "a"]


@pytest.mark.req("COORD-010")
def test_session_coordinator_links_turn_entries_and_updates_leaf_tip(tmp_path: Path) -> None:
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("m1"), user("m2")])
    m1, m2, leaf = file_entries(coordinator.session_path)
    assert m1["parent_id"] is None and m2["parent_id"] == m1["id"]
    assert leaf["entry_id"] == leaf["parent_id"] == m2["id"]


@pytest.mark.req("COORD-021")
def test_open_existing_appends_new_turn_under_active_leaf_tip(tmp_path: Path) -> None:
    path = write_opi_file(
        tmp_path / "s.jsonl",
        [
            message_entry("e1", None, user("root")),
            message_entry("e2a", "e1", user("a")),
            message_entry("e2b", "e1", user("b")),
            leaf_entry("l1", "e2a"),
        ],
    )
    resumed = SessionCoordinator.open_existing(path)
    resumed.on_turn_end([user("next")])
    *_, message, leaf = file_entries(path)
    assert message["parent_id"] == "e2a" and leaf["entry_id"] == message["id"]


@pytest.mark.req("COORD-021")
def test_reconstruct_context_without_leaf_falls_back_to_file_order() -> None:
    entries = [
        message_entry("e1", None, user("one")),
        message_entry("e2", "e1", user("two")),
        message_entry("e3", "e1", user("three")),
    ]
    assert reconstruct(entries) == ["one", "two", "three"]


@pytest.mark.req("COORD-021", "COORD-022")
def test_reconstruct_context_active_branch_with_compaction() -> None:
    entries = [
        message_entry("e1", None, user("one")),
        message_entry("e2", "e1", user("two")),
        compaction_entry("c1", "e2", first_kept="e2"),
        message_entry("e3", "c1", user("post")),
        message_entry("x", "e1", user("sibling")),
        leaf_entry("l1", "e3"),
    ]
    assert reconstruct(entries) == ["earlier talk", "two", "post"]


@pytest.mark.req("COORD-021", "COORD-024")
def test_open_existing_with_branched_leaf_excludes_sibling_from_compaction_buffer(
    tmp_path: Path,
) -> None:
    path = write_opi_file(
        tmp_path / "s.jsonl",
        [
            message_entry("e1", None, user("root")),
            message_entry("e2a", "e1", user("a")),
            message_entry("e2b", "e1", user("b")),
            leaf_entry("l1", "e2a"),
        ],
    )
    resumed = SessionCoordinator.open_existing(path)
    assert [i.id for i in resumed.compaction_entries()] == ["e1", "e2a"]


@pytest.mark.req("COORD-023")
def test_open_existing_replays_usage_from_assistant_messages(tmp_path: Path) -> None:
    usage_a = {"input_tokens": 100, "output_tokens": 30, "cache_read_tokens": 10,
               "cache_write_tokens": 5}
    usage_b = {"input_tokens": 200, "output_tokens": 100, "cache_read_tokens": 20,
               "cache_write_tokens": 10}
    path = write_opi_file(
        tmp_path / "s.jsonl",
        [
            message_entry("msg-1", None, user("q")),
            message_entry("msg-2", "msg-1", assistant("a", usage=usage_a)),
            message_entry("msg-3", "msg-2", assistant("b", usage=usage_b)),
            leaf_entry("leaf-4", "msg-3"),
        ],
    )
    resumed = SessionCoordinator.open_existing(path)
    usage = resumed.usage
    assert (usage.turns, usage.input_tokens, usage.output_tokens) == (1, 300, 130)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (30, 15)
    # Ours adds: the figures are marked as reconstructed, and the watermark is the total.
    assert dict(resumed.recovery.reconstructed)["turns"] == 1
    assert resumed.compaction_watermark == 475
    assert "figures_reconstructed" in [d.code for d in resumed.recovery.diagnostics()]
    assert resumed.next_seq == 5


@pytest.mark.req("COORD-010", "COORD-011")
def test_phase8_cancel_persists_only_finalized_state_differs_from_opi() -> None:
    # opi persists message by message: a turn interrupted by a write error leaves its first
    # messages on disk and its usage counted. Ours writes the turn as one batch: nothing.
    fs = SimulatedFileSystem()
    coordinator = SessionCoordinator.new("/d", "/w", session_id="s", fs=fs, clock=clock)
    coordinator.on_turn_end([user("finalized")], {"input_tokens": 1})
    before = fs.read_bytes("/d/s.jsonl")
    fs.arm("write", 0, partial=0.6)
    with pytest.raises(AppendFailedError):
        coordinator.on_turn_end([user("half"), assistant("turn")], {"input_tokens": 1000})
    assert fs.read_bytes("/d/s.jsonl") == before
    assert coordinator.usage.input_tokens == 1 and coordinator.usage.turns == 1


# -- differences that opi's tests do not cover ------------------------------------------


@pytest.mark.req("COORD-040")
def test_append_leaf_to_a_missing_entry_differs_from_opi(tmp_path: Path) -> None:
    # opi writes the leaf (and its next resume shows an empty context). Ours refuses it.
    coordinator = new(tmp_path)
    coordinator.on_turn_end([user("x")])
    with pytest.raises(UnknownEntryError):
        coordinator.append_leaf("nowhere")
    assert [e["type"] for e in file_entries(coordinator.session_path)] == ["message", "leaf"]


@pytest.mark.req("COORD-021", "COORD-025")
def test_dangling_last_leaf_differs_from_opi(tmp_path: Path) -> None:
    # opi (leaf_pointing_to_nonexistent_entry, audit M1): an empty context. Ours: the last
    # valid leaf wins and the dangling one is reported.
    path = write_opi_file(
        tmp_path / "s.jsonl",
        [
            message_entry("e1", None, user("one")),
            message_entry("e2", "e1", user("two")),
            leaf_entry("l1", "e2"),
            leaf_entry("l2", "gone"),
        ],
    )
    resumed = SessionCoordinator.open_existing(path)
    assert texts(resumed.context()) == ["one", "two"]
    assert resumed.recovery.dangling_leaves == ("l2",)


@pytest.mark.req("COORD-020")
def test_watermark_survives_resume_differs_from_opi(tmp_path: Path) -> None:
    # opi resets the watermark to the total at resume, so a compaction that was due is
    # forgotten. Ours persists it: the resumed coordinator is still due.
    config = CompactionConfig(threshold_tokens=100)
    coordinator = new(tmp_path, compaction_config=config)
    assert coordinator.on_turn_end([user("q")], {"input_tokens": 150}) is not None
    coordinator.close()
    resumed = SessionCoordinator.open_existing(coordinator.session_path, config)
    assert resumed.compaction_watermark == 0
    assert resumed.state.value == "compaction_due"
    assert resumed.on_turn_end([], {"input_tokens": 1}) is not None


@pytest.mark.req("COORD-004")
def test_ids_continue_per_session_differs_from_opi(tmp_path: Path) -> None:
    # opi's counter is process-global: a second session in the same process continues it.
    first = new(tmp_path, session_id="a")
    first.on_turn_end([user("x")] * 3)
    second = new(tmp_path, session_id="b")
    second.on_turn_end([user("y")])
    assert file_entries(second.session_path)[0]["id"] == "msg-1"
