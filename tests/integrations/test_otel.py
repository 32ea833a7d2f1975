"""``AICMSpanProcessor`` with the real OpenTelemetry SDK and the official OpenAI instrumentation.

The OpenAI SDK, instrumented by ``opentelemetry-instrumentation-openai-v2``, calls the fake
provider; the processor records each chat span on a real tracker delivering to the local
server, and the tests read back what the server stored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anyio
import openai
import pytest
from opentelemetry import baggage, context
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from wrappers.conftest import Stored, read_stored, read_stored_sync
from wrappers.fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS
from wrappers.fake_provider import FakeProvider

from aicostmanager import (
    AsyncTracker,
    OpenAIChatWrapper,
    Tracker,
    _seen,
    tracking_scope,
    wrapper_statistics,
)
from aicostmanager._usage.genai import genai_call
from aicostmanager.integrations.otel import AICMSpanProcessor

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]
USAGE = {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS}

pytestmark = pytest.mark.usefixtures("fresh_ids")


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    """A tracer provider with the OpenAI SDK instrumented for the test only."""
    tracer_provider = TracerProvider()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        yield tracer_provider
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()


def _client(fake: FakeProvider, sync: bool) -> Any:
    cls = openai.OpenAI if sync else openai.AsyncOpenAI
    return cls(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


def _one(stored: list[Stored], rid: str, customer: str | None) -> Stored:
    assert len(stored) == 1, stored
    event = stored[0]
    assert event.response_id == rid
    assert event.service_key == f"openai::{MODEL}"
    assert event.customer_key == customer
    assert event.cost > 0
    return event


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_sync_instrumented_call_is_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    provider: TracerProvider,
    stream: bool,
) -> None:
    """A sync OpenAI call traced by the official instrumentation stores one priced event."""
    with contextlib.ExitStack() as stack, Tracker(**tracker_options) as tracker:
        provider.add_span_processor(AICMSpanProcessor(tracker))
        client = stack.enter_context(_client(fake_provider, True))
        with tracking_scope(customer_key="otel-sync"):
            if stream:
                chunks = list(
                    client.chat.completions.create(
                        model=MODEL,
                        messages=MESSAGES,
                        stream=True,
                        stream_options={"include_usage": True},
                    )
                )
                rid = chunks[0].id
            else:
                rid = client.chat.completions.create(model=MODEL, messages=MESSAGES).id
        assert tracker.flush(30)
    event = _one(read_stored_sync(tracker_options), rid, "otel-sync")
    assert event.usage == USAGE


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_async_instrumented_call_is_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    provider: TracerProvider,
    stream: bool,
) -> None:
    """An async OpenAI call traced by the official instrumentation stores one priced event."""
    async with contextlib.AsyncExitStack() as stack, AsyncTracker(**tracker_options) as tracker:
        provider.add_span_processor(AICMSpanProcessor(tracker))
        client = await stack.enter_async_context(_client(fake_provider, False))
        with tracking_scope(customer_key="otel-async"):
            if stream:
                response = await client.chat.completions.create(
                    model=MODEL,
                    messages=MESSAGES,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                chunks = [chunk async for chunk in response]
                rid = chunks[0].id
            else:
                rid = (await client.chat.completions.create(model=MODEL, messages=MESSAGES)).id
        with anyio.fail_after(30):
            assert await tracker.flush()
    event = _one(await read_stored(tracker_options), rid, "otel-async")
    assert event.usage == USAGE


async def test_concurrent_calls_never_mix_customers(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], provider: TracerProvider
) -> None:
    """100 concurrent traced calls for 20 customers: each event has its caller's customer."""
    expected: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack, AsyncTracker(**tracker_options) as tracker:
        provider.add_span_processor(AICMSpanProcessor(tracker))
        client = await stack.enter_async_context(_client(fake_provider, False))

        async def one(i: int) -> None:
            customer = f"cust-{i % 20}"
            with tracking_scope(customer_key=customer):
                response = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
            expected[response.id] = customer

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(one, i)
        with anyio.fail_after(60):
            assert await tracker.flush()
    stored = await read_stored(tracker_options)
    assert len(stored) == 100
    assert {event.response_id: event.customer_key for event in stored} == expected


def test_span_attributes_and_baggage_name_the_customer(tracker_options: dict[str, Any]) -> None:
    """A hand-made GenAI span: customer from baggage, id from trace+span, agents not counted."""
    tracer_provider = TracerProvider()
    with Tracker(**tracker_options) as tracker:
        tracer_provider.add_span_processor(AICMSpanProcessor(tracker))
        tracer = tracer_provider.get_tracer("test")
        token = context.attach(baggage.set_baggage("aicm.customer_key", "from-baggage"))
        try:
            with tracer.start_as_current_span("chat claude") as span:
                span.set_attributes(
                    {
                        "gen_ai.system": "anthropic",
                        "gen_ai.request.model": "claude-3-5-haiku-latest",
                        "gen_ai.usage.prompt_tokens": 100,
                        "gen_ai.usage.completion_tokens": 20,
                        "gen_ai.usage.cache_read.input_tokens": 40,
                        "aicm.context.feature": "search",
                    }
                )
                ids = span.get_span_context()
            with tracer.start_as_current_span("GET /health"):
                pass  # not a GenAI span: costs nothing, records nothing
            with tracer.start_as_current_span("invoke_agent") as agent:
                agent.set_attributes(
                    {
                        "gen_ai.operation.name": "invoke_agent",
                        "gen_ai.system": "openai",
                        "gen_ai.request.model": MODEL,
                        "gen_ai.usage.input_tokens": 1000,
                    }
                )
        finally:
            context.detach(token)
        assert tracker.flush(30)
    tracer_provider.shutdown()
    stored = read_stored_sync(tracker_options)
    assert len(stored) == 1, stored
    event = stored[0]
    assert event.response_id == f"otel-{ids.trace_id:032x}-{ids.span_id:016x}"
    assert event.service_key == "anthropic::claude-3-5-haiku-latest"
    assert event.customer_key == "from-baggage"
    assert event.usage == {"input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 40}
    assert event.cost > 0


def test_wrapper_and_instrumentation_on_one_call_count_once(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], provider: TracerProvider
) -> None:
    """A wrapped client that is also instrumented: one event, with the wrapper's full usage."""
    with Tracker(**tracker_options) as tracker:
        provider.add_span_processor(AICMSpanProcessor(tracker))
        with OpenAIChatWrapper(
            _client(fake_provider, True), tracker=tracker, vendor="openai"
        ) as client:
            with tracking_scope(customer_key="both"):
                plain = client.chat.completions.create(model=MODEL, messages=MESSAGES).id
                chunks = list(
                    client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
                )
        assert tracker.flush(30)
    stored = read_stored_sync(tracker_options)
    assert sorted(event.response_id for event in stored) == sorted([plain, chunks[0].id])
    for event in stored:
        assert event.usage["prompt_tokens"] == PROMPT_TOKENS  # the wrapper's record
        assert "prompt_tokens_details" in event.usage


# ---- pure mapping, registry, robustness --------------------------------------------------------


def test_previous_attribute_names_and_details_map_to_genai_prices_keys() -> None:
    """Old and new GenAI names, cache and reasoning counts, int64-as-text, vendor slugs."""
    call = genai_call(
        {
            "gen_ai.system": "aws.bedrock",
            "gen_ai.response.model": "anthropic.claude-3-5-haiku",
            "gen_ai.usage.prompt_tokens": "120",
            "gen_ai.usage.completion_tokens": 30,
            "gen_ai.usage.cache_read_input_tokens": 100,
            "gen_ai.usage.cache_creation.input_tokens": 5,
            "gen_ai.usage.cache_creation_input_tokens": 999,  # older name loses to the current
            "gen_ai.usage.reasoning.output_tokens": 7,
            "aicm.customer_key": "acme",
            "aicm.context.team": "search",
        }
    )
    assert call is not None
    assert call.service_key == "amazon-bedrock::anthropic.claude-3-5-haiku"
    assert call.usage == {
        "input_tokens": 120,
        "output_tokens": 30,
        "cache_read_tokens": 100,
        "cache_write_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 7},
    }
    assert call.response_id is None
    assert (call.customer_key, call.context) == ("acme", {"team": "search"})


@pytest.mark.parametrize(
    "attributes",
    [
        {"http.method": "GET"},
        {"gen_ai.system": "openai", "gen_ai.request.model": MODEL},  # no token count
        {"gen_ai.usage.input_tokens": 5, "gen_ai.request.model": MODEL},  # no provider
        {"gen_ai.usage.input_tokens": True, "gen_ai.system": "openai", "gen_ai.request.model": "m"},
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.system": "openai",
            "gen_ai.request.model": MODEL,
            "gen_ai.usage.input_tokens": 5,
        },
    ],
    ids=["http", "no-tokens", "no-provider", "bool-count", "tool"],
)
def test_spans_that_are_not_model_calls_are_ignored(attributes: dict[str, Any]) -> None:
    """Without provider, model and a token count, or for tool/agent spans: no event."""
    assert genai_call(attributes) is None


def test_wrappers_note_nothing_until_an_integration_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrapper-only process keeps no registry; building an integration turns it on."""
    monkeypatch.setattr(_seen, "_enabled", False)
    _seen.note("resp-9", {"prompt_tokens": 1, "completion_tokens": 2})
    assert _seen.claim("resp-9", {"input_tokens": 1})
    _seen.enable()
    _seen.note("resp-10", {"prompt_tokens": 1, "completion_tokens": 2})
    assert not _seen.claim("resp-10", {"input_tokens": 1})


def test_registry_keeps_the_richest_record() -> None:
    """A callback skips an id recorded with usage at least as complete; a richer one passes."""
    _seen.enable()  # what building any integration does
    _seen.note("resp-1", {"prompt_tokens": 1, "completion_tokens": 2, "details": {"cached": 0}})
    assert not _seen.claim("resp-1", {"input_tokens": 1, "output_tokens": 2})
    assert _seen.claim("resp-2", {"input_tokens": 1})
    assert not _seen.claim("resp-2", {"input_tokens": 1})
    assert _seen.claim("resp-2", {"input_tokens": 1, "output_tokens": 2})
    assert _seen.claim(None, {"input_tokens": 1})


def test_bad_tracker_is_refused_and_a_closed_tracker_never_breaks_tracing(
    tracker_options: dict[str, Any],
) -> None:
    """A non-tracker is a TypeError; ending a GenAI span after the tracker closed raises nothing."""
    with pytest.raises(TypeError, match="tracker"):
        AICMSpanProcessor(object())  # type: ignore[arg-type]
    tracer_provider = TracerProvider()
    with Tracker(**tracker_options) as tracker:
        tracer_provider.add_span_processor(AICMSpanProcessor(tracker))
    before = wrapper_statistics().tracking_errors
    with tracer_provider.get_tracer("test").start_as_current_span("chat") as span:
        span.set_attributes(
            {
                "gen_ai.system": "openai",
                "gen_ai.request.model": MODEL,
                "gen_ai.usage.input_tokens": 3,
            }
        )
    assert wrapper_statistics().tracking_errors == before + 1
    tracer_provider.shutdown()
