"""The conformance runner: machines against one adapter, every distinct failure, a report.

Theory of operation (CONF-061). A machine runs under Hypothesis in *chunks* of examples
(seed ``seed + chunk``), so a time budget is honoured between chunks. A chunk that fails
yields one or more :class:`~sessionspec.conformance.checks.RequirementFailure` (Hypothesis
reports distinct bugs separately and shrinks each); each is recorded with its requirement
id and the steps of its shrunk example. The runner then *masks* those requirements (their
checks still run but no longer stop an example) and runs the same chunk again, until it
passes or fails only on requirements already recorded. So one missing field cannot hide the
defects behind it: a run reports every distinct failing requirement it can reach, each once.

A masked check that fails lets its example go on, so a later check of the same example may
fail only in consequence and be reported under its own id. A *first-hand* run
(``Budget.first_hand``, ``--first-hand``; CONF-160) abandons the example at that point
instead (Hypothesis discards it): every requirement it reports was the first thing some
example broke. A chunk whose every example is abandoned that way found nothing new.

A failure Hypothesis cannot reproduce (``Flaky``: the implementation kept state across
examples, in its process) is still a counterexample: its steps are replayed in a fresh
harness (:func:`sessionspec.conformance.cases.replay`) and reported as confirmed or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sessionspec.conformance.adapters import Connection, HarnessError
from sessionspec.conformance.checks import CheckContext, RequirementFailure, checking
from sessionspec.conformance.protocol import PROTOCOL_VERSION, Capability

__all__ = [
    "MACHINES",
    "MACHINE_REQUIREMENTS",
    "Budget",
    "Failure",
    "MachineResult",
    "Report",
    "run_conformance",
]

#: The machines the runner knows, in the order it runs them.
MACHINES = (
    "coordinator", "realtime", "realtime-durable", "conversation", "ledger", "state", "recorder",
    "recorder-durable",
)
#: Version of the interpretation rules (spec/SPEC.md §0) a report names.
SPEC_VERSION = 1

#: Requirements whose checks need a capability; skipped (never failed) without it (CONF-020).
CAPABILITY_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    str(Capability.COORDINATOR_FORMAT): ("CONF-013",),
    str(Capability.COORDINATOR_COMPACTION): ("COORD-031",),
    str(Capability.COORDINATOR_LEAF): ("COORD-040",),
    str(Capability.COORDINATOR_EXTENSION_STATE): ("COORD-043",),
    str(Capability.COORDINATOR_FORK): ("COORD-050", "COORD-051"),
    str(Capability.COORDINATOR_INJECT): ("CONF-012", "COORD-021", "COORD-022", "COORD-023"),
    str(Capability.STORAGE_SIMULATED): ("COORD-011", "COORD-012"),
    str(Capability.REALTIME_DURABLE): ("RT-041",),
    str(Capability.CONVERSATION_METADATA): ("CONV-005", "CONV-006"),
    str(Capability.STATE_DURABLE): ("STATE-011",),
    str(Capability.RECORDER_DURABLE): ("REC-071",),
}

#: The requirements each machine's checks report (CONF-060), for the pytest items.
MACHINE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "coordinator": (
        "CONF-001", "CONF-002", "CONF-003", "CONF-004", "CONF-005", "CONF-006", "CONF-007",
        "CONF-010", "CONF-012", "CONF-013", "CONF-030", "COORD-001", "COORD-010", "COORD-011",
        "COORD-012", "COORD-014", "COORD-020", "COORD-021", "COORD-022", "COORD-023",
        "COORD-031", "COORD-040", "COORD-043", "COORD-044", "COORD-050", "COORD-051",
        "COORD-104", "COORD-105",
    ),
    "realtime": (
        "CONF-030", "RT-003", "RT-004", "RT-005", "RT-010", "RT-011", "RT-012", "RT-013",
        "RT-016", "RT-017", "RT-023", "RT-025", "RT-026", "RT-031", "RT-033", "RT-034",
    ),
    "realtime-durable": (
        "CONF-010", "CONF-030", "RT-003", "RT-004", "RT-005", "RT-010", "RT-011", "RT-012",
        "RT-013", "RT-016", "RT-017", "RT-023", "RT-025", "RT-026", "RT-031", "RT-033",
        "RT-034", "RT-041",
    ),
    "conversation": (
        "CONF-030", "CONF-121", "CONV-001", "CONV-002", "CONV-003", "CONV-004", "CONV-005",
        "CONV-006", "CONV-010", "CONV-011", "CONV-012", "CONV-021", "CONV-030", "CONV-031",
        "CONV-032", "CONV-033", "CONV-034", "CONV-035",
    ),
    "ledger": ("CONF-030", "STATE-030", "STATE-031", "STATE-032", "STATE-033"),
    "state": (
        "CONF-030", "CONF-141", "STATE-001", "STATE-003", "STATE-010", "STATE-011",
        "STATE-012", "STATE-013", "STATE-014", "STATE-015",
    ),
    "recorder": (
        "CONF-030", "CONF-141", "REC-002", "REC-013", "REC-014", "REC-020", "REC-022",
        "REC-023", "REC-030", "REC-031", "REC-032", "REC-033", "REC-034", "REC-035",
        "REC-041", "REC-050", "REC-051", "REC-052",
    ),
    "recorder-durable": (
        "CONF-030", "CONF-141", "REC-002", "REC-013", "REC-014", "REC-020", "REC-022",
        "REC-023", "REC-030", "REC-031", "REC-032", "REC-033", "REC-034", "REC-035",
        "REC-041", "REC-050", "REC-051", "REC-052", "REC-071",
    ),
}


@dataclass(frozen=True)
class Budget:
    """How much a run may do: examples and steps per machine, and wall-clock seconds."""

    examples: int = 100
    steps: int = 30
    seconds: float | None = None
    #: Stop a machine after this many distinct failing requirements.
    max_failures: int = 25
    #: Seconds Hypothesis may spend shrinking one failure (its own default is 300).
    shrink_seconds: float = 20.0
    #: Improvements the shrinker may make to one failure; ``None`` keeps Hypothesis's own
    #: bound. Generation is a function of the seed alone, but a shrink cut by the clock is
    #: not: with a count here and ``shrink_seconds`` never reached, a seed replays the same
    #: requests and the same report in any process (CONF-064).
    shrinks: int | None = None
    #: Abandon an example at its first failure of an already reported requirement, so only
    #: first-hand failures are reported (CONF-160); by default the example goes on (CONF-061).
    first_hand: bool = False


@dataclass
class Failure:
    """One distinct failing requirement, with the shrunk steps that show it (CONF-062)."""

    machine: str
    requirement: str
    message: str
    steps: list[dict[str, Any]]
    #: ``failed`` (a check), ``errored`` (the harness broke), ``flaky`` (did not reproduce
    #: in Hypothesis; see ``confirmed``).
    kind: str = "failed"
    #: For a flaky failure: whether replaying the steps in a fresh harness failed too.
    confirmed: bool | None = None
    #: Where ``--save-case`` wrote it, and the command that replays it.
    case_path: str | None = None
    replay: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "requirement": self.requirement,
            "kind": self.kind,
            "message": self.message,
            "confirmed": self.confirmed,
            "case": self.case_path,
            "replay": self.replay,
            "steps": self.steps,
        }


@dataclass
class MachineResult:
    machine: str
    status: str  # "ran" or "skipped"
    reason: str = ""
    examples: int = 0
    chunks: int = 0
    seconds: float = 0.0
    exercised: set[str] = field(default_factory=set)
    failures: list[Failure] = field(default_factory=list)


@dataclass
class Report:
    """What a run found; rendered as text, JSON and JUnit XML by :mod:`.report`."""

    adapter: str
    implementation: dict[str, Any]
    capabilities: list[str]
    seed: int
    budget: Budget
    machines: list[MachineResult] = field(default_factory=list)
    round_trips: int = 0
    seconds: float = 0.0
    protocol_version: int = PROTOCOL_VERSION
    spec_version: int = SPEC_VERSION

    @property
    def failures(self) -> list[Failure]:
        return [f for m in self.machines for f in m.failures]

    @property
    def passed(self) -> bool:
        return not self.failures

    def requirement_rows(self) -> list[tuple[str, str, str, str]]:
        """``(requirement, status, machines, detail)`` for every requirement the run touched,
        failed, or skipped for want of a capability; sorted by id."""
        rows: dict[str, tuple[str, set[str], str]] = {}
        for result in self.machines:
            for requirement in result.exercised:
                _, machines, detail = rows.get(requirement, ("passed", set(), ""))
                rows[requirement] = ("passed", machines | {result.machine}, detail)
        for failure in self.failures:
            _, machines, _ = rows.get(failure.requirement, ("", set(), ""))
            rows[failure.requirement] = (
                failure.kind, machines | {failure.machine}, failure.message.splitlines()[0][:120]
            )
        declared = set(self.capabilities)
        for capability, requirements in CAPABILITY_REQUIREMENTS.items():
            if capability in declared:
                continue
            for requirement in requirements:
                if requirement not in rows:
                    rows[requirement] = ("skipped", set(), f"needs capability {capability}")
        return [
            (requirement, status, ", ".join(sorted(machines)), detail)
            for requirement, (status, machines, detail) in sorted(rows.items())
        ]


ProgressHook = Callable[[str, int, int, int], None]


def _leaves(error: BaseException, flaky: bool = False) -> Iterator[tuple[BaseException, bool]]:
    from hypothesis.errors import Flaky

    flaky = flaky or isinstance(error, Flaky)
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner, flaky)
    else:
        yield error, flaky


def _machine_factory(
    machine: str, connection: Connection, on_example: Callable[[], None]
) -> Callable[[], Any]:
    if machine == "coordinator":
        from sessionspec.conformance.coordinator_machine import CoordinatorMachine

        def make_coordinator() -> Any:
            on_example()
            return CoordinatorMachine(connection)

        return make_coordinator
    if machine in ("conversation", "ledger"):
        from sessionspec.conformance.conversation_machine import ConversationMachine
        from sessionspec.conformance.ledger_machine import LedgerMachine

        machine_class = ConversationMachine if machine == "conversation" else LedgerMachine

        def make_in_memory() -> Any:
            on_example()
            return machine_class(connection)

        return make_in_memory
    if machine == "state":
        from sessionspec.conformance.state_machine import StateStoreMachine

        def make_state() -> Any:
            on_example()
            return StateStoreMachine(connection)

        return make_state
    if machine.startswith("recorder"):
        from sessionspec.conformance.recorder_machine import RecorderMachine

        journaled = machine == "recorder-durable"

        def make_recorder() -> Any:
            on_example()
            return RecorderMachine(connection, durable=journaled)

        return make_recorder
    from sessionspec.conformance.realtime_machine import RealtimeMachine

    durable = machine == "realtime-durable"

    def make_realtime() -> Any:
        on_example()
        return RealtimeMachine(connection, durable=durable)

    return make_realtime


def skip_reason(machine: str, connection: Connection) -> str | None:
    """Why ``machine`` cannot run against this harness, or ``None``."""
    from sessionspec.conformance.realtime_driver import durable_possible
    from sessionspec.conformance.recorder_driver import journal_possible

    if machine == "coordinator" and not connection.has(str(Capability.COORDINATOR)):
        return "the harness does not declare 'coordinator'"
    if machine.startswith("realtime") and not connection.has(str(Capability.REALTIME)):
        return "the harness does not declare 'realtime'"
    if machine in ("conversation", "ledger") and not connection.has(machine):
        return f"the harness does not declare {machine!r}"
    if machine == "realtime-durable" and not durable_possible(connection):
        return "needs 'realtime.durable' and 'storage.simulated' or 'crash.kill'"
    if machine == "state" and not connection.has(str(Capability.STATE)):
        return "the harness does not declare 'state'"
    if machine.startswith("recorder") and not connection.has(str(Capability.RECORDER)):
        return "the harness does not declare 'recorder'"
    if machine == "recorder-durable" and not journal_possible(connection):
        return "needs 'recorder.durable' and 'storage.simulated' or 'crash.kill'"
    return None


def _run_chunk(
    machine: str,
    connection: Connection,
    budget: Budget,
    chunk_seed: int,
    examples: int,
    masked: frozenset[str],
    on_example: Callable[[], None],
) -> tuple[list[tuple[BaseException, bool, list[dict[str, Any]]]], CheckContext]:
    from hypothesis import HealthCheck, Verbosity, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable
    from hypothesis.stateful import get_state_machine_test

    context = CheckContext(masked=masked, first_hand=budget.first_hand)
    chosen = settings(
        max_examples=examples,
        stateful_step_count=budget.steps,
        deadline=None,
        database=None,
        derandomize=False,
        report_multiple_bugs=True,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    test = get_state_machine_test(
        _machine_factory(machine, connection, on_example),  # type: ignore[arg-type]
        settings=chosen,
        _flaky_state={"selecting_rule": False},
    )
    test = hypothesis_seed(chunk_seed)(test)
    found: list[tuple[BaseException, bool, list[dict[str, Any]]]] = []
    with (
        checking(context),
        _shrink_limit(budget.shrink_seconds, budget.shrinks),
        _without_local_constants(),
    ):
        try:
            test()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Unsatisfiable:
            if not budget.first_hand:
                raise
            # Every example broke a masked requirement first (CONF-160): nothing new here.
        except BaseException as error:  # every failure of the implementation is data here
            for leaf, flaky in _leaves(error):
                if flaky and not isinstance(leaf, RequirementFailure) and context.failure:
                    # Hypothesis could not reproduce the failure it found (state kept across
                    # examples): report that failure by its requirement (CONF-063).
                    leaf = context.failure
                trace = getattr(leaf, "trace", None)
                found.append((leaf, flaky, list(trace if trace is not None else context.trace)))
    return found, context


@contextmanager
def _shrink_limit(seconds: float, shrinks: int | None = None) -> Iterator[None]:
    """Bound the shrinking of one failure by time and, when given, by improvements (CONF-064);
    both are the engine's own constants, restored afterwards."""
    from hypothesis.internal.conjecture import engine

    previous = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    previous_shrinks = getattr(engine, "MAX_SHRINKS", None)
    if previous is None or previous_shrinks is None:  # pragma: no cover - another Hypothesis
        yield
        return
    engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    if shrinks is not None:
        engine.MAX_SHRINKS = shrinks
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = previous
        engine.MAX_SHRINKS = previous_shrinks


@contextmanager
def _without_local_constants() -> Iterator[None]:
    """Generate from the seed alone, whatever the process imported before (CONF-064).

    Hypothesis mixes into its draws, now and then, constants it collects from the source of
    every local module imported so far (``providers._get_local_constants``; ``integers >=
    100``, strings, floats). Some machine draws admit them: the stateful machine's
    feature-flag draw, ``integers(0, 254)``, takes one in about one example in twenty, and
    decides which rules that example may use. So a run depended on the modules the process
    had imported before it: a later run of the same seed, after another machine's modules
    had been loaded (or after pytest had collected more files), drew other examples and could
    name other requirements. A fresh process imports the same modules and so replayed; an
    in-process run did not. For the run the pool is empty (the constants of the suite's own
    source say nothing about the implementation under test) and the engine's cache of
    permitted constants, which holds the pool, is cleared on entry and on exit."""
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    collect = getattr(providers, "_get_local_constants", None)
    permitted = getattr(providers, "CONSTANTS_CACHE", None)
    if collect is None or permitted is None:  # pragma: no cover - another Hypothesis
        yield
        return
    nothing = Constants()
    providers._get_local_constants = lambda: nothing
    permitted.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = collect
        permitted.cache.clear()


def _as_failure(machine: str, error: BaseException, flaky: bool, steps: list[Any]) -> Failure:
    if isinstance(error, RequirementFailure):
        kind = "flaky" if flaky else ("errored" if error.requirement == "CONF-030" else "failed")
        return Failure(machine, error.requirement, error.detail, steps, kind=kind)
    from hypothesis.errors import Flaky, FlakyStrategyDefinition

    if isinstance(error, Flaky | FlakyStrategyDefinition):
        # The same steps went differently when replayed in the same harness: the
        # implementation kept state across sessions (CONF-032), not a bug of the suite.
        return Failure(machine, "CONF-032", "the implementation behaved differently when "
                       f"the same steps ran again in the same process: {error}", steps,
                       kind="flaky")
    kind = "errored"
    if isinstance(error, HarnessError):
        message = f"the harness broke the protocol: {error}"
    else:
        message = f"{type(error).__name__}: {error}"
    return Failure(machine, "CONF-030", message, steps, kind=kind)


def run_machine_with_masks(
    machine: str,
    connection: Connection,
    budget: Budget,
    seed: int,
    *,
    deadline: float | None = None,
    progress: ProgressHook | None = None,
    confirm: Callable[[Failure], bool | None] | None = None,
) -> MachineResult:
    """Run ``machine`` in chunks; on failure, mask and rerun the chunk (CONF-061)."""
    result = MachineResult(machine, "ran")
    started = time.monotonic()
    masked: set[str] = set()
    chunk_size = budget.examples if budget.seconds is None else min(budget.examples, 25)
    done = 0

    def on_example() -> None:
        result.examples += 1
        if progress is not None:
            progress(machine, min(done, budget.examples), budget.examples, len(result.failures))

    while done < budget.examples:
        if deadline is not None and time.monotonic() >= deadline:
            break
        size = min(chunk_size, budget.examples - done)
        chunk_seed = seed + result.chunks
        result.chunks += 1
        for _ in range(budget.max_failures + 1):
            found, context = _run_chunk(
                machine, connection, budget, chunk_seed, size, frozenset(masked), on_example
            )
            result.exercised |= context.exercised
            new = [
                _as_failure(machine, error, flaky, steps)
                for error, flaky, steps in found
            ]
            fresh: list[Failure] = []
            for failure in new:
                if failure.requirement in masked:
                    continue
                masked.add(failure.requirement)
                if failure.kind == "flaky" and confirm is not None:
                    failure.confirmed = confirm(failure)
                fresh.append(failure)
            result.failures.extend(fresh)
            if not fresh or len(result.failures) >= budget.max_failures:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
        done += size
        if progress is not None:
            progress(machine, done, budget.examples, len(result.failures))
        if len(result.failures) >= budget.max_failures:
            break
    result.exercised -= {f.requirement for f in result.failures}
    result.seconds = time.monotonic() - started
    return result


def run_conformance(
    connection: Connection,
    *,
    adapter: str,
    machines: tuple[str, ...] = MACHINES,
    budget: Budget | None = None,
    seed: int = 0,
    progress: ProgressHook | None = None,
    confirm: Callable[[Failure], bool | None] | None = None,
) -> Report:
    """Run the selected machines against ``connection`` and report (CONF-050)."""
    budget = budget or Budget()
    report = Report(
        adapter=adapter,
        implementation=dict(connection.implementation),
        capabilities=sorted(connection.capabilities),
        seed=seed,
        budget=budget,
    )
    started = time.monotonic()
    deadline = None if budget.seconds is None else started + budget.seconds
    for machine in machines:
        if machine not in MACHINES:
            raise ValueError(f"unknown machine {machine!r} (known: {', '.join(MACHINES)})")
        reason = skip_reason(machine, connection)
        if reason is not None:
            report.machines.append(MachineResult(machine, "skipped", reason=reason))
            continue
        report.machines.append(
            run_machine_with_masks(
                machine, connection, budget, seed, deadline=deadline, progress=progress,
                confirm=confirm,
            )
        )
    report.round_trips = connection.round_trips
    report.seconds = time.monotonic() - started
    return report
