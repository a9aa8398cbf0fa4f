"""The file commands: check, replay, tree, usage, sessions, import (FILES)."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from pathlib import Path

import pytest

from sessionspec import ImportVerificationError, SessionCoordinator, UnrepresentableError
from sessionspec.cli import main
from sessionspec.codecs import read_session
from sessionspec.importer import import_session, verify_import
from sessionspec.reports import entry_tree, list_sessions, tree_lines, usage_report

FIXTURES = Path(__file__).parent / "fixtures"
CLEAN = ["pi_v3_branches.jsonl", "claude_code_session.jsonl", "codex_rollout.jsonl",
         "sessionspec_branches.jsonl", "pi_v3_torn_tail.jsonl"]


def fixture(name: str) -> str:
    return str(FIXTURES / name)


@pytest.mark.req("FILES-017")
def test_check_passes_clean_files_and_exits_1_on_violations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", *map(fixture, CLEAN)]) == 0
    out = capsys.readouterr().out
    assert "5 file(s)" in out
    assert main(["check", fixture("pi_v3_violations.jsonl"), fixture("pi_v2_hook.jsonl")]) == 1
    out = capsys.readouterr().out
    assert "pi_v3_violations.jsonl:6: byte 1401: error FILES-004 duplicate_id" in out


@pytest.mark.req("FILES-017")
def test_check_json_and_junit_name_every_finding(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--output", "json", fixture("claude_code_violations.jsonl"),
                 fixture("codex_rollout.jsonl")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"files": 2, "errors": 5}
    first = report["files"][0]
    assert first["format"] == "claude-code" and not first["ok"]
    assert first["recovery"] == "clean"
    assert {f["requirement"] for f in first["findings"]} == {"FILES-004", "FILES-005", "FILES-008"}
    assert all({"line", "offset", "code", "severity", "message"} <= set(f)
               for f in first["findings"])
    assert report["files"][1]["ok"]

    assert main(["check", "--output", "junit", fixture("pi_v3_violations.jsonl"),
                 fixture("pi_v2_hook.jsonl")]) == 1
    root = ElementTree.fromstring(capsys.readouterr().out.split("?>", 1)[1])
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failures = root.findall(".//failure")
    assert {f.get("type") for f in failures} == {
        "FILES-002", "FILES-004", "FILES-005", "FILES-006", "FILES-007", "FILES-008"
    }


@pytest.mark.req("FILES-001", "FILES-017")
def test_check_reports_an_unreadable_file_as_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "odd.jsonl"
    odd.write_text("not json\n")
    assert main(["check", str(odd), str(tmp_path / "missing.jsonl")]) == 1
    out = capsys.readouterr().out
    assert out.count("FILES-001 unreadable") == 2
    assert main(["check", "--format", "codex", fixture("pi_v2_hook.jsonl")]) == 1


@pytest.mark.req("FILES-012")
def test_replay_prints_the_context(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", fixture("claude_code_session.jsonl")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[summary of compacted history] This session is being continued")
    assert "→ Bash(" in out and "tool_result Bash [toolu_c5]: 12 passed" in out
    assert main(["replay", "--json", fixture("pi_v3_branches.jsonl")]) == 0
    context = json.loads(capsys.readouterr().out)
    assert context == list(read_session(fixture("pi_v3_branches.jsonl")).context)


@pytest.mark.req("FILES-016")
def test_tree_marks_the_active_branch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tree", fixture("pi_v3_branches.jsonl")]) == 0
    lines = capsys.readouterr().out.splitlines()
    abandoned = next(line for line in lines if "[a100000d " in line)
    chosen = next(line for line in lines if "[a1000010 " in line)
    assert abandoned.startswith("  ") and "├─ " in abandoned
    assert chosen.startswith("* ") and "└─ " in chosen
    assert "◀ leaf" in next(line for line in lines if "[a1000016 " in line)
    result = read_session(fixture("claude_code_session.jsonl"))
    rendered = tree_lines(result)
    assert len(rendered) == len(result.entries)
    assert sum(line.startswith("*") for line in rendered) == len(result.active_branch)


@pytest.mark.req("FILES-013")
def test_usage_counts_a_request_once_across_copies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("claude_code_session.jsonl", "codex_rollout.jsonl", "pi_v3_branches.jsonl"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    assert main(["usage", "--json", str(tmp_path)]) == 0
    once = json.loads(capsys.readouterr().out)
    (tmp_path / "resumed").mkdir()
    shutil.copy(FIXTURES / "claude_code_session.jsonl", tmp_path / "resumed" / "copy.jsonl")
    shutil.copy(FIXTURES / "codex_rollout.jsonl", tmp_path / "resumed" / "fork.jsonl")
    assert main(["usage", "--json", str(tmp_path)]) == 0
    twice = json.loads(capsys.readouterr().out)
    assert twice["total"] == once["total"]
    assert twice["files"] == 5 and twice["duplicate_requests"] == once["duplicate_requests"] + 15
    by_model = {row["name"]: row for row in once["by_model"]}
    codex = by_model["openai:gpt-5-codex"]  # priced since the table has today's models
    assert codex["requests"] == 5 and codex["unpriced_requests"] == 0
    assert Decimal(codex["cost_usd"]) > 0
    sonnet = by_model["anthropic:claude-sonnet-4-5"]
    assert sonnet["requests"] == 8 and Decimal(sonnet["cost_usd"]) > 0
    assert {row["name"] for row in once["by_day"]} == {"2026-03-01", "2026-04-02", "2026-05-06"}
    assert main(["usage", str(tmp_path), "--by", "model"]) == 0
    text = capsys.readouterr().out
    assert "usage by model" in text and "repeated requests counted once" in text


@pytest.mark.req("FILES-013")
def test_usage_report_prices_with_the_table_or_the_files_own_cost() -> None:
    pi = read_session(fixture("pi_v3_branches.jsonl"))
    report = usage_report([pi])
    stated = sum(r.stated_cost or 0 for r in pi.usage)
    assert float(report.total.cost) == pytest.approx(stated, rel=1e-9)  # same prices as the fixture
    assert report.total.requests == 8 and report.duplicates == 0


@pytest.mark.req("FILES-015")
def test_sessions_lists_newest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for index, name in enumerate(("pi_v2_hook.jsonl", "codex_rollout.jsonl",
                                  "claude_code_session.jsonl")):
        target = tmp_path / name
        shutil.copy(FIXTURES / name, target)
        os.utime(target, (1_700_000_000 + index, 1_700_000_000 + index))
    (tmp_path / "junk.jsonl").write_text("nothing here\n")
    listing = list_sessions(tmp_path)
    assert [s.format for s in listing.sessions] == ["claude-code", "codex", "pi"]
    assert listing.sessions[0].title == "Shop: cart total rounding bug"
    assert listing.sessions[0].turns == 4 and listing.sessions[0].cost is not None
    assert [os.path.basename(p) for p, _ in listing.skipped] == ["junk.jsonl"]
    assert main(["sessions", "--json", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["format"] for s in shown["sessions"]] == ["claude-code", "codex", "pi"]


@pytest.mark.req("FILES-014")
@pytest.mark.parametrize("name", ["pi_v3_branches.jsonl", "claude_code_session.jsonl",
                                  "codex_rollout.jsonl", "pi_v1_linear.jsonl",
                                  "sessionspec_branches.jsonl"])
def test_import_writes_a_log_that_replays_to_the_same_context(name: str, tmp_path: Path) -> None:
    source = read_session(fixture(name))
    result = import_session(fixture(name), tmp_path, session_id="imported")
    coordinator = SessionCoordinator.open_existing(result.path)
    try:
        replayed = coordinator.context()
        assert coordinator.recovery.clean
        assert coordinator.usage.turns >= 1
    finally:
        coordinator.close()
    replaced = {
        item["compaction_entry_id"] for item in replayed
        if item.get("type") == "compaction_summary" and name.startswith("codex")
    }
    assert verify_import(source.context, replayed, replaced) is None
    assert [m for m in replayed if "role" in m] == [m for m in source.context if "role" in m]


@pytest.mark.req("FILES-014")
def test_import_refuses_overwrites_and_what_our_log_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", fixture("pi_v2_hook.jsonl"), "--to", str(tmp_path)]) == 0
    assert "replay verified" in capsys.readouterr().out
    assert main(["import", fixture("pi_v2_hook.jsonl"), "--to", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(UnrepresentableError, match="keeping from ''"):
        import_session(fixture("opi_legacy_no_ids.jsonl"), tmp_path)
    assert not (tmp_path / "legacy-1.jsonl").exists()


@pytest.mark.req("FILES-014")
def test_verification_names_the_first_difference() -> None:
    source = [{"role": "user", "content": [], "timestamp_ms": 1}]
    assert verify_import(source, source) is None
    assert verify_import(source, []) is not None
    other = [{"role": "user", "content": [{"type": "text", "text": "x"}], "timestamp_ms": 1}]
    assert verify_import(source, other) == "item 0: user message differs"
    assert issubclass(ImportVerificationError, Exception)


@pytest.mark.req("FILES-013")
def test_usage_without_paths_reads_the_known_session_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    claude = tmp_path / ".claude" / "projects" / "-home-me-shop"
    codex = tmp_path / ".codex" / "sessions" / "2026" / "05" / "06"
    for folder, name in ((claude, "claude_code_session.jsonl"), (codex, "codex_rollout.jsonl")):
        folder.mkdir(parents=True)
        shutil.copy(FIXTURES / name, folder / name)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["usage", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"] == 2
    assert {row["name"] for row in report["by_model"]} >= {"openai:gpt-5-codex"}


@pytest.mark.req("FILES-016", "FILES-017")
def test_check_takes_folders_and_entry_tree_takes_a_coordinator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(FIXTURES / "pi_v2_hook.jsonl", nested / "one.jsonl")
    shutil.copy(FIXTURES / "codex_rollout.jsonl", tmp_path / "two.jsonl")
    assert main(["check", "--output", "json", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == {"files": 2, "errors": 0}
    coordinator = SessionCoordinator.new(tmp_path / "ours", cwd="/w", session_id="t")
    try:
        coordinator.on_turn_end([{"role": "user", "content": [], "timestamp_ms": 1}])
        tree = entry_tree(coordinator)
        assert tree.format == "sessionspec"
        assert tree.active_branch == (coordinator.active_tip,)
        assert entry_tree(coordinator.session_path).entries == tree.entries
    finally:
        coordinator.close()


@pytest.mark.req("FILES-017")
def test_a_terminal_gets_a_progress_bar_and_the_same_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert main(["check", "--output", "json", *map(fixture, CLEAN)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["summary"] == {"files": 5, "errors": 0}
