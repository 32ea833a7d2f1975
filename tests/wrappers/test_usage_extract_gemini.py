"""Gemini usage extraction on recorded generateContent / embed bodies (no SDK involved)."""

from __future__ import annotations

from typing import Any

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
        "promptTokensDetails": [{"modality": "TEXT", "token_count": 2100}],
        "cacheTokensDetails": [{"modality": "TEXT", "token_count": 2048}],
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
        "candidatesTokensDetails": [{"modality": "TEXT", "token_count": 2}],
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
        "promptTokensDetails": [{"modality": "TEXT", "token_count": 9}],
    }


def test_stream_broken_early_reports_what_was_known() -> None:
    """A stream abandoned after its first chunk reports that chunk's prompt count."""
    acc = GeminiStreamAccumulator()
    assert _stream_usage(acc) is None
    acc.feed(STREAM[0])
    assert _stream_usage(acc) == {"promptTokenCount": 9, "totalTokenCount": 9}


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
        "promptTokensDetails": [{"modality": "TEXT", "token_count": 3}],
    }
    assert type(usage["trafficType"]) is str
    assert type(usage["promptTokensDetails"][0]["modality"]) is str
