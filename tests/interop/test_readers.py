"""Readers of other tools' session files (FILES): our own fixtures, one per situation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionspec import SessionCoordinator, UnknownFormatError
from sessionspec.codecs import (
    FORMATS,
    EntryKind,
    SessionRead,
    Severity,
    detect_format,
    read_session,
    read_session_bytes,
)

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str, format: str | None = None) -> SessionRead:
    return read_session(FIXTURES / name, format)


def roles(read_result: SessionRead) -> list[str]:
    return [str(item.get("role") or item.get("type")) for item in read_result.context]


def codes(read_result: SessionRead, severity: Severity | None = None) -> list[tuple[str, str]]:
    return [
        (f.requirement, f.code) for f in read_result.findings
        if severity is None or f.severity is severity
    ]


def texts(read_result: SessionRead) -> list[str]:
    found: list[str] = []
    for item in read_result.context:
        if item.get("type") == "compaction_summary":
            found.append(str(item["summary"]))
        for block in item.get("content", ()):
            if block["type"] == "text":
                found.append(block["text"])
    return found


ALL_FIXTURES = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.jsonl"))


@pytest.mark.req("FILES-001")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pi_v3_branches.jsonl", "pi"),
        ("pi_v2_hook.jsonl", "pi"),
        ("pi_v1_linear.jsonl", "pi"),
        ("claude_code_session.jsonl", "claude-code"),
        ("claude_code_subagents/agent-a7f3.jsonl", "claude-code"),
        ("codex_rollout.jsonl", "codex"),
        ("opi_legacy_no_ids.jsonl", "opi-legacy"),
        ("sessionspec_branches.jsonl", "sessionspec"),
    ],
)
def test_the_format_is_detected_from_the_first_lines(name: str, expected: str) -> None:
    assert detect_format((FIXTURES / name).read_bytes()) == expected
    assert read(name).format == expected


@pytest.mark.req("FILES-001")
def test_an_unknown_file_is_a_typed_error(tmp_path: Path) -> None:
    for content in (b"", b"hello\n", b'{"type": "weird"}\n', b'{"type":"session","version":9}\n'):
        path = tmp_path / "x.jsonl"
        path.write_bytes(content)
        with pytest.raises(UnknownFormatError) as caught:
            read_session(path)
        assert str(path) in str(caught.value)
    with pytest.raises(UnknownFormatError, match="no reader named"):
        read("pi_v3_branches.jsonl", format="nonsense")


@pytest.mark.req("FILES-011", "FILES-012", "FILES-006")
def test_pi_v3_branch_compaction_and_labels() -> None:
    result = read("pi_v3_branches.jsonl")
    assert result.title == "calc: fix add, add mul"
    assert result.leaf_id == "a1000016"  # pi: the last entry in file order
    assert "a100000d" not in result.active_branch  # the abandoned branch
    assert roles(result) == [
        "compaction_summary", "user", "user", "assistant", "user", "user", "user", "assistant",
        "tool_result", "assistant",
    ]
    assert texts(result)[0].startswith("The user asked to fix add()")
    assert texts(result)[1] == "Now run the whole suite."  # firstKeptEntryId
    assert "Ran `pytest -q`" in texts(result)[2]  # a bashExecution is sent as user text
    assert result.findings == ()
    assert len(result.usage) == 8
    assert {r.model for r in result.usage} == {"anthropic:claude-sonnet-4-5"}


@pytest.mark.req("FILES-003", "FILES-012")
def test_pi_v1_and_v2_migrate_as_pi_does() -> None:
    v1 = read("pi_v1_linear.jsonl")
    assert v1.active_branch == ("L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9")
    # firstKeptEntryIndex 2 is the third entry after the header: "second question".
    assert texts(v1) == [
        "Two questions answered.", "second question", "second answer", "third question",
        "third answer",
    ]
    v2 = read("pi_v2_hook.jsonl")
    assert texts(v2) == ["hello", "Remember the style guide.", "Hi."]  # hookMessage → custom


@pytest.mark.req("FILES-004", "FILES-005", "FILES-006", "FILES-007", "FILES-008", "FILES-009",
                 "FILES-002")
def test_pi_violations_are_each_found_with_line_and_offset() -> None:
    result = read("pi_v3_violations.jsonl")
    data = (FIXTURES / "pi_v3_violations.jsonl").read_bytes()
    assert codes(result, Severity.ERROR) == [
        ("FILES-004", "duplicate_id"),
        ("FILES-005", "missing_parent"),
        ("FILES-007", "first_kept_missing"),
        ("FILES-008", "orphan_tool_result"),
        ("FILES-002", "corrupt_line"),
        ("FILES-006", "dangling_leaf"),
    ]
    assert ("FILES-009", "usage_total_mismatch") in codes(result, Severity.WARNING)
    lines = data.split(b"\n")
    for finding in result.findings:
        start = sum(len(line) + 1 for line in lines[: finding.line - 1])
        assert finding.offset == start, finding
    assert not result.ok
    assert result.recovery == "damaged"  # a corrupt line in the middle
    assert read("pi_v3_branches.jsonl").recovery == "clean"


@pytest.mark.req("FILES-002", "FILES-008")
@pytest.mark.parametrize("name", ["pi_v3_torn_tail.jsonl", "claude_code_torn_tail.jsonl",
                                  "codex_torn_tail.jsonl", "sessionspec_torn_tail.jsonl"])
def test_a_torn_tail_is_crash_residue_not_a_violation(name: str) -> None:
    result = read(name)
    assert result.ok, result.errors
    assert any(f.code == "torn_tail" and f.severity is Severity.WARNING for f in result.findings)
    assert result.context
    assert result.recovery == "crash residue"


@pytest.mark.req("FILES-011", "FILES-012", "FILES-013")
def test_claude_code_split_responses_sidechains_and_compaction() -> None:
    result = read("claude_code_session.jsonl")
    assert result.title == "Shop: cart total rounding bug"
    assert result.leaf_id == "u-0023"
    assert result.active_branch[:2] == ("u-0018", "u-0019")  # the boundary starts a new root
    assert roles(result) == ["compaction_summary", "user", "assistant", "tool_result",
                             "assistant"]
    sidechain = [e for e in result.entries if e.sidechain]
    assert [e.id for e in sidechain] == ["s-0001", "s-0002"]
    # Three lines of msg_a1 are one request; the sidechain's request counts too.
    keys = [r.key for r in result.usage]
    assert len(keys) == len(set(keys)) == 10
    first = next(r for r in result.usage if r.key == "msg_a1:req_a1")
    assert first.cache_write_tokens == 9000
    assert result.findings == ()


@pytest.mark.req("FILES-012")
def test_claude_code_one_response_in_several_lines_is_one_message() -> None:
    result = read("claude_code_torn_tail.jsonl")
    assistant = result.context[1]
    assert [b["type"] for b in assistant["content"]] == ["thinking", "text", "tool_call"]
    assert assistant["response_id"] == "msg_a1"
    assert assistant["stop_reason"] == "tool_use"


@pytest.mark.req("FILES-005", "FILES-004", "FILES-008")
def test_claude_code_violations() -> None:
    result = read("claude_code_violations.jsonl")
    assert codes(result, Severity.ERROR) == [
        ("FILES-005", "missing_parent"),
        ("FILES-005", "missing_logical_parent"),
        ("FILES-004", "duplicate_id"),
        ("FILES-005", "missing_parent"),
        ("FILES-008", "orphan_tool_result"),  # its call is before the compaction boundary
    ]


@pytest.mark.req("FILES-011")
def test_a_sub_agent_file_uses_its_own_last_line() -> None:
    result = read("claude_code_subagents/agent-a7f3.jsonl")
    assert result.leaf_id == "t-0004"
    assert roles(result) == ["user", "assistant", "tool_result", "assistant"]
    assert result.model == "anthropic:claude-haiku-4-5-20251001"


@pytest.mark.req("FILES-012", "FILES-013", "FILES-009", "FILES-010")
def test_codex_replacement_history_rollback_and_token_counts() -> None:
    result = read("codex_rollout.jsonl")
    assert result.session_id == "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
    assert result.model == "openai:gpt-5-codex"
    # compacted replaced the history; the rollback dropped the last user turn.
    assert texts(result) == [
        "Why does parse('1e3') fail?",
        "Summary: the lexer gained an exponent rule; tests not run yet.",
        "Run the tests.",
        "8 passed",
        "8 passed.",
    ]
    assert [r.input_tokens + r.cache_read_tokens for r in result.usage] == [
        5200, 5600, 5900, 1900, 2100
    ]  # the repeated token_count is one request
    assert result.usage[1].cache_read_tokens == 5100
    assert ("FILES-010", "opaque_reasoning") in codes(result, Severity.INFO)
    assert result.ok


@pytest.mark.req("FILES-012", "FILES-008")
def test_codex_legacy_compaction_keeps_user_messages_and_a_late_output_is_orphaned() -> None:
    result = read("codex_legacy_compaction.jsonl")
    assert roles(result) == ["user", "user", "user", "tool_result"]
    assert texts(result)[2] == "Summary: asked about exponents."
    assert codes(result, Severity.ERROR) == [("FILES-008", "orphan_tool_result")]


@pytest.mark.req("FILES-007", "FILES-011")
def test_opi_legacy_without_ids_reads_in_file_order() -> None:
    result = read("opi_legacy_no_ids.jsonl")
    assert texts(result) == ["Arithmetic.", "What is 2+2?", "4", "And 3+3?", "6"]
    assert codes(result, Severity.ERROR) == [("FILES-007", "first_kept_missing")]


@pytest.mark.req("FILES-012", "COORD-041")
def test_our_own_file_replays_as_the_coordinator_resumes(tmp_path: Path) -> None:
    result = read("sessionspec_branches.jsonl")
    copy = tmp_path / "native-demo.jsonl"
    copy.write_bytes((FIXTURES / "sessionspec_branches.jsonl").read_bytes())
    coordinator = SessionCoordinator.open_existing(copy)
    try:
        assert list(result.context) == coordinator.context()
        assert result.leaf_id == coordinator.active_tip
    finally:
        coordinator.close()
    assert texts(result)[-2:] == ["Actually, archive a.md instead.", "Archived."]


@pytest.mark.req("FILES-002", "FILES-001")
@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(ALL_FIXTURES), data=st.data())
def test_a_file_cut_at_any_byte_reads_without_surprise(name: str, data: Any) -> None:
    """A crash may cut a file anywhere: the reader reports, never raises anything but a
    typed error for an unrecognizable start, and never reports a torn tail as an error."""
    whole = (FIXTURES / name).read_bytes()
    cut = data.draw(st.integers(0, len(whole)))
    part = whole[:cut]
    try:
        result = read_session_bytes(part, name, None if cut > 400 else detect_format(whole))
    except UnknownFormatError:
        assert cut < len(whole)
        return
    if 0 < cut < len(whole) and not part.endswith(b"\n") and part.strip():
        kinds = {f.code for f in result.findings}
        assert kinds & {"torn_tail", "unterminated_tail", "uncommitted_tail", "bad_header"}
        last_line = part.count(b"\n") + 1
        assert not any(
            f.line == last_line and f.code == "corrupt_line" for f in result.findings
        )
    assert all(item.get("role") or item.get("type") for item in result.context)


@pytest.mark.req("FILES-001")
def test_every_reader_is_registered_by_its_format_name() -> None:
    assert set(FORMATS) == {"sessionspec", "pi", "claude-code", "codex", "opi-legacy"}
    for name in ALL_FIXTURES:
        result = read(name)
        assert result.format in FORMATS
        kinds = {e.kind for e in result.entries}
        assert kinds <= set(EntryKind)


@pytest.mark.req("FILES-001")
def test_a_headerless_file_opening_with_an_unknown_line_type_is_still_recognized() -> None:
    data = (FIXTURES / "claude_code_session.jsonl").read_bytes()
    newer = b'{"type":"custom-title","customTitle":"Shop"}\n' + data
    assert detect_format(newer) == "claude-code"
    result = read_session_bytes(newer, "newer.jsonl")
    assert result.leaf_id == "u-0023" and result.ok
