"""Bedrock usage extraction on recorded Converse and InvokeModel bodies (no SDK involved)."""

from __future__ import annotations

import json
from typing import Any

from aicostmanager._usage.bedrock import (
    ConverseStreamAccumulator,
    InvokeStreamAccumulator,
    bedrock_request_id,
    converse_usage,
    invoke_body_usage,
    invoke_headers_usage,
    invoke_usage,
)

CONVERSE: dict[str, Any] = {
    "ResponseMetadata": {
        "RequestId": "5d8c1b8e-7a4f-4b1e-9a55-3b7f7a0e1c2d",
        "HTTPStatusCode": 200,
        "HTTPHeaders": {"x-amzn-requestid": "5d8c1b8e-7a4f-4b1e-9a55-3b7f7a0e1c2d"},
        "RetryAttempts": 0,
    },
    "output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}},
    "stopReason": "end_turn",
    "usage": {
        "inputTokens": 30,
        "outputTokens": 12,
        "totalTokens": 1066,
        "cacheReadInputTokens": 1024,
        "cacheWriteInputTokens": 0,
    },
    "metrics": {"latencyMs": 420},
}


def _chunk(body: dict[str, Any]) -> dict[str, Any]:
    return {"chunk": {"bytes": json.dumps(body).encode()}}


def _usage(acc: Any) -> dict[str, Any] | None:
    observed = acc.result(None)
    return None if observed is None else observed.usage


def test_converse_usage_and_request_id() -> None:
    """converse: response["usage"] as is (cache counts kept); the id is the AWS request id."""
    observed = converse_usage(CONVERSE)
    assert observed is not None
    assert observed.usage == CONVERSE["usage"]
    assert observed.usage is not CONVERSE["usage"]
    assert observed.response_id == "5d8c1b8e-7a4f-4b1e-9a55-3b7f7a0e1c2d"
    assert bedrock_request_id(CONVERSE) == "5d8c1b8e-7a4f-4b1e-9a55-3b7f7a0e1c2d"
    assert converse_usage({"output": {}}) is None
    assert bedrock_request_id({}) is None


def test_converse_stream_metadata_event() -> None:
    """converse_stream: only the metadata event carries usage; the id is the request id."""
    acc = ConverseStreamAccumulator("req-1")
    acc.feed({"messageStart": {"role": "assistant"}})
    observed = acc.result(None)
    assert observed is not None and observed.response_id == "req-1"
    # Opened, nothing read yet: the prompt is billed, so the input is estimated (one event).
    assert observed.usage == {"outputTokens": 0, "aicm_estimated": ["outputTokens"]}
    assert observed.estimate_input == "inputTokens"
    acc.feed({"contentBlockDelta": {"delta": {"text": "x"}}})
    acc.feed({"messageStop": {"stopReason": "end_turn"}})
    event = {
        "metadata": {
            "usage": {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10},
            "metrics": {"latencyMs": 99},
        }
    }
    assert not acc.feed(event)
    assert _usage(acc) == {
        "inputTokens": 7,
        "outputTokens": 3,
        "totalTokens": 10,
    }


def test_invoke_anthropic_body() -> None:
    """invoke_model, Anthropic body: Anthropic names mapped to Bedrock's, cache kept."""
    body = {
        "id": "msg_bdrk_01",
        "type": "message",
        "model": "claude-3-haiku-20240307",
        "content": [{"type": "text", "text": "Hi"}],
        "usage": {
            "input_tokens": 20,
            "output_tokens": 8,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 100,
        },
    }
    assert invoke_body_usage(body) == {
        "inputTokens": 20,
        "outputTokens": 8,
        "cacheWriteInputTokens": 5,
        "cacheReadInputTokens": 100,
    }


def test_invoke_nova_body() -> None:
    """invoke_model, Nova body: usage kept, cache counts renamed to the Converse names."""
    body = {
        "output": {"message": {"content": [{"text": "Hi"}], "role": "assistant"}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 11,
            "outputTokens": 4,
            "totalTokens": 15,
            "cacheReadInputTokenCount": 0,
            "cacheWriteInputTokenCount": 0,
        },
    }
    assert invoke_body_usage(body) == {
        "inputTokens": 11,
        "outputTokens": 4,
        "totalTokens": 15,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


def test_invoke_llama_and_titan_bodies() -> None:
    """invoke_model, Llama and Titan bodies: their own count fields mapped."""
    llama = {
        "generation": "Hi",
        "prompt_token_count": 17,
        "generation_token_count": 9,
        "stop_reason": "stop",
    }
    assert invoke_body_usage(llama) == {"inputTokens": 17, "outputTokens": 9}
    titan = {
        "inputTextTokenCount": 6,
        "results": [{"tokenCount": 4, "outputText": "Hi", "completionReason": "FINISH"}],
    }
    assert invoke_body_usage(titan) == {"inputTokens": 6, "outputTokens": 4}
    titan_embed = {"embedding": [0.1, 0.2], "inputTextTokenCount": 5}
    assert invoke_body_usage(titan_embed) == {"inputTokens": 5}
    assert invoke_body_usage({"completion": "no usage here"}) is None


def test_invoke_headers_usage() -> None:
    """The x-amzn-bedrock-*-token-count headers give usage for any model."""
    headers = {
        "X-Amzn-Bedrock-Input-Token-Count": "12",
        "x-amzn-bedrock-output-token-count": "3",
        "content-type": "application/json",
    }
    assert invoke_headers_usage(headers) == {"inputTokens": 12, "outputTokens": 3}
    assert invoke_headers_usage({"content-type": "application/json"}) is None


def test_invoke_usage_prefers_body_then_headers() -> None:
    """invoke_usage reads the body first and falls back on the token-count headers."""
    headers = {"x-amzn-bedrock-input-token-count": "5", "x-amzn-bedrock-output-token-count": "1"}
    from_body = invoke_usage({"prompt_token_count": 9, "generation_token_count": 2}, headers, "r")
    assert from_body is not None and from_body.usage == {"inputTokens": 9, "outputTokens": 2}
    assert from_body.response_id == "r"
    from_headers = invoke_usage({"images": []}, headers, "r")
    assert from_headers is not None
    assert from_headers.usage == {"inputTokens": 5, "outputTokens": 1}
    assert invoke_usage(b"not json", None, "r") is None


def test_invoke_stream_anthropic_chunks_final_metrics_win() -> None:
    """invoke stream, Anthropic: message_start then message_delta, final invocationMetrics win."""
    acc = InvokeStreamAccumulator()
    acc.feed(
        _chunk(
            {
                "type": "message_start",
                "message": {"id": "msg_1", "usage": {"input_tokens": 14, "output_tokens": 1}},
            }
        )
    )
    assert _usage(acc) == {"inputTokens": 14, "outputTokens": 1}
    acc.feed(_chunk({"type": "content_block_delta", "delta": {"text": "hello"}}))
    acc.feed(_chunk({"type": "message_delta", "usage": {"output_tokens": 22}}))
    assert _usage(acc) == {"inputTokens": 14, "outputTokens": 22}
    acc.feed(
        _chunk(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": 14,
                    "outputTokenCount": 22,
                    "invocationLatency": 800,
                    "firstByteLatency": 200,
                },
            }
        )
    )
    assert _usage(acc) == {"inputTokens": 14, "outputTokens": 22}


def test_invoke_stream_llama_titan_nova_chunks() -> None:
    """invoke stream, Llama/Titan/Nova: their streamed counts are merged per family."""
    llama = InvokeStreamAccumulator()
    llama.feed(_chunk({"generation": "a", "prompt_token_count": 10, "generation_token_count": 1}))
    llama.feed(_chunk({"generation": "b", "prompt_token_count": None, "generation_token_count": 2}))
    assert _usage(llama) == {"inputTokens": 10, "outputTokens": 2}

    titan = InvokeStreamAccumulator()
    titan.feed(_chunk({"outputText": "x", "index": 0, "totalOutputTextTokenCount": 3}))
    titan.feed(
        _chunk(
            {
                "outputText": "",
                "inputTextTokenCount": 8,
                "totalOutputTextTokenCount": 5,
                "completionReason": "FINISH",
            }
        )
    )
    assert _usage(titan) == {"inputTokens": 8, "outputTokens": 5}

    nova = InvokeStreamAccumulator()
    nova.feed(_chunk({"contentBlockDelta": {"delta": {"text": "x"}}}))
    assert _usage(nova) == {
        "outputTokens": 1,
        "aicm_estimated": ["outputTokens"],
    }  # until the metadata chunk
    nova.feed(_chunk({"metadata": {"usage": {"inputTokens": 4, "outputTokens": 6}}}))
    assert _usage(nova) == {"inputTokens": 4, "outputTokens": 6}


def test_invoke_stream_ignores_other_events_and_bad_json() -> None:
    """Non-chunk events and undecodable chunk bytes are ignored, never raised."""
    acc = InvokeStreamAccumulator()
    acc.feed({"internalServerException": {"message": "x"}})
    assert _usage(acc) == {"outputTokens": 0, "aicm_estimated": ["outputTokens"]}
    acc.feed({"chunk": {"bytes": b'{"usage": not json'}})
    assert _usage(acc) == {"outputTokens": 1, "aicm_estimated": ["outputTokens"]}


def test_abandoned_streams_count_what_was_seen() -> None:
    """Streams abandoned before any usage estimate their output (never below the deltas seen)."""
    converse = ConverseStreamAccumulator("r")
    converse.feed({"messageStart": {"role": "assistant"}})
    converse.feed({"contentBlockDelta": {"delta": {"text": "a"}}})
    converse.feed({"contentBlockDelta": {"delta": {"text": "b"}}})
    assert _usage(converse) == {"outputTokens": 2, "aicm_estimated": ["outputTokens"]}
    assert converse.result(None).estimate_input == "inputTokens"  # type: ignore[union-attr]
    invoke = InvokeStreamAccumulator("r")
    invoke.feed(_chunk({"contentBlockDelta": {"delta": {"text": "x"}}}))
    assert _usage(invoke) == {"outputTokens": 1, "aicm_estimated": ["outputTokens"]}
    assert invoke.result(None).estimate_input == "inputTokens"  # type: ignore[union-attr]


def test_token_count_reads_ints_whole_floats_and_digit_strings_only() -> None:
    """``token_count`` (shared by the Bedrock and GenAI extractors) rejects what is no count."""
    from aicostmanager._usage import token_count

    assert [token_count(v) for v in (7, 7.0, "7", True, 7.5, "7.5", "-7", None, [])] == [
        7,
        7,
        7,
        None,
        None,
        None,
        None,
        None,
        None,
    ]
    usage = invoke_body_usage({"inputTextTokenCount": "12", "results": []})
    assert usage is not None and usage["inputTokens"] == 12
