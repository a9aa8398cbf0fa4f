"""Protocol messages of the realtime transcript machine (``realtime.*``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sessionspec.conformance.protocol.common import Empty, HandleArgs, _Command, _Model


class RealtimeApplyResult(_Model):
    status: Literal["accepted", "duplicate", "rejected"]
    codes: list[str] = Field(default_factory=list)
    #: Each ``[item_id, response_id, lane, text, reason]``.
    discarded: list[list[str | None]] = Field(default_factory=list)


class RealtimeObservation(_Model):
    messages: list[dict[str, Any]]
    in_flight: list[str]
    #: Usage of ended responses without a message, by response id, in opi's form (RT-027);
    #: optional: absent, it is not checked.
    unattached_usage: dict[str, dict[str, int]] | None = None


class RealtimeNewArgs(_Model):
    handle: str
    durable: bool = False
    #: The journal's name inside the workdir (durable transcripts).
    journal: str = "journal"


class RealtimeNew(_Command):
    cmd: Literal["realtime.new"] = "realtime.new"
    args: RealtimeNewArgs


class RealtimeOpen(_Command):
    cmd: Literal["realtime.open"] = "realtime.open"
    args: RealtimeNewArgs


class RealtimeApplyArgs(_Model):
    handle: str
    #: One event in the wire form of spec/schema/realtime-event.json (RT-001); may be
    #: malformed on purpose (RT-003).
    event: dict[str, Any]


class RealtimeApply(_Command):
    cmd: Literal["realtime.apply"] = "realtime.apply"
    args: RealtimeApplyArgs


class RealtimeObserve(_Command):
    cmd: Literal["realtime.observe"] = "realtime.observe"
    args: HandleArgs


class RealtimeClose(_Command):
    cmd: Literal["realtime.close"] = "realtime.close"
    args: HandleArgs


#: The realtime transcript's commands and the model of each ``ok`` result.
COMMANDS: dict[str, tuple[type[_Command], type[_Model]]] = {
    "realtime.new": (RealtimeNew, Empty),
    "realtime.open": (RealtimeOpen, Empty),
    "realtime.apply": (RealtimeApply, RealtimeApplyResult),
    "realtime.observe": (RealtimeObserve, RealtimeObservation),
    "realtime.close": (RealtimeClose, Empty),
}
