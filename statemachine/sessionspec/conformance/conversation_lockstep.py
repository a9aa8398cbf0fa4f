"""The conversation's lock step: any implementation vs the reference model (§6).

The Hypothesis machine (:mod:`.conversation_machine`) draws the operations; everything it
checks is here, with no Hypothesis, so a saved trace replays without it (:func:`run_steps`,
CONF-073).

The machine reaches an implementation only through a
:class:`~sessionspec.conformance.adapters.Connection` (the ``conversation.*`` commands of
``spec/PROTOCOL.md``; CONF-120): each conversation is a
:class:`~sessionspec.conformance.conversation_driver.ProtocolConversation`. It keeps a pool of
conversations, each paired with its reference value (:mod:`sessionspec.reference.conversation`),
and drives them in lock step: pushes and batches, forks and prefix forks, system prompts, and
rewrites whose expected parent is the current head, a stale one, or absent, with replacements
drawn so that some break the tool shape or change nothing, and forks that replace a message
or one of its blocks (CONV-012), at indexes and of roles that are sometimes wrong. With
``conversation.metadata`` it also sets, removes and backfills metadata keys and records
usage, which forks copy (CONV-005, CONV-006, CONV-011; CONF-127).

Checks (each names its requirement, CONF-060). A rewrite's outcome must be the model's: a
refusal the model makes, missing or different, is charged to the rule behind the model's
error (CONV-030, CONV-031, CONV-033, CONV-034); a refusal the model does not make to the rule
behind the implementation's error (CONF-121); a commit must name the model's parent and
revision (CONV-035). After every step every conversation is observed (messages in the one
message model, system prompt, revision id, pending boundary; with the capability metadata
and usage) and compared with its model: a
difference on the conversation the step acted on is charged to the step's rule (CONV-001 new,
CONV-002 system prompt, CONV-003 push, CONV-005 metadata, CONV-006 usage, CONV-010 fork,
CONV-011 fork_at, CONV-012 fork_replacing, CONV-035 rewrite);
on any other conversation to CONV-010 (a write showed on the other side, CONF-122). A
revision id that is not the model's is CONV-032 when it is a head this conversation already
had (a missing implicit revision), else CONV-021 (not the canonical digest); the pending
boundary is CONV-004. A conversation that differs from its model once (the failure
recorded and masked, CONF-061) leaves the pool: every later check on it would fail in
consequence, so a single defect is reported under its own requirement, not under every
observation that follows from it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.conformance import checks
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.checks import holds, require
from sessionspec.conformance.conversation_driver import REWRITE_REQUIREMENT, ProtocolConversation
from sessionspec.conformance.protocol import Capability
from sessionspec.reference import conversation as ref

__all__ = [
    "MAX_CONVERSATIONS",
    "REPLACED_ROLE",
    "ConversationLockstep",
    "as_plain",
    "replaced",
    "run_steps",
]

MAX_CONVERSATIONS = 6

#: The role each block replacement of ``fork_replacing`` needs (CONV-012).
REPLACED_ROLE = {
    "user_content_block": "user",
    "assistant_block": "assistant",
    "tool_result_content_block": "tool_result",
}
USAGE_COUNTERS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
NO_USAGE = (0, 0, 0, 0)


def replaced(
    messages: Sequence[Mapping[str, Any]], at: int, replacement: Mapping[str, Any]
) -> dict[str, Any] | str:
    """The message ``fork_replacing`` puts at ``at``, or the error class it must raise, in
    the order of CONV-012 (message index, role, block index)."""
    if not 0 <= at < len(messages):
        return "MessageIndexOutOfBounds"
    if replacement["kind"] == "message":
        return dict(replacement["message"])
    original: dict[str, Any] = json.loads(json.dumps(messages[at]))
    if original["role"] != REPLACED_ROLE[replacement["kind"]]:
        return "MessageRoleMismatch"
    block_index = int(replacement["block_index"])
    if not 0 <= block_index < len(original["content"]):
        return "BlockIndexOutOfBounds"
    original["content"][block_index] = dict(replacement["block"])
    return original


class ConversationLockstep:
    """Conversations of the implementation and their models, in lock step (no Hypothesis:
    :class:`~.conversation_machine.ConversationMachine` draws the operations,
    :func:`run_steps` replays a recorded trace)."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        self.pool: list[tuple[ProtocolConversation, ref.RefConversation]] = []
        #: Every revision id each conversation has shown, to draw stale expectations.
        self.seen: list[list[str]] = []
        #: With ``conversation.metadata``: each conversation's metadata and usage counters
        #: as the spec says they must be (CONV-005, CONV-006; CONF-127), by slot.
        self.metadata_declared = connection.has(str(Capability.CONVERSATION_METADATA))
        self.extras: list[tuple[dict[str, Any], tuple[int, ...]]] = []
        #: The step just taken: its rule, and the slot it acted on (CONF-060, CONF-122).
        self.step_requirement = "CONV-001"
        self.acted_on = 0
        self.trace: list[dict[str, Any]] = [{"op": "start"}]
        checks.current().trace = self.trace

    def _step(self, requirement: str, slot: int, **step: Any) -> None:
        self.step_requirement = requirement
        self.acted_on = slot
        self.trace.append(step)

    def _pick(self, index: int) -> tuple[int, ProtocolConversation, ref.RefConversation]:
        slot = index % len(self.pool)
        subject, model = self.pool[slot]
        return slot, subject, model

    def _set(self, slot: int, model: ref.RefConversation) -> None:
        self.pool[slot] = (self.pool[slot][0], model)
        self.seen[slot].append(ref.ref_revision(model))

    def _add(
        self,
        subject: ProtocolConversation,
        model: ref.RefConversation,
        extras: tuple[dict[str, Any], tuple[int, ...]] = ({}, NO_USAGE),
    ) -> None:
        self.pool.append((subject, model))
        self.seen.append([ref.ref_revision(model)])
        self.extras.append((dict(extras[0]), extras[1]))

    def start(self) -> None:
        self._add(ProtocolConversation.new(self.conn), ref.RefConversation())

    def push(self, index: int, message: dict[str, Any]) -> None:
        slot, subject, model = self._pick(index)
        self._step("CONV-003", slot, op="push", on=slot, message=message)
        subject.push(message)
        self._set(slot, ref.ref_push(model, message))

    def push_turn(self, index: int, turn: list[dict[str, Any]]) -> None:
        slot, subject, model = self._pick(index)
        self._step("CONV-003", slot, op="push_batch", on=slot, messages=turn)
        subject.push_batch(turn)
        self._set(slot, ref.ref_push(model, *turn))

    def set_system_prompt(self, index: int, prompt: str) -> None:
        slot, subject, model = self._pick(index)
        self._step("CONV-002", slot, op="set_system_prompt", on=slot, prompt=prompt)
        subject.set_system_prompt(prompt)
        self._set(slot, ref.ref_set_system_prompt(model, prompt))

    def fork(self, index: int) -> None:
        slot, subject, model = self._pick(index)
        self._step("CONV-010", len(self.pool), op="fork", on=slot)
        self._add(subject.fork(), ref.ref_fork(model), self.extras[slot])

    def fork_at(self, index: int, cut: int) -> None:
        slot, subject, model = self._pick(index)
        self._step("CONV-011", len(self.pool), op="fork_at", on=slot, index=cut)
        self._add(subject.fork_at(cut), ref.ref_fork_at(model, cut), self.extras[slot])

    def apply_fork_replacing(self, slot: int, at: int, replacement: dict[str, Any]) -> None:
        """``fork_replacing(at, replacement)`` of conversation ``slot`` (CONV-012)."""
        subject, model = self.pool[slot]
        self._step(
            "CONV-012",
            len(self.pool),
            op="fork_replacing",
            on=slot,
            index=at,
            replacement=replacement,
        )
        verdict = replaced(model.messages, at, replacement)
        observed, fork = subject.fork_replacing(at, replacement)
        if isinstance(verdict, str):
            holds(
                "CONV-012",
                observed == verdict,
                f"fork_replacing({at}, {replacement['kind']}): {observed}, the model "
                f"refuses with {verdict}",
            )
            if fork is not None:
                fork.drop()
            return
        require(
            "CONV-012",
            observed == "ok",
            f"fork_replacing({at}, {replacement['kind']}): refused with {observed}, the "
            "model forks",
        )
        if fork is not None:
            fork_model = ref.ref_push(ref.ref_fork_at(model, at), verdict)
            self._add(fork, fork_model, self.extras[slot])

    def set_metadata(self, index: int, key: str, value: Any) -> None:
        slot, subject, _ = self._pick(index)
        self._step("CONV-005", slot, op="set_metadata", on=slot, key=key, value=value)
        subject.set_metadata(key, value)
        self.extras[slot][0][key] = value

    def remove_metadata(self, index: int, key: str) -> None:
        slot, subject, _ = self._pick(index)
        self._step("CONV-005", slot, op="remove_metadata", on=slot, key=key)
        subject.remove_metadata(key)
        self.extras[slot][0].pop(key, None)

    def backfill_metadata(self, index: int, key: str, value: Any) -> None:
        slot, subject, _ = self._pick(index)
        self._step("CONV-005", slot, op="backfill_metadata", on=slot, key=key, value=value)
        absent = key not in self.extras[slot][0]
        was_set = subject.backfill_metadata(key, value)
        if absent:
            self.extras[slot][0][key] = value
        require(
            "CONV-005",
            was_set is absent,
            f"backfill of {key!r} answered set={was_set}, the key was "
            f"{'absent' if absent else 'present'}",
        )

    def record_usage(self, index: int, counts: tuple[int, ...]) -> None:
        slot, subject, _ = self._pick(index)
        self._step("CONV-006", slot, op="record_usage", on=slot, counts=list(counts))
        subject.record_usage(dict(zip(USAGE_COUNTERS, counts, strict=True)))
        metadata, usage = self.extras[slot]
        self.extras[slot] = (metadata, tuple(a + b for a, b in zip(usage, counts, strict=True)))

    def apply_rewrite(
        self,
        slot: int,
        start: int,
        end: int,
        replacement: list[dict[str, Any]],
        expected: str | None,
    ) -> None:
        """One rewrite of conversation ``slot``, judged against the model's verdict."""
        subject, model = self.pool[slot]
        self._step(
            "CONV-035",
            slot,
            op="rewrite",
            on=slot,
            start=start,
            end=end,
            replacement=replacement,
            expected=expected,
        )
        verdict = ref.ref_rewrite(model, start, end, replacement, expected)
        observed = subject.rewrite(start, end, replacement, expected)
        if isinstance(verdict, ref.RefRejected):
            rule_id = REWRITE_REQUIREMENT.get(verdict.code, "CONF-121")
            if (
                not holds(
                    rule_id,
                    observed == verdict.code,
                    f"rewrite [{start}, {end}) expecting {expected}: {observed}, "
                    f"the model refuses with {verdict.code}",
                )
                and observed == "ok"
            ):
                self._retire(slot)  # it committed what the model refuses
            return
        require(
            REWRITE_REQUIREMENT.get(observed, "CONF-121"),
            observed == "ok",
            f"rewrite [{start}, {end}) expecting {expected}: refused with {observed}, "
            "the model commits it",
        )
        if observed != "ok":  # the check is masked (CONF-061): the model stays as it was
            return
        commit = (ref.ref_revision(model), ref.ref_revision(verdict))
        require(
            "CONV-035",
            subject.last_commit == commit,
            f"the commit names {subject.last_commit}, the model {commit}",
        )
        self._set(slot, verdict)

    def every_conversation_agrees(self) -> None:
        diverged = [
            slot
            for slot, (subject, model) in enumerate(self.pool)
            if not self._agrees(slot, subject, model)
        ]
        for slot in reversed(diverged):
            self._retire(slot)

    def _agrees(self, slot: int, subject: ProtocolConversation, model: ref.RefConversation) -> bool:
        """Observe one conversation; False at the first difference (its check masked)."""
        rule_id = self.step_requirement if slot == self.acted_on else "CONV-010"
        seen = subject.observe()
        messages = [dict(m) for m in model.messages]
        if not holds(
            rule_id,
            seen.get("messages") == messages,
            f"conversation {slot}: messages {seen.get('messages')!r:.400}, "
            f"the model {messages!r:.400}",
        ):
            return False
        if not holds(
            rule_id,
            seen.get("system_prompt") == model.system_prompt,
            f"conversation {slot}: system prompt {seen.get('system_prompt')!r}, "
            f"the model {model.system_prompt!r}",
        ):
            return False
        revision, got = ref.ref_revision(model), seen.get("revision")
        if not holds(
            "CONV-032",
            got == revision or got not in self.seen[slot],
            f"conversation {slot}: the head is still {got}, the model moved it to {revision}",
        ):
            return False
        if not holds(
            "CONV-021",
            got == revision,
            f"conversation {slot}: revision {got}, the model {revision}",
        ):
            return False
        if self.metadata_declared:
            metadata, usage = self.extras[slot]
            if not holds(
                rule_id,
                seen.get("metadata") == metadata,
                f"conversation {slot}: metadata {seen.get('metadata')!r:.300}, the "
                f"model {metadata!r:.300}",
            ):
                return False
            counters = seen.get("usage") or {}
            got_usage = tuple(counters.get(name) for name in USAGE_COUNTERS)
            if not holds(
                rule_id,
                got_usage == usage,
                f"conversation {slot}: usage {got_usage}, the model {usage}",
            ):
                return False
        last = model.messages[-1]["role"] if model.messages else None
        pending = last in ("user", "tool_result")
        return holds(
            "CONV-004",
            seen.get("pending_boundary") is pending,
            f"conversation {slot}: pending boundary {seen.get('pending_boundary')}, "
            f"the model {pending}",
        )

    def _retire(self, slot: int) -> None:
        """Leave a conversation that no longer matches its model (its failure is recorded
        and masked, CONF-061): every later check on it would fail in consequence."""
        subject, _ = self.pool.pop(slot)
        self.seen.pop(slot)
        self.extras.pop(slot)
        self.acted_on = -1
        with contextlib.suppress(Exception):  # a broken harness is reported elsewhere
            subject.drop()
        if not self.pool:
            self._add(ProtocolConversation.new(self.conn), ref.RefConversation())

    def teardown(self) -> None:
        for subject, _ in self.pool:
            with contextlib.suppress(Exception):  # a broken harness is reported elsewhere
                subject.drop()


def run_steps(connection: Connection, steps: Sequence[Mapping[str, Any]]) -> None:
    """Replay a trace the machine recorded (a saved case, CONF-062), checking every step.

    Each step names the conversation it acts on by its slot in the pool, so the rules are
    called with that slot as their index.
    """
    machine = ConversationLockstep(connection)
    try:
        machine.start()
        machine.every_conversation_agrees()
        for step in steps[1:]:
            op, on = step["op"], int(step.get("on", 0))
            if op == "push":
                machine.push(index=on, message=dict(step["message"]))
            elif op == "push_batch":
                machine.push_turn(index=on, turn=[dict(m) for m in step["messages"]])
            elif op == "set_system_prompt":
                machine.set_system_prompt(index=on, prompt=str(step["prompt"]))
            elif op == "fork":
                machine.fork(index=on)
            elif op == "fork_at":
                machine.fork_at(index=on, cut=int(step["index"]))
            elif op == "fork_replacing":
                machine.apply_fork_replacing(on, int(step["index"]), dict(step["replacement"]))
            elif op == "set_metadata":
                machine.set_metadata(index=on, key=str(step["key"]), value=step.get("value"))
            elif op == "remove_metadata":
                machine.remove_metadata(index=on, key=str(step["key"]))
            elif op == "backfill_metadata":
                machine.backfill_metadata(index=on, key=str(step["key"]), value=step.get("value"))
            elif op == "record_usage":
                machine.record_usage(index=on, counts=tuple(int(c) for c in step["counts"]))
            elif op == "rewrite":
                machine.apply_rewrite(
                    on,
                    int(step["start"]),
                    int(step["end"]),
                    [dict(m) for m in step["replacement"]],
                    step["expected"],
                )
            else:
                raise ValueError(f"unknown conversation step {op!r}")
            machine.every_conversation_agrees()
    finally:
        machine.teardown()


def as_plain(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(m) for m in messages]
