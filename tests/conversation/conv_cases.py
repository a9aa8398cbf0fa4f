"""meerkat's own conversation tests (research/seeds.md §3.8) as case files, built here.

``python tests/conversation/conv_cases.py`` writes ``spec/cases/conversation/*.json``
(scripts: ``spec/cases/README.md`` rule 12, run by :mod:`sessionspec.conformance.case_scripts`
through the protocol); the test checks the files are current and replays each one.
meerkat's pointer checks (``Arc::ptr_eq``) are stated as what they mean to a caller: equal
messages, and writes that stay on their side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CASE_DIR = Path(__file__).parents[2] / "spec" / "cases" / "conversation"
SEED = "meerkat-core 0.6.23 session.rs tests"


def u(text: str) -> dict[str, Any]:
    return {"user": text}


def a(text: str, *calls: str) -> dict[str, Any]:
    return {"assistant": text, "calls": list(calls)} if calls else {"assistant": text}


def r(call: str, text: str = "done") -> dict[str, Any]:
    return {"tool_result": call, "text": text}


def case(name: str, description: str, requirements: list[str], steps: list[Any]) -> Any:
    records = any(step["op"] in ("tamper", "replay") for step in steps)
    return {
        "version": 1,
        "machine": "conversation",
        "form": "script",
        "name": name,
        "seed": SEED,
        "description": description,
        "requirements": requirements,
        "capabilities": ["conversation.records"] if records else [],
        "steps": [{"op": "new", "as": "main"}, *steps],
    }


def batch(*messages: dict[str, Any], on: str = "main") -> dict[str, Any]:
    return {"op": "push_batch", "on": on, "messages": list(messages)}


def rewrite(start: int, end: int, replacement: list[Any], expect: str = "ok",
            expected: str | None = "head", on: str = "main") -> dict[str, Any]:
    return {"op": "rewrite", "on": on, "start": start, "end": end,
            "replacement": replacement, "expected": expected, "expect": expect}


def check(on: str = "main", **fields: Any) -> dict[str, Any]:
    return {"op": "check", "on": on, **fields}


def remember(label: str, on: str = "main") -> dict[str, Any]:
    return {"op": "remember", "on": on, "label": label}


def pending(name: str, messages: list[Any], expected: bool) -> Any:
    return case(name, f"has_pending_boundary is {str(expected).lower()}", ["CONV-004"],
                [batch(*messages), check(pending_boundary=expected)])


def build_cases() -> list[Any]:
    hundred = [u(f"m{i}") for i in range(100)]
    turn = [u("q"), a("calling", "c1"), r("c1"), a("answer")]
    return [
        case("transcript_rewrite_preserves_full_assistant_block_trace",
             "Rewriting the last answer keeps the tool call and its result before it.",
             ["CONV-030", "CONV-035"],
             [batch(*turn), rewrite(3, 4, [a("better")]),
              check(texts=["q", "calling", "done", "better"])]),
        case("transcript_rewrite_rejects_trailing_block_assistant_tool_call",
             "A rewrite may not leave an assistant tool call without results at the end.",
             ["CONV-034"],
             [batch(u("q"), a("answer")), rewrite(1, 2, [a("calling", "c1")],
                                                  "InvalidTranscriptShape"),
              check(texts=["q", "answer"])]),
        case("transcript_rewrite_rejects_trailing_assistant_tool_call",
             "An appended tool call without results is refused too.",
             ["CONV-034"],
             [batch(u("q")), rewrite(1, 1, [a("calling", "c1", "c2")],
                                     "InvalidTranscriptShape"), check(count=1)]),
        case("transcript_rewrite_rejects_no_op_self_edge",
             "A rewrite that yields the same transcript is a self edge.",
             ["CONV-033"],
             [batch(u("q"), a("answer")), rewrite(1, 2, [a("answer")], "NoOpRewrite")]),
        case("transcript_rewrite_run_boundary_guard_accepts_rewrite_then_append",
             "After a rewrite, an append moves the head and a rewrite against it succeeds.",
             ["CONV-032", "CONV-030"],
             [batch(u("q"), a("answer")), rewrite(1, 2, [a("fixed")]), remember("rewritten"),
              batch(u("next")), check(revision_is_not="rewritten"),
              rewrite(2, 3, [u("NEXT")], "RevisionConflict", expected="rewritten"),
              rewrite(2, 3, [u("NEXT")]), check(texts=["q", "fixed", "NEXT"])]),
        case("transcript_rewrite_rejects_orphaned_tool_results",
             "A tool result must follow the assistant message that called it.",
             ["CONV-034"],
             [batch(u("q"), a("answer")), rewrite(1, 2, [r("c1")], "InvalidTranscriptShape")]),
        case("transcript_rewrite_rejects_duplicate_tool_results",
             "Two results for one call are refused.",
             ["CONV-034"],
             [batch(*turn), rewrite(1, 3, [a("calling", "c1"), r("c1"), r("c1")],
                                    "InvalidTranscriptShape")]),
        case("transcript_rewrite_record_rejects_prefix_or_suffix_tampering",
             "Changing a message before or after the rewritten span is detected.",
             ["CONV-040"],
             [batch(u("a"), a("b"), u("c")), rewrite(1, 2, [a("B")]),
              {"op": "tamper", "on": "main", "record": 0, "body": "revision_body",
               "position": 0, "expect": "HistoryStateMalformed"},
              {"op": "tamper", "on": "main", "record": 0, "body": "revision_body",
               "position": 2, "expect": "HistoryStateMalformed"},
              {"op": "tamper", "on": "main", "record": 0, "body": "parent_body",
               "position": 0, "expect": "HistoryStateMalformed"}]),
        case("transcript_rewrite_replay_allows_normal_turn_revisions_between_rewrites",
             "Records replay across normal appends between two rewrites.",
             ["CONV-041"],
             [batch(u("a"), a("b")), rewrite(1, 2, [a("B")]), batch(u("c"), a("d")),
              rewrite(3, 4, [a("D")]),
              {"op": "replay", "from": ["main"], "expect": "ok", "head_of": "main"}]),
        case("transcript_rewrite_replay_rejects_branched_rewrite_records",
             "Two rewrites of the same parent on two branches do not chain.",
             ["CONV-041"],
             [batch(u("a"), a("b")), {"op": "fork", "from": "main", "as": "left"},
              {"op": "fork", "from": "main", "as": "right"},
              rewrite(1, 2, [a("L")], on="left"), rewrite(1, 2, [a("R")], on="right"),
              {"op": "replay", "from": ["left", "right"], "expect": "HistoryStateMalformed"}]),
        case("internal_message_rewrites_refresh_transcript_history_head",
             "A whole-buffer rewrite (meerkat's internal replace) is a commit; the head moves.",
             ["CONV-030", "CONV-032"],
             [batch(u("a"), a("b"), u("c")), remember("before"),
              rewrite(0, 3, [u("only")]), check(texts=["only"], revision_is_not="before")]),
        case("set_system_prompt_refreshes_transcript_history_head_after_rewrite",
             "Setting the system prompt after a rewrite makes a new head.",
             ["CONV-002", "CONV-032"],
             [batch(u("a"), a("b")), rewrite(1, 2, [a("B")]), remember("rewritten"),
              {"op": "set_system_prompt", "on": "main", "prompt": "new prompt"},
              check(revision_is_not="rewritten", system_prompt="new prompt"),
              rewrite(0, 1, [u("A")], "RevisionConflict", expected="rewritten")]),
        case("apply_transcript_history_state_uses_latest_commit_time_for_restored_head",
             "Replaying two rewrites restores the head of the second.",
             ["CONV-041"],
             [batch(u("a"), a("b")), rewrite(1, 2, [a("B")]), rewrite(0, 1, [u("A")]),
              {"op": "replay", "from": ["main"], "expect": "ok", "head_of": "main"}]),
        case("test_fork_shares_arc_no_clone",
             "A fork of 100 messages has the same messages and revision.",
             ["CONV-010"],
             [batch(*hundred), remember("source"), {"op": "fork", "from": "main", "as": "f"},
              check(on="f", count=100, revision_is="source")]),
        case("test_fork_at_shares_arc_prefix",
             "fork_at(50) of 100 messages has 50; the source keeps 100.",
             ["CONV-011"],
             [batch(*hundred), {"op": "fork_at", "from": "main", "index": 50, "as": "f"},
              check(on="f", count=50), check(count=100)]),
        case("test_fork_at_resets_transcript_history_state_for_branch_identity",
             "A fork's first rewrite starts from the fork's own digest.",
             ["CONV-011"],
             [batch(u("a"), a("b"), u("c")), rewrite(1, 2, [a("B")]),
              {"op": "fork_at", "from": "main", "index": 2, "as": "f"}, remember("own", on="f"),
              rewrite(0, 1, [u("A")], expected="own", on="f"), check(on="f", texts=["A", "B"])]),
        case("test_push_cow_behavior",
             "After a push on the source, the fork keeps its own length.",
             ["CONV-010"],
             [batch(u("a")), {"op": "fork", "from": "main", "as": "f"},
              {"op": "push", "on": "main", "message": u("b")},
              check(count=2), check(on="f", count=1, texts=["a"])]),
        case("test_session_push", "Pushed messages are kept in order.", ["CONV-003"],
             [{"op": "push", "on": "main", "message": u("a")},
              {"op": "push", "on": "main", "message": a("b")}, check(texts=["a", "b"])]),
        case("test_session_fork", "A fork has the messages; later writes stay apart.",
             ["CONV-010"],
             [batch(u("a"), a("b")), {"op": "fork", "from": "main", "as": "f"},
              {"op": "push", "on": "f", "message": u("fork")},
              {"op": "push", "on": "main", "message": u("main")},
              check(texts=["a", "b", "main"]), check(on="f", texts=["a", "b", "fork"])]),
        pending("has_pending_boundary_empty_session", [], False),
        pending("has_pending_boundary_after_user_message", [u("a")], True),
        pending("has_pending_boundary_after_assistant_message", [u("a"), a("b")], False),
        pending("has_pending_boundary_after_tool_results",
                [u("a"), a("b", "c1"), r("c1")], True),
        case("has_pending_boundary_after_system",
             "A system prompt alone is no pending boundary.", ["CONV-004", "CONV-002"],
             [{"op": "set_system_prompt", "on": "main", "prompt": "p"},
              check(pending_boundary=False)]),
    ]


def write_cases() -> None:
    CASE_DIR.mkdir(parents=True, exist_ok=True)
    for item in build_cases():
        (CASE_DIR / f"{item['name']}.json").write_text(json.dumps(item, indent=2) + "\n")


if __name__ == "__main__":
    write_cases()
