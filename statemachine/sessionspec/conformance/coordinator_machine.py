"""The coordinator conformance machine: an implementation in lock step with the reference model.

The machine never names an implementation: it reaches one through a
:class:`~sessionspec.conformance.adapters.Connection` (``spec/PROTOCOL.md``; DESIGN §4) and
compares what it shows through its API, after every step, with
:mod:`sessionspec.reference.coordinator`, whose state is just the log the model expects.
Operations are values (:class:`Turn`, :class:`Compact`, ...), so a run is a list of steps that
can be saved as a case file (spec/cases/coordinator/) and replayed (:func:`run_steps`). The
checks themselves live in :mod:`sessionspec.conformance.coordinator_driver`; each names its
requirement id.

Every operation runs in one of these modes:

* ``normal`` -- the implementation must return what the model says and show the model's
  state afterwards (CONF-001..CONF-005; with ``coordinator.format``, append exactly the
  model's batch);
* ``crash`` -- a power cut before the n-th file operation (``storage.simulated``; maybe a
  second one during the resume) or SIGKILL of the harness process at a random instant or a
  named point (``crash.kill``): a fresh coordinator shows the state before or after the
  operation, never anything else, and never less than what was acknowledged (CONF-010);
* ``fault`` -- EIO injected into a write, fsync or truncate (``storage.simulated``): a clean
  failure leaves everything as before (COORD-011); a failed cut-back leaves the coordinator
  ``failed`` and refusing writes until it is reopened, after which the state is before or
  after (COORD-012);
* ``inject`` -- entries the implementation never wrote (a dangling leaf, a compaction whose
  first kept entry is missing, a message from another writer) appended between reopens
  (``coordinator.inject``, CONF-012).

Besides the operations, the machine reopens without any settings argument (the settings
persisted in the session decide, COORD-027, ``coordinator.settings``) and with other
compaction settings (recorded as a settings leaf, COORD-028); turns carry secrets in tool
arguments and details (COORD-151, COORD-153), are answered by five models (each priced by its
own, COORD-062, ``coordinator.cost``) and report the context size the context-size trigger
measures (COORD-037).

Invariants after every step: the implementation's context, ids, tip, usage, turns, state and
(with ``coordinator.cost``) cost equal :func:`replay` of the model's log, the context compared
exactly: the context the running coordinator sends is the one a resume reads back, secrets
redacted in both (COORD-017, COORD-020); the context never holds
a tool result without its call and keeps the latest user message (CONF-007); a resumed twin
driven with the same later steps agrees with the coordinator that kept running (COORD-020).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sessionspec.conformance import checks
from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.coordinator_driver import Driver, settings_of
from sessionspec.conformance.coordinator_model import (
    MODEL,
    TIMESTAMP,
    Compact,
    Entry,
    Expected,
    Fork,
    Log,
    MoveLeaf,
    Operation,
    SetExtensionState,
    Turn,
    config_of,
    expect,
    model_observation,
    operation_from_json,
    operation_to_json,
    pair_closed,
    redacted_context,
)
from sessionspec.conformance.coordinator_replay import run_steps
from sessionspec.conformance.harness import CoordinatorFactory
from sessionspec.conformance.protocol import Capability
from sessionspec.wire.messages import (
    AssistantMessage,
    TextContent,
    ToolCall,
    ToolCallContent,
    ToolResultMessage,
    Usage,
    UserMessage,
)

__all__ = [
    "MODEL",
    "TIMESTAMP",
    "Compact",
    "CoordinatorFactory",
    "CoordinatorMachine",
    "Driver",
    "Entry",
    "Expected",
    "Fork",
    "Log",
    "MoveLeaf",
    "Operation",
    "SetExtensionState",
    "Turn",
    "config_of",
    "expect",
    "model_observation",
    "operation_from_json",
    "operation_to_json",
    "pair_closed",
    "redacted_context",
    "run_steps",
]

# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

TEXT = st.text(alphabet="ab cé→", max_size=24)
#: The models assistant messages name: each is priced by its own (COORD-062); the last one
#: has no price, so a session that used it has no cost (``None``), never a wrong one.
ANSWERING_MODELS = (
    ("anthropic", "claude-sonnet-4"),
    ("anthropic", "claude-opus-4-5-20251101"),
    ("openai", "gpt-5"),
    ("gemini", "gemini-2.5-flash"),
    ("acme", "robot-1"),
)
USAGE = st.fixed_dictionaries(
    {
        "input_tokens": st.integers(0, 400),
        "output_tokens": st.integers(0, 150),
        "cache_read_tokens": st.integers(0, 40),
        "cache_write_tokens": st.integers(0, 40),
    }
)


#: Secrets as they turn up in tool arguments and details (COORD-151, COORD-153): the
#: default policy must redact them, in the file and in memory alike (COORD-017).
SECRET_SAMPLES = (
    "sk-proj-abcdefghijklmnop0123",
    "Bearer eyJhbGciOi.payload.sig12345",
    "AKIAABCDEFGHIJKLMNOP",
    "ghp_abcdefghijklmnopqrstuvwxyz0123",
)
#: Command arguments: plain text, or text that carries a secret shape inside it.
ARGUMENT = TEXT | st.sampled_from(SECRET_SAMPLES).map(lambda key: f"curl -H 'x: {key}' /tmp/a")


@dataclass(frozen=True)
class TurnShape:
    user: str | None
    tool_calls: tuple[tuple[str, str], ...]  # (argument text, result text)
    final: str | None
    #: A secret passed under a secret key (``api_key`` in the arguments, ``token`` in the
    #: details), or None.
    secret: str | None = None
    #: Which of :data:`ANSWERING_MODELS` answers (COORD-062).
    model: int = 0
    #: The input tokens each assistant message of the turn reports: the size of the context
    #: it was sent (the context-size trigger's measure, COORD-037).
    context: int = 10


TURN_SHAPES = st.builds(
    TurnShape,
    user=st.none() | TEXT,
    tool_calls=st.lists(st.tuples(ARGUMENT, TEXT), max_size=2).map(tuple),
    final=st.none() | TEXT,
    secret=st.none() | st.sampled_from(SECRET_SAMPLES),
    model=st.integers(0, len(ANSWERING_MODELS) - 1),
    context=st.integers(0, 3000),
)


def _arguments(command: str, secret: str | None) -> str:
    # Paths and commands are not secrets: they must reach the file and memory unchanged.
    arguments: Entry = {"command": command, "cwd": "/home/alice/project", "n": 1}
    if secret is not None:
        arguments["api_key"] = secret
    return json.dumps(arguments)


def _details(secret: str | None) -> Entry:
    details: Entry = {"cwd": "/home/alice", "exit": 0}
    if secret is not None:
        details["token"] = secret
    return details


def build_turn(shape: TurnShape, next_call: Callable[[], str]) -> tuple[Entry, ...]:
    """Wire-form messages of one turn: pair-closed (every call answered in the turn)."""
    messages: list[Entry] = []
    if shape.user is not None:
        messages.append(
            UserMessage(content=[TextContent(text=shape.user)], timestamp_ms=1).to_json_dict()
        )
    if shape.tool_calls:
        ids = [next_call() for _ in shape.tool_calls]
        messages.append(
            _assistant(
                shape,
                [TextContent(text="calling")]
                + [
                    ToolCallContent(
                        tool_call=ToolCall(
                            id=call_id,
                            name="shell",
                            arguments=_arguments(argument, shape.secret),
                        )
                    )
                    for call_id, (argument, _) in zip(ids, shape.tool_calls, strict=True)
                ]
            )
        )
        for call_id, (_, result) in zip(ids, shape.tool_calls, strict=True):
            messages.append(
                ToolResultMessage(
                    tool_call_id=call_id,
                    tool_name="shell",
                    content=[TextContent(text=result)],
                    details=_details(shape.secret),
                    is_error=False,
                    timestamp_ms=3,
                ).to_json_dict()
            )
    if shape.final is not None:
        messages.append(_assistant(shape, [TextContent(text=shape.final)]))
    return tuple(messages)


def _assistant(shape: TurnShape, content: list[Any]) -> Entry:
    provider, model = ANSWERING_MODELS[shape.model]
    return AssistantMessage(
        content=content,
        api="Anthropic",
        provider=provider,
        model=model,
        usage=Usage(input_tokens=shape.context, output_tokens=5),
        stop_reason="stop",
        timestamp_ms=2,
    ).to_json_dict()


#: Extension states: JSON objects (integers within the 64 bits JSON readers agree on).
EXTENSION_STATES = st.dictionaries(TEXT, st.integers(-(2**63), 2**63 - 1), max_size=2)

POLICIES = st.sampled_from(["count_tail", "token_budget"])
TRIGGERS = st.sampled_from(["cumulative", "context_size"])


# --------------------------------------------------------------------------------------
# The Hypothesis machine
# --------------------------------------------------------------------------------------

FAULT_OPERATIONS = st.sampled_from(["write", "fsync", "truncate"])
FAULTS = st.lists(
    st.tuples(FAULT_OPERATIONS, st.integers(0, 2), st.none() | st.sampled_from([0.0, 0.5])),
    min_size=1,
    max_size=3,
)


#: Foreign and damaged shapes injected between reopens (CONF-012).
INJECTIONS = st.sampled_from(["dangling_leaf", "missing_first_kept", "foreign_message"])

class CoordinatorMachine(RuleBasedStateMachine):
    """Lock-step conformance of a coordinator implementation, through the protocol.

    ``connection`` is shared by every example of a run (one harness process); each example
    gets its own session id, so state an implementation keeps per process shows up as a
    disagreement of some later example, which the runner replays in a fresh harness.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.conn = connection
        self.driver: Driver | None = None
        self.calls = 0
        self.forks = 0
        self.kinds = ["turn"] + [
            kind for kind, capability in (
                ("compact", Capability.COORDINATOR_COMPACTION),
                ("leaf", Capability.COORDINATOR_LEAF),
                ("state", Capability.COORDINATOR_EXTENSION_STATE),
                ("fork", Capability.COORDINATOR_FORK),
            ) if connection.has(str(capability))
        ]

    @property
    def d(self) -> Driver:
        assert self.driver is not None
        return self.driver

    def has(self, capability: Capability) -> bool:
        return self.conn.has(str(capability))

    def _next_call(self) -> str:
        self.calls += 1
        return f"call-{self.calls}"

    def _turn(self, shapes: list[TurnShape], usage: Entry) -> Turn:
        messages: list[Entry] = []
        for shape in shapes:
            messages.extend(build_turn(shape, self._next_call))
        return Turn(tuple(messages), usage)

    def _targets(self) -> list[str]:
        ids = [e["id"] for e in self.d.log if e["type"] in ("message", "compaction")]
        if self.d.exact_ids:
            return ids
        # Without exact ids (undeclared, or COORD-004 masked, CONF-161): the ids it knows.
        return [i for i in ids if i in self.d.id_map]

    def _fork_id(self) -> str:
        self.forks += 1
        return f"{self.d.session_id}-fork-{self.forks}"

    def _draw_op(self, data: st.DataObject) -> Operation:
        kind = data.draw(st.sampled_from(self.kinds))
        if kind == "turn":
            return self._turn(data.draw(st.lists(TURN_SHAPES, max_size=2)), data.draw(USAGE))
        if kind == "compact":
            return Compact(data.draw(st.sampled_from(["manual", "threshold", "overflow"])))
        if kind == "leaf" and self._targets():
            return MoveLeaf(data.draw(st.sampled_from(self._targets())))
        if kind == "fork":
            return Fork(self._fork_id())
        if kind == "state":
            return SetExtensionState(data.draw(EXTENSION_STATES))
        return self._turn([], data.draw(USAGE))

    def _writable(self) -> bool:
        return self.driver is not None and not (self.d.failed or self.d.closed)

    @initialize(
        threshold=st.integers(150, 2500),
        policy=POLICIES,
        seed=st.integers(0, 2**16),
        trigger=TRIGGERS,
    )
    def start(self, threshold: int, policy: str, seed: int, trigger: str) -> None:
        # Each example its own session on the connection (CONF-032), numbered per connection
        # so a fresh one replays the same ids (CONF-064).
        session_id = f"s{self.conn.serial('session')}"
        trace: list[Entry] = [
            {"mode": "start", "threshold": threshold, "policy": policy, "seed": seed,
             "trigger": trigger}
        ]
        checks.current().trace = trace
        self.driver = Driver(
            self.conn, config_of(threshold, policy, trigger),
            settings_of(threshold, policy, trigger),
            seed=seed, session_id=session_id, trace=trace,
        )

    # -- legal-path rules (model preconditions) ---------------------------------------------

    @precondition(lambda self: self._writable())
    @rule(shapes=st.lists(TURN_SHAPES, max_size=3), usage=USAGE)
    def turn(self, shapes: list[TurnShape], usage: Entry) -> None:
        self.d.normal(self._turn(shapes, usage))

    @precondition(lambda self: self._writable())
    @rule(user=TEXT, calls=st.lists(st.tuples(ARGUMENT, TEXT), max_size=2), usage=USAGE)
    def user_turn(self, user: str, calls: list[tuple[str, str]], usage: Entry) -> None:
        self.d.normal(self._turn([TurnShape(user, tuple(calls), "done")], usage))

    @precondition(lambda self: self._writable() and "compact" in self.kinds)
    @rule(reason=st.sampled_from(["manual", "threshold", "overflow"]))
    def compact(self, reason: str) -> None:
        self.d.normal(Compact(reason))

    @precondition(lambda self: self._writable() and "leaf" in self.kinds and bool(self._targets()))
    @rule(data=st.data())
    def move_leaf(self, data: st.DataObject) -> None:
        # Mostly existing entries; sometimes an id that is not a message or compaction.
        bogus = ["msg-999", "", f"leaf-{len(self.d.log)}"]
        self.d.normal(MoveLeaf(data.draw(st.sampled_from(self._targets() + bogus))))

    @precondition(lambda self: self._writable() and "state" in self.kinds)
    @rule(value=EXTENSION_STATES)
    def extension_state(self, value: dict[str, int]) -> None:
        self.d.normal(SetExtensionState(value))

    @precondition(lambda self: self._writable() and "fork" in self.kinds)
    @rule()
    def fork(self) -> None:
        self.d.normal(Fork(self._fork_id()))

    @precondition(
        lambda self: self._writable()
        and (self.has(Capability.STORAGE_SIMULATED) or self.has(Capability.CRASH_KILL))
    )
    @rule(
        data=st.data(),
        nth=st.integers(0, 2) | st.integers(0, 9),
        resume_crash=st.none() | st.integers(0, 3),
    )
    def crash_during(self, data: st.DataObject, nth: int, resume_crash: int | None) -> None:
        self.d.crash(self._draw_op(data), nth, resume_crash)

    @precondition(lambda self: self._writable() and self.has(Capability.STORAGE_SIMULATED))
    @rule(data=st.data(), faults=FAULTS)
    def fault_during(
        self, data: st.DataObject, faults: list[tuple[str, int, float | None]]
    ) -> None:
        self.d.fault(self._draw_op(data), faults)

    @precondition(lambda self: self._writable() and self.has(Capability.STORAGE_SIMULATED))
    @rule(data=st.data(), first=st.sampled_from(["write", "fsync"]), partial=st.booleans())
    def fault_with_failed_cut_back(self, data: st.DataObject, first: str, partial: bool) -> None:
        """A write or fsync error whose cut-back fails too: the coordinator must fail."""
        faults = [(first, 0, 0.5 if partial and first == "write" else None), ("truncate", 0, None)]
        self.d.fault(self._draw_op(data), faults)

    @precondition(lambda self: self.driver is not None)
    @rule(with_settings=st.booleans())
    def reopen(self, with_settings: bool) -> None:
        self.d.reopen(with_settings)

    @precondition(
        lambda self: self._writable() and self.has(Capability.COORDINATOR_SETTINGS)
    )
    @rule(threshold=st.integers(150, 2500), policy=POLICIES, trigger=TRIGGERS)
    def change_settings(self, threshold: int, policy: str, trigger: str) -> None:
        self.d.change_settings(threshold, policy, trigger)

    @precondition(lambda self: self._writable())
    @rule(data=st.data())
    def close_refuse_reopen(self, data: st.DataObject) -> None:
        """Closed refuses everything (COORD-001); reopening is a clean resume."""
        self.d.close()
        self.d.normal(self._draw_op(data))
        self.d.check()
        self.d.reopen()

    @precondition(lambda self: self._writable() and self.has(Capability.COORDINATOR_COPY))
    @rule()
    def spawn_twin(self) -> None:
        self.d.spawn_twin()

    @precondition(lambda self: self._writable() and self.has(Capability.COORDINATOR_INJECT))
    @rule(kind=INJECTIONS)
    def inject_foreign(self, kind: str) -> None:
        """Entries the implementation never wrote itself, between reopens (CONF-012)."""
        self.d.inject(kind)

    # -- the arbitrary-event rule -------------------------------------------------------------

    @precondition(lambda self: self.driver is not None)
    @rule(data=st.data())
    def arbitrary_operation(self, data: st.DataObject) -> None:
        """Any operation in any state: refused exactly when the model refuses it."""
        self.d.normal(self._draw_op(data))

    @invariant()
    def agrees_with_the_model(self) -> None:
        if self.driver is not None:
            self.d.check()

    def teardown(self) -> None:
        if self.driver is not None:
            for handle in ("main", "twin"):
                self.conn.call("coordinator.close", handle=handle)
