"""Protocol messages of the session recorder machine (``recorder.*``, spec/PROTOCOL.md §13).

A recorder is named by a runner-chosen ``handle``; it lives in memory or, with capability
``recorder.durable``, on a journal inside the workdir that ``recorder.open`` replays after a
crash (REC-070, REC-071). Events go in as phi-core's agent events in their JSON form
(REC-001); sessions and loop records come out as phi-core's session JSON (REC-060).

``recorder.on_event`` answers ``ok`` with ``recorded: true``, or ``recorded: false`` and the
reason an event for a loop that is not running was dropped (REC-030); an ``AgentStart`` for a
running loop is ``rejected`` with ``duplicate_loop`` (REC-014) and an object that is not an
agent event with ``invalid_event`` (REC-002). With capability ``recorder.config``,
``recorder.new`` takes the recorder's configuration (REC-017) and ``recorder.task_calls``
lists the ``before_task`` and ``after_task`` calls (REC-012, REC-053; CONF-074).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sessionspec.conformance.protocol.common import Empty, HandleArgs, _Command, _Model


class RecorderConfigArgs(_Model):
    """REC-017. ``before_task``: absent, no callbacks; ``"accept"``, callbacks that accept
    every session; ``"reject:<session id>"``, ``before_task`` refuses that session only.
    With ``before_task`` the harness logs every call for ``recorder.task_calls``."""

    include_streaming_events: bool = False
    capture_turn_requests: bool = False
    before_task: str | None = Field(default=None, pattern=r"^(accept|reject:.+)$")


class RecorderNewArgs(_Model):
    handle: str
    #: On a journal (capability ``recorder.durable``), else in memory.
    durable: bool = False
    #: The journal's name inside the workdir.
    journal: str = "recorder"
    #: The recorder's configuration (REC-017; capability ``recorder.config``).
    config: RecorderConfigArgs | None = None


class RecorderNew(_Command):
    cmd: Literal["recorder.new"] = "recorder.new"
    args: RecorderNewArgs


class RecorderOpenArgs(_Model):
    handle: str
    journal: str = "recorder"


class RecorderOpen(_Command):
    """Reopen a journaled recorder (after a crash): every acknowledged event is kept."""

    cmd: Literal["recorder.open"] = "recorder.open"
    args: RecorderOpenArgs


class RecorderEventArgs(_Model):
    handle: str
    #: One of phi-core's agent events in its JSON form; may be malformed on purpose (REC-002).
    event: dict[str, Any]


class RecorderOnEvent(_Command):
    cmd: Literal["recorder.on_event"] = "recorder.on_event"
    args: RecorderEventArgs


class RecorderOutcome(_Model):
    recorded: bool
    #: Why an event was dropped (REC-030): ``not_started``, ``ended``, ``refused``...
    reason: str | None = None


class RecorderFlush(_Command):
    cmd: Literal["recorder.flush"] = "recorder.flush"
    args: HandleArgs


class RecorderCheckpoint(_Command):
    cmd: Literal["recorder.checkpoint"] = "recorder.checkpoint"
    args: HandleArgs


class CheckpointResult(_Model):
    #: How many open sessions the checkpoint completed (REC-051).
    completed: int = Field(ge=0)


class RecorderDrain(_Command):
    cmd: Literal["recorder.drain_completed"] = "recorder.drain_completed"
    args: HandleArgs


class RecorderSessions(_Command):
    cmd: Literal["recorder.sessions"] = "recorder.sessions"
    args: HandleArgs


class SessionsResult(_Model):
    #: Sessions in phi-core's session JSON (REC-060): completed ones, then open ones.
    sessions: list[dict[str, Any]]


class CurrentLoopArgs(_Model):
    handle: str
    loop_id: str


class RecorderCurrentLoop(_Command):
    cmd: Literal["recorder.current_loop"] = "recorder.current_loop"
    args: CurrentLoopArgs


class CurrentLoopResult(_Model):
    #: The running loop's record in phi-core's JSON, ``null`` once it closed (REC-052).
    loop: dict[str, Any] | None = None


class RecorderTaskCalls(_Command):
    cmd: Literal["recorder.task_calls"] = "recorder.task_calls"
    args: HandleArgs


class TaskCallsResult(_Model):
    #: ``before_task <session id>`` and ``after_task <session id>/<segment>``, in call order.
    calls: list[str]


class RecorderClose(_Command):
    cmd: Literal["recorder.close"] = "recorder.close"
    args: HandleArgs


#: The recorder's commands and the model of each ``ok`` result.
COMMANDS: dict[str, tuple[type[_Command], type[_Model]]] = {
    "recorder.new": (RecorderNew, Empty),
    "recorder.open": (RecorderOpen, Empty),
    "recorder.on_event": (RecorderOnEvent, RecorderOutcome),
    "recorder.flush": (RecorderFlush, Empty),
    "recorder.checkpoint": (RecorderCheckpoint, CheckpointResult),
    "recorder.drain_completed": (RecorderDrain, SessionsResult),
    "recorder.sessions": (RecorderSessions, SessionsResult),
    "recorder.current_loop": (RecorderCurrentLoop, CurrentLoopResult),
    "recorder.task_calls": (RecorderTaskCalls, TaskCallsResult),
    "recorder.close": (RecorderClose, Empty),
}
