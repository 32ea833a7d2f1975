"""PydanticAI through its OpenTelemetry instrumentation and ``AICMSpanProcessor`` (no Logfire)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anyio
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from pydantic_ai import Agent
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from wrappers.conftest import read_stored, read_stored_sync
from wrappers.fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS
from wrappers.fake_provider import FakeProvider

from aicostmanager import AsyncTracker, Tracker, tracking_scope
from aicostmanager.integrations.otel import AICMSpanProcessor

MODEL = "gpt-4o-mini"
USAGE = {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS}

pytestmark = pytest.mark.usefixtures("fresh_ids")


@pytest.fixture
def tracer_provider() -> Iterator[TracerProvider]:
    """A tracer provider of the test's own (PydanticAI is told to use it)."""
    provider = TracerProvider()
    try:
        yield provider
    finally:
        provider.shutdown()


def _agent(client: openai.AsyncOpenAI, provider: TracerProvider) -> Agent[None, str]:
    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))
    agent = Agent(model)
    agent.instrument = InstrumentationSettings(tracer_provider=provider)
    return agent


def _client(fake: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_async_run_is_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    tracer_provider: TracerProvider,
    stream: bool,
) -> None:
    """agent.run / run_stream: one priced event per model request (the agent span not counted)."""
    async with _client(fake_provider) as client, AsyncTracker(**tracker_options) as tracker:
        tracer_provider.add_span_processor(AICMSpanProcessor(tracker))
        agent = _agent(client, tracer_provider)
        with tracking_scope(customer_key="pai-async"):
            if stream:
                async with agent.run_stream("What is the answer?") as result:
                    await result.get_output()
            else:
                await agent.run("What is the answer?")
        with anyio.fail_after(30):
            assert await tracker.flush()
    (event,) = await read_stored(tracker_options)
    assert event.service_key == f"openai::{MODEL}"
    assert event.customer_key == "pai-async"
    assert event.usage == USAGE
    assert event.response_id.startswith("chatcmpl-")
    assert event.cost > 0


def test_sync_run_is_one_priced_event(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], tracer_provider: TracerProvider
) -> None:
    """agent.run_sync: one priced event billed to the scope's customer."""
    with Tracker(**tracker_options) as tracker:
        tracer_provider.add_span_processor(AICMSpanProcessor(tracker))
        client = _client(fake_provider)
        agent = _agent(client, tracer_provider)
        with tracking_scope(customer_key="pai-sync"):
            agent.run_sync("What is the answer?")
        # run_sync leaves its loop as the thread's default: close the client on it, then it.
        loop = asyncio.get_event_loop_policy().get_event_loop()
        loop.run_until_complete(client.close())
        loop.close()
        asyncio.set_event_loop(None)
        assert tracker.flush(30)
    (event,) = read_stored_sync(tracker_options)
    assert event.customer_key == "pai-sync"
    assert event.usage == USAGE


async def test_concurrent_runs_never_mix_customers(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], tracer_provider: TracerProvider
) -> None:
    """100 concurrent agent runs for 20 customers: each event has its caller's customer."""
    expected: dict[str, str] = {}
    async with _client(fake_provider) as client, AsyncTracker(**tracker_options) as tracker:
        tracer_provider.add_span_processor(AICMSpanProcessor(tracker))
        agent = _agent(client, tracer_provider)

        async def one(i: int) -> None:
            customer = f"cust-{i % 20}"
            with tracking_scope(customer_key=customer):
                result = await agent.run("hi")
            response_id = result.all_messages()[-1].provider_response_id
            assert response_id is not None
            expected[response_id] = customer

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(one, i)
        with anyio.fail_after(60):
            assert await tracker.flush()
    stored = await read_stored(tracker_options)
    assert {event.response_id: event.customer_key for event in stored} == expected
