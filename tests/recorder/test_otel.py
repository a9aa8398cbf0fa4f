"""Recorded sessions as OpenTelemetry GenAI traces, checked with the SDK's in-memory exporter."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from sessionspec import SessionRecorder
from sessionspec.conformance.recorder_events import (
    agent_end,
    agent_start,
    assistant,
    message_end,
    tool_end,
    tool_result,
    turn_end,
    turn_start,
    user,
)
from sessionspec.runtime.recorder.otel import export_sessions


def _spans(events: list[dict[str, Any]]) -> list[ReadableSpan]:
    recorder = SessionRecorder()
    for event in events:
        recorder.on_event(event)
    recorder.flush()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    export_sessions(recorder.drain_completed(), provider.get_tracer("test"))
    return list(exporter.get_finished_spans())


@pytest.mark.req("REC-090")
def test_agent_model_and_tool_spans_with_token_usage() -> None:
    parent, child = "p.anthropic.1", "k.openai.1"
    spans = _spans(
        [
            agent_start(parent, "p", at=0),
            turn_start(parent, 0, at=1),
            message_end(parent, user("delegate")),
            turn_end(
                parent,
                assistant("", tool_calls=("call-1",), tokens=(100, 10), ms=1735689602000),
                at=5,
                tool_results=[tool_result("call-1", ms=1735689604000)],
            ),
            agent_start(child, "k", at=2, parent=parent),
            turn_start(child, 0, at=2),
            turn_end(
                child, assistant("sub", provider="openai", model="gpt-4o", tokens=(7, 3)), at=3
            ),
            agent_end(child, at=3, tokens=(7, 3)),
            tool_end(parent, "call-1", child_loop_id=child),
            agent_end(parent, at=6, tokens=(100, 10)),
            agent_start("p.anthropic.2", "p", at=7),
        ]
    )
    by_name = {span.name: span for span in spans}
    agent = next(
        s for s in spans if s.attributes and s.attributes.get("sessionspec.loop.id") == parent
    )
    assert agent.name == "invoke_agent agent-1"
    assert agent.attributes is not None
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.conversation.id"] == "p"
    assert agent.attributes["gen_ai.usage.input_tokens"] == 100
    chat = by_name["chat claude-sonnet-4"]
    assert chat.attributes is not None
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "anthropic"
    assert chat.attributes["gen_ai.usage.output_tokens"] == 10
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert chat.parent is not None and chat.parent.span_id == agent.context.span_id
    tool = by_name["execute_tool read"]
    assert tool.attributes is not None and tool.attributes["gen_ai.tool.call.id"] == "call-1"
    assert tool.parent is not None and tool.parent.span_id == agent.context.span_id
    assert chat.end_time is not None and tool.start_time == chat.end_time
    sub = next(
        s for s in spans if s.attributes and s.attributes.get("sessionspec.loop.id") == child
    )
    assert sub.parent is not None and sub.parent.span_id == tool.context.span_id
    assert sub.context.trace_id == agent.context.trace_id
    aborted = next(
        s
        for s in spans
        if s.attributes and s.attributes.get("sessionspec.loop.id") == "p.anthropic.2"
    )
    assert aborted.status.status_code is StatusCode.ERROR
    assert aborted.attributes is not None and aborted.attributes["error.type"] == "aborted"
    assert agent.start_time is not None and agent.end_time is not None
    assert agent.end_time - agent.start_time == 6_000_000_000
