"""``AICMTracingProcessor`` with the real OpenAI Agents SDK on the fake OpenAI provider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import agents
import anyio
import openai
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
)
from wrappers.conftest import read_stored, read_stored_sync
from wrappers.fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS
from wrappers.fake_provider import FakeProvider

from aicostmanager import AsyncTracker, OpenAIResponsesWrapper, Tracker, tracking_scope
from aicostmanager.integrations.openai_agents import AICMTracingProcessor

MODEL = "gpt-4o-mini"

pytestmark = pytest.mark.usefixtures("fresh_ids")


@pytest.fixture
def processors() -> Iterator[list[Any]]:
    """The SDK's trace processors for the test only (none of them exports anywhere)."""
    installed: list[Any] = []
    agents.set_trace_processors(installed)
    try:
        yield installed
    finally:
        agents.set_trace_processors([])


def _install(processors: list[Any], processor: AICMTracingProcessor) -> None:
    processors.append(processor)
    agents.set_trace_processors(processors)


def _agent(client: Any, chat: bool) -> Agent[Any]:
    model_cls = OpenAIChatCompletionsModel if chat else OpenAIResponsesModel
    return Agent(
        name="helper",
        instructions="Answer.",
        model=model_cls(model=MODEL, openai_client=client),
        # The SDK asks a chat stream for usage by itself only on api.openai.com.
        model_settings=ModelSettings(include_usage=True),
    )


def _client(fake: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


@pytest.mark.parametrize("chat", [False, True], ids=["responses", "chat"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_async_run_is_one_event_per_model_response(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    processors: list[Any],
    chat: bool,
    stream: bool,
) -> None:
    """Runner.run / run_streamed: one priced event per model response, customer from metadata."""
    async with _client(fake_provider) as client, AsyncTracker(**tracker_options) as tracker:
        _install(processors, AICMTracingProcessor(tracker))
        config = RunConfig(trace_metadata={"customer_key": "agents-async"})
        if stream:
            streamed = Runner.run_streamed(
                _agent(client, chat), "What is the answer?", run_config=config
            )
            async for _ in streamed.stream_events():
                pass
            raw = streamed.raw_responses
        else:
            result = await Runner.run(
                _agent(client, chat), "What is the answer?", run_config=config
            )
            raw = result.raw_responses
        with anyio.fail_after(30):
            assert await tracker.flush()
    stored = await read_stored(tracker_options)
    assert len(stored) == len(raw) == 1, stored
    event = stored[0]
    assert event.service_key == f"openai::{MODEL}"
    assert event.customer_key == "agents-async"
    assert event.usage["input_tokens"] == PROMPT_TOKENS
    assert event.usage["output_tokens"] == COMPLETION_TOKENS
    assert event.cost > 0
    if chat:
        assert event.response_id.startswith("agents-span_")
    else:
        assert event.response_id == raw[0].response_id


def test_sync_run_uses_the_tracking_scope(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], processors: list[Any]
) -> None:
    """Runner.run_sync inside tracking_scope: one event billed to the scope's customer."""
    client = _client(fake_provider)
    with Tracker(**tracker_options) as tracker:
        _install(processors, AICMTracingProcessor(tracker))
        with tracking_scope(customer_key="agents-sync"):
            result = Runner.run_sync(_agent(client, False), "What is the answer?")
        # run_sync leaves its loop as the thread's default: close the client on it, then it.
        loop = asyncio.get_event_loop_policy().get_event_loop()
        loop.run_until_complete(client.close())
        loop.close()
        asyncio.set_event_loop(None)
        assert tracker.flush(30)
    (event,) = read_stored_sync(tracker_options)
    assert event.response_id == result.raw_responses[0].response_id
    assert event.customer_key == "agents-sync"


async def test_wrapped_client_and_processor_count_once(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], processors: list[Any]
) -> None:
    """An agent on a wrapped client with the processor installed: one event, the wrapper's."""
    async with AsyncTracker(**tracker_options) as tracker:
        _install(processors, AICMTracingProcessor(tracker))
        async with OpenAIResponsesWrapper(
            _client(fake_provider), tracker=tracker, vendor="openai"
        ) as client:
            with tracking_scope(customer_key="both"):
                for chat in (False, True):
                    await Runner.run(_agent(client, chat), "What is the answer?")
        with anyio.fail_after(30):
            assert await tracker.flush()
    stored = await read_stored(tracker_options)
    assert len(stored) == 2, stored
    assert all(not e.response_id.startswith("agents-") for e in stored)


async def test_concurrent_runs_never_mix_customers(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], processors: list[Any]
) -> None:
    """100 concurrent agent runs for 20 customers: each event has its caller's customer."""
    expected: dict[str, str] = {}
    async with _client(fake_provider) as client, AsyncTracker(**tracker_options) as tracker:
        _install(processors, AICMTracingProcessor(tracker))
        agent = _agent(client, False)

        async def one(i: int) -> None:
            customer = f"cust-{i % 20}"
            with tracking_scope(customer_key=customer):
                result = await Runner.run(agent, "hi")
            expected[str(result.raw_responses[0].response_id)] = customer

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(one, i)
        with anyio.fail_after(60):
            assert await tracker.flush()
    stored = await read_stored(tracker_options)
    assert {event.response_id: event.customer_key for event in stored} == expected


def test_options_are_checked(tracker_options: dict[str, Any]) -> None:
    """A vendor that is not a slug is a ValueError; a non-tracker is a TypeError."""
    with Tracker(**tracker_options) as tracker:
        with pytest.raises(ValueError, match="vendor"):
            AICMTracingProcessor(tracker, vendor="open ai")
        assert AICMTracingProcessor(tracker, vendor="azure-openai")
    with pytest.raises(TypeError, match="tracker"):
        AICMTracingProcessor("not a tracker")  # type: ignore[arg-type]
