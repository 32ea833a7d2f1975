"""GeminiWrapper against the fake Gemini API: one priced event per billed call.

The real ``google-genai`` SDK (``client.models`` and ``client.aio.models``) goes through the
wrapper to the fake provider server; a real tracker delivers to the local
``aicostmanager serve``; the test reads back what the server stored for the key.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from google import genai
from google.genai import errors, types

from aicostmanager import AsyncTracker, GeminiWrapper, Tracker, tracking_scope

from .conftest import Stored, read_stored, read_stored_sync
from .fake_gemini import (
    CACHED_TOKENS,
    CANDIDATES_TOKENS,
    EMBED_TOKENS,
    PROMPT_TOKENS,
    THOUGHTS_TOKENS,
)
from .fake_provider import FakeProvider

# google-genai's own aiohttp session class triggers this warning from aiohttp (not our code).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)

MODEL = "gemini-2.5-flash"
EMBED_MODEL = "gemini-embedding-001"
FULL = {
    "promptTokenCount": PROMPT_TOKENS,
    "candidatesTokenCount": CANDIDATES_TOKENS,
    "thoughtsTokenCount": THOUGHTS_TOKENS,
    "cachedContentTokenCount": CACHED_TOKENS,
    "totalTokenCount": PROMPT_TOKENS + CANDIDATES_TOKENS + THOUGHTS_TOKENS,
}
# A stream broken after its first chunk: the prompt counts that chunk carried (exact) and the
# output estimated from the text seen (the final count never arrived).
FIRST_CHUNK = {
    "promptTokenCount": PROMPT_TOKENS,
    "cachedContentTokenCount": CACHED_TOKENS,
    "totalTokenCount": PROMPT_TOKENS,
    "aicm_estimated": ["candidatesTokenCount"],
}

Outcome = tuple[str | None, dict[str, Any], str]


def _client(fake: FakeProvider) -> genai.Client:
    return genai.Client(api_key="gm-test", http_options=types.HttpOptions(base_url=fake.url))


def plain(client: Any) -> Outcome:
    """models.generate_content returns the SDK's response."""
    response = client.models.generate_content(model=MODEL, contents="What is the answer?")
    assert isinstance(response, types.GenerateContentResponse)
    return response.response_id, FULL, f"google::{MODEL}"


def stream_consumed(client: Any) -> Outcome:
    """generate_content_stream to the end: the final chunk's counts, not the first's."""
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    assert chunks[0].usage_metadata.candidates_token_count is None
    return chunks[0].response_id, FULL, f"google::{MODEL}"


def stream_broken(client: Any) -> Outcome:
    """generate_content_stream abandoned after the first chunk (recorded when dropped)."""
    stream = client.models.generate_content_stream(model=MODEL, contents="hi")
    for chunk in stream:
        rid = chunk.response_id
        break
    stream.close()
    del stream, chunk
    gc.collect()
    return rid, FIRST_CHUNK, f"google::{MODEL}"


def embed(client: Any) -> Outcome:
    """models.embed_content (a models/ prefix on the name is dropped from the service key)."""
    response = client.models.embed_content(model=f"models/{EMBED_MODEL}", contents=["a", "b"])
    assert isinstance(response, types.EmbedContentResponse)
    assert len(response.embeddings) == 2
    return None, {"promptTokenCount": 2 * EMBED_TOKENS}, f"google::{EMBED_MODEL}"


def chat(client: Any) -> Outcome:
    """A chat session's send_message_stream is tracked; creating the session is not."""
    session = client.chats.create(model=MODEL)
    chunks = list(session.send_message_stream("hi"))
    assert session.get_history()[0].role == "user"
    return chunks[0].response_id, FULL, f"google::{MODEL}"


async def aplain(client: Any) -> Outcome:
    """client.aio.models.generate_content."""
    response = await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert isinstance(response, types.GenerateContentResponse)
    return response.response_id, FULL, f"google::{MODEL}"


async def astream_consumed(client: Any) -> Outcome:
    """client.aio.models.generate_content_stream iterated to the end."""
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
    chunks = [chunk async for chunk in stream]
    return chunks[-1].response_id, FULL, f"google::{MODEL}"


async def astream_broken(client: Any) -> Outcome:
    """Async stream broken after the first chunk, then closed."""
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents="hi")
    async for chunk in stream:
        rid = chunk.response_id
        break
    await stream.aclose()
    return rid, FIRST_CHUNK, f"google::{MODEL}"


async def aembed(client: Any) -> Outcome:
    """client.aio.models.embed_content."""
    response = await client.aio.models.embed_content(model=EMBED_MODEL, contents="a")
    assert response.embeddings
    return None, {"promptTokenCount": EMBED_TOKENS}, f"google::{EMBED_MODEL}"


async def aclient_context(client: Any) -> Outcome:
    """``async with client.aio as aclient`` keeps tracking through the entered client."""
    async with client.aio as aclient:
        response = await aclient.models.generate_content(model=MODEL, contents="hi")
    return response.response_id, FULL, f"google::{MODEL}"


async def achat(client: Any) -> Outcome:
    """An async chat session's send_message is tracked."""
    session = client.aio.chats.create(model=MODEL)
    response = await session.send_message("hi")
    return response.response_id, FULL, f"google::{MODEL}"


async def achat_stream(client: Any) -> Outcome:
    """An async chat session's send_message_stream, consumed to the end."""
    session = client.aio.chats.create(model=f"models/{MODEL}")
    chunks = [chunk async for chunk in await session.send_message_stream("hi")]
    return chunks[0].response_id, FULL, f"google::{MODEL}"


SYNC = [plain, stream_consumed, stream_broken, embed, chat]
ASYNC = [aplain, astream_consumed, astream_broken, aembed, aclient_context, achat, achat_stream]


def _check(stored: list[Stored], outcome: Outcome, customer: str) -> None:
    rid, usage, service_key = outcome
    assert len(stored) == 1, stored
    event = stored[0]
    if rid is not None:
        assert event.response_id == rid
    assert event.service_key == service_key
    assert event.customer_key == customer
    assert {k: event.usage.get(k) for k in usage} == usage
    assert event.cost > 0


@pytest.mark.parametrize("scenario", SYNC, ids=[s.__name__ for s in SYNC])
def test_sync_call_records_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    scenario: Callable[[Any], Outcome],
) -> None:
    """A client.models call through the wrapper stores exactly one priced event."""
    with Tracker(**tracker_options) as tracker:
        raw = _client(fake_provider)
        try:
            client = GeminiWrapper(raw, tracker=tracker)
            with tracking_scope(customer_key="acme-sync"):
                outcome = scenario(client)
        finally:
            raw.close()
        assert tracker.flush(30)
    _check(read_stored_sync(tracker_options), outcome, "acme-sync")


@pytest.mark.parametrize("scenario", ASYNC, ids=[s.__name__ for s in ASYNC])
async def test_async_call_records_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    scenario: Callable[[Any], Any],
) -> None:
    """A client.aio.models call through the wrapper stores exactly one priced event."""
    async with AsyncTracker(**tracker_options) as tracker:
        raw = _client(fake_provider)
        try:
            client = GeminiWrapper(raw, tracker=tracker)
            with tracking_scope(customer_key="acme-async"):
                outcome = await scenario(client)
        finally:
            await raw.aio.aclose()
            raw.close()
        with anyio.fail_after(30):
            assert await tracker.flush()
    _check(await read_stored(tracker_options), outcome, "acme-async")


async def test_provider_error_passes_through_untracked(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A 429 from Gemini reaches the caller as the SDK's own error; nothing is recorded."""
    async with AsyncTracker(**tracker_options) as tracker:
        raw = _client(fake_provider)
        try:
            client = GeminiWrapper(raw, tracker=tracker)
            with pytest.raises(errors.ClientError) as caught:
                await client.aio.models.generate_content(model="rate-limit", contents="hi")
            assert caught.value.code == 429
        finally:
            await raw.aio.aclose()
            raw.close()
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert await read_stored(tracker_options) == []


def test_wrapper_keeps_client_type_and_rejects_other_clients(
    tracker_options: dict[str, Any],
) -> None:
    """The wrapper passes isinstance checks; a client without models is a TypeError."""
    with Tracker(**tracker_options) as tracker:
        raw = genai.Client(api_key="gm-test")
        try:
            client = GeminiWrapper(raw, tracker=tracker)
            assert isinstance(client, genai.Client)
            assert client.aicm_vendor == "google"
            with pytest.raises(TypeError, match="genai"):
                GeminiWrapper(object(), tracker=tracker)
        finally:
            raw.close()
