"""Fake Anthropic Messages API: JSON and SSE in the real wire format, fixed token counts.

Routes (mounted by the shared fake provider server): ``POST /v1/messages`` (plain, and SSE with
``stream: true``; also beta messages, which add ``?beta=true``), ``POST
/v1/messages/count_tokens``, ``GET /v1/models``. A model name containing ``rate-limit`` answers
429, ``overloaded`` answers 529, ``bad-request`` answers 400, each with Anthropic's error body.
A stream requested with the header ``x-fake-fail-after: N`` sends an ``event: error``
(``overloaded_error``) after N text deltas, as the API does when it fails mid-stream.
A model containing ``full-usage`` reports the usage fields that newer features add, in the
API's shapes: ``cache_creation`` by TTL, ``server_tool_use`` (web search / fetch requests)
and ``iterations`` (a compaction step, then the message), also on ``message_delta``; a model
containing ``delta-usage`` reports them on ``message_delta`` only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = (
    "CACHE_READ",
    "CACHE_WRITE",
    "EXTRA_USAGE",
    "INPUT_TOKENS",
    "OUTPUT_TOKENS",
    "PIECES",
    "router",
)

INPUT_TOKENS = 25
CACHE_READ = 1024
CACHE_WRITE = 16
PIECES = 12  # text deltas per streamed message
OUTPUT_TOKENS = PIECES  # one token per delta, streamed or not

router = APIRouter()

EXTRA_USAGE: dict[str, Any] = {
    "cache_creation": {"ephemeral_5m_input_tokens": 6, "ephemeral_1h_input_tokens": 10},
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
    "iterations": [
        {"type": "compaction", "input_tokens": 5200, "output_tokens": 310},
        {"type": "message", "input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
    ],
}
"""What a ``full-usage`` model adds to ``usage`` (and to ``message_delta``'s usage); a
``delta-usage`` model adds it to ``message_delta``'s usage only, as the API does for
``iterations``."""

_ERRORS = (
    ("rate-limit", 429, "rate_limit_error", "Number of requests has exceeded your rate limit"),
    ("overloaded", 529, "overloaded_error", "Overloaded"),
    ("bad-request", 400, "invalid_request_error", "messages: field required"),
)


def _error(model: str) -> Response | None:
    for marker, status, kind, message in _ERRORS:
        if marker in model:
            return JSONResponse(
                {"type": "error", "error": {"type": kind, "message": message}},
                status_code=status,
                headers={"request-id": f"req_{uuid.uuid4().hex}", "x-should-retry": "false"},
            )
    return None


def _usage(output_tokens: int, model: str = "") -> dict[str, Any]:
    usage = {
        "input_tokens": INPUT_TOKENS,
        "cache_creation_input_tokens": CACHE_WRITE,
        "cache_read_input_tokens": CACHE_READ,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    return {**usage, **EXTRA_USAGE} if "full-usage" in model else usage


def _message(model: str, content: list[dict[str, Any]], output_tokens: int) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None if not content else "end_turn",
        "stop_sequence": None,
        "usage": _usage(output_tokens, model),
    }


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def _stream(model: str, fail_after: int | None = None) -> Iterator[bytes]:
    start = _message(model, [], 1)
    yield _sse("message_start", {"type": "message_start", "message": start})
    yield _sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield _sse("ping", {"type": "ping"})
    for i in range(PIECES):
        if fail_after is not None and i == fail_after:
            error = {"type": "overloaded_error", "message": "Overloaded"}
            yield _sse("error", {"type": "error", "error": error})
            return
        delta = {"type": "text_delta", "text": f"w{i} "}
        yield _sse(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            # Cumulative, input and cache counts included, as the API reports them today.
            "usage": {
                **{k: v for k, v in _usage(OUTPUT_TOKENS, model).items() if k != "service_tier"},
                **(EXTRA_USAGE if "delta-usage" in model else {}),
            },
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


@router.post("/v1/messages")
async def messages(request: Request) -> Response:
    """Messages API: a message, or its SSE event stream when ``stream`` is true."""
    body = await request.json()
    model = str(body.get("model", ""))
    error = _error(model)
    if error is not None:
        return error
    headers = {"request-id": f"req_{uuid.uuid4().hex}"}
    if body.get("stream"):
        fail = request.headers.get("x-fake-fail-after")
        stream = _stream(model, int(fail) if fail else None)
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    text = "".join(f"w{i} " for i in range(PIECES))
    return JSONResponse(
        _message(model, [{"type": "text", "text": text}], OUTPUT_TOKENS), headers=headers
    )


@router.post("/v1/messages/count_tokens")
async def count_tokens(request: Request) -> Response:
    """Token counting (free, never tracked)."""
    body = await request.json()
    error = _error(str(body.get("model", "")))
    return error or JSONResponse({"input_tokens": INPUT_TOKENS})


@router.get("/v1/models")
async def models() -> Response:
    """The model list (never tracked)."""
    data = [
        {
            "type": "model",
            "id": model,
            "display_name": model,
            "created_at": "2025-05-14T00:00:00Z",
        }
        for model in ("claude-sonnet-4", "claude-3-5-haiku-latest")
    ]
    return JSONResponse(
        {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
    )
