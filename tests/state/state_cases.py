"""lash's own tests and conformance helpers (research/seeds.md §4.3, §5.7) as case files.

``python tests/state/state_cases.py`` writes ``spec/cases/state/*.json`` and the ledger's
``spec/cases/ledger/*.json`` (scripts: ``spec/cases/README.md`` rule 12, run by
:mod:`sessionspec.conformance.case_scripts` through the protocol); the test checks they are
current and replays them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CASE_DIR = Path(__file__).parents[2] / "spec" / "cases" / "state"
LEDGER_DIR = CASE_DIR.parent / "ledger"
SEED = "lash-core @65725a37 (store/mod.rs, runtime/state.rs, runtime/usage.rs)"
SONNET = "anthropic:claude-sonnet-4"


def case(name: str, description: str, requirements: list[str], steps: list[Any]) -> Any:
    """A state script, or a ledger script when every step is a ledger operation."""
    ledger = all(step["op"] in ("record", "merge", "diff", "totals") for step in steps)
    return {"version": 1, "machine": "ledger" if ledger else "state", "form": "script",
            "name": name, "seed": SEED, "description": description,
            "requirements": requirements, "capabilities": [], "steps": steps}


def usage(inp: int = 0, out: int = 0, reasoning: int = 0) -> dict[str, int]:
    return {"input_tokens": inp, "output_tokens": out, "reasoning_tokens": reasoning}


def record(ledger: str, source: str, u: dict[str, int], expect: Any,
           request_id: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {"op": "record", "ledger": ledger, "source": source,
                            "model": SONNET, "usage": u, "expect": expect}
    if request_id is not None:
        step["request_id"] = request_id
    return step


def node(node_id: str, parent: str | None, kind: str = "message") -> dict[str, Any]:
    payload: dict[str, Any] = (
        {"role": "user", "content": [{"type": "text", "text": node_id}], "timestamp_ms": 1}
        if kind == "message" else {"event": node_id}
    )
    return {"node_id": node_id, "parent_node_id": parent, "kind": kind, "timestamp": "t",
            "payload": payload}


def build_cases() -> list[Any]:
    return [
        case("concurrent_head_revision_cas_applies_exactly_once",
             "Writers holding the same expected head: exactly one commit applies.",
             ["STATE-010", "STATE-012"],
             [{"op": "commit", "session": "s", "state": {"n": 0}, "expected": 0, "expect": 1},
              {"op": "race", "session": "s", "expected": 1, "writers": 5, "expect_wins": 1},
              {"op": "load", "session": "s", "head": 2, "state": {"writer": 0}},
              {"op": "commit", "session": "s", "state": {"n": 9}, "expected": 1,
               "expect": "HeadRevisionConflict"},
              {"op": "load", "session": "s", "head": 2}]),
        case("first_commit_expects_head_zero",
             "Nothing stored is head 0; a first commit expecting another head is stale.",
             ["STATE-010"],
             [{"op": "load", "session": "new", "head": 0},
              {"op": "commit", "session": "new", "state": {}, "expected": 1,
               "expect": "HeadRevisionConflict"},
              {"op": "commit", "session": "new", "state": {}, "expected": 0, "expect": 1}]),
        case("heal_orphaned_leaf_falls_back_to_last_message_node",
             "A leaf naming no node falls back to the last message node in node order.",
             ["STATE-003"],
             [{"op": "heal", "graph": {"nodes": [node("m1", None), node("m2", "m1"),
                                                 node("e1", "m2", "event")],
                                       "leaf_node_id": "gone"},
               "expect_healed": True, "expect_leaf": "m2"},
              {"op": "heal", "graph": {"nodes": [node("e1", None, "event")],
                                       "leaf_node_id": "gone"},
               "expect_healed": True, "expect_leaf": None},
              {"op": "heal", "graph": {"nodes": [node("m1", None)], "leaf_node_id": "m1"},
               "expect_healed": False, "expect_leaf": "m1"}]),
        case("token_ledger_merges_by_source_and_model",
             "Usage accumulates per (source, model); a zero usage adds nothing.",
             ["STATE-030", "STATE-031"],
             [record("a", "turn", usage(10, 2), True), record("a", "turn", usage(5), True),
              record("a", "compaction", usage(7), True), record("a", "turn", usage(), False),
              {"op": "totals", "ledger": "a",
               "rows": [["compaction", SONNET, [7, 0, 0, 0, 0]],
                        ["turn", SONNET, [15, 2, 0, 0, 0]]]}]),
        case("token_ledger_counts_reasoning_only_usage",
             "lash drops a usage whose total without reasoning is zero; it counts here.",
             ["STATE-030"],
             [record("a", "observer", usage(reasoning=9), True),
              {"op": "totals", "ledger": "a", "rows": [["observer", SONNET, [0, 0, 0, 0, 9]]]}]),
        case("token_ledger_diff_is_the_inverse_of_merge",
             "diff(a, merge(a, x)) == x; a decrease is refused.",
             ["STATE-032"],
             [record("a", "turn", usage(10), True), record("x", "turn", usage(3, 1), True),
              {"op": "merge", "a": "a", "b": "x", "as": "ax"},
              {"op": "diff", "before": "a", "after": "ax",
               "expect": [["turn", SONNET, [3, 1, 0, 0, 0]]]},
              {"op": "diff", "before": "ax", "after": "a", "expect": "LedgerDecreaseError"}]),
        case("token_ledger_counts_a_forked_request_once",
             "A request in a fork and its source counts once in the merged report.",
             ["STATE-033"],
             [record("source", "turn", usage(100, 10), True, "req-1"),
              record("fork", "turn", usage(100, 10), True, "req-1"),
              record("fork", "turn", usage(100, 10), False, "req-1"),
              record("fork", "turn", usage(50), True, "req-2"),
              record("fork", "turn", usage(1), "LedgerConflictError", "req-2"),
              {"op": "merge", "a": "source", "b": "fork", "as": "all"},
              {"op": "totals", "ledger": "all", "rows": [["turn", SONNET, [150, 10, 0, 0, 0]]]}]),
    ]


def case_path(item: dict[str, Any]) -> Path:
    return (LEDGER_DIR if item["machine"] == "ledger" else CASE_DIR) / f"{item['name']}.json"


def write_cases() -> None:
    for item in build_cases():
        path = case_path(item)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(item, indent=2) + "\n")


if __name__ == "__main__":
    write_cases()
