"""Hand-written cases (scripts) of the conversation, the ledger and the state store (CONF-074).

A *script* is a case written by hand from a seed's own tests (``form: "script"``): each step
is an operation and, where the seed test asserts something, the outcome it must have,
written from the seed's assertion and our decisions on its quirks, never computed by our
code. Unlike a trace (a run a machine recorded, judged against the reference model), a
script is judged against what it states. Both reach the implementation only through the
driver protocol (``spec/PROTOCOL.md``), so any harness runs them: this module sends the
``conversation.*``, ``ledger.*`` and ``state.*`` requests; the recorder's scripts are in
:mod:`.recorder_script`. ``spec/cases/README.md`` (rule 12) states the step languages.

Every check names its requirement (CONF-060): the rule of the operation (a rewrite's
refusal by the rule behind the error, CONF-121; a commit STATE-010; two writers STATE-012;
healing STATE-003; a record STATE-030, or STATE-033 with a request id; a diff STATE-032;
record tampering CONV-040; replay CONV-041; the pending boundary CONV-004), and a ``check``
or ``totals`` step its own ``requirement``, else the case's first one. An answer the
protocol does not allow is CONF-030. Nothing here needs Hypothesis (CONF-073).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.checks import holds, require
from sessionspec.conformance.conversation_driver import (
    REWRITE_REQUIREMENT,
    LedgerRefusal,
    ProtocolConversation,
    ProtocolLedger,
    wire_assistant,
    wire_tool_result,
    wire_user,
)
from sessionspec.reference.conversation import transcript_digest

__all__ = ["expand_message", "run_conversation_script", "run_ledger_script", "run_state_script"]

Step = Mapping[str, Any]
_STORES = itertools.count(1)


class _Stopped(Exception):
    """A step needs an object an earlier step failed to make: that failure is recorded (its
    check masked, CONF-061), so the script ends there instead of erroring."""


def _named(objects: Mapping[str, Any], label: str) -> Any:
    if label not in objects:
        raise _Stopped(label)
    return objects[label]


def expand_message(short: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of a shorthand message: ``{"user": text}``, ``{"assistant": text,
    "calls": [ids]}`` or ``{"tool_result": id, "text": text}`` (README rule 12)."""
    if "user" in short:
        return wire_user(short["user"])
    if "assistant" in short:
        return wire_assistant(short["assistant"], short.get("calls", ()))
    if "tool_result" in short:
        return wire_tool_result(short["tool_result"], short.get("text", "done"))
    raise ValueError(f"not a shorthand message: {short!r}")


def _where(name: str, number: int, step: Step) -> str:
    return f"{name} step {number} ({step['op']})"


# --------------------------------------------------------------------------------------
# Conversations (conversation.*)
# --------------------------------------------------------------------------------------


def run_conversation_script(
    connection: Connection, name: str, requirements: Sequence[str], steps: Sequence[Step]
) -> None:
    """Run a conversation script; the first failing check raises its requirement."""
    conversations: dict[str, ProtocolConversation] = {}
    labels: dict[str, str] = {}
    try:
        for number, step in enumerate(steps):
            _conversation_step(
                connection, conversations, labels, requirements, step, _where(name, number, step)
            )
    except _Stopped:
        pass
    finally:
        for conversation in conversations.values():
            conversation.drop()


def _conversation_step(
    connection: Connection,
    conversations: dict[str, ProtocolConversation],
    labels: dict[str, str],
    requirements: Sequence[str],
    step: Step,
    where: str,
) -> None:
    op = step["op"]
    if op == "new":
        conversations[step["as"]] = ProtocolConversation.new(connection)
    elif op == "fork":
        conversations[step["as"]] = _named(conversations, step["from"]).fork()
    elif op == "fork_at":
        conversations[step["as"]] = _named(conversations, step["from"]).fork_at(int(step["index"]))
    elif op == "replay":
        records = [r for label in step["from"] for r in _named(conversations, label).records()]
        outcome, head = next(iter(conversations.values())).replay_records(records)
        require(
            "CONV-041",
            outcome == step["expect"],
            f"{where}: replay answered {outcome}, the case {step['expect']}",
        )
        if "head_of" in step and outcome == "ok":
            want = _named(conversations, step["head_of"]).revision()
            require(
                "CONV-041", head == want, f"{where}: the replayed head is {head}, the case {want}"
            )
    else:
        _conversation_edit(_named(conversations, step["on"]), labels, requirements, step, where)


def _conversation_edit(
    on: ProtocolConversation,
    labels: dict[str, str],
    requirements: Sequence[str],
    step: Step,
    where: str,
) -> None:
    op = step["op"]
    if op == "push":
        on.push(expand_message(step["message"]))
    elif op == "push_batch":
        on.push_batch([expand_message(m) for m in step["messages"]])
    elif op == "set_system_prompt":
        on.set_system_prompt(str(step["prompt"]))
    elif op == "remember":
        labels[step["label"]] = on.revision()
    elif op == "rewrite":
        expected = step["expected"]
        if expected == "head":
            expected = on.revision()
        elif expected is not None:
            expected = _named(labels, expected)
        replacement = [expand_message(m) for m in step["replacement"]]
        outcome = on.rewrite(int(step["start"]), int(step["end"]), replacement, expected)
        want = step["expect"]
        require(
            REWRITE_REQUIREMENT.get(want if want != "ok" else outcome, "CONF-121"),
            outcome == want,
            f"{where}: the rewrite answered {outcome}, the case {want}",
        )
    elif op == "check":
        _conversation_check(on, labels, step.get("requirement") or requirements[0], step, where)
    elif op == "tamper":
        records = on.records()
        if not holds(
            "CONV-040",
            int(step["record"]) < len(records),
            f"{where}: {len(records)} rewrite records, no record {step['record']}",
        ):
            return
        record = copy.deepcopy(records[int(step["record"])])
        body = record[step["body"]]
        body["messages"][int(step["position"])]["content"][0]["text"] = "tampered"
        body["revision"] = transcript_digest(body["system_prompt"], body["messages"])
        key = "parent_revision" if step["body"] == "parent_body" else "revision"
        record["commit"][key] = body["revision"]
        if step["body"] == "parent_body":
            record["revision_body"]["parent_revision"] = body["revision"]
        outcome = on.validate_record(record)
        require(
            "CONV-040",
            outcome == step["expect"],
            f"{where}: validating the tampered record answered {outcome}, the case "
            f"{step['expect']}",
        )
    else:
        raise ValueError(f"{where}: unknown conversation step")


def _conversation_check(
    on: ProtocolConversation, labels: Mapping[str, str], rule: str, step: Step, where: str
) -> None:
    seen = on.observe()
    messages = list(seen.get("messages") or [])
    if "texts" in step:
        texts = [(m.get("content") or [{}])[0].get("text") for m in messages]
        require(rule, texts == step["texts"], f"{where}: texts {texts}, the case {step['texts']}")
    if "count" in step:
        require(
            rule,
            len(messages) == step["count"],
            f"{where}: {len(messages)} messages, the case {step['count']}",
        )
    if "system_prompt" in step:
        require(
            rule,
            seen.get("system_prompt") == step["system_prompt"],
            f"{where}: system prompt {seen.get('system_prompt')!r}, the case "
            f"{step['system_prompt']!r}",
        )
    if "revision_is" in step:
        require(
            rule,
            seen.get("revision") == _named(labels, step["revision_is"]),
            f"{where}: revision {seen.get('revision')}, the case the one remembered as "
            f"{step['revision_is']!r}",
        )
    if "revision_is_not" in step:
        require(
            rule,
            seen.get("revision") != _named(labels, step["revision_is_not"]),
            f"{where}: the revision is still the one remembered as {step['revision_is_not']!r}",
        )
    if "pending_boundary" in step:
        require(
            "CONV-004",
            seen.get("pending_boundary") is step["pending_boundary"],
            f"{where}: pending boundary {seen.get('pending_boundary')}, the case "
            f"{step['pending_boundary']}",
        )


# --------------------------------------------------------------------------------------
# Token ledgers (ledger.*)
# --------------------------------------------------------------------------------------


def _rows(ledger: ProtocolLedger) -> list[list[Any]]:
    return sorted([s, m, list(c)] for (s, m), c in ledger.totals().items())


def run_ledger_script(
    connection: Connection, name: str, requirements: Sequence[str], steps: Sequence[Step]
) -> None:
    """Run a ledger script: ledgers are named by labels and made at their first record."""
    ledgers: dict[str, ProtocolLedger] = {}
    try:
        _ledger_steps(connection, name, requirements, steps, ledgers)
    except _Stopped:
        pass
    finally:
        for ledger in ledgers.values():
            ledger.drop()


def _ledger_steps(
    connection: Connection,
    name: str,
    requirements: Sequence[str],
    steps: Sequence[Step],
    ledgers: dict[str, ProtocolLedger],
) -> None:
    for number, step in enumerate(steps):
        where = _where(name, number, step)
        op = step["op"]
        if op == "record":
            if step["ledger"] not in ledgers:
                ledgers[step["ledger"]] = ProtocolLedger.new(connection)
            _ledger_record(ledgers[step["ledger"]], step, where)
        elif op == "merge":
            try:
                ledgers[step["as"]] = _named(ledgers, step["a"]).merge(_named(ledgers, step["b"]))
            except LedgerRefusal as refusal:
                require("STATE-031", False, f"{where}: refused with {refusal.error_class}")
        elif op == "diff":
            try:
                got: Any = _rows(
                    _named(ledgers, step["before"]).diff(_named(ledgers, step["after"]))
                )
            except LedgerRefusal as refusal:
                got = refusal.error_class
            want = step["expect"]
            require(
                "STATE-032",
                got == (want if isinstance(want, str) else sorted(want)),
                f"{where}: {got}, the case {want}",
            )
        elif op == "totals":
            got = _rows(_named(ledgers, step["ledger"]))
            require(
                step.get("requirement") or requirements[0],
                got == sorted(step["rows"]),
                f"{where}: totals {got}, the case {step['rows']}",
            )
        else:
            raise ValueError(f"{where}: unknown ledger step")


def _ledger_record(ledger: ProtocolLedger, step: Step, where: str) -> None:
    request = step.get("request_id")
    counters = tuple(int(step["usage"].get(name, 0)) for name in ProtocolLedger.COUNTERS)
    try:
        got: Any = ledger.record(str(step["source"]), str(step["model"]), counters, request)
    except LedgerRefusal as refusal:
        got = refusal.error_class
    require(
        "STATE-030" if request is None else "STATE-033",
        got == step["expect"],
        f"{where}: record answered {got!r}, the case {step['expect']!r}",
    )


# --------------------------------------------------------------------------------------
# The state store (state.*)
# --------------------------------------------------------------------------------------

CONFLICT = "HeadRevisionConflict"


def _commit(
    connection: Connection, store: str, session: str, state: Any, expected: int, where: str
) -> Any:
    """The new head, or ``HeadRevisionConflict``; another refusal is CONF-141."""
    reply = connection.call(
        "state.commit",
        handle=store,
        session_id=session,
        state=state,
        expected_head_revision=expected,
    )
    if reply.status == "rejected":
        require(
            "CONF-141",
            reply.error_type == "head_revision_conflict",
            f"{where}: rejected {reply.error_type}, which is no commit refusal",
        )
        return CONFLICT
    require("CONF-030", reply.ok, f"{where}: {reply.describe()}")
    return reply.result.get("head_revision")


def run_state_script(
    connection: Connection, name: str, requirements: Sequence[str], steps: Sequence[Step]
) -> None:
    """Run a state script against one fresh store."""
    store = f"script-store-{next(_STORES)}"
    reply = connection.call("state.open", handle=store, store=store)
    require("CONF-030", reply.ok, f"state.open: {reply.describe()}")
    for number, step in enumerate(steps):
        where = _where(name, number, step)
        op = step["op"]
        if op == "commit":
            got = _commit(
                connection, store, step["session"], step["state"], int(step["expected"]), where
            )
            require(
                "STATE-010",
                got == step["expect"],
                f"{where}: the commit answered {got!r}, the case {step['expect']!r}",
            )
        elif op == "load":
            reply = connection.call("state.load", handle=store, session_id=step["session"])
            require("CONF-030", reply.ok, f"{where}: {reply.describe()}")
            head = reply.result.get("head_revision")
            require(
                "STATE-010",
                head == step["head"],
                f"{where}: head {head!r}, the case {step['head']}",
            )
            if "state" in step:
                require(
                    "STATE-010",
                    reply.result.get("state") == step["state"],
                    f"{where}: state {reply.result.get('state')!r:.200}, the case "
                    f"{step['state']!r:.200}",
                )
        elif op == "race":
            outcomes = [
                _commit(
                    connection,
                    store,
                    step["session"],
                    {"writer": writer},
                    int(step["expected"]),
                    where,
                )
                for writer in range(int(step["writers"]))
            ]
            wins = sum(1 for outcome in outcomes if outcome != CONFLICT)
            require(
                "STATE-012",
                wins == step["expect_wins"],
                f"{where}: {wins} of {step['writers']} writers at the same head won, the "
                f"case {step['expect_wins']}",
            )
        elif op == "heal":
            reply = connection.call("state.heal", graph=step["graph"])
            require("CONF-030", reply.ok, f"{where}: {reply.describe()}")
            seen = (reply.result.get("healed"), reply.result.get("leaf_node_id"))
            want = (step["expect_healed"], step["expect_leaf"])
            require("STATE-003", seen == want, f"{where}: (healed, leaf) {seen}, the case {want}")
        else:
            raise ValueError(f"{where}: unknown state step")
