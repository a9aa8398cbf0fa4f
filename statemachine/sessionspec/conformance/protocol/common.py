"""The driver protocol: JSON lines between the conformance runner and a harness (CONF-030..).

This module owns the message models of ``spec/PROTOCOL.md``; ``sessionspec generate``
publishes one JSON Schema per message under ``spec/schema/protocol/`` (GEN-005). The prose,
the rules of the conversation and the versioning policy are in PROTOCOL.md; the models here
are the normative shapes.

Theory of operation. The runner writes one :class:`Request` per line to the harness's stdin
and reads one :class:`Response` per line from its stdout, in order: every request carries a
sequence number ``seq`` and its response repeats it. The first request is ``start`` (the
handshake: protocol version in, implementation and capabilities out), the last one ``stop``.
In between, commands are namespaced by machine (``coordinator.*``, ``realtime.*``,
``conversation.*``, ``ledger.*``, ``state.*``, ``recorder.*``), plus ``sim.*`` for
harnesses that run on a simulated file system and ``crash.*`` for named crash points. Every
command is answered with exactly one of ``ok`` (with a result), ``rejected`` (a typed error
the spec names), ``skipped`` (the harness cannot do this; with a reason), ``errored`` (the
harness itself broke; with context) or ``crashed`` (a simulated power cut interrupted the
operation). The one unsolicited line is ``at_crash_point``: the harness reached an armed
crash point, wrote that line and waits to be killed (CONF-033).

Version policy (CONF-031): ``PROTOCOL_VERSION`` is an integer. Adding a command, an optional
argument, a result field or a capability keeps the version; removing or changing the meaning
of anything bumps it. A harness answers an unknown command with ``skipped``, never
``errored``, so a runner newer than the harness still gets a report.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

#: The protocol version this module speaks (CONF-031).
PROTOCOL_VERSION = 1


class _Model(BaseModel):
    """Protocol messages: unknown fields are allowed (later additive versions add them)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Capability(enum.StrEnum):
    """What a harness declares it can do beyond the semantic core (CONF-020).

    A check that needs a capability the harness did not declare is not run and is reported
    as skipped with the capability's name; it never counts as a failure.
    """

    #: Serves the ``coordinator.*`` commands (the semantic core of §4).
    COORDINATOR = "coordinator"
    #: ``coordinator.compact`` follows the cut policies and core summary of COORD-100..111.
    COORDINATOR_COMPACTION = "coordinator.compaction"
    #: ``coordinator.append_leaf`` (branch selection by leaf, COORD-040).
    COORDINATOR_LEAF = "coordinator.leaf"
    #: ``coordinator.append_extension_state`` (COORD-043).
    COORDINATOR_EXTENSION_STATE = "coordinator.extension_state"
    #: ``coordinator.fork`` (COORD-050, COORD-051).
    COORDINATOR_FORK = "coordinator.fork"
    #: Entry ids follow COORD-004 exactly (``msg-N``...); without it ids are compared up to
    #: a consistent renaming (CONF-003).
    COORDINATOR_IDS = "coordinator.ids"
    #: The observation carries ``watermark`` and ``next_seq`` (our accounting internals).
    COORDINATOR_FIGURES = "coordinator.figures"
    #: ``coordinator.read_log`` returns the session as sessionspec JSONL entries (COORD-003),
    #: compared with the model's log entry for entry.
    COORDINATOR_FORMAT = "coordinator.format"
    #: ``coordinator.inject`` appends foreign or damaged entries to a closed session (CONF-012).
    COORDINATOR_INJECT = "coordinator.inject"
    #: ``coordinator.copy`` copies a session's durable storage (a resumed twin, COORD-020).
    COORDINATOR_COPY = "coordinator.copy"
    #: Settings persisted in the session: ``coordinator.open`` without ``config`` and
    #: ``model`` uses them (COORD-027); a reopen with other settings records them (COORD-028).
    COORDINATOR_SETTINGS = "coordinator.settings"
    #: The observation carries ``cost``, each assistant message priced by its model
    #: (COORD-062).
    COORDINATOR_COST = "coordinator.cost"
    #: Serves the ``realtime.*`` commands (§5).
    REALTIME = "realtime"
    #: ``realtime.new`` with ``durable: true`` and ``realtime.open`` after a crash (RT-040).
    REALTIME_DURABLE = "realtime.durable"
    #: Serves the ``conversation.*`` commands (§6: messages, forks, rewrites; CONF-120).
    CONVERSATION = "conversation"
    #: ``conversation.records``, ``conversation.validate_record`` and
    #: ``conversation.replay`` (rewrite records, CONV-040, CONV-041; CONF-123).
    CONVERSATION_RECORDS = "conversation.records"
    #: ``conversation.set_metadata``, ``remove_metadata``, ``backfill_metadata``,
    #: ``record_usage``; the observation carries ``metadata`` and ``usage`` (CONV-005,
    #: CONV-006; CONF-127).
    CONVERSATION_METADATA = "conversation.metadata"
    #: Serves the ``ledger.*`` commands (the token ledger of §7.3; CONF-125).
    LEDGER = "ledger"
    #: Serves the ``state.*`` commands: the state store's compare-and-swap and the persisted
    #: session state (§7.1, §7.2).
    STATE = "state"
    #: A store opened again by name (after a restart) holds every acknowledged commit
    #: (STATE-011).
    STATE_DURABLE = "state.durable"
    #: Serves the ``recorder.*`` commands (§8).
    RECORDER = "recorder"
    #: ``recorder.new`` with ``durable: true`` and ``recorder.open`` after a crash
    #: (REC-070, REC-071).
    RECORDER_DURABLE = "recorder.durable"
    #: ``recorder.new`` with ``config`` (REC-017) and ``recorder.task_calls`` (REC-012,
    #: REC-053): the hand-written recorder cases that configure the recorder (CONF-074).
    RECORDER_CONFIG = "recorder.config"
    #: Runs on a simulated file system: ``sim.*`` commands, power cuts and injected I/O errors.
    STORAGE_SIMULATED = "storage.simulated"
    #: May be killed at any instant (SIGKILL) and restarted on the same workdir (CONF-033).
    CRASH_KILL = "crash.kill"
    #: Announces named crash points (``crash.arm``); the names are listed at start.
    CRASH_POINTS = "crash.points"


class ErrorType(enum.StrEnum):
    """Typed rejections (CONF-006): the spec's error classes, by name."""

    #: Bad input; nothing written (GEN-002, COORD-015).
    CALLER_ERROR = "caller_error"
    #: ``append_leaf`` at an id that is no message or compaction (COORD-040).
    UNKNOWN_ENTRY = "unknown_entry"
    #: Refused by the lifecycle (COORD-001): ``code`` names the state (``failed``/``closed``).
    ILLEGAL_TRANSITION = "illegal_transition"
    #: A write failed and was cut back cleanly (COORD-011).
    APPEND_FAILED = "append_failed"
    #: A write failed and could not be undone: the coordinator is ``failed`` (COORD-012).
    LOG_FAILED = "log_failed"
    #: A fork could not be written; no fork is visible (COORD-050).
    FORK_FAILED = "fork_failed"
    #: Another writer holds the session (LOG-011).
    LOCKED = "locked"
    #: Any other storage error (GEN-002).
    STORAGE_ERROR = "storage_error"
    #: The named session does not exist.
    NOT_FOUND = "not_found"
    #: A rewrite's expected parent is not the head (CONV-030).
    REVISION_CONFLICT = "revision_conflict"
    #: A rewrite's range is outside the transcript (CONV-031).
    INVALID_REWRITE_RANGE = "invalid_rewrite_range"
    #: A rewrite would break the tool shape (CONV-034).
    INVALID_TRANSCRIPT_SHAPE = "invalid_transcript_shape"
    #: A rewrite that changes nothing (CONV-033).
    NO_OP_REWRITE = "no_op_rewrite"
    #: A rewrite record that does not check, or records that do not chain (CONV-040, CONV-041).
    HISTORY_STATE_MALFORMED = "history_state_malformed"
    #: A message index outside the transcript (CONV-011, CONV-012).
    MESSAGE_INDEX_OUT_OF_BOUNDS = "message_index_out_of_bounds"
    #: ``fork_replacing`` a block of a message of another role (CONV-012).
    MESSAGE_ROLE_MISMATCH = "message_role_mismatch"
    #: ``fork_replacing`` a block index outside the message (CONV-012).
    BLOCK_INDEX_OUT_OF_BOUNDS = "block_index_out_of_bounds"
    #: A request id recorded twice with different usage, or merged so (STATE-033).
    LEDGER_CONFLICT = "ledger_conflict"
    #: ``diff(before, after)`` where ``after`` does not extend ``before`` (STATE-032).
    LEDGER_DECREASE = "ledger_decrease"
    #: A state commit's expected head is not the stored head; nothing written (STATE-010).
    #: The error carries ``expected_head_revision`` and ``actual_head_revision``.
    HEAD_REVISION_CONFLICT = "head_revision_conflict"
    #: An ``AgentStart`` for a loop id that is running (REC-014); nothing changed.
    DUPLICATE_LOOP = "duplicate_loop"
    #: An object that is not one of phi-core's agent events (REC-002); nothing recorded.
    INVALID_EVENT = "invalid_event"


# --------------------------------------------------------------------------------------
# Envelopes
# --------------------------------------------------------------------------------------


class ErrorInfo(_Model):
    type: ErrorType
    message: str = ""
    #: For ``illegal_transition``: the state that refused (``failed``, ``closed``).
    code: str | None = None
    #: For ``head_revision_conflict``: the head the commit named and the stored one.
    expected_head_revision: int | None = None
    actual_head_revision: int | None = None


class OkResponse(_Model):
    seq: int = Field(ge=0)
    status: Literal["ok"] = "ok"
    result: dict[str, Any] = Field(default_factory=dict)


class RejectedResponse(_Model):
    seq: int = Field(ge=0)
    status: Literal["rejected"] = "rejected"
    error: ErrorInfo


class SkippedResponse(_Model):
    seq: int = Field(ge=0)
    status: Literal["skipped"] = "skipped"
    reason: str


class ErroredResponse(_Model):
    """The harness itself failed (a bug in the harness or the implementation crashed)."""

    seq: int = Field(ge=0)
    status: Literal["errored"] = "errored"
    message: str
    context: dict[str, Any] = Field(default_factory=dict)


class CrashedResponse(_Model):
    """A simulated power cut (``sim.arm_crash``) interrupted the operation."""

    seq: int = Field(ge=0)
    status: Literal["crashed"] = "crashed"


class AtCrashPoint(_Model):
    """Unsolicited: the harness reached an armed named point and waits to be killed."""

    seq: int = Field(ge=0)
    status: Literal["at_crash_point"] = "at_crash_point"
    point: str


Response = Annotated[
    OkResponse
    | RejectedResponse
    | SkippedResponse
    | ErroredResponse
    | CrashedResponse
    | AtCrashPoint,
    Field(discriminator="status"),
]
RESPONSE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Response)


# --------------------------------------------------------------------------------------
# Shared argument and result shapes
# --------------------------------------------------------------------------------------


class Implementation(_Model):
    name: str
    version: str
    language: str
    homepage: str | None = None


class RunnerInfo(_Model):
    name: str = "sessionspec"
    version: str = ""


class StartResult(_Model):
    version: int
    implementation: Implementation
    capabilities: list[str]
    #: With ``crash.points``: the names of the points ``crash.arm`` accepts.
    crash_points: list[str] = Field(default_factory=list)


class Empty(_Model):
    pass


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


class _Command(_Model):
    seq: int = Field(ge=0)


class StartArgs(_Model):
    version: int = PROTOCOL_VERSION
    #: A directory the harness owns for this run; sessions live inside it (CONF-032).
    workdir: str
    #: Milliseconds since the epoch for every timestamp the harness writes (COORD-007).
    clock_ms: int = 1_700_000_000_000
    runner: RunnerInfo = Field(default_factory=RunnerInfo)


class Start(_Command):
    cmd: Literal["start"] = "start"
    args: StartArgs


class Stop(_Command):
    cmd: Literal["stop"] = "stop"
    args: Empty = Field(default_factory=Empty)


class HandleArgs(_Model):
    handle: str


class SimArmCrashArgs(_Model):
    #: Crash before the n-th file operation from now (0 = the next one).
    nth: int = Field(ge=0)


class SimArmCrash(_Command):
    cmd: Literal["sim.arm_crash"] = "sim.arm_crash"
    args: SimArmCrashArgs


class SimArmFaultArgs(_Model):
    operation: Literal["write", "fsync", "truncate"]
    nth: int = Field(ge=0)
    #: For a write: the fraction written before the error (a short write).
    partial: float | None = Field(default=None, ge=0, le=1)


class SimArmFault(_Command):
    cmd: Literal["sim.arm_fault"] = "sim.arm_fault"
    args: SimArmFaultArgs


class SimDisarm(_Command):
    cmd: Literal["sim.disarm"] = "sim.disarm"
    args: Empty = Field(default_factory=Empty)


class SimPowerCutArgs(_Model):
    #: Seeds the choice of what the cut loses and where it tears the last line.
    seed: int


class SimPowerCut(_Command):
    """Lose unsynced bytes; every open handle is gone (the process 'restarted')."""

    cmd: Literal["sim.power_cut"] = "sim.power_cut"
    args: SimPowerCutArgs


class CrashArmArgs(_Model):
    point: str
    #: Stop at the n-th time the point is reached (0 = the first).
    nth: int = Field(default=0, ge=0)


class CrashArm(_Command):
    cmd: Literal["crash.arm"] = "crash.arm"
    args: CrashArmArgs


#: The commands every harness answers, and the model of each ``ok`` result.
COMMANDS: dict[str, tuple[type[_Command], type[_Model]]] = {
    "start": (Start, StartResult),
    "stop": (Stop, Empty),
    "sim.arm_crash": (SimArmCrash, Empty),
    "sim.arm_fault": (SimArmFault, Empty),
    "sim.disarm": (SimDisarm, Empty),
    "sim.power_cut": (SimPowerCut, Empty),
    "crash.arm": (CrashArm, Empty),
}
