"""``AICMLogger`` with the real LiteLLM SDK (OpenAI and Anthropic providers) on the fakes."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import litellm
import pytest
from wrappers import fake_anthropic
from wrappers.conftest import Stored, read_stored, read_stored_sync
from wrappers.fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS
from wrappers.fake_provider import FakeProvider

from aicostmanager import AsyncTracker, Tracker, tracking_scope
from aicostmanager.integrations.litellm import AICMLogger

from .conftest import wait_until

MESSAGES = [{"role": "user", "content": "What is the answer?"}]
OPENAI = (
    "openai/gpt-4o-mini",
    "openai::gpt-4o-mini",
    {
        "input_tokens": PROMPT_TOKENS,
        "output_tokens": COMPLETION_TOKENS,
        "cache_read_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
    },
)
ANTHROPIC = (
    "anthropic/claude-3-5-haiku-latest",
    "anthropic::claude-3-5-haiku-latest",
    {
        "input_tokens": fake_anthropic.INPUT_TOKENS
        + fake_anthropic.CACHE_READ
        + fake_anthropic.CACHE_WRITE,
        "output_tokens": fake_anthropic.OUTPUT_TOKENS,
        "cache_read_tokens": fake_anthropic.CACHE_READ,
        "cache_write_tokens": fake_anthropic.CACHE_WRITE,
        "output_tokens_details": {"reasoning_tokens": 0},
    },
)
CASES = [OPENAI, ANTHROPIC]
IDS = ["openai", "anthropic"]

pytestmark = [
    pytest.mark.usefixtures("fresh_ids"),
    # LiteLLM's own models trip a pydantic warning on import (not ours to fix).
    pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
    # LiteLLM leaves some of its own sockets to the garbage collector.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module", autouse=True)
def _drop_litellm_clients() -> Iterator[None]:
    """LiteLLM caches its HTTP clients: drop them here, so no later test finalises them."""
    yield
    litellm.in_memory_llm_clients_cache.flush_cache()
    gc.collect()


@pytest.fixture
def logger_slot() -> Iterator[list[Any]]:
    """``litellm.callbacks`` for the test only."""
    saved = list(litellm.callbacks)
    slot: list[Any] = []
    litellm.callbacks = slot
    try:
        yield slot
    finally:
        for logger in slot:  # LiteLLM copied it into its own lists
            litellm.logging_callback_manager.remove_callback_from_all_lists(logger)
        litellm.callbacks = saved


def _base(fake: FakeProvider, model: str) -> str:
    return f"{fake.url}/v1" if model.startswith("openai/") else fake.url


def _check(
    stored: list[Stored], rid: str, case: tuple[str, str, dict[str, Any]], customer: str
) -> None:
    assert len(stored) == 1, stored
    event = stored[0]
    assert event.response_id == rid
    assert event.service_key == case[1]
    assert event.customer_key == customer
    assert event.usage == case[2]
    assert event.cost > 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_sync_completion_is_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    logger_slot: list[Any],
    case: tuple[str, str, dict[str, Any]],
    stream: bool,
) -> None:
    """litellm.completion (plain or streamed, reported from LiteLLM's thread) stores one event."""
    model = case[0]
    with Tracker(**tracker_options) as tracker:
        logger_slot.append(AICMLogger(tracker))
        with tracking_scope(customer_key="llm-sync"):
            response = litellm.completion(
                model=model,
                api_base=_base(fake_provider, model),
                api_key="sk-test",
                messages=MESSAGES,
                stream=stream,
                stream_options={"include_usage": True} if stream else None,
            )
            if stream:
                chunks = list(response)
                rid = chunks[0].id
            else:
                rid = response.id
        wait_until(lambda: tracker.statistics().enqueued >= 1)
        assert tracker.flush(30)
    _check(read_stored_sync(tracker_options), rid, case, "llm-sync")


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_async_completion_is_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    logger_slot: list[Any],
    case: tuple[str, str, dict[str, Any]],
    stream: bool,
) -> None:
    """litellm.acompletion (plain or streamed) stores one event; customer from metadata."""
    model = case[0]
    async with AsyncTracker(**tracker_options) as tracker:
        logger_slot.append(AICMLogger(tracker))
        response = await litellm.acompletion(
            model=model,
            api_base=_base(fake_provider, model),
            api_key="sk-test",
            messages=MESSAGES,
            stream=stream,
            stream_options={"include_usage": True} if stream else None,
            metadata={"customer_key": "llm-async"},
        )
        if stream:
            chunks = [chunk async for chunk in response]
            rid = chunks[0].id
        else:
            rid = response.id
        await anyio.to_thread.run_sync(wait_until, lambda: tracker.statistics().enqueued >= 1)
        with anyio.fail_after(30):
            assert await tracker.flush()
    _check(await read_stored(tracker_options), rid, case, "llm-async")


def test_user_names_the_customer_and_threads_keep_their_scope(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], logger_slot: list[Any]
) -> None:
    """user= names the customer; 100 calls from 20 threads, each in its own scope, never mix."""
    expected: dict[str, str] = {}
    lock = threading.Lock()
    with Tracker(**tracker_options) as tracker:
        logger_slot.append(AICMLogger(tracker))

        def one(i: int) -> None:
            customer = f"cust-{i % 20}"
            kwargs: dict[str, Any] = {
                "model": OPENAI[0],
                "api_base": _base(fake_provider, OPENAI[0]),
                "api_key": "sk-test",
                "messages": MESSAGES,
            }
            if i % 2:
                response = litellm.completion(user=customer, **kwargs)
            else:
                with tracking_scope(customer_key=customer):
                    response = litellm.completion(user="not-this-one", **kwargs)
            with lock:
                expected[response.id] = customer

        def worker(start: int) -> None:
            for i in range(start, 100, 20):
                one(i)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_until(lambda: tracker.statistics().enqueued >= 100)
        assert tracker.flush(60)
    stored = read_stored_sync(tracker_options)
    assert {event.response_id: event.customer_key for event in stored} == expected


def test_a_non_tracker_is_refused() -> None:
    """AICMLogger(tracker=...) must be a tracker: TypeError otherwise."""
    with pytest.raises(TypeError, match="tracker"):
        AICMLogger(42)  # type: ignore[arg-type]
