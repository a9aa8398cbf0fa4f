"""The static case runner for persisted state and the ledger: ``spec/cases/state/*.json``.

A case is ``{name, seed, description, requirements, steps}``; steps (``op``):

* ``commit {session, state, expected, expect}`` on the state store: ``expect`` is the new
  head or ``"HeadRevisionConflict"``; ``load {session, head, state?}`` (``head`` 0: absent);
* ``race {session, expected, writers, expect_wins}``: ``writers`` commits with the same
  expected head, one after the other; exactly ``expect_wins`` succeed;
* ``heal {graph, expect_healed, expect_leaf}`` on a session graph in its JSON form;
* ``record {ledger, source, model, usage, request_id?, expect}`` (``true``, ``false`` or
  ``"LedgerConflictError"``); ``merge {a, b, as}``; ``diff {before, after, expect}``
  (the rows ``[[source, model, [5 counters]], ...]`` or ``"LedgerDecreaseError"``);
  ``totals {ledger, rows}``.

Store and ledger come from factories, so any implementation runs the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sessionspec.errors import HeadRevisionConflict, LedgerConflictError, LedgerDecreaseError
from sessionspec.runtime.state import SessionGraph
from sessionspec.storage.state_store import StateStore

__all__ = ["run_state_case"]


def _rows(ledger: Any) -> list[list[Any]]:
    return [[s, m, list(c.as_tuple())] for (s, m), c in ledger.totals_by_key().items()]


def run_state_case(
    case: Mapping[str, Any],
    store_factory: Callable[[], StateStore],
    ledger_factory: Callable[[], Any],
) -> None:
    store = store_factory()
    ledgers: dict[str, Any] = {}
    for number, step in enumerate(case["steps"]):
        where = f"{case['name']} step {number} ({step['op']})"
        op = step["op"]
        if op == "commit":
            try:
                outcome: Any = store.commit(step["session"], step["state"], step["expected"])
            except HeadRevisionConflict:
                outcome = "HeadRevisionConflict"
            assert outcome == step["expect"], (where, outcome)
        elif op == "load":
            stored = store.load(step["session"])
            head = 0 if stored is None else stored.head_revision
            assert head == step["head"], (where, head)
            if "state" in step:
                assert stored is not None and stored.state == step["state"], where
        elif op == "race":
            wins = 0
            for writer in range(step["writers"]):
                try:
                    store.commit(step["session"], {"writer": writer}, step["expected"])
                    wins += 1
                except HeadRevisionConflict:
                    pass
            assert wins == step["expect_wins"], (where, wins)
        elif op == "heal":
            graph = SessionGraph.from_json(step["graph"])
            assert graph.heal_orphaned_leaf() is step["expect_healed"], where
            assert graph.leaf_node_id == step["expect_leaf"], (where, graph.leaf_node_id)
        elif op == "record":
            ledger = ledgers.setdefault(step["ledger"], ledger_factory())
            try:
                counted: Any = ledger.record(
                    step["source"], step["model"], step["usage"], step.get("request_id")
                )
            except LedgerConflictError:
                counted = "LedgerConflictError"
            assert counted == step["expect"], (where, counted)
        elif op == "merge":
            ledgers[step["as"]] = ledgers[step["a"]].merge(ledgers[step["b"]])
        elif op == "diff":
            try:
                result: Any = _rows(
                    type(ledgers[step["before"]]).diff(
                        ledgers[step["before"]], ledgers[step["after"]]
                    )
                )
            except LedgerDecreaseError:
                result = "LedgerDecreaseError"
            assert result == step["expect"], (where, result)
        elif op == "totals":
            assert _rows(ledgers[step["ledger"]]) == step["rows"], where
        else:
            raise ValueError(f"{where}: unknown op {op!r}")
