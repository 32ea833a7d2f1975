"""The extractors give the same payload from the SDKs' objects as from the recorded JSON."""

from __future__ import annotations

import pytest

from aicostmanager._usage.anthropic import message_usage
from aicostmanager._usage.gemini import gemini_usage
from aicostmanager._usage.openai import chat_usage

from .test_usage_extract_anthropic import MESSAGE
from .test_usage_extract_gemini import RESPONSE


def test_anthropic_message_object_matches_json() -> None:
    """An anthropic Message (nested cache_creation, unknown extra field) dumps like its JSON."""
    anthropic = pytest.importorskip("anthropic")
    body = {**MESSAGE, "usage": {**MESSAGE["usage"], "future_field": {"tokens": 3}}}
    from_object = message_usage(anthropic.types.Message.model_validate(body))
    from_json = message_usage(body)
    assert from_object is not None and from_json is not None
    assert from_object == from_json
    assert from_object.usage is not None and from_object.usage["future_field"] == {"tokens": 3}


def test_gemini_response_object_matches_json() -> None:
    """A google-genai response (snake_case, enums) gives the camelCase payload of its JSON."""
    types = pytest.importorskip("google.genai.types")
    response = types.GenerateContentResponse._from_response(response=RESPONSE, kwargs={})
    from_object = gemini_usage(response)
    assert from_object == gemini_usage(RESPONSE)
    assert from_object is not None and from_object.usage is not None
    modality = from_object.usage["promptTokensDetails"][0]["modality"]
    assert type(modality) is str and modality == "TEXT"


def test_anthropic_iterations_and_server_tools_survive_the_sdk_object() -> None:
    """usage.iterations, server_tool_use and cache_creation come through the SDK's Message."""
    anthropic = pytest.importorskip("anthropic")
    extra = {
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100},
        "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 1},
        "iterations": [{"type": "compaction", "input_tokens": 5000, "output_tokens": 300}],
        "service_tier": "priority",
    }
    body = {**MESSAGE, "usage": {**MESSAGE["usage"], **extra}}
    observed = message_usage(anthropic.types.Message.model_validate(body))
    assert observed is not None and observed.usage is not None
    assert {k: observed.usage[k] for k in extra} == extra


def test_openai_objects_keep_details_extras_and_service_tier() -> None:
    """A ChatCompletion object: every usage detail, unknown fields, and service_tier."""
    openai = pytest.importorskip("openai")
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 12},
        "completion_tokens_details": {
            "reasoning_tokens": 10,
            "audio_tokens": 5,
            "accepted_prediction_tokens": 2,
            "rejected_prediction_tokens": 1,
        },
        "future_tokens": 7,
    }
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-audio-preview",
        "choices": [],
        "usage": usage,
        "service_tier": "priority",
    }
    observed = chat_usage(openai.types.chat.ChatCompletion.model_validate(body))
    assert observed is not None
    assert observed.usage == {**usage, "service_tier": "priority"}
    assert observed.usage == chat_usage(body).usage  # type: ignore[union-attr]
