"""Case files: the format, the shipped cases, and the case runner (CONF-070..CONF-073).

A case is a saved run of one machine: the steps, in the same JSON form the machines record,
and what a conforming implementation must show (``spec/cases/README.md`` states the
interpretation rules, versioned; ``spec/cases/case.schema.json`` is generated from the models
here). The case runner replays a case through a
:class:`~sessionspec.conformance.adapters.Connection` with the same drivers the machines use,
so it needs only the protocol: no Hypothesis, no Python implementation.

Seven kinds of case file: a coordinator trace (``machine: coordinator``), a realtime case
(``machine: realtime``: either a trace the realtime machine recorded, or events with the
outcome each must have, written by hand from a seed's tests), a trace of the conversation
or the ledger machine (``machine: conversation`` or ``ledger``; a saved counterexample,
CONF-124), a state or recorder trace (``machine: state``, ``machine: recorder``: what the
state and recorder machines record, saved counterexamples; CONF-140, CONF-142), a script of
the conversation, ledger, state or recorder (``form: "script"``: written by hand from a
seed's tests, judged against what it states; CONF-074, run by :mod:`.case_scripts` and
:mod:`.recorder_script`), and a log case collection (``machine: log``; the log is our
storage layer, which protocol version 1 does not reach: it is validated, and replayed by the
repository's own tests). A case's model is chosen by its ``machine`` and, for a script, its
``form``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
)

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.checks import CheckContext, RequirementFailure, checking, require
from sessionspec.errors import CallerError

__all__ = [
    "CASE_ADAPTER",
    "CASE_FORMAT_VERSION",
    "CaseResult",
    "cases_root",
    "iter_case_files",
    "load_case",
    "replay_case",
    "save_case",
]

#: Version of the case format and of its interpretation rules (spec/cases/README.md).
CASE_FORMAT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ObservedFailure(_Model):
    """For a saved counterexample: what the implementation it was found on did."""

    requirement: str
    message: str
    implementation: dict[str, Any] = Field(default_factory=dict)


class _CaseBase(_Model):
    version: Literal[1] = 1
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str
    requirements: list[str] = Field(min_length=1)
    #: Capabilities a harness must declare for the case to run; otherwise it is skipped.
    capabilities: list[str] = Field(default_factory=list)
    found_by: str | None = None
    #: For a planted-bug case: the planted class it catches (repository tests only).
    planted: str | None = None
    observed_failure: ObservedFailure | None = None


class CoordinatorStep(_Open):
    """One step of a coordinator trace (see README: modes and operations)."""

    mode: Literal[
        "start", "normal", "crash", "fault", "reopen", "settings", "close", "twin", "inject"
    ]
    op: Literal["turn", "compact", "leaf", "extension_state", "fork"] | None = None
    #: ``crash``: the outcomes the case accepts; by default both (README rule 4).
    outcomes: list[Literal["before", "after"]] | None = None


class CoordinatorCase(_CaseBase):
    machine: Literal["coordinator"]
    steps: list[CoordinatorStep] = Field(min_length=1)
    expected: dict[str, Any] | None = None


class RealtimeTraceStep(_Model):
    op: Literal["start", "apply", "replay_all", "restart", "crash_apply"]
    event: dict[str, Any] | None = None
    nth: int | None = Field(default=None, ge=0)
    durable: bool | None = None


class RealtimeExpectation(_Model):
    status: Literal["accepted", "duplicate", "rejected"]
    materialized: int = Field(ge=0)
    diagnostics: list[str]


class RealtimeEventStep(_Model):
    event: dict[str, Any]
    expect: RealtimeExpectation


class RealtimeCase(_CaseBase):
    machine: Literal["realtime"]
    #: Where the case comes from (a seed's test suite), for hand-written cases.
    seed: str | None = None
    steps: list[RealtimeTraceStep] | list[RealtimeEventStep] = Field(min_length=1)
    expected: dict[str, Any] | None = None


class MemoryTraceStep(_Open):
    """One step of a conversation or ledger trace: ``op`` and the rule's arguments."""

    op: str


class MemoryTraceCase(_CaseBase):
    """A trace the conversation or the ledger machine recorded (CONF-124)."""

    machine: Literal["conversation", "ledger"]
    steps: list[MemoryTraceStep] = Field(min_length=1)
class StateTraceStep(_Open):
    """One step of a state trace (the ops :class:`~.state_driver.StateDriver` records)."""

    op: Literal[
        "start", "commit", "race", "heal", "persisted_load", "persisted_edit",
        "persisted_commit", "restart", "kill_in_commit",
    ]


class StateCase(_CaseBase):
    machine: Literal["state"]
    steps: list[StateTraceStep] = Field(min_length=1)


class RecorderTraceStep(_Open):
    """One step of a recorder trace (the ops :class:`~.recorder_driver.RecorderDriver`
    records); the first is ``start`` with ``durable``."""

    op: Literal["start", "event", "malformed", "flush", "checkpoint", "drain", "restart"]


class RecorderCase(_CaseBase):
    machine: Literal["recorder"]
    steps: list[RecorderTraceStep] = Field(min_length=1)


# -- hand-written scripts (CONF-074; README rule 12) -------------------------------------


class _ScriptBase(_CaseBase):
    """A case written by hand from a seed's tests: judged against what it states."""

    form: Literal["script"]
    #: Where the case comes from (the seed's test suite).
    seed: str


class ConversationScriptStep(_Open):
    op: Literal[
        "new", "push", "push_batch", "fork", "fork_at", "set_system_prompt", "remember",
        "rewrite", "check", "tamper", "replay",
    ]


class ConversationScriptCase(_ScriptBase):
    machine: Literal["conversation"]
    steps: list[ConversationScriptStep] = Field(min_length=1)


class LedgerScriptStep(_Open):
    op: Literal["record", "merge", "diff", "totals"]


class LedgerScriptCase(_ScriptBase):
    machine: Literal["ledger"]
    steps: list[LedgerScriptStep] = Field(min_length=1)


class StateScriptStep(_Open):
    op: Literal["commit", "load", "race", "heal"]


class StateScriptCase(_ScriptBase):
    machine: Literal["state"]
    steps: list[StateScriptStep] = Field(min_length=1)


class RecorderScriptEvent(_Model):
    """phi-core's JSON event and its outcome: ``recorded``, ``dropped:<reason>``,
    ``duplicate`` or ``invalid``."""

    event: dict[str, Any]
    expect: str = Field(pattern=r"^(recorded|duplicate|invalid|dropped:[a-z_]+)$")


class RecorderScriptOperation(_Open):
    op: Literal["flush", "checkpoint", "current_loop"]


class RecorderScriptExpected(_Model):
    #: A partial view of every session held, in order (README rule 12).
    sessions: list[dict[str, Any]]
    #: With ``before_task``: the callback calls, in order.
    callback_calls: list[str] | None = None


class RecorderScriptCase(_ScriptBase):
    machine: Literal["recorder"]
    #: The recorder's configuration (REC-017); any non-default value needs
    #: ``recorder.config``.
    config: dict[str, Any] = Field(default_factory=dict)
    steps: list[RecorderScriptEvent | RecorderScriptOperation] = Field(min_length=1)
    expected: RecorderScriptExpected


ScriptCase = ConversationScriptCase | LedgerScriptCase | StateScriptCase | RecorderScriptCase


class LogCase(_Open):
    name: str
    description: str
    requirements: list[str]


class LogCollection(_Model):
    version: Literal[1] = 1
    machine: Literal["log"]
    format: str
    how_to_run: str
    cases: list[LogCase] = Field(min_length=1)


def _kind(data: Any) -> str | None:
    """Which model a case is: its ``machine``, and for a script its ``form`` too."""
    if isinstance(data, dict):
        machine, form = data.get("machine"), data.get("form")
    else:
        machine, form = getattr(data, "machine", None), getattr(data, "form", None)
    if form == "script":
        return f"{machine}.script"
    return "memory" if machine in ("conversation", "ledger") else machine


Case = Annotated[
    Annotated[CoordinatorCase, Tag("coordinator")]
    | Annotated[RealtimeCase, Tag("realtime")]
    | Annotated[MemoryTraceCase, Tag("memory")]
    | Annotated[StateCase, Tag("state")]
    | Annotated[RecorderCase, Tag("recorder")]
    | Annotated[LogCollection, Tag("log")]
    | Annotated[ConversationScriptCase, Tag("conversation.script")]
    | Annotated[LedgerScriptCase, Tag("ledger.script")]
    | Annotated[StateScriptCase, Tag("state.script")]
    | Annotated[RecorderScriptCase, Tag("recorder.script")],
    Discriminator(_kind),
]
CASE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Case)

#: A case the protocol replays.
ProtocolCase = (
    CoordinatorCase | RealtimeCase | MemoryTraceCase | StateCase | RecorderCase | ScriptCase
)
AnyCase = ProtocolCase | LogCollection


def load_case(path: str | Path) -> AnyCase:
    """Read and validate a case file; a :class:`CallerError` names what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CallerError(f"{path}: cannot read a case: {exc}") from exc
    try:
        case: AnyCase = CASE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise CallerError(f"{path}: not a valid case: {exc}") from exc
    return case


def cases_root() -> Path:
    """The shipped cases: inside the installed package, else the repository's spec/cases."""
    packaged = resources.files("sessionspec.conformance").joinpath("spec", "cases")
    if packaged.is_dir():
        return Path(str(packaged))
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "spec" / "cases"
        if candidate.is_dir() and (parent / "pyproject.toml").is_file():
            return candidate
    raise CallerError("no case files found (neither packaged nor in a source checkout)")


#: The case directories the driver protocol runs; the others (codecs, realtime/openai) hold
#: cases outside the protocol (the provider codecs), run by their own tests.
PROTOCOL_CASE_DIRS = (
    "coordinator", "realtime", "log", "conversation", "ledger", "state", "recorder"
)


def iter_case_files(root: Path | None = None) -> Iterator[Path]:
    root = root or cases_root()
    yield from sorted(
        p
        for p in root.rglob("*.json")
        if p.name != "case.schema.json"
        and (p.parent == root or p.relative_to(root).parts[0] in PROTOCOL_CASE_DIRS)
        # Recorded provider traffic for the OpenAI translator (issue 15), not protocol cases.
        and p.relative_to(root).parts[:2] != ("realtime", "openai")
    )


@dataclass
class CaseResult:
    path: str
    name: str
    machine: str
    #: ``passed``, ``failed``, ``errored`` or ``skipped``.
    status: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""


def _missing(case: ProtocolCase, connection: Connection) -> list[str]:
    needed = set(case.capabilities) | {case.machine}
    return sorted(c for c in needed if not connection.has(c))


class _Abandoned(Exception):
    """A first-hand case met a failure of a requirement already reported (CONF-160)."""


@dataclass
class _CaseContext(CheckContext):
    """A case's checks; with ``abandon`` a masked failure ends the case (the machines' first
    hand abandons a Hypothesis example instead)."""

    abandon: bool = False

    def fail(self, requirement: str, message: str) -> None:
        if self.abandon and requirement in self.masked:
            raise _Abandoned(requirement)
        super().fail(requirement, message)


def _run_once(
    case: ProtocolCase, connection: Connection, masked: frozenset[str], abandon: bool = False
) -> RequirementFailure | None:
    """The case's first failure of a requirement not in ``masked``, or ``None``. With
    ``abandon``, a failure of a masked requirement ends the case there (CONF-160)."""
    context = _CaseContext(masked=masked, abandon=abandon)
    with checking(context):
        try:
            if isinstance(case, ScriptCase):
                _run_script(case, connection)
            elif isinstance(case, CoordinatorCase):
                from sessionspec.conformance.coordinator_replay import run_steps

                run_steps(connection, [s.model_dump(exclude_none=True) for s in case.steps])
            elif isinstance(case, MemoryTraceCase):
                _run_memory_trace(case, connection)
            elif isinstance(case, StateCase):
                from sessionspec.conformance.state_driver import run_steps as run_state

                run_state(connection, [s.model_dump() for s in case.steps])
            elif isinstance(case, RecorderCase):
                from sessionspec.conformance.recorder_driver import run_steps as run_recorder

                run_recorder(connection, [s.model_dump() for s in case.steps])
            elif all(isinstance(s, RealtimeTraceStep) for s in case.steps):
                from sessionspec.conformance.realtime_driver import run_steps as run_rt

                run_rt(connection, [s.model_dump(exclude_none=True) for s in case.steps])
            else:
                _run_realtime_events(case, connection)
        except RequirementFailure as failure:
            return failure
        except _Abandoned:  # at a masked failure: nothing new in this case
            return None
    return None


def _run_script(case: ScriptCase, connection: Connection) -> None:
    """A hand-written case, through the protocol (CONF-074)."""
    steps = [
        s.model_dump(exclude_none=True) if isinstance(s, RecorderScriptEvent) else s.model_dump()
        for s in case.steps
    ]
    if isinstance(case, RecorderScriptCase):
        from sessionspec.conformance.recorder_script import run_recorder_script

        run_recorder_script(connection, case.name, case.requirements, steps, case.config,
                            case.expected.model_dump(exclude_none=True))
        return
    from sessionspec.conformance import case_scripts

    run = {
        "conversation": case_scripts.run_conversation_script,
        "ledger": case_scripts.run_ledger_script,
        "state": case_scripts.run_state_script,
    }[case.machine]
    run(connection, case.name, case.requirements, steps)


def _run_memory_trace(case: MemoryTraceCase, connection: Connection) -> None:
    steps = [s.model_dump() for s in case.steps]
    if case.machine == "conversation":
        from sessionspec.conformance.conversation_lockstep import run_steps as run_conversation

        run_conversation(connection, steps)
    else:
        from sessionspec.conformance.ledger_lockstep import run_steps as run_ledger

        run_ledger(connection, steps)


def replay_case(
    case: AnyCase,
    connection: Connection,
    *,
    path: str = "",
    first_hand: bool = False,
    reported: frozenset[str] = frozenset(),
) -> CaseResult:
    """Replay one case; every distinct failing requirement (masking, as the runner does), or
    with ``first_hand`` only the first: a case is one example, and what fails after its
    first failure fails in consequence (CONF-160).

    ``reported``: requirements earlier cases of the same first-hand run reported. They are
    masked from the start, as a machine run masks them in its later examples (CONF-061,
    CONF-161: with COORD-004 among them, ids are compared up to a renaming), and a failure
    of one of them ends the case with nothing new (CONF-160)."""
    if isinstance(case, LogCollection):
        return CaseResult(path, Path(path).stem, "log", "skipped",
                          reason="the log is not reachable through protocol version 1")
    missing = _missing(case, connection)
    if missing:
        return CaseResult(path, case.name, case.machine, "skipped",
                          reason=f"needs capability {', '.join(missing)}")
    result = CaseResult(path, case.name, case.machine, "passed")
    masked: set[str] = set(reported) if first_hand else set()
    for _ in range(20):
        try:
            failure = _run_once(case, connection, frozenset(masked), abandon=first_hand)
        except Exception as exc:  # the harness broke: errored, not failed
            result.status = "errored"
            result.failures.append(("CONF-030", f"{type(exc).__name__}: {exc}"))
            return result
        if failure is None or failure.requirement in masked:
            break
        masked.add(failure.requirement)
        result.status = "failed"
        result.failures.append((failure.requirement, failure.detail))
        if first_hand:
            break
    return result


# --------------------------------------------------------------------------------------
# Hand-written realtime cases: events and the outcome each must have
# --------------------------------------------------------------------------------------


def _abstract(message: dict[str, Any]) -> dict[str, Any]:
    """A transcript message in the short form the hand-written cases state."""
    if message.get("role") == "user":
        return {"role": "user", "text": message["content"][0]["text"]}
    usage = message.get("usage") or {}
    return {
        "role": "assistant",
        "response_id": message.get("response_id"),
        "stop_reason": message.get("ss_realtime_stop_reason"),
        "blocks": [
            {"text": b.get("text"), "lane": b.get("ss_lane", "display")}
            for b in message.get("content", [])
        ],
        "usage": {
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
        },
    }


def _run_realtime_events(case: RealtimeCase, connection: Connection) -> None:
    from sessionspec.conformance.realtime_driver import RealtimeDriver
    from sessionspec.reference import realtime as ref

    driver = RealtimeDriver(connection, False, [{"op": "start", "durable": False}])
    try:
        for number, step in enumerate(case.steps, start=1):
            assert isinstance(step, RealtimeEventStep)
            before = len(driver.subject.messages())
            observed = driver.both(ref.event_from_wire(step.event))
            where = f"{case.name} step {number}"
            require("RT-004", observed.status == step.expect.status,
                    f"{where}: status {observed.status!r}, the case {step.expect.status!r}")
            require("RT-011", list(observed.codes) == step.expect.diagnostics,
                    f"{where}: diagnostics {list(observed.codes)!r}, the case "
                    f"{step.expect.diagnostics!r}")
            grown = len(driver.subject.messages()) - before
            require("RT-031", grown == step.expect.materialized,
                    f"{where}: materialized {grown}, the case {step.expect.materialized}")
            driver.check()
        expected = case.expected or {}
        if "messages" in expected:
            got = [_abstract(m) for m in driver.subject.messages()]
            want = expected["messages"]
            require(
                "RT-031",
                len(got) == len(want)
                and all(
                    all(g.get(k) == v for k, v in w.items()) for g, w in zip(got, want, strict=True)
                ),
                f"{case.name}: transcript {got!r:.400} is not the case's {want!r:.400}",
            )
        if "in_flight_response_ids" in expected:
            require("RT-034", driver.subject.in_flight() == expected["in_flight_response_ids"],
                    f"{case.name}: in-flight responses differ")
    finally:
        driver.subject.close()


# --------------------------------------------------------------------------------------
# Saving a counterexample
# --------------------------------------------------------------------------------------


def save_case(
    directory: str | Path,
    *,
    machine: str,
    requirement: str,
    message: str,
    steps: Sequence[dict[str, Any]],
    implementation: dict[str, Any],
    capabilities: Sequence[str] = (),
) -> Path:
    """Write a failure as a case file under ``directory/<machine>/`` (CONF-062)."""
    base = machine.split("-")[0]  # realtime-durable -> realtime, recorder-durable -> recorder
    folder = Path(directory) / base
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{requirement.lower()}-{implementation.get('name', 'impl')}".replace(" ", "_")
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)
    number = 1
    while (folder / f"{stem}-{number}.json").exists():
        number += 1
    name = f"{stem}-{number}"
    data = {
        "version": CASE_FORMAT_VERSION,
        "machine": base,
        "name": name,
        "description": f"Counterexample for {requirement} found by sessionspec conform: "
        f"{message.splitlines()[0][:300]}",
        "requirements": [requirement],
        "capabilities": sorted(capabilities),
        "found_by": "sessionspec conform (shrunk by Hypothesis)",
        "observed_failure": {
            "requirement": requirement, "message": message, "implementation": implementation
        },
        "steps": list(steps),
    }
    CASE_ADAPTER.validate_python(data)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
