"""An OpenAI Agents SDK agent runs on the coordinator (AGENTS): the real ``openai-agents``
package, a fake model, no network."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from sessionspec import SessionCoordinator, UnrepresentableError
from sessionspec.compaction import CompactionConfig
from sessionspec.integrations.openai_agents import CoordinatorSession
from sessionspec.storage.log import Durability

set_tracing_disabled(True)  # no network: nothing is exported


def _text(text: str, number: int) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=f"msg_{number}", type="message", role="assistant", status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class FakeModel(Model):
    """Answers from a script; records the input of every call."""

    def __init__(self, script: list[list[Any]]) -> None:
        self.script = list(script)
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        self.inputs.append(json.loads(json.dumps(input, default=str)))
        output = self.script.pop(0)
        return ModelResponse(
            output=output,
            usage=Usage(requests=1, input_tokens=100, output_tokens=20, total_tokens=120),
            response_id=None,
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


@function_tool
def lookup(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def weather_agent(model: FakeModel) -> Agent[Any]:
    return Agent(name="weather", instructions="Answer about the weather.", model=model,
                 tools=[lookup])


SCRIPT: list[list[Any]] = [
    [ResponseFunctionToolCall(type="function_call", call_id="call_1", name="lookup",
                              arguments='{"city": "Oslo"}', id="fc_1", status="completed")],
    [_text("It is sunny in Oslo.", 1)],
    [_text("You asked about Oslo.", 2)],
]


@pytest.mark.req("AGENTS-001", "AGENTS-002")
def test_an_agent_runs_on_the_coordinator_and_resumes(tmp_path: Path) -> None:
    model = FakeModel(SCRIPT)

    async def main() -> tuple[Any, Any]:
        session = CoordinatorSession("user-1", tmp_path, durability=Durability.NO_SYNC)
        first = await Runner.run(weather_agent(model), "Weather in Oslo?", session=session)
        await session.store_run_usage(first)
        await session.close()
        again = CoordinatorSession("user-1", tmp_path)  # a new process would do this
        second = await Runner.run(weather_agent(model), "What did I ask?", session=again)
        items = await again.get_items()
        await again.close()
        return first, (second, items)

    first, (second, items) = asyncio.run(main())
    assert first.final_output == "It is sunny in Oslo."
    assert second.final_output == "You asked about Oslo."
    sent = model.inputs[2]  # the second run's model call saw the whole first run
    assert [i.get("type", "message") for i in sent] == [
        "message", "function_call", "function_call_output", "message", "message"
    ]
    assert sent[0]["content"][0]["text"] == "Weather in Oslo?"
    assert sent[2] == {"type": "function_call_output", "call_id": "call_1",
                       "output": "sunny in Oslo"}
    assert sent[-1] == {"role": "user", "content": "What did I ask?"}  # the SDK's own item
    assert len(items) == 6
    with SessionCoordinator.open_existing(tmp_path / "user-1.jsonl") as resumed:
        roles = [m.get("role") for m in resumed.context()]
        assert roles == ["user", "assistant", "tool_result", "assistant", "user", "assistant"]
        assert resumed.usage.input_tokens == 200  # two model calls in the first run
        assert resumed.recovery.clean


@pytest.mark.req("AGENTS-002", "AGENTS-003")
def test_pop_item_limit_and_clear(tmp_path: Path) -> None:
    async def main() -> None:
        session = CoordinatorSession("u", tmp_path, durability=Durability.NO_SYNC)
        await session.add_items([{"role": "user", "content": "one"}])
        await session.add_items([
            {"type": "reasoning", "id": "rs_1", "summary": [
                {"type": "summary_text", "text": "think"}]},
            {"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": "two", "annotations": []}]},
        ])
        assert len(await session.get_items()) == 3
        assert [i["type"] for i in await session.get_items(limit=2)] == ["reasoning", "message"]
        assert await session.get_items(limit=0) == []
        popped = await session.pop_item()
        assert popped is not None and popped["content"][0]["text"] == "two"
        remaining = await session.get_items()
        assert [i["type"] for i in remaining] == ["message", "reasoning"]
        assert remaining[1]["id"] == "rs_1"
        assert await session.pop_item() == {"type": "reasoning", "summary": [
            {"type": "summary_text", "text": "think"}], "id": "rs_1"}
        assert await session.pop_item() == {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "one"}]}
        assert await session.get_items() == []
        assert await session.pop_item() is None
        await session.add_items([{"role": "user", "content": "three"}])
        await session.clear_session()
        assert await session.get_items() == []
        await session.add_items([{"role": "user", "content": "four"}])
        assert [i["content"][0]["text"] for i in await session.get_items()] == ["four"]
        with pytest.raises(UnrepresentableError):
            await session.add_items([{"type": "web_search_call", "id": "ws", "status": "done"}])
        assert len(await session.get_items()) == 1  # nothing written
        await session.close()

    asyncio.run(main())
    cleared = sorted(p.name for p in tmp_path.iterdir())
    assert cleared == ["u.cleared-1.jsonl", "u.cleared-2.jsonl", "u.jsonl"]


@pytest.mark.req("AGENTS-004")
def test_usage_triggers_compaction_before_the_next_items(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        session = CoordinatorSession(
            "c", tmp_path, durability=Durability.NO_SYNC,
            compaction_config=CompactionConfig(threshold_tokens=1000),
        )
        for number in range(3):
            await session.add_items([{"role": "user", "content": f"q{number}"}])
            await session.add_items([{"type": "message", "role": "assistant", "content": [
                {"type": "output_text", "text": f"a{number}", "annotations": []}]}])
            await session.store_run_usage(Usage(requests=1, input_tokens=400, output_tokens=10))
        before = await session.get_items()
        await session.add_items([{"role": "user", "content": "q3"}])
        after = await session.get_items()
        last = await session.pop_item()
        assert last is not None and last["content"][0]["text"] == "q3"
        await session.close()
        return [before, after]

    before, after = asyncio.run(main())
    assert len(before) == 6
    assert after[0]["role"] == "user" and after[0]["content"][0]["text"].startswith("Compacted")
    assert after[-1]["content"][0]["text"] == "q3"
    assert len(after) < len(before) + 1
