"""The static case runner for conversations: ``spec/cases/conversation/*.json`` (spec §6).

A case is language-neutral JSON: ``{name, seed, description, requirements, steps}``. Each
step is an object with an ``op`` and names conversations by labels (``main``, a fork's
``as``). Messages use a shorthand the runner expands to the wire form (§2):
``{"user": text}``, ``{"assistant": text, "calls": [ids]}``, ``{"tool_result": id,
"text": text}``. Operations:

* ``new {as}``; ``push {on, message}``; ``push_batch {on, messages}``;
  ``fork {from, as}``; ``fork_at {from, index, as}``; ``set_system_prompt {on, prompt}``;
* ``remember {on, label}``: remember the conversation's revision under ``label``;
* ``rewrite {on, start, end, replacement, expected, expect}``: ``expected`` is ``null``,
  ``"head"`` (the current revision) or a remembered label; ``expect`` is ``"ok"`` or an
  error name;
* ``check {on, texts?, count?, pending_boundary?, revision_is?, revision_is_not?}``;
* ``tamper {on, record, body, position, expect}``: change the text of message ``position``
  of body ``body`` (``parent_body`` or ``revision_body``) of record ``record``, recompute that
  body's id (and the commit's), and validate: ``expect`` is the outcome;
* ``replay {from: [labels], expect, head_of?}``: replay the records of the named
  conversations in order; with ``head_of``, the replayed head must be that conversation's
  revision.

The runner drives a :class:`~sessionspec.conformance.conversation_machine.ConversationSubject`
made by a factory, so any implementation runs the same files: the runtime object directly
(``tests/conversation/conv_factories.py``) or any harness through the protocol
(:func:`~sessionspec.conformance.conversation_driver.conversation_factory`, CONF-123).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sessionspec.conformance.conversation_machine import (
    ConversationSubject,
    ConversationSubjectFactory,
    wire_assistant,
    wire_tool_result,
    wire_user,
)
from sessionspec.reference.conversation import transcript_digest

__all__ = ["expand_message", "run_case"]


def expand_message(short: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of a shorthand message (see the module header)."""
    if "user" in short:
        return wire_user(short["user"])
    if "assistant" in short:
        return wire_assistant(short["assistant"], short.get("calls", ()))
    if "tool_result" in short:
        return wire_tool_result(short["tool_result"], short.get("text", "done"))
    raise ValueError(f"not a shorthand message: {short!r}")


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"][0]["text"] for m in messages]


def run_case(case: Mapping[str, Any], factory: ConversationSubjectFactory) -> None:
    """Run every step of ``case``; an AssertionError names the first step that differs."""
    subjects: dict[str, ConversationSubject] = {}
    labels: dict[str, str] = {}
    for number, step in enumerate(case["steps"]):
        where = f"{case['name']} step {number} ({step['op']})"
        op = step["op"]
        on = subjects.get(step.get("on", ""))
        if op == "new":
            subjects[step["as"]] = factory()
        elif op == "push":
            assert on is not None, where
            on.push(expand_message(step["message"]))
        elif op == "push_batch":
            assert on is not None, where
            on.push_batch([expand_message(m) for m in step["messages"]])
        elif op == "fork":
            subjects[step["as"]] = subjects[step["from"]].fork()
        elif op == "fork_at":
            subjects[step["as"]] = subjects[step["from"]].fork_at(step["index"])
        elif op == "set_system_prompt":
            assert on is not None, where
            on.set_system_prompt(step["prompt"])
        elif op == "remember":
            assert on is not None, where
            labels[step["label"]] = on.revision()
        elif op == "rewrite":
            assert on is not None, where
            expected = step["expected"]
            if expected == "head":
                expected = on.revision()
            elif expected is not None:
                expected = labels[expected]
            replacement = [expand_message(m) for m in step["replacement"]]
            outcome = on.rewrite(step["start"], step["end"], replacement, expected)
            assert outcome == step["expect"], (where, outcome)
        elif op == "check":
            assert on is not None, where
            _check(on, step, labels, where)
        elif op == "tamper":
            assert on is not None, where
            record = copy.deepcopy(on.records()[step["record"]])
            body = record[step["body"]]
            body["messages"][step["position"]]["content"][0]["text"] = "tampered"
            body["revision"] = transcript_digest(body["system_prompt"], body["messages"])
            key = "parent_revision" if step["body"] == "parent_body" else "revision"
            record["commit"][key] = body["revision"]
            if step["body"] == "parent_body":
                record["revision_body"]["parent_revision"] = body["revision"]
            outcome = on.validate_record(record)
            assert outcome == step["expect"], (where, outcome)
        elif op == "replay":
            records = [r for label in step["from"] for r in subjects[label].records()]
            outcome, head = on_any(subjects).replay_records(records)
            assert outcome == step["expect"], (where, outcome)
            if "head_of" in step:
                assert head == subjects[step["head_of"]].revision(), where
        else:
            raise ValueError(f"{where}: unknown op {op!r}")


def on_any(subjects: Mapping[str, ConversationSubject]) -> ConversationSubject:
    return next(iter(subjects.values()))


def _check(
    subject: ConversationSubject, step: Mapping[str, Any], labels: Mapping[str, str], where: str
) -> None:
    messages = subject.messages()
    if "texts" in step:
        assert _texts(messages) == step["texts"], (where, _texts(messages))
    if "count" in step:
        assert len(messages) == step["count"], (where, len(messages))
    if "pending_boundary" in step:
        assert subject.has_pending_boundary() is step["pending_boundary"], where
    if "revision_is" in step:
        assert subject.revision() == labels[step["revision_is"]], where
    if "revision_is_not" in step:
        assert subject.revision() != labels[step["revision_is_not"]], where
    if "system_prompt" in step:
        assert subject.system_prompt() == step["system_prompt"], where
