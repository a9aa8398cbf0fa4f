"""Replaying a saved coordinator run (spec/cases/coordinator/*.json) through the driver.

A trace recorded by :class:`~sessionspec.conformance.coordinator_driver.Driver` is a list of
steps (``start``, then ``normal``, ``crash``, ``fault``, ``reopen``, ``settings``, ``close``,
``twin``, ``inject``); :func:`run_steps` sends them again to any implementation and checks
after every step as the machine does, each failure by its requirement id (CONF-070).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from sessionspec.conformance.adapters import Connection
from sessionspec.conformance.coordinator_driver import Driver, settings_of
from sessionspec.conformance.coordinator_model import (
    Entry,
    Fork,
    Operation,
    config_of,
    operation_from_json,
)
from sessionspec.errors import CallerError

__all__ = ["run_steps"]

_CASES = itertools.count(1)


def run_steps(
    connection: Connection, steps: Sequence[Mapping[str, Any]], *, session_id: str | None = None
) -> Driver:
    """Replay a trace recorded by :class:`Driver`; checks after every step like the machine."""
    start = steps[0]
    if start.get("mode") != "start":
        raise CallerError("a coordinator trace starts with a 'start' step")
    threshold, policy = int(start["threshold"]), str(start["policy"])
    trigger = str(start.get("trigger", "cumulative"))
    trace: list[Entry] = [dict(start)]
    driver = Driver(
        connection,
        config_of(threshold, policy, trigger),
        settings_of(threshold, policy, trigger),
        seed=int(start["seed"]),
        session_id=session_id or f"case{next(_CASES)}",
        trace=trace,
    )
    try:
        for step in steps[1:]:
            mode = step["mode"]
            if mode == "normal":
                driver.normal(_case_operation(step, driver))
            elif mode == "crash":
                driver.crash(
                    _case_operation(step, driver),
                    step["nth"],
                    step.get("resume_crash"),
                    step.get("point"),
                    step.get("outcomes"),
                )
            elif mode == "fault":
                faults = [(f[0], f[1], f[2]) for f in step["faults"]]
                driver.fault(_case_operation(step, driver), faults)
            elif mode == "reopen":
                driver.reopen(bool(step.get("settings", True)))
            elif mode == "settings":
                driver.change_settings(
                    int(step["threshold"]), str(step["policy"]), str(step["trigger"])
                )
            elif mode == "close":
                driver.close()
            elif mode == "twin":
                driver.spawn_twin()
            elif mode == "inject":
                driver.inject(str(step["kind"]))
            else:
                raise CallerError(f"unknown step mode {mode!r}")
            driver.check()
    finally:
        for handle in ("main", "twin"):
            connection.call("coordinator.close", handle=handle)
    return driver


def _case_operation(step: Mapping[str, Any], driver: Driver) -> Operation:
    """An operation of a saved trace; fork ids are made unique to this replay's session."""
    op = operation_from_json(step)
    if isinstance(op, Fork) and not op.session_id.startswith(driver.session_id):
        return Fork(f"{driver.session_id}-{op.session_id}")
    return op
