"""AnthropicWrapper against the fake Anthropic API: one priced event per billed call.

The real ``anthropic`` SDK (sync and async clients) goes through the wrapper to the fake
provider server; a real tracker delivers to the local ``aicostmanager serve``; the test reads
back what the server stored for the key.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import anthropic
import anyio
import pytest

from aicostmanager import AnthropicWrapper, AsyncTracker, Tracker, tracking_scope

from .conftest import Stored, read_stored, read_stored_sync
from .fake_anthropic import CACHE_READ, CACHE_WRITE, INPUT_TOKENS, OUTPUT_TOKENS
from .fake_provider import FakeProvider

MODEL = "claude-sonnet-4"
BETA_MODEL = "claude-3-5-haiku-latest"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]
FULL = {
    "input_tokens": INPUT_TOKENS,
    "output_tokens": OUTPUT_TOKENS,
    "cache_creation_input_tokens": CACHE_WRITE,
    "cache_read_input_tokens": CACHE_READ,
}
# A stream broken after message_start: input and cache counts, the placeholder output count.
# Broken before message_delta: message_start's exact input counts, the output estimated.
STARTED = {
    **{k: v for k, v in FULL.items() if k != "output_tokens"},
    "aicm_estimated": ["output_tokens"],
}

Outcome = tuple[str, dict[str, int], str]


def _client(fake: FakeProvider, sync: bool) -> Any:
    cls = anthropic.Anthropic if sync else anthropic.AsyncAnthropic
    return cls(base_url=fake.url, api_key="sk-ant-test", max_retries=0)


def plain(client: Any) -> Outcome:
    """messages.create returns the SDK's Message."""
    message = client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert isinstance(message, anthropic.types.Message)
    return message.id, FULL, f"anthropic::{MODEL}"


def stream_consumed(client: Any) -> Outcome:
    """messages.create(stream=True) iterated to the end."""
    stream = client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True)
    assert isinstance(stream, anthropic.Stream)
    events = list(stream)
    assert [events[0].type, events[-1].type] == ["message_start", "message_stop"]
    return events[0].message.id, FULL, f"anthropic::{MODEL}"


def stream_broken(client: Any) -> Outcome:
    """messages.create(stream=True) abandoned after the first text delta (recorded on drop)."""
    stream = client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True)
    for event in stream:
        if event.type == "message_start":
            rid = event.message.id
        if event.type == "content_block_delta":
            break
    stream.response.close()
    del stream, event
    gc.collect()
    return rid, STARTED, f"anthropic::{MODEL}"


def helper(client: Any) -> Outcome:
    """messages.stream() read through text_stream, then get_final_message()."""
    with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        assert isinstance(stream, anthropic.MessageStream)
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("w0 ")
    return final.id, FULL, f"anthropic::{MODEL}"


def helper_broken(client: Any) -> Outcome:
    """messages.stream() left after the first text: the snapshot so far is recorded on exit."""
    with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        for _ in stream.text_stream:
            break
        rid = stream.current_message_snapshot.id
    return rid, STARTED, f"anthropic::{MODEL}"


def beta(client: Any) -> Outcome:
    """beta.messages.create is tracked like messages.create."""
    message = client.beta.messages.create(model=BETA_MODEL, max_tokens=64, messages=MESSAGES)
    return message.id, FULL, f"anthropic::{BETA_MODEL}"


def free_calls_then_plain(client: Any) -> Outcome:
    """count_tokens() and models.list() are never tracked: only the message is."""
    count = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert count.input_tokens == INPUT_TOKENS
    assert [model.id for model in client.models.list()]
    return plain(client)


def stream_exception(client: Any) -> Outcome:
    """A stream whose consumer raises inside ``with`` is recorded on exit with what it saw."""
    with pytest.raises(LookupError):
        with client.messages.create(
            model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
        ) as stream:
            for event in stream:
                if event.type == "message_start":
                    rid = event.message.id
                if event.type == "content_block_delta":
                    raise LookupError("the caller's own error")
    return rid, STARTED, f"anthropic::{MODEL}"


def options_and_raw(client: Any) -> Outcome:
    """with_options() keeps tracking; with_raw_response is tracked from the parsed body."""
    raw = client.with_options(timeout=20).messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=MESSAGES
    )
    assert raw.http_request.method == "POST"
    return raw.parse().id, FULL, f"anthropic::{MODEL}"


async def aplain(client: Any) -> Outcome:
    """Async messages.create."""
    message = await client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert isinstance(message, anthropic.types.Message)
    return message.id, FULL, f"anthropic::{MODEL}"


async def astream_consumed(client: Any) -> Outcome:
    """Async messages.create(stream=True) iterated to the end."""
    stream = await client.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    assert isinstance(stream, anthropic.AsyncStream)
    events = [event async for event in stream]
    return events[0].message.id, FULL, f"anthropic::{MODEL}"


async def astream_broken(client: Any) -> Outcome:
    """Async stream broken after the first delta, then closed."""
    stream = await client.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    async for event in stream:
        if event.type == "message_start":
            rid = event.message.id
        if event.type == "content_block_delta":
            break
    await stream.close()
    return rid, STARTED, f"anthropic::{MODEL}"


async def ahelper(client: Any) -> Outcome:
    """Async messages.stream() with text_stream and get_final_message()."""
    async with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        assert isinstance(stream, anthropic.AsyncMessageStream)
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text.startswith("w0 ")
    return final.id, FULL, f"anthropic::{MODEL}"


async def abeta_stream(client: Any) -> Outcome:
    """Async beta.messages.stream() iterated as events."""
    async with client.beta.messages.stream(
        model=BETA_MODEL, max_tokens=64, messages=MESSAGES
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert "text" in kinds
    return final.id, FULL, f"anthropic::{BETA_MODEL}"


SYNC = [
    plain,
    stream_consumed,
    stream_broken,
    stream_exception,
    helper,
    helper_broken,
    beta,
    free_calls_then_plain,
    options_and_raw,
]
ASYNC = [aplain, astream_consumed, astream_broken, ahelper, abeta_stream]


def _check(stored: list[Stored], outcome: Outcome, customer: str) -> None:
    rid, usage, service_key = outcome
    assert len(stored) == 1, stored
    event = stored[0]
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
    """A sync Anthropic call through the wrapper stores exactly one priced event."""
    with Tracker(**tracker_options) as tracker, _client(fake_provider, True) as raw:
        client = AnthropicWrapper(raw, tracker=tracker)
        with tracking_scope(customer_key="acme-sync"):
            outcome = scenario(client)
        assert tracker.flush(30)
    _check(read_stored_sync(tracker_options), outcome, "acme-sync")


@pytest.mark.parametrize("scenario", ASYNC, ids=[s.__name__ for s in ASYNC])
async def test_async_call_records_one_priced_event(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    scenario: Callable[[Any], Any],
) -> None:
    """An async Anthropic call through the wrapper stores exactly one priced event."""
    async with AsyncTracker(**tracker_options) as tracker, _client(fake_provider, False) as raw:
        client = AnthropicWrapper(raw, tracker=tracker)
        with tracking_scope(customer_key="acme-async"):
            outcome = await scenario(client)
        with anyio.fail_after(30):
            assert await tracker.flush()
    _check(await read_stored(tracker_options), outcome, "acme-async")


async def test_provider_error_passes_through_untracked(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A 429 from Anthropic reaches the caller as the SDK's own error; nothing is recorded."""
    async with AsyncTracker(**tracker_options) as tracker, _client(fake_provider, False) as raw:
        client = AnthropicWrapper(raw, tracker=tracker)
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model="rate-limit", max_tokens=8, messages=MESSAGES)
        assert caught.value.status_code == 429
        with pytest.raises(anthropic.InternalServerError):
            await client.messages.create(
                model="overloaded", max_tokens=8, messages=MESSAGES, stream=True
            )
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert await read_stored(tracker_options) == []


def test_wrapper_keeps_client_type_and_rejects_other_clients(
    tracker_options: dict[str, Any],
) -> None:
    """The wrapper passes isinstance checks; a non-Anthropic client is a TypeError."""
    with Tracker(**tracker_options) as tracker:
        raw = anthropic.Anthropic(api_key="sk-ant-test")
        client = AnthropicWrapper(raw, tracker=tracker)
        assert isinstance(client, anthropic.Anthropic)
        assert client.aicm_vendor == "anthropic"
        assert AnthropicWrapper(client, tracker=tracker).aicm_vendor == "anthropic"
        with pytest.raises(TypeError, match="anthropic"):
            AnthropicWrapper(object(), tracker=tracker)
        with pytest.raises(ValueError, match="vendor"):
            AnthropicWrapper(raw, tracker=tracker, vendor="bad vendor")


def test_cloud_clients_are_billed_by_their_cloud(tracker_options: dict[str, Any]) -> None:
    """AnthropicBedrock / AnthropicVertex bill their cloud; vendor= still overrides that."""
    with Tracker(**tracker_options) as tracker:
        bedrock = anthropic.AnthropicBedrock(
            aws_region="us-east-1", aws_access_key="AKIATEST", aws_secret_key="secret"
        )
        vertex = anthropic.AnthropicVertex(region="us-east5", project_id="p", access_token="t")
        assert AnthropicWrapper(bedrock, tracker=tracker).aicm_vendor == "amazon-bedrock"
        assert AnthropicWrapper(vertex, tracker=tracker).aicm_vendor == "vertex-ai"
        assert AnthropicWrapper(bedrock, tracker=tracker, vendor="acme").aicm_vendor == "acme"


async def test_stream_failing_mid_way_records_what_was_seen(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """An error event mid-stream raises the SDK's error; one event keeps message_start's counts."""
    async with AsyncTracker(**tracker_options) as tracker, _client(fake_provider, False) as raw:
        client = AnthropicWrapper(raw, tracker=tracker)
        with tracking_scope(customer_key="broken"):
            stream = await client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=MESSAGES,
                stream=True,
                extra_headers={"x-fake-fail-after": "3"},
            )
            kinds = []
            with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
                async for event in stream:
                    kinds.append(event.type)
                    if event.type == "message_start":
                        rid = event.message.id
            await stream.close()  # after the error: still one event
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert kinds.count("content_block_delta") == 3
    _check(await read_stored(tracker_options), (rid, STARTED, f"anthropic::{MODEL}"), "broken")
