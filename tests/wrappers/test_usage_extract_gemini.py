"""Gemini usage extraction on recorded generateContent / embed bodies and the SDK's objects."""

from __future__ import annotations

from typing import Any

from aicostmanager._usage._common import ESTIMATED
from aicostmanager._usage.gemini import GeminiStreamAccumulator, gemini_usage

RESPONSE: dict[str, Any] = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Hello"}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 2100,
        "candidatesTokenCount": 40,
        "totalTokenCount": 2290,
        "cachedContentTokenCount": 2048,
        "thoughtsTokenCount": 150,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2100}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2048}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mAitaLmkHPPlz7IPvtfUqQ4",
}

# streamGenerateContent?alt=sse: every chunk may carry usageMetadata; the last is complete.
STREAM: list[dict[str, Any]] = [
    {
        "candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "stream-resp-1",
    },
    {
        "candidates": [{"content": {"parts": [{"text": "lo"}], "role": "model"}, "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "stream-resp-1",
    },
    {
        "candidates": [
            {
                "content": {"parts": [{"text": "!"}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 7,
            "totalTokenCount": 36,
            "thoughtsTokenCount": 20,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "stream-resp-1",
    },
]


def _usage(response: Any) -> dict[str, Any] | None:
    observed = gemini_usage(response)
    return None if observed is None else observed.usage


def _stream_usage(acc: GeminiStreamAccumulator) -> dict[str, Any] | None:
    observed = acc.result(None)
    return None if observed is None else observed.usage


def test_response_usage_uses_camel_case_and_keeps_thoughts_and_cache() -> None:
    """usageMetadata keeps camelCase names, thoughts and cached counts; details normalised."""
    assert _usage(RESPONSE) == {
        "promptTokenCount": 2100,
        "candidatesTokenCount": 40,
        "totalTokenCount": 2290,
        "cachedContentTokenCount": 2048,
        "thoughtsTokenCount": 150,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2100}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2048}],
    }
    observed = gemini_usage(RESPONSE)
    assert observed is not None
    assert observed.response_id == "mAitaLmkHPPlz7IPvtfUqQ4"
    assert observed.model == "gemini-2.5-flash"


def test_snake_case_usage_metadata_becomes_camel_case() -> None:
    """The SDK's snake_case usage_metadata maps to the same camelCase payload, nulls dropped."""
    body = {
        "usage_metadata": {
            "prompt_token_count": 5,
            "candidates_token_count": 2,
            "total_token_count": 7,
            "tool_use_prompt_token_count": None,
            "candidates_tokens_details": [{"modality": "TEXT", "token_count": 2}],
        },
        "response_id": "r1",
    }
    assert _usage(body) == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 2,
        "totalTokenCount": 7,
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 2}],
    }
    observed = gemini_usage(body)
    assert observed is not None and observed.response_id == "r1"


def test_stream_takes_the_final_chunk_not_the_first() -> None:
    """Streaming usage is the final chunk's complete counts, not the first chunk's partial ones."""
    acc = GeminiStreamAccumulator()
    for chunk in STREAM:
        acc.feed(chunk)
    observed = acc.result(None)
    assert observed is not None
    assert observed.response_id == "stream-resp-1"
    assert observed.model == "gemini-2.5-flash"
    assert _stream_usage(acc) == {
        "promptTokenCount": 9,
        "candidatesTokenCount": 7,
        "totalTokenCount": 36,
        "thoughtsTokenCount": 20,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
    }


def test_stream_broken_early_reports_what_was_known() -> None:
    """A stream abandoned after its first chunk keeps that chunk's exact prompt count."""
    acc = GeminiStreamAccumulator()
    assert _stream_usage(acc) is None
    acc.feed(STREAM[0])
    assert _stream_usage(acc) == {
        "promptTokenCount": 9,
        "totalTokenCount": 9,
        "candidatesTokenCount": 1,
        ESTIMATED: ["candidatesTokenCount"],
    }
    observed = acc.result(None)
    assert observed is not None and observed.estimate_input is None


def test_stream_without_its_finish_chunk_is_estimated_not_lowered() -> None:
    """A running usage (no finishReason yet) is marked estimated; reported counts never drop."""
    acc = GeminiStreamAccumulator()
    acc.feed(STREAM[0])
    acc.feed(STREAM[1])
    usage = _stream_usage(acc)
    assert usage is not None
    assert usage[ESTIMATED] == ["candidatesTokenCount"]
    assert usage["candidatesTokenCount"] == 3  # the provider's running count beats "Hello"
    assert usage["promptTokenCount"] == 9


def test_stream_without_any_usage_estimates_the_input_too() -> None:
    """Text chunks without usageMetadata: output from the text, input left to the request."""
    acc = GeminiStreamAccumulator()
    acc.feed({"candidates": [{"content": {"parts": [{"text": "x" * 40}]}}], "responseId": "r"})
    observed = acc.result(None)
    assert observed is not None and observed.usage is not None
    assert observed.usage["candidatesTokenCount"] >= 1
    assert observed.usage[ESTIMATED] == ["candidatesTokenCount"]
    assert observed.estimate_input == "promptTokenCount"


def test_blocked_prompt_stream_is_final_not_estimated() -> None:
    """A stream ended by a blocked prompt (no candidate) keeps its usage, not estimated."""
    acc = GeminiStreamAccumulator()
    acc.feed(
        {
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
            "responseId": "blocked-1",
        }
    )
    assert _stream_usage(acc) == {"promptTokenCount": 12, "totalTokenCount": 12}


def test_sdk_usage_object_is_sent_as_the_provider_named_it() -> None:
    """The SDK's parsed usage goes out in REST names: tokenCount, tool-use and cache details."""
    from google.genai import types

    metadata = {
        "promptTokenCount": 1300,
        "candidatesTokenCount": 1292,
        "totalTokenCount": 2632,
        "cachedContentTokenCount": 1024,
        "toolUsePromptTokenCount": 40,
        "promptTokensDetails": [
            {"modality": "AUDIO", "tokenCount": 300},
            {"modality": "VIDEO", "tokenCount": 1000},
        ],
        "cacheTokensDetails": [{"modality": "VIDEO", "tokenCount": 1024}],
        "candidatesTokensDetails": [
            {"modality": "TEXT", "tokenCount": 2},
            {"modality": "IMAGE", "tokenCount": 1290},
        ],
        "toolUsePromptTokensDetails": [{"modality": "TEXT", "tokenCount": 40}],
        "trafficType": "ON_DEMAND",
    }
    response = types.GenerateContentResponse._from_response(
        response={"usageMetadata": metadata, "responseId": "sdk-1"}, kwargs={}
    )
    observed = gemini_usage(response)
    assert observed is not None
    assert observed.usage == metadata
    assert observed.response_id == "sdk-1"


def test_embed_usage_metadata() -> None:
    """An embedContent/batchEmbedContents body's usageMetadata is extracted too."""
    body = {
        "embeddings": [{"values": [0.1, 0.2]}],
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
    }
    assert _usage(body) == {"promptTokenCount": 8, "totalTokenCount": 8}
    assert _usage({"embeddings": [{"values": [0.1]}]}) is None
    observed = gemini_usage(body)
    assert observed is not None and observed.response_id is None


def test_sdk_enums_become_plain_strings() -> None:
    """The SDK's str enums (modality, traffic type) are sent as their plain values."""
    from enum import Enum

    class Modality(str, Enum):
        TEXT = "TEXT"

    body = {
        "usage_metadata": {
            "prompt_token_count": 3,
            "traffic_type": Modality.TEXT,
            "prompt_tokens_details": [{"modality": Modality.TEXT, "token_count": 3}],
        }
    }
    usage = _usage(body)
    assert usage == {
        "promptTokenCount": 3,
        "trafficType": "TEXT",
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}],
    }
    assert type(usage["trafficType"]) is str
    assert type(usage["promptTokensDetails"][0]["modality"]) is str
