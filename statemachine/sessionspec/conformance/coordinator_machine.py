"""The coordinator conformance machine: an implementation in lock step with the reference model.

The machine never names the runtime class: it drives whatever a :class:`CoordinatorFactory`
builds (DESIGN §4), on a :class:`SimulatedFileSystem`, and compares it after every step with
:mod:`sessionspec.reference.coordinator`, whose state is just the log the model expects on
disk. Operations are values (:class:`Turn`, :class:`Compact`, ...), so a run is a list of
steps that can be saved as a case file (spec/cases/coordinator/) and replayed
(:func:`run_steps`).

Every operation runs in one of three modes:

* ``normal`` -- the implementation must return what the model says and append exactly the
  model's batch;
* ``crash`` -- a power cut before the n-th file operation (maybe a second one during the
  resume); the file read back must be the log before or after the operation, never anything
  else, and a resumed coordinator must agree with the model of that log (COORD-020);
* ``fault`` -- EIO injected into a write, fsync or truncate: a clean failure leaves everything
  as before (COORD-011); a failed cut-back leaves the coordinator ``failed`` and refusing
  writes until it is reopened, after which the file is before or after (COORD-012).

Invariants after every step: the file holds the model's log; the implementation's context,
tip, figures, next id and state equal :func:`replay` of that log, compared exactly: the
context the running coordinator sends is the one a resume reads back, secrets redacted in
both (COORD-017, COORD-020);
the context never holds a tool result without its call; a resumed twin driven with the same
later steps agrees with the coordinator that kept running.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sessionspec.compaction import (
    CompactionConfig,
    CompactionReason,
    CompactionTrigger,
    CountTailPolicy,
    TokenBudgetPolicy,
)
from sessionspec.errors import (
    AppendFailedError,
    CallerError,
    IllegalTransitionError,
    LogFailedError,
    StorageError,
)
from sessionspec.pricing import CostBreakdown, PricingTable, attributed_usage, cost_of_rows
from sessionspec.redaction import RedactionPolicy
from sessionspec.reference import coordinator as ref
from sessionspec.settings import SessionSettings
from sessionspec.storage.jsonl import read_log
from sessionspec.storage.simfs import SimulatedCrash, SimulatedFileSystem
from sessionspec.wire.messages import (
    AssistantMessage,
    TextContent,
    ToolCall,
    ToolCallContent,
    ToolResultMessage,
    Usage,
    UserMessage,
)

DIRECTORY = "/sessions"
SESSION_ID = "s1"
PATH = f"{DIRECTORY}/{SESSION_ID}.jsonl"
CLOCK = 1_700_000_000.0
TIMESTAMP = "2023-11-14T22:13:20Z"
MODEL = "anthropic:claude-sonnet-4"
REDACTION = RedactionPolicy()
PRICING = PricingTable.default()
#: The models assistant messages name: each is priced by its own (COORD-062); the last one
#: has no price, so a session that used it has no cost (``None``), never a wrong one.
ANSWERING_MODELS = (
    ("anthropic", "claude-sonnet-4"),
    ("anthropic", "claude-opus-4-5-20251101"),
    ("openai", "gpt-5"),
    ("gemini", "gemini-2.5-flash"),
    ("acme", "robot-1"),
)

Entry = dict[str, Any]
Log = tuple[Entry, ...]


# --------------------------------------------------------------------------------------
# The seam: what the machine needs of an implementation
# --------------------------------------------------------------------------------------


class Coordinator(Protocol):
    """The part of the coordinator API the machine drives and observes."""

    def on_turn_end(self, new_messages: Sequence[Any], usage: Any = None) -> Any: ...
    def execute_compaction(self, reason: Any) -> Any: ...
    def append_leaf(self, entry_id: str) -> None: ...
    def append_extension_state(self, state: Any) -> str: ...
    def fork(self, *, dir: str | None = None, session_id: str | None = None) -> Any: ...
    def close(self) -> None: ...
    def context(self) -> list[dict[str, Any]]: ...
    def compaction_entries(self) -> tuple[Any, ...]: ...
    def cost_summary(self) -> CostBreakdown | None: ...

    @property
    def figures(self) -> ref.Figures: ...
    @property
    def active_tip(self) -> str | None: ...
    @property
    def next_seq(self) -> int: ...
    @property
    def state(self) -> Any: ...


@dataclass(frozen=True)
class CoordinatorFactory:
    """How the machine makes an implementation: a new session, or one opened from a file."""

    #: ``(fs, directory, session_id, config, clock) -> coordinator``
    new: Callable[[SimulatedFileSystem, str, str, CompactionConfig, Callable[[], float]], Any]
    #: ``(fs, path, config, clock) -> coordinator``. ``config`` None: open without any
    #: settings argument (no model, no compaction config): the file's settings decide
    #: (COORD-027).
    open: Callable[
        [SimulatedFileSystem, str, CompactionConfig | None, Callable[[], float]], Any
    ]


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


def perform(sut: Any, op: Operation) -> Any:
    """Run ``op`` on an implementation; the value comparable with :attr:`Expected.result`."""
    if isinstance(op, Turn):
        reason = sut.on_turn_end(list(op.messages), op.usage)
        return None if reason is None else CompactionReason(reason).value
    if isinstance(op, Compact):
        result = sut.execute_compaction(op.reason)
        if result is None:
            return None
        return (
            result.summary,
            result.first_kept_entry_id,
            result.tokens_before,
            result.tokens_after,
        )
    if isinstance(op, MoveLeaf):
        sut.append_leaf(op.target)
        return None
    if isinstance(op, SetExtensionState):
        return sut.append_extension_state(op.value)
    sut.fork(session_id=op.session_id)
    return None


# --------------------------------------------------------------------------------------
# Observation
# --------------------------------------------------------------------------------------


def durable_entries(fs: SimulatedFileSystem, path: str) -> Log:
    return tuple(r.entry for r in read_log(path, fs=fs).records)


def observe(sut: Any) -> dict[str, Any]:
    """Everything resume equivalence compares (COORD-020)."""
    return {
        # Exactly as the implementation returns it: no normalization of either side (COORD-017).
        "context": sut.context(),
        "ids": [item.id for item in sut.compaction_entries()],
        "tip": sut.active_tip,
        "figures": sut.figures,
        "next_seq": sut.next_seq,
        "state": str(getattr(sut.state, "value", sut.state)),
        # COORD-062: each assistant message priced by its own model, in Decimal.
        "cost": sut.cost_summary(),
    }


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


def model_observation(log: Log, config: CompactionConfig) -> dict[str, Any]:
    state = ref.replay(log, config)
    return {
        "context": ref.context_dicts(state.items),
        "ids": [item.id for item in state.items],
        "tip": state.tip,
        "figures": state.figures,
        "next_seq": state.next_seq,
        "state": "compaction_due" if state.due else "ready",
        "cost": model_cost(state.figures),
    }


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


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

TEXT = st.text(alphabet="ab cé→", max_size=24)
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


def config_of(threshold: int, policy: str, trigger: str = "cumulative") -> CompactionConfig:
    chosen = CountTailPolicy() if policy == "count_tail" else TokenBudgetPolicy(keep_tokens=6)
    return CompactionConfig(
        enabled=True,
        threshold_tokens=threshold,
        policy=chosen,
        trigger=CompactionTrigger(trigger),
    )


# --------------------------------------------------------------------------------------
# The driver (shared by the machine and the case replayer)
# --------------------------------------------------------------------------------------


@dataclass
class Driver:
    """Drives one implementation and the model; raises AssertionError on disagreement."""

    factory: CoordinatorFactory
    config: CompactionConfig
    seed: int = 0
    fs: SimulatedFileSystem = field(default_factory=SimulatedFileSystem)
    log: Log = ()
    failed: bool = False
    closed: bool = False
    #: While failed: the log after the operation whose cut-back failed.
    pending_after: Log | None = None
    twin: Any = None
    twin_fs: SimulatedFileSystem | None = None
    forks: dict[str, Log] = field(default_factory=dict)
    trace: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.sut: Any = self.factory.new(
            self.fs, DIRECTORY, SESSION_ID, self.config, lambda: CLOCK
        )

    # -- modes ---------------------------------------------------------------------------

    def normal(self, op: Operation) -> None:
        self.trace.append({"mode": "normal", **operation_to_json(op)})
        if self.failed or self.closed:
            self._refused(op)
            return
        expected = expect(op, self.log, self.config)
        if not expected.accepted:
            try:
                perform(self.sut, op)
            except CallerError:
                pass
            else:
                raise AssertionError(
                    f"{op} must be refused as a caller error (COORD-040, COORD-044)"
                )
            self._twin(op, expected)
            return
        result = perform(self.sut, op)
        assert result == expected.result, f"{op}: returned {result!r}, model {expected.result!r}"
        self.log = expected.after
        if expected.fork_entries is not None:
            self._check_fork(self.fs, op, expected.fork_entries, must_exist=True)
        self._twin(op, expected)

    def crash(self, op: Operation, nth: int, resume_crash: int | None) -> None:
        self.trace.append(
            {"mode": "crash", "nth": nth, "resume_crash": resume_crash, **operation_to_json(op)}
        )
        if self.failed or self.closed:
            self._refused(op)
            return
        expected = expect(op, self.log, self.config)
        self.twin = None
        self.fs.arm_crash(nth)
        try:
            perform(self.sut, op)
        except SimulatedCrash:
            pass
        except CallerError:
            self.fs.disarm()
            assert not expected.accepted, f"{op}: refused as a caller error"
            return
        else:
            self.fs.disarm()
            assert expected.accepted
            self.log = expected.after
            if expected.fork_entries is not None:
                self._check_fork(self.fs, op, expected.fork_entries, must_exist=True)
            return
        self.fs.crash(self.rng)
        if resume_crash is not None:
            self.fs.arm_crash(resume_crash)
            try:
                self.sut = self.factory.open(self.fs, PATH, self.config, lambda: CLOCK)
            except SimulatedCrash:
                self.fs.crash(self.rng)
            else:
                self.fs.disarm()
                self.sut.close()
        self.sut = self.factory.open(self.fs, PATH, self.config, lambda: CLOCK)
        self._settle(expected.after)
        if expected.fork_entries is not None:
            self._check_fork(self.fs, op, expected.fork_entries, must_exist=False)

    def fault(self, op: Operation, faults: Sequence[tuple[str, int, float | None]]) -> None:
        self.trace.append(
            {"mode": "fault", "faults": [list(f) for f in faults], **operation_to_json(op)}
        )
        if self.failed or self.closed:
            self._refused(op)
            return
        expected = expect(op, self.log, self.config)
        self.twin = None
        before = observe(self.sut)
        for operation, nth, partial in faults:
            self.fs.arm(operation, nth, partial=partial)
        try:
            result = perform(self.sut, op)
        except AppendFailedError:
            # COORD-011: everything as before the call, and the coordinator still writable.
            assert observe(self.sut) == before, "a clean write failure changed memory"
        except LogFailedError:
            assert observe(self.sut) | {"state": before["state"]} == before
            assert str(self.sut.state.value) == "failed", "LogFailedError must mean failed"
            self.failed = True
            self.pending_after = expected.after
        except StorageError:
            # A fork that could not be written: the source is untouched, no fork visible.
            assert isinstance(op, Fork), f"{op}: unexpected storage error"
            assert observe(self.sut) == before
            assert not self.fs.exists(f"{DIRECTORY}/{op.session_id}.jsonl")
        except CallerError:
            assert not expected.accepted
        else:
            assert expected.accepted
            assert result == expected.result
            self.log = expected.after
            if expected.fork_entries is not None:
                self._check_fork(self.fs, op, expected.fork_entries, must_exist=True)
        finally:
            self.fs.disarm()

    def reopen(self, with_settings: bool = True) -> None:
        """Close and open again from the file: a clean resume (or recovery from failed).
        ``with_settings=False`` passes no model and no compaction config: the settings
        persisted in the file must make the same decisions (COORD-027)."""
        self.trace.append({"mode": "reopen", "settings": with_settings})
        self.twin = None
        was_failed = self.failed
        before = None if (self.failed or self.closed) else observe(self.sut)
        self.sut.close()
        config = self.config if with_settings else None
        self.sut = self.factory.open(self.fs, PATH, config, lambda: CLOCK)
        self.closed = False
        if was_failed:
            assert self.pending_after is not None
            self._settle(self.pending_after)
        elif before is not None:
            # COORD-020: the resumed coordinator is observably the one that kept running.
            assert observe(self.sut) == before, "resume is not equivalent"

    def change_settings(self, threshold: int, policy: str, trigger: str) -> None:
        """Reopen with an explicit compaction config: if it differs from the file's, the
        coordinator records it as a settings leaf before deciding with it (COORD-028)."""
        self.trace.append(
            {"mode": "settings", "threshold": threshold, "policy": policy, "trigger": trigger}
        )
        if self.failed or self.closed:
            return
        self.twin = None
        config = config_of(threshold, policy, trigger)
        old = SessionSettings(MODEL, self.config)
        new = SessionSettings(MODEL, config)
        if new.to_json() != old.to_json():
            state = ref.replay(self.log, self.config)
            self.log = self.log + ref.settings_batch(state, new, timestamp=TIMESTAMP)
        self.sut.close()
        self.config = config
        self.sut = self.factory.open(self.fs, PATH, config, lambda: CLOCK)

    def close(self) -> None:
        self.trace.append({"mode": "close"})
        self.sut.close()
        self.closed = True
        self.failed = False
        self.twin = None

    def spawn_twin(self) -> None:
        """A second coordinator resumed from a copy of the file, driven with later steps."""
        self.trace.append({"mode": "twin"})
        if self.failed or self.closed:
            return
        self.twin_fs = SimulatedFileSystem()
        self.twin_fs.makedirs(DIRECTORY)
        handle = self.twin_fs.create_exclusive(PATH)
        handle.pwrite(self.fs.read_bytes(PATH), 0)
        handle.fsync()
        handle.close()
        self.twin_fs.fsync_dir(DIRECTORY)
        self.twin = self.factory.open(self.twin_fs, PATH, self.config, lambda: CLOCK)

    # -- checks ----------------------------------------------------------------------------

    def check(self) -> None:
        durable = durable_entries(self.fs, PATH)
        if self.failed:
            assert durable in (self.log, self.pending_after), "failed: file is neither"
        else:
            assert durable == self.log, "the file does not hold the model's log"
        if self.closed:
            return
        seen = observe(self.sut)
        if self.failed:
            seen["state"] = model_observation(self.log, self.config)["state"]
        assert seen == model_observation(self.log, self.config), "memory differs from replay"
        assert pair_closed(self.sut.context()), "a tool result lost its call (COORD-032)"
        if self.twin is not None:
            assert observe(self.twin) == seen, "the resumed twin diverged (COORD-020)"

    def _settle(self, after: Log) -> None:
        """After a crash or a failed cut-back: the file is the log before or after."""
        durable = durable_entries(self.fs, PATH)
        assert durable in (self.log, after), "recovery found neither before nor after"
        self.log = durable
        self.failed = False
        self.pending_after = None

    def _refused(self, op: Operation) -> None:
        before_file = self.fs.read_bytes(PATH)
        try:
            perform(self.sut, op)
        except IllegalTransitionError:
            pass
        else:
            raise AssertionError(f"{op} must be refused in a failed or closed coordinator")
        assert self.fs.read_bytes(PATH) == before_file, "a refused operation wrote"

    def _twin(self, op: Operation, expected: Expected) -> None:
        """The twin gets the same operation and must decide the same (COORD-020)."""
        if self.twin is None:
            return
        if not expected.accepted:
            try:
                perform(self.twin, op)
            except CallerError:
                return
            raise AssertionError("the twin accepted what the coordinator refused")
        assert perform(self.twin, op) == expected.result, "the twin decided differently"

    def _check_fork(
        self, fs: SimulatedFileSystem, op: Operation, entries: Log, *, must_exist: bool
    ) -> None:
        assert isinstance(op, Fork)
        path = f"{DIRECTORY}/{op.session_id}.jsonl"
        if not fs.exists(path):
            assert not must_exist, "an acknowledged fork is missing"
            return
        snapshot = read_log(path, fs=fs)
        assert snapshot.report.clean, f"a visible fork is damaged: {snapshot.report.summary()}"
        assert snapshot.header["parent_session"] == SESSION_ID
        assert tuple(r.entry for r in snapshot.records) == entries, "fork content differs"
        self.forks[op.session_id] = entries


# --------------------------------------------------------------------------------------
# The Hypothesis machine
# --------------------------------------------------------------------------------------

FAULT_OPERATIONS = st.sampled_from(["write", "fsync", "truncate"])
FAULTS = st.lists(
    st.tuples(FAULT_OPERATIONS, st.integers(0, 2), st.none() | st.sampled_from([0.0, 0.5])),
    min_size=1,
    max_size=3,
)


class CoordinatorMachine(RuleBasedStateMachine):
    """Lock-step conformance of a coordinator implementation (COORD-020, COORD-011/012)."""

    def __init__(self, factory: CoordinatorFactory) -> None:
        super().__init__()
        self.factory = factory
        self.driver: Driver | None = None
        self.calls = 0
        self.forks = 0

    @property
    def d(self) -> Driver:
        assert self.driver is not None
        return self.driver

    def _next_call(self) -> str:
        self.calls += 1
        return f"call-{self.calls}"

    def _turn(self, shapes: list[TurnShape], usage: Entry) -> Turn:
        messages: list[Entry] = []
        for shape in shapes:
            messages.extend(build_turn(shape, self._next_call))
        return Turn(tuple(messages), usage)

    def _targets(self) -> list[str]:
        return [e["id"] for e in self.d.log if e["type"] in ("message", "compaction")]

    def _draw_op(self, data: st.DataObject) -> Operation:
        kind = data.draw(st.sampled_from(["turn", "compact", "leaf", "state", "fork"]))
        if kind == "turn":
            return self._turn(data.draw(st.lists(TURN_SHAPES, max_size=2)), data.draw(USAGE))
        if kind == "compact":
            return Compact(data.draw(st.sampled_from(["manual", "threshold", "overflow"])))
        if kind == "leaf" and self._targets():
            return MoveLeaf(data.draw(st.sampled_from(self._targets())))
        if kind == "fork":
            self.forks += 1
            return Fork(f"fork-{self.forks}")
        return SetExtensionState(data.draw(EXTENSION_STATES))

    def _writable(self) -> bool:
        return self.driver is not None and not (self.d.failed or self.d.closed)

    @initialize(
        threshold=st.integers(150, 2500),
        policy=POLICIES,
        seed=st.integers(0, 2**16),
        trigger=TRIGGERS,
    )
    def start(self, threshold: int, policy: str, seed: int, trigger: str) -> None:
        self.driver = Driver(self.factory, config_of(threshold, policy, trigger), seed=seed)
        self.d.trace.append({"mode": "start", "threshold": threshold, "policy": policy,
                             "seed": seed, "trigger": trigger})

    # -- legal-path rules (model preconditions) ---------------------------------------------

    @precondition(lambda self: self._writable())
    @rule(shapes=st.lists(TURN_SHAPES, max_size=3), usage=USAGE)
    def turn(self, shapes: list[TurnShape], usage: Entry) -> None:
        self.d.normal(self._turn(shapes, usage))

    @precondition(lambda self: self._writable())
    @rule(user=TEXT, calls=st.lists(st.tuples(ARGUMENT, TEXT), max_size=2), usage=USAGE)
    def user_turn(self, user: str, calls: list[tuple[str, str]], usage: Entry) -> None:
        self.d.normal(self._turn([TurnShape(user, tuple(calls), "done")], usage))

    @precondition(lambda self: self._writable())
    @rule(reason=st.sampled_from(["manual", "threshold", "overflow"]))
    def compact(self, reason: str) -> None:
        self.d.normal(Compact(reason))

    @precondition(lambda self: self._writable() and bool(self._targets()))
    @rule(data=st.data())
    def move_leaf(self, data: st.DataObject) -> None:
        # Mostly existing entries; sometimes an id that is not a message or compaction.
        bogus = ["msg-999", "", f"leaf-{len(self.d.log)}"]
        self.d.normal(MoveLeaf(data.draw(st.sampled_from(self._targets() + bogus))))

    @precondition(lambda self: self._writable())
    @rule(value=EXTENSION_STATES)
    def extension_state(self, value: dict[str, int]) -> None:
        self.d.normal(SetExtensionState(value))

    @precondition(lambda self: self._writable())
    @rule()
    def fork(self) -> None:
        self.forks += 1
        self.d.normal(Fork(f"fork-{self.forks}"))

    @precondition(lambda self: self._writable())
    @rule(
        data=st.data(),
        nth=st.integers(0, 2) | st.integers(0, 9),
        resume_crash=st.none() | st.integers(0, 3),
    )
    def crash_during(self, data: st.DataObject, nth: int, resume_crash: int | None) -> None:
        self.d.crash(self._draw_op(data), nth, resume_crash)

    @precondition(lambda self: self._writable())
    @rule(data=st.data(), faults=FAULTS)
    def fault_during(
        self, data: st.DataObject, faults: list[tuple[str, int, float | None]]
    ) -> None:
        self.d.fault(self._draw_op(data), faults)

    @precondition(lambda self: self._writable())
    @rule(data=st.data(), first=st.sampled_from(["write", "fsync"]), partial=st.booleans())
    def fault_with_failed_cut_back(self, data: st.DataObject, first: str, partial: bool) -> None:
        """A write or fsync error whose cut-back fails too: the coordinator must fail."""
        faults = [(first, 0, 0.5 if partial and first == "write" else None), ("truncate", 0, None)]
        self.d.fault(self._draw_op(data), faults)

    @precondition(lambda self: self.driver is not None)
    @rule(with_settings=st.booleans())
    def reopen(self, with_settings: bool) -> None:
        self.d.reopen(with_settings)

    @precondition(lambda self: self._writable())
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

    @precondition(lambda self: self._writable())
    @rule()
    def spawn_twin(self) -> None:
        self.d.spawn_twin()

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
        if self.driver is not None and not self.d.closed:
            with contextlib.suppress(StorageError, IllegalTransitionError):
                self.d.sut.close()


# --------------------------------------------------------------------------------------
# Replaying a saved run (spec/cases/coordinator/*.json)
# --------------------------------------------------------------------------------------


def run_steps(factory: CoordinatorFactory, steps: Sequence[Mapping[str, Any]]) -> Driver:
    """Replay a trace recorded by :class:`Driver`; checks after every step like the machine."""
    start = steps[0]
    assert start["mode"] == "start"
    config = config_of(start["threshold"], start["policy"], start.get("trigger", "cumulative"))
    driver = Driver(factory, config, seed=start["seed"])
    driver.trace.append(dict(start))
    for step in steps[1:]:
        mode = step["mode"]
        if mode == "normal":
            driver.normal(operation_from_json(step))
        elif mode == "crash":
            driver.crash(operation_from_json(step), step["nth"], step["resume_crash"])
        elif mode == "fault":
            faults = [(f[0], f[1], f[2]) for f in step["faults"]]
            driver.fault(operation_from_json(step), faults)
        elif mode == "reopen":
            driver.reopen(step.get("settings", True))
        elif mode == "settings":
            driver.change_settings(step["threshold"], step["policy"], step["trigger"])
        elif mode == "close":
            driver.close()
        elif mode == "twin":
            driver.spawn_twin()
        else:
            raise ValueError(f"unknown step mode {mode!r}")
        driver.check()
    return driver
