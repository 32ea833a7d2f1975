"""The ``messages.stream()`` helper sends the same complete usage as ``stream=True``.

The SDK's helper snapshot keeps only the usage fields its version knows; a field the API
reports on ``message_delta`` alone (``iterations``) must still reach the stored event, however
the helper is consumed (events, ``text_stream``, ``get_final_message()``), sync or async, and
under ``beta.messages``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import anthropic
import anyio
import pytest

from aicostmanager import AnthropicWrapper, AsyncTracker, Tracker

from .conftest import read_stored, read_stored_sync
from .fake_anthropic import EXTRA_USAGE, INPUT_TOKENS, OUTPUT_TOKENS
from .fake_provider import FakeProvider

MODEL = "claude-sonnet-4-delta-usage"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]
KW: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES}


def final_message(client: Any) -> str:
    """Sync helper read through get_final_message()."""
    with client.messages.stream(**KW) as stream:
        return str(stream.get_final_message().id)


def text_stream(client: Any) -> str:
    """Sync helper read through text_stream."""
    with client.messages.stream(**KW) as stream:
        for _ in stream.text_stream:
            pass
        return str(stream.current_message_snapshot.id)


def beta_events(client: Any) -> str:
    """Sync beta helper iterated as events."""
    with client.beta.messages.stream(**KW) as stream:
        return str([e for e in stream if e.type == "message_start"][0].message.id)


async def afinal_message(client: Any) -> str:
    """Async helper read through get_final_message()."""
    async with client.messages.stream(**KW) as stream:
        return str((await stream.get_final_message()).id)


async def atext_stream(client: Any) -> str:
    """Async helper read through text_stream."""
    async with client.messages.stream(**KW) as stream:
        async for _ in stream.text_stream:
            pass
        return str(stream.current_message_snapshot.id)


async def abeta_final(client: Any) -> str:
    """Async beta helper read through get_final_message()."""
    async with client.beta.messages.stream(**KW) as stream:
        return str((await stream.get_final_message()).id)


def _client(fake: FakeProvider, sync: bool = True) -> Any:
    cls = anthropic.Anthropic if sync else anthropic.AsyncAnthropic
    return cls(base_url=fake.url, api_key="sk-ant-test", max_retries=0)


SYNC = [final_message, text_stream, beta_events]
ASYNC = [afinal_message, atext_stream, abeta_final]


def _check(stored: list[Any], rid: str) -> None:
    assert len(stored) == 1, stored
    event = stored[0]
    assert event.response_id == rid
    assert event.usage["input_tokens"] == INPUT_TOKENS
    assert event.usage["output_tokens"] == OUTPUT_TOKENS
    assert event.usage["iterations"] == EXTRA_USAGE["iterations"]
    assert event.usage["server_tool_use"] == EXTRA_USAGE["server_tool_use"]
    assert "aicm_estimated" not in event.usage


@pytest.mark.parametrize("scenario", SYNC, ids=[s.__name__ for s in SYNC])
def test_sync_helper_keeps_delta_only_usage(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    scenario: Callable[[Any], str],
) -> None:
    """A sync helper stores the usage fields only message_delta carries."""
    with Tracker(**tracker_options) as tracker, _client(fake_provider) as raw:
        rid = scenario(AnthropicWrapper(raw, tracker=tracker))
        assert tracker.flush(30)
    _check(read_stored_sync(tracker_options), rid)


@pytest.mark.parametrize("scenario", ASYNC, ids=[s.__name__ for s in ASYNC])
async def test_async_helper_keeps_delta_only_usage(
    fake_provider: FakeProvider,
    tracker_options: dict[str, Any],
    scenario: Callable[[Any], Any],
) -> None:
    """An async helper stores the usage fields only message_delta carries."""
    async with AsyncTracker(**tracker_options) as tracker, _client(fake_provider, False) as raw:
        rid = await scenario(AnthropicWrapper(raw, tracker=tracker))
        with anyio.fail_after(30):
            assert await tracker.flush()
    _check(await read_stored(tracker_options), rid)


def test_helper_never_entered_records_nothing(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """A helper made but never entered sent no request: nothing is stored."""
    with Tracker(**tracker_options) as tracker, _client(fake_provider) as raw:
        AnthropicWrapper(raw, tracker=tracker).messages.stream(**KW)
        gc.collect()
        assert tracker.flush(30)
    assert read_stored_sync(tracker_options) == []
