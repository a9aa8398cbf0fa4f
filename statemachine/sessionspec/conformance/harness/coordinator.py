"""The harness's coordinator commands (``coordinator.*``): protocol in, factory calls out.

A :class:`CoordinatorFactory` is how a Python implementation makes its coordinators; each
handler here answers one command of ``protocol/coordinator.py`` through it and the
coordinator's API, and shapes the observation the machines judge (CONF-001..CONF-005).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionspec.compaction import (
    CompactionConfig,
    CompactionTrigger,
    CountTailPolicy,
    TokenBudgetPolicy,
)
from sessionspec.conformance.harness.answers import Json, Rejection, Skip
from sessionspec.conformance.protocol import Capability, ErrorType
from sessionspec.storage.files import FileSystem
from sessionspec.storage.jsonl import JsonlLog, read_log

if TYPE_CHECKING:
    from sessionspec.conformance.harness.core import PythonHarness, PythonImplementation

__all__ = ["HANDLERS", "CoordinatorFactory", "capabilities", "compaction_config"]


@dataclass(frozen=True)
class CoordinatorFactory:
    """How a harness makes a coordinator: a new session, or one opened from a file."""

    #: ``(fs, directory, session_id, config, clock) -> coordinator``
    new: Callable[[FileSystem, str, str, CompactionConfig, Callable[[], float]], Any]
    #: ``(fs, path, config, clock) -> coordinator``. ``config`` None: open without any
    #: settings argument (no model, no compaction config): the file's settings decide
    #: (COORD-027).
    open: Callable[[FileSystem, str, CompactionConfig | None, Callable[[], float]], Any]


def compaction_config(settings: Mapping[str, Any]) -> CompactionConfig:
    """The :class:`CompactionConfig` of a protocol ``config`` object."""
    policy = (
        TokenBudgetPolicy(keep_tokens=int(settings.get("keep_tokens") or 0))
        if settings.get("policy") == "token_budget"
        else CountTailPolicy()
    )
    return CompactionConfig(
        enabled=bool(settings.get("enabled", True)),
        threshold_tokens=int(settings["threshold_tokens"]),
        policy=policy,
        trigger=CompactionTrigger(str(settings.get("trigger") or "cumulative")),
    )


def capabilities(implementation: PythonImplementation) -> list[Capability]:
    """What a harness can offer for this implementation's coordinator."""
    if implementation.coordinator is None:
        return []
    return [
        Capability.COORDINATOR,
        Capability.COORDINATOR_COMPACTION,
        Capability.COORDINATOR_LEAF,
        Capability.COORDINATOR_EXTENSION_STATE,
        Capability.COORDINATOR_FORK,
        Capability.COORDINATOR_IDS,
        Capability.COORDINATOR_FIGURES,
        Capability.COORDINATOR_FORMAT,
        Capability.COORDINATOR_INJECT,
        Capability.COORDINATOR_COPY,
        Capability.COORDINATOR_SETTINGS,
        Capability.COORDINATOR_COST,
    ]


def _factory(h: PythonHarness) -> CoordinatorFactory:
    if h.implementation.coordinator is None:
        raise Skip("this implementation has no coordinator")
    return h.implementation.coordinator


def _coordinator(h: PythonHarness, args: Mapping[str, Any]) -> Any:
    handle = str(args.get("handle", ""))
    if handle not in h.coordinators:
        raise Rejection(ErrorType.NOT_FOUND, f"no coordinator {handle!r}")
    return h.coordinators[handle]


def coordinator_new(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    session_id = str(args["session_id"])
    h.coordinators[str(args["handle"])] = factory.new(
        h.fs, h.workdir, session_id, compaction_config(args["config"]), h.now
    )
    return {"session_id": session_id}


def coordinator_open(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    factory = _factory(h)
    settings = args.get("config")
    coordinator = factory.open(
        h.fs,
        h.session_path(str(args["session_id"])),
        None if settings is None else compaction_config(settings),
        h.now,
    )
    h.coordinators[str(args["handle"])] = coordinator
    report = getattr(coordinator, "recovery", None)
    codes = [d.code for d in report.diagnostics()] if report is not None else []
    return {"recovery": codes}


def coordinator_turn_end(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    reason = _coordinator(h, args).on_turn_end(list(args["messages"]), dict(args["usage"]))
    return {"compaction_due": None if reason is None else str(getattr(reason, "value", reason))}


def coordinator_compact(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    result = _coordinator(h, args).execute_compaction(str(args["reason"]))
    if result is None:
        return {"compaction": None}
    return {
        "compaction": {
            "summary": result.summary,
            "first_kept_entry_id": result.first_kept_entry_id,
            "tokens_before": result.tokens_before,
            "tokens_after": result.tokens_after,
            "entry_id": getattr(result, "entry_id", None),
        }
    }


def coordinator_append_leaf(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _coordinator(h, args).append_leaf(str(args["entry_id"]))
    return {}


def coordinator_append_extension_state(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    return {"entry_id": _coordinator(h, args).append_extension_state(args["value"])}


def coordinator_fork(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    session_id = str(args["session_id"])
    _coordinator(h, args).fork(session_id=session_id)
    return {"session_id": session_id}


def coordinator_close(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    _coordinator(h, args).close()
    return {}


def coordinator_observe(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    coordinator = _coordinator(h, args)
    figures = coordinator.figures
    return {
        "context": coordinator.context(),
        "ids": [item.id for item in coordinator.compaction_entries()],
        "tip": coordinator.active_tip,
        "usage": {
            "input_tokens": figures.input_tokens,
            "output_tokens": figures.output_tokens,
            "cache_read_tokens": figures.cache_read_tokens,
            "cache_write_tokens": figures.cache_write_tokens,
        },
        "turns": figures.turns,
        "state": str(getattr(coordinator.state, "value", coordinator.state)),
        "watermark": figures.watermark,
        "next_seq": coordinator.next_seq,
        "cost": _cost(coordinator),
    }


def coordinator_read_log(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    path = h.session_path(str(args["session_id"]))
    if not h.fs.exists(path):
        raise Rejection(ErrorType.NOT_FOUND, f"no session {args['session_id']!r}")
    snapshot = read_log(path, fs=h.fs)
    return {
        "entries": [dict(r.entry) for r in snapshot.records],
        "parent_session": snapshot.header.get("parent_session"),
        "clean": snapshot.report.clean,
    }


def coordinator_inject(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    log = JsonlLog.open(h.session_path(str(args["session_id"])), fs=h.fs)
    try:
        log.append([dict(e) for e in args["entries"]])
    finally:
        log.close()
    return {}


def coordinator_copy(h: PythonHarness, args: Mapping[str, Any]) -> Json:
    data = h.fs.read_bytes(h.session_path(str(args["session_id"])))
    target = h.session_path(str(args["to_session_id"]))
    handle = h.fs.create_exclusive(target)
    try:
        handle.pwrite(data, 0)
        handle.fsync()
    finally:
        handle.close()
    h.fs.fsync_dir(h.workdir)
    return {}


def _cost(coordinator: Any) -> Json | None:
    """The observation's ``cost`` (``coordinator.cost``, COORD-062), when it has one."""
    summary = getattr(coordinator, "cost_summary", None)
    if summary is None:
        return None
    cost = summary()
    if cost is None:
        return None
    return {
        "total": str(cost.total),
        "by_model": {part.model: str(part.total) for part in cost.by_model},
    }


HANDLERS: dict[str, Callable[[PythonHarness, Mapping[str, Any]], Json]] = {
    "coordinator.new": coordinator_new,
    "coordinator.open": coordinator_open,
    "coordinator.turn_end": coordinator_turn_end,
    "coordinator.compact": coordinator_compact,
    "coordinator.append_leaf": coordinator_append_leaf,
    "coordinator.append_extension_state": coordinator_append_extension_state,
    "coordinator.fork": coordinator_fork,
    "coordinator.close": coordinator_close,
    "coordinator.observe": coordinator_observe,
    "coordinator.read_log": coordinator_read_log,
    "coordinator.inject": coordinator_inject,
    "coordinator.copy": coordinator_copy,
}
