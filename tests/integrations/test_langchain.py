"""``AICMCallbackHandler`` with real LangChain chat models (OpenAI, Anthropic) on the fakes."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import httpx
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from wrappers import fake_anthropic
from wrappers.conftest import Stored, read_stored, read_stored_sync
from wrappers.fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS
from wrappers.fake_provider import FakeProvider

from aicostmanager import AsyncTracker, OpenAIChatWrapper, Tracker, tracking_scope
from aicostmanager.integrations.langchain import AICMCallbackHandler

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-3-5-haiku-latest"
OPENAI_USAGE = {
    "input_tokens": PROMPT_TOKENS,
    "output_tokens": COMPLETION_TOKENS,
    "cache_read_tokens": 0,
    "output_tokens_details": {"reasoning_tokens": 0},
}
ANTHROPIC_USAGE = {
    "input_tokens": fake_anthropic.INPUT_TOKENS
    + fake_anthropic.CACHE_READ
    + fake_anthropic.CACHE_WRITE,
    "output_tokens": fake_anthropic.OUTPUT_TOKENS,
    "cache_read_tokens": fake_anthropic.CACHE_READ,
    "cache_write_tokens": fake_anthropic.CACHE_WRITE,
}

pytestmark = pytest.mark.usefixtures("fresh_ids")


def _openai(fake: FakeProvider, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=OPENAI_MODEL,
        base_url=f"{fake.url}/v1",
        api_key="sk-test",  # type: ignore[arg-type]
        max_retries=0,
        stream_usage=True,
        **options,
    )


_timeouts = itertools.count()


def _anthropic(fake: FakeProvider) -> ChatAnthropic:
    # langchain-anthropic shares one async HTTP client per (base_url, timeout) for the whole
    # process; each test runs its own event loop, so each model gets a timeout of its own.
    return ChatAnthropic(  # type: ignore[call-arg]
        model=ANTHROPIC_MODEL,
        base_url=fake.url,
        api_key="sk-ant-test",
        max_retries=0,
        default_request_timeout=60 + next(_timeouts) / 1000,
    )


def _check(stored: list[Stored], vendor: str, usage: dict[str, Any], customer: str) -> Stored:
    assert len(stored) == 1, stored
    event = stored[0]
    model = OPENAI_MODEL if vendor == "openai" else ANTHROPIC_MODEL
    assert event.service_key == f"{vendor}::{model}"
    assert event.customer_key == customer
    assert event.usage == usage
    assert event.cost > 0
    return event


CASES = [("openai", OPENAI_USAGE), ("anthropic", ANTHROPIC_USAGE)]


@pytest.mark.parametrize(("vendor", "usage"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_sync_call_is_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    vendor: str,
    usage: dict[str, Any],
    stream: bool,
) -> None:
    """invoke / stream of a sync chat model stores one event; customer from the run metadata."""
    with Tracker(**tracker_options) as tracker:
        llm = _openai(fake_provider) if vendor == "openai" else _anthropic(fake_provider)
        config: Any = {
            "callbacks": [AICMCallbackHandler(tracker)],
            "metadata": {"customer_key": "lc-sync"},
        }
        if stream:
            chunks = list(llm.stream("What is the answer?", config=config))
            assert chunks
        else:
            message = llm.invoke("What is the answer?", config=config)
        assert tracker.flush(30)
    event = _check(read_stored_sync(tracker_options), vendor, usage, "lc-sync")
    if stream:  # LangChain streams hide the provider's response id
        assert event.response_id.startswith("langchain-")
    else:
        assert event.response_id == message.response_metadata["id"]


@pytest.mark.parametrize(("vendor", "usage"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_async_call_is_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    vendor: str,
    usage: dict[str, Any],
    stream: bool,
) -> None:
    """ainvoke / astream of a chat model stores one event; customer from tracking_scope."""
    async with httpx.AsyncClient() as http, AsyncTracker(**tracker_options) as tracker:
        llm = (
            _openai(fake_provider, http_async_client=http)
            if vendor == "openai"
            else _anthropic(fake_provider)
        )
        config: Any = {"callbacks": [AICMCallbackHandler(tracker)]}
        with tracking_scope(customer_key="lc-async"):
            if stream:
                chunks = [chunk async for chunk in llm.astream("hi", config=config)]
                assert chunks
            else:
                await llm.ainvoke("hi", config=config)
        with anyio.fail_after(30):
            assert await tracker.flush()
    _check(await read_stored(tracker_options), vendor, usage, "lc-async")


def test_batch_and_tool_calls_are_one_event_per_model_call(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A batch of three inputs and a model with bound tools: one event per model call."""

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    with Tracker(**tracker_options) as tracker:
        handler = AICMCallbackHandler(tracker)
        llm = _openai(fake_provider)
        with tracking_scope(customer_key="lc-batch"):
            answers = llm.batch(["a", "b", "c"], config={"callbacks": [handler]})
            answers.append(llm.bind_tools([add]).invoke("2+3?", config={"callbacks": [handler]}))
        assert tracker.flush(30)
    stored = read_stored_sync(tracker_options)
    assert sorted(e.response_id for e in stored) == sorted(
        a.response_metadata["id"] for a in answers
    )
    assert {e.customer_key for e in stored} == {"lc-batch"}


async def test_concurrent_calls_never_mix_customers(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """100 concurrent ainvoke calls for 20 customers: each event has its caller's customer."""
    expected: dict[str, str] = {}
    async with httpx.AsyncClient() as http, AsyncTracker(**tracker_options) as tracker:
        handler = AICMCallbackHandler(tracker)
        llm = _openai(fake_provider, http_async_client=http)

        async def one(i: int) -> None:
            customer = f"cust-{i % 20}"
            config: Any = {"callbacks": [handler]}
            if i % 2:
                config["metadata"] = {"customer_key": customer}
                message = await llm.ainvoke("hi", config=config)
            else:
                with tracking_scope(customer_key=customer):
                    message = await llm.ainvoke("hi", config=config)
            expected[message.response_metadata["id"]] = customer

        async with anyio.create_task_group() as tg:
            for i in range(100):
                tg.start_soon(one, i)
        with anyio.fail_after(60):
            assert await tracker.flush()
    stored = await read_stored(tracker_options)
    assert {event.response_id: event.customer_key for event in stored} == expected


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_wrapper_and_callback_on_one_call_count_once(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], stream: bool
) -> None:
    """ChatOpenAI over a wrapped client with the handler: one event, the wrapper's usage."""
    with Tracker(**tracker_options) as tracker:
        raw = openai.OpenAI(base_url=f"{fake_provider.url}/v1", api_key="sk-test", max_retries=0)
        with OpenAIChatWrapper(raw, tracker=tracker, vendor="openai") as wrapped:
            llm = _openai(fake_provider, client=wrapped.chat.completions)
            config: Any = {"callbacks": [AICMCallbackHandler(tracker)]}
            with tracking_scope(customer_key="both"):
                if stream:
                    list(llm.stream("hi", config=config))
                else:
                    llm.invoke("hi", config=config)
        assert tracker.flush(30)
    stored = read_stored_sync(tracker_options)
    assert len(stored) == 1, stored
    assert stored[0].usage["prompt_tokens"] == PROMPT_TOKENS  # the wrapper's (richer) record
    assert stored[0].response_id.startswith("chatcmpl-")


def test_a_failed_call_is_not_recorded_and_a_non_tracker_is_refused(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A call the provider refuses records nothing; AICMCallbackHandler(42) is a TypeError."""
    with pytest.raises(TypeError, match="tracker"):
        AICMCallbackHandler(42)  # type: ignore[arg-type]
    with Tracker(**tracker_options) as tracker:
        llm = ChatOpenAI(
            model="bad-request-model",
            base_url=f"{fake_provider.url}/v1",
            api_key="sk-test",  # type: ignore[arg-type]
            max_retries=0,
        )
        with pytest.raises(openai.BadRequestError):
            llm.invoke("hi", config={"callbacks": [AICMCallbackHandler(tracker)]})
        assert tracker.flush(30)
    assert read_stored_sync(tracker_options) == []
