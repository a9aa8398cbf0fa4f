"""Recorded sessions as OpenTelemetry traces, in the GenAI semantic conventions (REC-090).

Needs the optional extra ``otel`` (``opentelemetry-sdk``); nothing else in the package
imports this module. :func:`export_sessions` turns closed sessions into spans on a tracer
the caller provides (so any exporter and any processor work), with the times the records
hold, never the clock:

* one ``invoke_agent`` span per loop record (``gen_ai.operation.name = "invoke_agent"``,
  ``gen_ai.agent.id``, ``gen_ai.conversation.id`` = the session id, the loop's usage as
  ``gen_ai.usage.input_tokens``/``output_tokens``, plus ``sessionspec.loop.*`` for the
  loop id, status, continuation kind and occurrence). A rejected or aborted loop has an
  error status and ``error.type`` ``rejected``/``aborted``; an aborted loop, which has no
  end time, ends at its last recorded turn (or its start);
* under it, one ``chat {model}`` span per turn (``gen_ai.operation.name = "chat"``,
  ``gen_ai.provider.name``, ``gen_ai.request.model``, ``gen_ai.response.finish_reasons``,
  the turn's token usage), from the turn's start to its assistant message (bounded by the
  turn's end);
* under the turn's span, one ``execute_tool {name}`` span per tool result
  (``gen_ai.operation.name = "execute_tool"``, ``gen_ai.tool.name``, ``gen_ai.tool.call.id``,
  ``gen_ai.tool.type = "function"``), from the model call's end to the result's timestamp
  (bounded by the turn's end);
* a loop whose parent loop was exported is nested under the parent's span; a sub-agent loop
  named by a parent's child reference is nested under that parent (REC-032), so a trace
  shows an agent, its model calls, its tools and the agents its tools spawned.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from sessionspec.runtime.recorder.model import LoopRecord, RecordedSession, Turn
from sessionspec.tables.recorder import LoopState
from sessionspec.wire.messages import AssistantMessage, ToolResultMessage

__all__ = ["export_sessions"]

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "tool_use": "tool_call",
    "error": "error",
    "aborted": "aborted",
}


def _ns(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _loop_end(loop: LoopRecord) -> int:
    if loop.ended_at is not None:
        return _ns(loop.ended_at)
    ends = [_ns(turn.ended_at) for turn in loop.turns]
    return max([_ns(loop.started_at), *ends])


def _agent_attributes(session: RecordedSession, loop: LoopRecord) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.id": loop.agent_id,
        "gen_ai.agent.name": loop.agent_id,
        "gen_ai.conversation.id": session.session_id,
        "gen_ai.usage.input_tokens": loop.usage.input_tokens,
        "gen_ai.usage.output_tokens": loop.usage.output_tokens,
        "sessionspec.loop.id": loop.loop_id,
        "sessionspec.loop.status": loop.status.value,
        "sessionspec.loop.occurrence": loop.occurrence,
        "sessionspec.loop.continuation_kind": str(loop.continuation_kind),
    }
    if loop.config is not None:
        attributes["gen_ai.request.model"] = loop.config.get("model", "")
        attributes["gen_ai.provider.name"] = loop.config.get("provider", "")
    if loop.parent_loop_id is not None:
        attributes["sessionspec.loop.parent_id"] = loop.parent_loop_id
    return attributes


def _export_turn(tracer: Tracer, parent: Any, turn: Turn) -> dict[str, Any]:
    """The turn's model-call span and its tool spans; returns tool call id -> span."""
    start, end = _ns(turn.started_at), _ns(turn.ended_at)
    end = max(end, start)
    output = turn.output_message
    model = provider = ""
    finish: tuple[str, ...] = ()
    call_end = end
    if isinstance(output, AssistantMessage):
        model, provider = output.model, output.provider
        finish = (_FINISH_REASONS.get(output.stop_reason, output.stop_reason),)
        call_end = _clamp(output.timestamp_ms * 1_000_000, start, end)
    chat = tracer.start_span(
        f"chat {model}".strip(),
        context=trace.set_span_in_context(parent),
        kind=SpanKind.CLIENT,
        start_time=start,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
            "gen_ai.response.model": model,
            "gen_ai.response.finish_reasons": finish,
            "gen_ai.usage.input_tokens": turn.usage.input_tokens,
            "gen_ai.usage.output_tokens": turn.usage.output_tokens,
            "sessionspec.turn.index": turn.turn_index,
            "sessionspec.turn.triggered_by": turn.triggered_by,
        },
    )
    chat.end(end_time=call_end)
    tools: dict[str, Any] = {}
    for result in turn.tool_results:
        if not isinstance(result, ToolResultMessage):
            continue
        tool = tracer.start_span(
            f"execute_tool {result.tool_name}",
            context=trace.set_span_in_context(parent),
            kind=SpanKind.INTERNAL,
            start_time=call_end,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": result.tool_name,
                "gen_ai.tool.call.id": result.tool_call_id,
                "gen_ai.tool.type": "function",
            },
        )
        if result.is_error:
            tool.set_status(Status(StatusCode.ERROR))
            tool.set_attribute("error.type", "tool_error")
        tool.end(end_time=_clamp(result.timestamp_ms * 1_000_000, call_end, end))
        tools[result.tool_call_id] = tool
    return tools


def export_sessions(sessions: Iterable[RecordedSession], tracer: Tracer) -> int:
    """Emit the spans of ``sessions`` on ``tracer``; return how many loop spans (REC-090)."""
    ordered = sorted(
        ((session, loop) for session in sessions for loop in session.loops),
        key=lambda pair: (_ns(pair[1].started_at), pair[1].start_index),
    )
    loop_spans: dict[str, Any] = {}
    #: child loop id -> the span of the tool call that spawned it.
    spawners: dict[str, Any] = {}
    for session, loop in ordered:
        parent = spawners.get(loop.loop_id)
        if parent is None and loop.parent_loop_id not in (None, loop.loop_id):
            parent = loop_spans.get(loop.parent_loop_id or "")
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = tracer.start_span(
            f"invoke_agent {loop.agent_id}",
            context=context,
            kind=SpanKind.INTERNAL,
            start_time=_ns(loop.started_at),
            attributes=_agent_attributes(session, loop),
        )
        if loop.status in (LoopState.REJECTED, LoopState.ABORTED):
            span.set_status(Status(StatusCode.ERROR, loop.rejection or loop.status.value))
            span.set_attribute("error.type", loop.status.value)
        tool_spans: dict[str, Any] = {}
        for turn in loop.turns:
            tool_spans.update(_export_turn(tracer, span, turn))
        for ref in loop.child_loop_refs:
            spawners.setdefault(ref.child_loop_id, tool_spans.get(ref.tool_call_id, span))
        span.end(end_time=_loop_end(loop))
        loop_spans.setdefault(loop.loop_id, span)
    return len(ordered)
