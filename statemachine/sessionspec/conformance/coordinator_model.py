"""The coordinator model side of the conformance suite: operations as values and what the
reference model says they do (no Hypothesis here, so the case runner needs none).

Operations (:class:`Turn`, :class:`Compact`, ...) are values with a JSON form, so a run is a
list of steps that can be saved as a case file and replayed. :func:`expect` asks
:mod:`sessionspec.reference.coordinator` what an operation does to a log;
:func:`model_observation` is what a coordinator resumed from that log shows (COORD-020).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sessionspec.compaction import (
    CompactionConfig,
    CompactionReason,
    CompactionTrigger,
    CountTailPolicy,
    TokenBudgetPolicy,
)
from sessionspec.pricing import CostBreakdown, PricingTable, attributed_usage, cost_of_rows
from sessionspec.redaction import RedactionPolicy, redact_for_log
from sessionspec.reference import coordinator as ref
from sessionspec.settings import SessionSettings

TIMESTAMP = "2023-11-14T22:13:20Z"
MODEL = "anthropic:claude-sonnet-4"
REDACTION = RedactionPolicy()
PRICING = PricingTable.default()

Entry = dict[str, Any]
Log = tuple[Entry, ...]


# --------------------------------------------------------------------------------------
# The seam: the implementation is reached through the protocol (coordinator_driver.py);
# CoordinatorFactory is the Python-object seam a PythonHarness serves (harness.py).
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Operations as values
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    messages: tuple[Entry, ...]
    usage: Entry


@dataclass(frozen=True)
class Compact:
    reason: str


@dataclass(frozen=True)
class MoveLeaf:
    target: str


@dataclass(frozen=True)
class SetExtensionState:
    value: Any


@dataclass(frozen=True)
class Fork:
    session_id: str


Operation = Turn | Compact | MoveLeaf | SetExtensionState | Fork


def operation_to_json(op: Operation) -> Entry:
    if isinstance(op, Turn):
        return {"op": "turn", "messages": list(op.messages), "usage": op.usage}
    if isinstance(op, Compact):
        return {"op": "compact", "reason": op.reason}
    if isinstance(op, MoveLeaf):
        return {"op": "leaf", "target": op.target}
    if isinstance(op, SetExtensionState):
        return {"op": "extension_state", "value": op.value}
    return {"op": "fork", "session_id": op.session_id}


def operation_from_json(obj: Mapping[str, Any]) -> Operation:
    kind = obj["op"]
    if kind == "turn":
        return Turn(tuple(obj["messages"]), dict(obj["usage"]))
    if kind == "compact":
        return Compact(str(obj["reason"]))
    if kind == "leaf":
        return MoveLeaf(str(obj["target"]))
    if kind == "extension_state":
        return SetExtensionState(obj["value"])
    if kind == "fork":
        return Fork(str(obj["session_id"]))
    raise ValueError(f"unknown operation {kind!r}")


@dataclass(frozen=True)
class Expected:
    """What the model says an operation does."""

    after: Log
    #: The return value the model predicts (reason value, compaction summary fields, ...).
    result: Any
    #: ``False`` when the implementation must refuse the operation as a caller error.
    accepted: bool = True
    #: For a fork: the entries of the new file.
    fork_entries: Log | None = None


def expect(op: Operation, log: Log, config: CompactionConfig) -> Expected:
    state = ref.replay(log, config)
    if isinstance(op, Turn):
        batch, reason = ref.turn_batch(
            state, op.messages, op.usage, timestamp=TIMESTAMP, redaction=REDACTION,
            config=config,
        )
        return Expected(log + batch, None if reason is None else reason.value)
    if isinstance(op, Compact):
        batch, plan = ref.compaction_batch(
            state, CompactionReason(op.reason), timestamp=TIMESTAMP, config=config
        )
        if plan is None:
            return Expected(log, None)
        result = (plan.summary, plan.first_kept_entry_id, plan.tokens_before, plan.tokens_after)
        return Expected(log + batch, result)
    if isinstance(op, MoveLeaf):
        leaf = ref.leaf_batch(log, state, op.target, timestamp=TIMESTAMP)
        if leaf is None:
            return Expected(log, None, accepted=False)
        return Expected(log + leaf, None)
    if isinstance(op, SetExtensionState):
        batch = ref.extension_state_batch(state, op.value, timestamp=TIMESTAMP)
        return Expected(log + batch, batch[0]["id"])
    return Expected(log, None, fork_entries=ref.fork_entries(log, timestamp=TIMESTAMP))


# --------------------------------------------------------------------------------------
# Observation
# --------------------------------------------------------------------------------------


def redacted_context(context: Sequence[Mapping[str, Any]]) -> list[Entry]:
    """A context as the file would hold it (COORD-017): messages redacted, summaries as is.

    Since issue 7 the running coordinator keeps the redacted form in memory too, so the
    driver compares contexts exactly and uses this only to show what a file would hold."""
    return [dict(i) if "role" not in i else redact_for_log(i, REDACTION) for i in context]


def model_cost(figures: ref.Figures) -> CostBreakdown | None:
    """What the session's usage costs under the default table (COORD-062, COORD-145)."""
    totals = (
        figures.input_tokens,
        figures.output_tokens,
        figures.cache_read_tokens,
        figures.cache_write_tokens,
    )
    rows = attributed_usage(totals, figures.by_model, MODEL)
    return cost_of_rows(rows, PRICING, MODEL)


def cost_json(cost: CostBreakdown | None) -> Entry | None:
    """The protocol form of a session's cost (``coordinator.cost``): the total and the total
    of each model that spent tokens, as decimal strings (COORD-062)."""
    if cost is None:
        return None
    return {
        "total": str(cost.total),
        "by_model": {part.model: str(part.total) for part in cost.by_model},
    }


def comparable_cost(cost: Any) -> Any:
    """A protocol cost with its decimal strings as numbers: ``"0.10"`` equals ``"0.1"``."""
    if not isinstance(cost, Mapping):
        return cost
    try:
        by_model = cost.get("by_model") or {}
        return (
            Decimal(str(cost.get("total"))).normalize(),
            {str(k): Decimal(str(v)).normalize() for k, v in dict(by_model).items()},
        )
    except ArithmeticError:
        return ("unreadable", dict(cost))


def model_observation(log: Log, config: CompactionConfig) -> dict[str, Any]:
    state = ref.replay(log, config)
    return {
        "context": ref.context_dicts(state.items),
        "ids": [item.id for item in state.items],
        "tip": state.tip,
        "figures": state.figures,
        "next_seq": state.next_seq,
        "state": "compaction_due" if state.due else "ready",
        # COORD-062: each assistant message priced by its own model, in Decimal.
        "cost": model_cost(state.figures),
    }


def settings_batch(log: Log, old: CompactionConfig, new: CompactionConfig) -> Log:
    """The entries a reopen with ``new`` settings appends to a session whose settings are
    ``old``: a settings leaf when they differ, else nothing (COORD-028)."""
    before, after = SessionSettings(MODEL, old), SessionSettings(MODEL, new)
    if before.to_json() == after.to_json():
        return ()
    state = ref.replay(log, old)
    return tuple(ref.settings_batch(state, after, timestamp=TIMESTAMP))


def pair_closed(context: Sequence[Mapping[str, Any]]) -> bool:
    """Every tool result in the context comes after the call it answers (COORD-032)."""
    calls: set[str] = set()
    for item in context:
        if item.get("role") == "assistant":
            for block in item["content"]:
                if block.get("type") == "tool_call":
                    calls.add(block["tool_call"]["id"])
        elif item.get("role") == "tool_result" and item["tool_call_id"] not in calls:
            return False
    return True


def config_of(threshold: int, policy: str, trigger: str = "cumulative") -> CompactionConfig:
    chosen = CountTailPolicy() if policy == "count_tail" else TokenBudgetPolicy(keep_tokens=6)
    return CompactionConfig(
        enabled=True,
        threshold_tokens=threshold,
        policy=chosen,
        trigger=CompactionTrigger(trigger),
    )
