"""Wrappers send the complete usage the provider returned (real SDKs, fake providers, server)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as genai_types

from aicostmanager import AnthropicWrapper, GeminiWrapper, OpenAIChatWrapper, Tracker

from .conftest import read_stored_sync
from .fake_anthropic import EXTRA_USAGE
from .fake_gemini import FULL_USAGE_EXTRA
from .fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS
from .fake_provider import FakeProvider

MESSAGES = [{"role": "user", "content": "What is the answer?"}]


def _openai(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0)


def test_openai_service_tier_is_sent_with_the_usage(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """The response's service_tier (flex) rides in the payload, plain and streamed."""
    with Tracker(**tracker_options) as tracker:
        client = OpenAIChatWrapper(_openai(fake_provider), tracker=tracker, vendor="openai")
        client.chat.completions.create(model="gpt-5-mini-flex", messages=MESSAGES)
        list(
            client.chat.completions.create(model="gpt-5-mini-flex", messages=MESSAGES, stream=True)
        )
        client.responses.create(model="gpt-5-mini-flex", input="hi")
        assert tracker.flush(30)
    stored = read_stored_sync(tracker_options)
    assert len(stored) == 3
    for event in stored:
        assert event.usage["service_tier"] == "flex"
        assert "aicm_estimated" not in event.usage
    chat = [e for e in stored if "prompt_tokens" in e.usage]
    assert len(chat) == 2
    for event in chat:
        assert event.usage["completion_tokens_details"]["accepted_prediction_tokens"] == 0
        assert event.usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}


def test_groq_stream_usage_comes_from_x_groq(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """An OpenAI client on Groq: the exact usage of x_groq.usage, not an estimate."""
    with Tracker(**tracker_options) as tracker:
        client = OpenAIChatWrapper(_openai(fake_provider), tracker=tracker, vendor="groq")
        stream = client.chat.completions.create(
            model="llama-3.1-8b-instant",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-fake-style": "groq"},
        )
        chunks = list(stream)
        assert tracker.flush(30)
    assert chunks and all(chunk.choices for chunk in chunks)  # nothing hidden from the caller
    (event,) = read_stored_sync(tracker_options)
    assert event.service_key == "groq::llama-3.1-8b-instant"
    assert event.usage["prompt_tokens"] == PROMPT_TOKENS
    assert event.usage["completion_tokens"] == COMPLETION_TOKENS
    assert "aicm_estimated" not in event.usage


def test_anthropic_iterations_server_tools_and_cache_ttls_are_sent(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """usage.iterations, server_tool_use and cache_creation reach the server, plain and streamed."""
    raw = anthropic.Anthropic(base_url=fake_provider.url, api_key="sk-ant", max_retries=0)
    model = "claude-sonnet-4-5-full-usage"
    with Tracker(**tracker_options) as tracker:
        client = AnthropicWrapper(raw, tracker=tracker)
        client.messages.create(model=model, max_tokens=64, messages=MESSAGES)
        stream = client.messages.create(model=model, max_tokens=64, messages=MESSAGES, stream=True)
        list(stream)
        assert tracker.flush(30)
    stored = read_stored_sync(tracker_options)
    assert len(stored) == 2
    for event in stored:
        assert event.usage["iterations"] == EXTRA_USAGE["iterations"]
        assert event.usage["server_tool_use"] == EXTRA_USAGE["server_tool_use"]
        assert event.usage["service_tier"] == "standard"
    plain = [e for e in stored if "cache_creation" in e.usage]
    assert plain and plain[0].usage["cache_creation"] == EXTRA_USAGE["cache_creation"]


def test_gemini_modality_details_and_tool_use_counts_are_sent(
    fake_provider: FakeProvider, tracker_options: dict[str, Any]
) -> None:
    """Gemini's per-modality details and toolUsePromptTokenCount are sent as returned."""
    raw = genai.Client(
        api_key="g-test", http_options=genai_types.HttpOptions(base_url=fake_provider.url)
    )
    with Tracker(**tracker_options) as tracker:
        client = GeminiWrapper(raw, tracker=tracker)
        client.models.generate_content(model="gemini-2.5-flash-full-usage", contents="Draw")
        assert tracker.flush(30)
    (event,) = read_stored_sync(tracker_options)
    assert event.usage["toolUsePromptTokenCount"] == 40
    assert event.usage["candidatesTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": 2},
        {"modality": "IMAGE", "tokenCount": 1290},
    ]
    assert event.usage["toolUsePromptTokensDetails"] == [{"modality": "TEXT", "tokenCount": 40}]
    assert set(FULL_USAGE_EXTRA) <= set(event.usage)
