"""What the wrappers promise beyond one event per call: isolation, transparency, safety."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import openai
import pytest

from aicostmanager import (
    AsyncTracker,
    ConfigurationError,
    OpenAIChatWrapper,
    ServiceWrapper,
    UsageLimitExceeded,
    tracking_scope,
    wrapper_statistics,
)
from aicostmanager.wrappers._openai import vendor_for_base_url

from .conftest import read_stored
from .fake_openai import PROMPT_TOKENS, REQUESTS
from .fake_provider import FakeProvider

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "hi"}]


def _client(fake: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


async def test_concurrent_scopes_never_mix_customers(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """100 concurrent calls, each in its own tracking_scope, bill their own customer."""
    seen: dict[str, str] = {}
    async with AsyncTracker(**tracker_options) as tracker:
        async with OpenAIChatWrapper(
            _client(fake_provider), tracker=tracker, vendor="openai"
        ) as client:

            async def one(index: int) -> None:
                customer = f"customer-{index}"
                with tracking_scope(customer_key=customer, context={"n": index}):
                    if index % 2:
                        response = await client.chat.completions.create(
                            model=MODEL, messages=MESSAGES
                        )
                        seen[response.id] = customer
                    else:
                        stream = await client.chat.completions.create(
                            model=MODEL, messages=MESSAGES, stream=True
                        )
                        async for chunk in stream:
                            seen[chunk.id] = customer

            async with anyio.create_task_group() as group:
                for index in range(100):
                    group.start_soon(one, index)
        with anyio.fail_after(60):
            assert await tracker.flush()
    stored = await read_stored(tracker_options)
    assert len(stored) == 100
    assert {event.response_id: event.customer_key for event in stored} == seen


async def test_provider_errors_pass_through_untracked(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A provider error reaches the caller as the SDK's own exception; nothing is recorded."""
    async with AsyncTracker(**tracker_options) as tracker:
        async with OpenAIChatWrapper(
            _client(fake_provider), tracker=tracker, vendor="openai"
        ) as client:
            with pytest.raises(openai.RateLimitError) as info:
                await client.chat.completions.create(model="rate-limit-model", messages=MESSAGES)
            assert type(info.value) is openai.RateLimitError
            assert info.value.status_code == 429
            with pytest.raises(openai.BadRequestError):
                await client.responses.create(model="bad-request-model", input="hi")
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert await read_stored(tracker_options) == []


async def test_extractor_failure_returns_the_response_unchanged(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """An extractor that raises is logged and counted; the caller gets the SDK's response."""

    def broken(response: Any) -> dict[str, int]:
        raise KeyError("no usage here")

    before = wrapper_statistics().extraction_errors
    async with AsyncTracker(**tracker_options) as tracker:
        raw = _client(fake_provider)
        wrapped = ServiceWrapper(raw, vendor="openai", usage_extractor=broken, tracker=tracker)
        async with wrapped as client:
            response = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert isinstance(response, openai.types.chat.ChatCompletion)
        assert response.usage is not None and response.usage.prompt_tokens == PROMPT_TOKENS
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert wrapper_statistics().extraction_errors == before + 1
    assert await read_stored(tracker_options) == []


async def test_transparency_options_raw_response_and_double_wrap(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """isinstance holds, with_options/with_raw_response track, wrapping twice tracks once."""
    async with AsyncTracker(**tracker_options) as tracker:
        raw = _client(fake_provider)
        once = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        client = OpenAIChatWrapper(once, tracker=tracker, vendor="openai")
        assert isinstance(client, openai.AsyncOpenAI)
        assert client.api_key == "sk-test"  # untouched attributes pass through
        with tracking_scope(customer_key="twice"):
            first = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        with tracking_scope(customer_key="options"):
            second = await client.with_options(timeout=30).chat.completions.create(
                model=MODEL, messages=MESSAGES
            )
        with tracking_scope(customer_key="raw"):
            response = await client.chat.completions.with_raw_response.create(
                model=MODEL, messages=MESSAGES
            )
            assert response.http_response.status_code == 200
            third = response.parse()
        with tracking_scope(customer_key="embed"):
            embedded = await client.embeddings.create(model="text-embedding-3-small", input="hi")
        assert len(embedded.data) == 1
        await raw.close()
        with anyio.fail_after(30):
            assert await tracker.flush()
    stored = {event.customer_key: event for event in await read_stored(tracker_options)}
    assert set(stored) == {"twice", "options", "raw", "embed"}
    assert stored["twice"].response_id == first.id
    assert stored["options"].response_id == second.id
    assert stored["raw"].response_id == third.id
    assert stored["embed"].usage["prompt_tokens"] == PROMPT_TOKENS
    assert all(event.cost > 0 for event in stored.values())


async def test_usage_chunk_stays_visible_when_the_caller_asked(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """With include_usage set by the caller, the usage chunk reaches the caller; one event."""
    async with AsyncTracker(**tracker_options) as tracker:
        async with OpenAIChatWrapper(
            _client(fake_provider), tracker=tracker, vendor="openai"
        ) as client:
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        with anyio.fail_after(30):
            assert await tracker.flush()
    (event,) = await read_stored(tracker_options)
    assert event.usage["prompt_tokens"] == PROMPT_TOKENS


async def test_triggered_limit_blocks_before_the_request(
    fake_provider: FakeProvider, tracker_options: dict[str, Any], api_root: str
) -> None:
    """Once a limit triggers, the next call raises UsageLimitExceeded and sends no request."""
    key = tracker_options["aicm_api_key"]
    limit = {"threshold_type": "limit", "amount": "0.000001", "period": "day", "client": "cap"}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_root, headers=headers) as api:
        created = await api.post("/usage-limits/", json=limit)
        assert created.status_code in (200, 201), created.text
    options = {**tracker_options, "delivery_type": "immediate", "limits_enabled": True}
    model = "gpt-4o-mini-2024-07-18"
    async with AsyncTracker(**options) as tracker:
        async with OpenAIChatWrapper(
            _client(fake_provider), tracker=tracker, vendor="openai"
        ) as client:
            with tracking_scope(customer_key="cap"):
                await client.chat.completions.create(model=model, messages=MESSAGES)
                with anyio.fail_after(30):
                    assert await tracker.flush()
                sent = REQUESTS[model]
                with pytest.raises(UsageLimitExceeded):
                    await client.chat.completions.create(model=model, messages=MESSAGES)
                assert REQUESTS[model] == sent
    assert len(await read_stored(tracker_options)) == 1


def test_service_wrapper_generic_stream_records_once(tracker_options: dict[str, Any]) -> None:
    """ServiceWrapper on a plain object: a generator result is a stream, recorded once."""
    from aicostmanager import Tracker

    from .conftest import read_stored_sync

    class Speech:
        def synthesize(self, text: str) -> Iterator[dict[str, Any]]:
            yield {"id": "tts-1", "audio": b"..."}
            yield {"id": "tts-1", "usage": {"input_tokens": 7, "output_tokens": 3}}

    with Tracker(**tracker_options) as tracker:
        client = ServiceWrapper(Speech(), service_key="openai::gpt-4o-mini", tracker=tracker)
        with tracking_scope(customer_key="speech"):
            chunks = list(client.synthesize("hello"))
        assert len(chunks) == 2
        assert tracker.flush(30)
    (event,) = read_stored_sync(tracker_options)
    assert (event.response_id, event.customer_key) == ("tts-1", "speech")
    assert event.usage == {"input_tokens": 7, "output_tokens": 3}


@pytest.mark.parametrize(
    ("base_url", "vendor"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://my-res.openai.azure.com/openai/deployments/x", "azure-openai"),
        ("https://api.fireworks.ai/inference/v1", "fireworks-ai"),
        ("https://api.x.ai/v1", "xai"),
        ("https://api.deepseek.com", "deepseek"),
        ("https://api.together.xyz/v1", "together-ai"),
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("http://localhost:11434/v1", "ollama"),
        ("http://127.0.0.1:8000/v1", "vllm"),
        ("https://llm.example.com/v1", None),
        ("http://127.0.0.1:9999/v1", None),
    ],
)
def test_vendor_from_base_url(base_url: str, vendor: str | None) -> None:
    """Known OpenAI-compatible hosts map to their vendor slug; others to None."""
    assert vendor_for_base_url(base_url) == vendor


def test_unknown_base_url_needs_vendor(tracker_options: dict[str, Any]) -> None:
    """An unknown base URL is refused at wrap time unless vendor= is given."""
    from aicostmanager import Tracker

    raw = openai.OpenAI(base_url="https://llm.example.com/v1", api_key="sk-test")
    with Tracker(**tracker_options) as tracker:
        with pytest.raises(ConfigurationError, match="vendor="):
            OpenAIChatWrapper(raw, tracker=tracker)
        assert OpenAIChatWrapper(raw, tracker=tracker, vendor="acme-llm").aicm_vendor == "acme-llm"
        with pytest.raises(ValueError):
            OpenAIChatWrapper(raw, tracker=tracker, vendor="bad::vendor")
        with pytest.raises(TypeError):
            OpenAIChatWrapper(raw, tracker=object(), vendor="openai")  # type: ignore[arg-type]
    raw.close()


def test_import_loads_no_provider_sdk() -> None:
    """`import aicostmanager` and `from aicostmanager import OpenAIChatWrapper` load no SDK."""
    code = (
        "import sys, aicostmanager\n"
        "from aicostmanager import OpenAIChatWrapper, ServiceWrapper, FireworksWrapper\n"
        "from aicostmanager import AnthropicWrapper, GeminiWrapper, BedrockWrapper\n"
        "sdks = {'openai', 'anthropic', 'google', 'boto3', 'botocore', 'fireworks'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in sdks))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


_DEFAULT_TRACKER_SCRIPT = """
import os, sys
import openai
from aicostmanager import OpenAIChatWrapper, tracking_scope
from aicostmanager.wrappers import default_tracker

base = sys.argv[1]
first = OpenAIChatWrapper(openai.OpenAI(base_url=base, api_key="sk-test"), vendor="openai")
second = OpenAIChatWrapper(openai.OpenAI(base_url=base, api_key="sk-test"), vendor="openai")
assert first.aicm_recorder.tracker is second.aicm_recorder.tracker is default_tracker()
with tracking_scope(customer_key="parent"):
    first.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
assert default_tracker().flush(30)
pid = os.fork()
if pid == 0:
    with tracking_scope(customer_key="child"):
        second.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    ok = default_tracker().flush(30)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


def test_default_tracker_is_shared_and_survives_fork(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """Wrappers without tracker= share one process tracker, restarted in a forked child."""
    import os

    from .conftest import read_stored_sync

    env = {
        **os.environ,
        "AICM_API_KEY": tracker_options["aicm_api_key"],
        "AICM_API_BASE": tracker_options["aicm_api_base"],
        "AICM_INI_PATH": str(tracker_options["ini_path"]),
        "AICM_DB_PATH": str(tracker_options["db_path"]),
        "AICM_BATCH_INTERVAL": "0.005",
    }
    out = subprocess.run(
        [sys.executable, "-c", _DEFAULT_TRACKER_SCRIPT, f"{fake_provider.url}/v1"],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "child 0" in out.stdout
    stored = read_stored_sync(tracker_options)
    assert sorted(event.customer_key or "" for event in stored) == ["child", "parent"]


async def test_stream_broken_by_an_error_records_what_was_seen(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A stream that fails mid-way raises the SDK's error and records the chunks seen, once."""
    async with AsyncTracker(**tracker_options) as tracker:
        async with OpenAIChatWrapper(
            _client(fake_provider), tracker=tracker, vendor="openai"
        ) as client:
            with tracking_scope(customer_key="broken"):
                stream = await client.chat.completions.create(
                    model=MODEL,
                    messages=MESSAGES,
                    stream=True,
                    extra_headers={"x-fake-fail-after": "3"},
                )
                seen = []
                with pytest.raises(openai.APIError, match="server had an error"):
                    async for chunk in stream:
                        seen.append(chunk)  # noqa: PERF401 - keep what came before the error
                await stream.close()  # after the error: still one event
        with anyio.fail_after(30):
            assert await tracker.flush()
    (event,) = await read_stored(tracker_options)
    assert len(seen) == 3
    assert (event.response_id, event.customer_key) == (seen[0].id, "broken")
    assert event.usage["aicm_estimated"] == ["completion_tokens", "prompt_tokens"]
    assert event.usage["completion_tokens"] >= 3 and event.usage["prompt_tokens"] > 0
    assert event.cost > 0


def test_sync_stream_broken_by_an_error_records_once(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """The sync twin: the SDK's exception propagates, one event with the chunks seen."""
    from aicostmanager import Tracker

    from .conftest import read_stored_sync

    raw = openai.OpenAI(base_url=f"{fake_provider.url}/v1", api_key="sk-test", max_retries=0)
    with Tracker(**tracker_options) as tracker, raw:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        stream = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, extra_headers={"x-fake-fail-after": "2"}
        )
        with pytest.raises(openai.APIError), stream:
            for _ in stream:
                pass
        assert tracker.flush(30)
    (event,) = read_stored_sync(tracker_options)
    assert event.usage["aicm_estimated"] == ["completion_tokens", "prompt_tokens"]
    assert event.usage["completion_tokens"] >= 2 and event.usage["prompt_tokens"] > 0


def test_sync_client_with_an_immediate_tracker(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A sync client with a blocking Tracker in immediate mode records its event."""
    from aicostmanager import Tracker

    from .conftest import read_stored_sync

    raw = openai.OpenAI(base_url=f"{fake_provider.url}/v1", api_key="sk-test", max_retries=0)
    options = {**tracker_options, "delivery_type": "immediate"}
    with Tracker(**options) as tracker, raw:
        client = OpenAIChatWrapper(raw, tracker=tracker, vendor="openai")
        with tracking_scope(customer_key="now"):
            reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert tracker.flush(30)
    (event,) = read_stored_sync(tracker_options)
    assert (event.response_id, event.customer_key) == (reply.id, "now")


async def test_azure_bills_the_model_behind_the_deployment(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """An AzureOpenAI client is billed as azure-openai with the model Azure reports."""
    raw = openai.AsyncAzureOpenAI(
        azure_endpoint=fake_provider.url, api_key="az-test", api_version="2024-10-21"
    )
    async with AsyncTracker(**tracker_options) as tracker:
        async with OpenAIChatWrapper(raw, tracker=tracker) as client:
            assert client.aicm_vendor == "azure-openai"
            reply = await client.chat.completions.create(model="prod-chat", messages=MESSAGES)
        with anyio.fail_after(30):
            assert await tracker.flush()
    (event,) = await read_stored(tracker_options)
    assert event.response_id == reply.id
    assert event.service_key == "azure-openai::gpt-4o-mini-2024-07-18"
    assert event.cost > 0
