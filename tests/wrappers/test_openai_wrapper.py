"""OpenAI and Fireworks wrappers against the fake provider: one priced event per billed call.

Each scenario runs the real SDK (sync or async client) through the wrapper, against the fake
provider server, with a real tracker delivering to the local ``aicostmanager serve``; the
test then reads back what the server stored for the key.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import anyio
import fireworks
import openai
import pydantic
import pytest

from aicostmanager import (
    AsyncTracker,
    FireworksWrapper,
    OpenAIChatWrapper,
    OpenAIResponsesWrapper,
    Tracker,
    tracking_scope,
)

from .conftest import Stored, read_stored, read_stored_sync
from .fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS
from .fake_provider import FakeProvider

CHAT_MODEL = "gpt-4o-mini"
RESPONSES_MODEL = "gpt-5-mini"
FIREWORKS_MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]
FULL_CHAT = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS}
FULL_RESPONSES = {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS}


class Answer(pydantic.BaseModel):
    """The structured output the fake returns for json_schema requests."""

    answer: str


def _openai(fake: FakeProvider, sync: bool) -> Any:
    cls = openai.OpenAI if sync else openai.AsyncOpenAI
    return cls(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


def _fireworks(fake: FakeProvider, sync: bool) -> Any:
    cls = fireworks.Fireworks if sync else fireworks.AsyncFireworks
    return cls(base_url=fake.url, api_key="fw-test", max_retries=0)


# ---- scenarios: each returns (response id the caller saw, expected usage subset, service) ----

Outcome = tuple[str, dict[str, int], str]


def chat_plain(client: Any) -> Outcome:
    """Plain chat completion."""
    response = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert isinstance(response, openai.types.chat.ChatCompletion)
    return response.id, FULL_CHAT, f"openai::{CHAT_MODEL}"


def chat_stream(client: Any) -> Outcome:
    """Chat stream consumed to the end; the usage chunk the wrapper asked for is hidden."""
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    assert chunks and all(chunk.choices for chunk in chunks)
    return chunks[0].id, FULL_CHAT, f"openai::{CHAT_MODEL}"


def chat_early(client: Any) -> Outcome:
    """Chat stream abandoned after one chunk (recorded when the stream is dropped)."""
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    for chunk in stream:
        rid = chunk.id
        break
    stream.response.close()
    del stream, chunk
    gc.collect()
    return rid, {"aicm_estimated": ["completion_tokens", "prompt_tokens"]}, f"openai::{CHAT_MODEL}"


def chat_helper(client: Any) -> Outcome:
    """``chat.completions.stream()`` helper, iterated, then ``get_final_completion()``."""
    with client.chat.completions.stream(model=CHAT_MODEL, messages=MESSAGES) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    assert "content.delta" in {event.type for event in events}
    # The usage-only chunk the wrapper asked for is not shown to the caller.
    assert all(event.chunk.choices for event in events if event.type == "chunk")
    return final.id, FULL_CHAT, f"openai::{CHAT_MODEL}"


def chat_parse(client: Any) -> Outcome:
    """``chat.completions.parse`` with a pydantic response format."""
    response = client.chat.completions.parse(
        model=CHAT_MODEL, messages=MESSAGES, response_format=Answer
    )
    assert response.choices[0].message.parsed == Answer(answer="forty-two")
    return response.id, FULL_CHAT, f"openai::{CHAT_MODEL}"


def responses_plain(client: Any) -> Outcome:
    """Plain Responses API call."""
    response = client.responses.create(model=RESPONSES_MODEL, input="What is the answer?")
    assert isinstance(response, openai.types.responses.Response)
    return response.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


def responses_stream(client: Any) -> Outcome:
    """Responses stream consumed to the end."""
    stream = client.responses.create(model=RESPONSES_MODEL, input="hi", stream=True)
    events = list(stream)
    assert events[-1].type == "response.completed"
    return events[0].response.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


def responses_early(client: Any) -> Outcome:
    """Responses stream closed after the first text delta."""
    stream = client.responses.create(model=RESPONSES_MODEL, input="hi", stream=True)
    with stream:
        for event in stream:
            if event.type == "response.created":
                rid = event.response.id
            if event.type == "response.output_text.delta":
                break
    return rid, {"aicm_estimated": ["output_tokens", "input_tokens"]}, f"openai::{RESPONSES_MODEL}"


def responses_helper(client: Any) -> Outcome:
    """``responses.stream()`` helper read only through ``get_final_response()``."""
    with client.responses.stream(model=RESPONSES_MODEL, input="hi") as stream:
        final = stream.get_final_response()
    return final.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


def responses_parse(client: Any) -> Outcome:
    """``responses.parse`` with a pydantic text format."""
    response = client.responses.parse(model=RESPONSES_MODEL, input="hi", text_format=Answer)
    assert response.output_parsed == Answer(answer="forty-two")
    return response.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


def fireworks_plain(client: Any) -> Outcome:
    """Fireworks chat completion."""
    response = client.chat.completions.create(model=FIREWORKS_MODEL, messages=MESSAGES)
    return response.id, FULL_CHAT, f"fireworks-ai::{FIREWORKS_MODEL}"


def fireworks_stream(client: Any) -> Outcome:
    """Fireworks chat stream (usage on the last content chunk, nothing hidden)."""
    stream = client.chat.completions.create(model=FIREWORKS_MODEL, messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert chunks[-1].usage is not None
    return chunks[0].id, FULL_CHAT, f"fireworks-ai::{FIREWORKS_MODEL}"


def fireworks_early(client: Any) -> Outcome:
    """Fireworks stream closed after one chunk."""
    stream = client.chat.completions.create(model=FIREWORKS_MODEL, messages=MESSAGES, stream=True)
    for chunk in stream:
        rid = chunk.id
        break
    stream.close()
    return (
        rid,
        {"aicm_estimated": ["completion_tokens", "prompt_tokens"]},
        f"fireworks-ai::{FIREWORKS_MODEL}",
    )


def fireworks_completion(client: Any) -> Outcome:
    """Fireworks text completion."""
    response = client.completions.create(model=FIREWORKS_MODEL, prompt="The answer is")
    return response.id, FULL_CHAT, f"fireworks-ai::{FIREWORKS_MODEL}"


# ---- async twins ---------------------------------------------------------------------------


async def achat_plain(client: Any) -> Outcome:
    """Async plain chat completion."""
    response = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    return response.id, FULL_CHAT, f"openai::{CHAT_MODEL}"


async def achat_stream(client: Any) -> Outcome:
    """Async chat stream consumed; usage chunk hidden."""
    stream = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    chunks = [chunk async for chunk in stream]
    assert chunks and all(chunk.choices for chunk in chunks)
    return chunks[0].id, FULL_CHAT, f"openai::{CHAT_MODEL}"


async def achat_early(client: Any) -> Outcome:
    """Async chat stream broken after one chunk, then closed."""
    stream = await client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    async for chunk in stream:
        rid = chunk.id
        break
    await stream.close()
    return rid, {"aicm_estimated": ["completion_tokens", "prompt_tokens"]}, f"openai::{CHAT_MODEL}"


async def achat_helper(client: Any) -> Outcome:
    """Async ``chat.completions.stream()`` helper."""
    async with client.chat.completions.stream(model=CHAT_MODEL, messages=MESSAGES) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_completion()
    return final.id, FULL_CHAT, f"openai::{CHAT_MODEL}"


async def aresponses_stream(client: Any) -> Outcome:
    """Async Responses stream consumed."""
    stream = await client.responses.create(model=RESPONSES_MODEL, input="hi", stream=True)
    events = [event async for event in stream]
    return events[0].response.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


async def aresponses_helper(client: Any) -> Outcome:
    """Async ``responses.stream()`` helper, iterated."""
    async with client.responses.stream(model=RESPONSES_MODEL, input="hi") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    return final.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


async def aresponses_early(client: Any) -> Outcome:
    """Async Responses stream broken after the first delta (async with exit records)."""
    stream = await client.responses.create(model=RESPONSES_MODEL, input="hi", stream=True)
    async with stream:
        async for event in stream:
            if event.type == "response.created":
                rid = event.response.id
            if event.type == "response.output_text.delta":
                break
    return rid, {"aicm_estimated": ["output_tokens", "input_tokens"]}, f"openai::{RESPONSES_MODEL}"


async def achat_parse(client: Any) -> Outcome:
    """Async ``chat.completions.parse``."""
    response = await client.chat.completions.parse(
        model=CHAT_MODEL, messages=MESSAGES, response_format=Answer
    )
    assert response.choices[0].message.parsed == Answer(answer="forty-two")
    return response.id, FULL_CHAT, f"openai::{CHAT_MODEL}"


async def aresponses_plain(client: Any) -> Outcome:
    """Async plain Responses API call."""
    response = await client.responses.create(model=RESPONSES_MODEL, input="hi")
    return response.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


async def aresponses_parse(client: Any) -> Outcome:
    """Async ``responses.parse``."""
    response = await client.responses.parse(model=RESPONSES_MODEL, input="hi", text_format=Answer)
    assert response.output_parsed == Answer(answer="forty-two")
    return response.id, FULL_RESPONSES, f"openai::{RESPONSES_MODEL}"


async def afireworks_early(client: Any) -> Outcome:
    """Async Fireworks stream broken after one chunk, then closed."""
    stream = await client.chat.completions.create(
        model=FIREWORKS_MODEL, messages=MESSAGES, stream=True
    )
    async for chunk in stream:
        rid = chunk.id
        break
    await stream.close()
    return (
        rid,
        {"aicm_estimated": ["completion_tokens", "prompt_tokens"]},
        f"fireworks-ai::{FIREWORKS_MODEL}",
    )


async def afireworks_completion(client: Any) -> Outcome:
    """Async Fireworks text completion."""
    response = await client.completions.create(model=FIREWORKS_MODEL, prompt="The answer is")
    return response.id, FULL_CHAT, f"fireworks-ai::{FIREWORKS_MODEL}"


async def afireworks_stream(client: Any) -> Outcome:
    """Async Fireworks stream."""
    stream = await client.chat.completions.create(
        model=FIREWORKS_MODEL, messages=MESSAGES, stream=True
    )
    chunks = [chunk async for chunk in stream]
    return chunks[0].id, FULL_CHAT, f"fireworks-ai::{FIREWORKS_MODEL}"


async def afireworks_plain(client: Any) -> Outcome:
    """Async Fireworks chat completion."""
    response = await client.chat.completions.create(model=FIREWORKS_MODEL, messages=MESSAGES)
    return response.id, FULL_CHAT, f"fireworks-ai::{FIREWORKS_MODEL}"


SYNC = [
    (OpenAIChatWrapper, _openai, chat_plain),
    (OpenAIChatWrapper, _openai, chat_stream),
    (OpenAIChatWrapper, _openai, chat_early),
    (OpenAIChatWrapper, _openai, chat_helper),
    (OpenAIChatWrapper, _openai, chat_parse),
    (OpenAIResponsesWrapper, _openai, responses_plain),
    (OpenAIResponsesWrapper, _openai, responses_stream),
    (OpenAIResponsesWrapper, _openai, responses_early),
    (OpenAIResponsesWrapper, _openai, responses_helper),
    (OpenAIResponsesWrapper, _openai, responses_parse),
    (FireworksWrapper, _fireworks, fireworks_plain),
    (FireworksWrapper, _fireworks, fireworks_stream),
    (FireworksWrapper, _fireworks, fireworks_early),
    (FireworksWrapper, _fireworks, fireworks_completion),
]
ASYNC = [
    (OpenAIChatWrapper, _openai, achat_plain),
    (OpenAIChatWrapper, _openai, achat_stream),
    (OpenAIChatWrapper, _openai, achat_early),
    (OpenAIChatWrapper, _openai, achat_helper),
    (OpenAIChatWrapper, _openai, achat_parse),
    (OpenAIResponsesWrapper, _openai, aresponses_plain),
    (OpenAIResponsesWrapper, _openai, aresponses_parse),
    (OpenAIResponsesWrapper, _openai, aresponses_stream),
    (OpenAIResponsesWrapper, _openai, aresponses_early),
    (OpenAIResponsesWrapper, _openai, aresponses_helper),
    (FireworksWrapper, _fireworks, afireworks_plain),
    (FireworksWrapper, _fireworks, afireworks_stream),
    (FireworksWrapper, _fireworks, afireworks_early),
    (FireworksWrapper, _fireworks, afireworks_completion),
]


def _check(stored: list[Stored], outcome: Outcome, customer: str) -> None:
    rid, usage, service_key = outcome
    assert len(stored) == 1, stored
    event = stored[0]
    assert event.response_id == rid
    assert event.service_key == service_key
    assert event.customer_key == customer
    assert {k: event.usage.get(k) for k in usage} == usage
    assert event.cost > 0


def _vendor(wrapper: type) -> dict[str, str]:
    return {} if wrapper is FireworksWrapper else {"vendor": "openai"}


@pytest.mark.parametrize(("wrapper", "make", "scenario"), SYNC, ids=[s[2].__name__ for s in SYNC])
def test_sync_call_records_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    wrapper: type,
    make: Callable[[FakeProvider, bool], Any],
    scenario: Callable[[Any], Outcome],
) -> None:
    """A sync client call through the wrapper stores exactly one priced event for the scope."""
    with Tracker(**tracker_options) as tracker:
        with wrapper(make(fake_provider, True), tracker=tracker, **_vendor(wrapper)) as client:
            with tracking_scope(customer_key="acme-sync"):
                outcome = scenario(client)
        assert tracker.flush(30)
    _check(read_stored_sync(tracker_options), outcome, "acme-sync")


@pytest.mark.parametrize(("wrapper", "make", "scenario"), ASYNC, ids=[s[2].__name__ for s in ASYNC])
async def test_async_call_records_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    wrapper: type,
    make: Callable[[FakeProvider, bool], Any],
    scenario: Callable[[Any], Any],
) -> None:
    """An async client call through the wrapper stores exactly one priced event for the scope."""
    async with AsyncTracker(**tracker_options) as tracker:
        raw = make(fake_provider, False)
        async with wrapper(raw, tracker=tracker, **_vendor(wrapper)) as client:
            with tracking_scope(customer_key="acme-async"):
                outcome = await scenario(client)
        with anyio.fail_after(30):
            assert await tracker.flush()
    _check(await read_stored(tracker_options), outcome, "acme-async")
