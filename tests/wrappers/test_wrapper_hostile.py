"""Issue 17: streams open when a tracker closes, servers that refuse stream_options,
clients instrumented by others (OpenTelemetry, wrapt proxies), responses without usage."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import wrapt

from aicostmanager import AsyncTracker, OpenAIChatWrapper, Tracker, wrapper_statistics
from aicostmanager.wrappers import _recorder

from .conftest import read_stored, read_stored_sync
from .fake_openai import PROMPT_TOKENS, REQUESTS
from .fake_provider import FakeProvider

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Tell me a short story about a lighthouse keeper."}]


def _sync(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


def _async(fake: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


# ---- 17.1: closing a tracker settles the streams still open on it --------------------------


async def test_stream_alive_in_a_traceback_is_recorded_when_the_tracker_closes(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """An exception raised inside `async for` leaves the tracker block; the event still lands."""
    raw = _async(fake_provider)
    with pytest.raises(RuntimeError, match="caller failed"):
        async with AsyncTracker(**tracker_options) as tracker:
            client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
            stream = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True
            )
            async for chunk in stream:
                rid = chunk.id
                raise RuntimeError("caller failed")
    await raw.close()
    (event,) = await read_stored(tracker_options)
    assert event.response_id == rid
    assert event.usage["aicm_estimated"] == ["completion_tokens", "prompt_tokens"]
    assert event.usage["prompt_tokens"] > 0


async def test_stream_kept_past_close_is_recorded_once(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A stream still referenced after the tracker closed was recorded at close, once."""
    raw = _async(fake_provider)
    async with AsyncTracker(**tracker_options) as tracker:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        first = await stream.__anext__()
    rest = [chunk async for chunk in stream]  # the caller may go on reading
    assert rest
    await raw.close()
    stored = await read_stored(tracker_options)
    assert [event.response_id for event in stored] == [first.id]


def test_sync_stream_kept_past_close_is_recorded(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """The sync Tracker settles an open sync stream when it closes."""
    with _sync(fake_provider) as raw:
        with Tracker(**tracker_options) as tracker:
            client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
            stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            first = next(iter(stream))
        stream.close()
    (event,) = read_stored_sync(tracker_options)
    assert event.response_id == first.id
    assert "prompt_tokens" in event.usage["aicm_estimated"]


# ---- 17.2a: stream_options -------------------------------------------------------------------


def test_explicit_include_usage_false_is_not_overridden(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """stream_options={'include_usage': False} reaches the server as written."""
    with Tracker(**tracker_options) as tracker, _sync(fake_provider) as raw:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        stream = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": False}
        )
        chunks = list(stream)
        assert tracker.flush(30)
    assert all(chunk.usage is None for chunk in chunks)  # the server was not asked for usage
    (event,) = read_stored_sync(tracker_options)
    assert event.usage["aicm_estimated"] == ["completion_tokens", "prompt_tokens"]


def test_server_refusing_stream_options_gets_the_call_as_written(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 400 naming stream_options is retried once without it, and not added again."""
    model = "gpt-4o-mini-no-stream-options-sync"
    with Tracker(**tracker_options) as tracker, _sync(fake_provider) as raw:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        with caplog.at_level(logging.WARNING, logger="aicostmanager.wrappers"):
            first = list(
                client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
            )
            assert REQUESTS[model] == 2  # refused, then sent as the caller wrote it
            second = list(
                client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
            )
            assert REQUESTS[model] == 3  # remembered: sent as written at once
        assert first and second
        with pytest.raises(openai.BadRequestError):  # the caller's own option: their error
            client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        assert tracker.flush(30)
    assert sum("refused a parameter" in r.getMessage() for r in caplog.records) == 1
    stored = read_stored_sync(tracker_options)
    assert len(stored) == 2
    assert all("prompt_tokens" in event.usage["aicm_estimated"] for event in stored)


async def test_async_server_refusing_stream_options_gets_the_call_as_written(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """The async client: the same single retry, and the stream works as unwrapped."""
    model = "gpt-4o-mini-no-stream-options-async"
    raw = _async(fake_provider)
    async with AsyncTracker(**tracker_options) as tracker:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        stream = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
        assert await tracker.flush(30)
    await raw.close()
    assert chunks and REQUESTS[model] == 2
    (event,) = await read_stored(tracker_options)
    assert event.response_id == chunks[0].id


def test_helper_stream_refused_stream_options_gets_the_call_as_written(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """chat.completions.stream() sends on entry: a refusal there is retried as written too."""
    model = "gpt-4o-mini-no-stream-options-helper"
    with Tracker(**tracker_options) as tracker, _sync(fake_provider) as raw:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        with client.chat.completions.stream(model=model, messages=MESSAGES) as stream:
            final = stream.get_final_completion()
        assert tracker.flush(30)
    assert final.choices[0].message.content
    assert REQUESTS[model] == 2
    (event,) = read_stored_sync(tracker_options)
    assert event.response_id == final.id


# ---- 17.2b: clients instrumented by others -------------------------------------------------


@pytest.fixture
def otel_spans() -> Iterator[Any]:
    """The OpenAI SDK instrumented by opentelemetry-instrumentation-openai-v2 (undone after)."""
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_otel_instrumented_sync_stream_is_iterable_and_tracked(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], otel_spans: Any
) -> None:
    """A sync stream of an OTel-instrumented client (it has __iter__ and __anext__) works."""
    with Tracker(**tracker_options) as tracker, _sync(fake_provider) as raw:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        chunks = list(stream)
        plain = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert tracker.flush(30)
    assert chunks and plain.id
    stored = read_stored_sync(tracker_options)
    assert len(stored) == 2
    assert all(event.usage["prompt_tokens"] == PROMPT_TOKENS for event in stored)
    assert otel_spans.get_finished_spans()  # the other instrumentation still works


async def test_otel_instrumented_async_stream_is_tracked(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], otel_spans: Any
) -> None:
    """The async twin on an OTel-instrumented client."""
    raw = _async(fake_provider)
    async with AsyncTracker(**tracker_options) as tracker:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
        assert await tracker.flush(30)
    await raw.close()
    (event,) = await read_stored(tracker_options)
    assert event.response_id == chunks[0].id
    assert event.usage["prompt_tokens"] == PROMPT_TOKENS


def test_client_behind_a_wrapt_proxy_is_tracked(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A Sentry/Logfire-style wrapt.ObjectProxy around the client: sync streams still work."""
    with Tracker(**tracker_options) as tracker, _sync(fake_provider) as raw:
        proxied = wrapt.ObjectProxy(raw)
        client = OpenAIChatWrapper(proxied, tracker=tracker, vendor="openai")
        chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
        assert tracker.flush(30)
    (event,) = read_stored_sync(tracker_options)
    assert event.response_id == chunks[0].id
    assert event.usage["prompt_tokens"] == PROMPT_TOKENS


# ---- 17.9: responses without usage -----------------------------------------------------------


def test_response_without_usage_warns_once_per_endpoint(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No usage: no event, one WARNING naming provider and method, then only the counter."""
    monkeypatch.setattr(_recorder, "_warned_no_usage", set())
    before = wrapper_statistics().untracked
    with Tracker(**tracker_options) as tracker, _sync(fake_provider) as raw:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        with caplog.at_level(logging.WARNING, logger="aicostmanager.wrappers"):
            for _ in range(3):
                client.chat.completions.create(model="gpt-4o-mini-no-usage", messages=MESSAGES)
        assert tracker.flush(30)
    warnings = [r.getMessage() for r in caplog.records if "carried no usage" in r.getMessage()]
    assert len(warnings) == 1
    assert "openai chat.completions.create" in warnings[0]
    assert wrapper_statistics().untracked - before == 3
    assert read_stored_sync(tracker_options) == []
