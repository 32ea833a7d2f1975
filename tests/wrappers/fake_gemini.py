"""Fake Gemini API (generativelanguage v1beta): JSON and SSE in the real wire format.

Routes (mounted by the shared fake provider server), under ``/v1beta/models/`` and
``/v1/models/`` (the API version the SDK picks):
``{model}:generateContent``, ``{model}:streamGenerateContent?alt=sse`` (every chunk carries
partial ``usageMetadata``; only the last, finish chunk is complete, as the real API does),
``{model}:embedContent`` and ``{model}:batchEmbedContents``. A model name containing
``rate-limit`` answers 429 ``RESOURCE_EXHAUSTED``, ``bad-request`` answers 400. A model
containing ``full-usage`` adds, on its final usage, the tool-use prompt count and the
per-modality details of the candidates (an image output) and of the tool-use prompt.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = (
    "CACHED_TOKENS",
    "CANDIDATES_TOKENS",
    "EMBED_TOKENS",
    "PIECES",
    "PROMPT_TOKENS",
    "THOUGHTS_TOKENS",
    "router",
)

PROMPT_TOKENS = 40
CACHED_TOKENS = 32
THOUGHTS_TOKENS = 20
PIECES = 8  # streamed chunks; one candidate token each
CANDIDATES_TOKENS = PIECES
EMBED_TOKENS = 6  # per embedded content

router = APIRouter()

_ERRORS = (
    ("rate-limit", 429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    ("bad-request", 400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
)


def _error(model: str) -> Response | None:
    for marker, status, kind, message in _ERRORS:
        if marker in model:
            return JSONResponse(
                {"error": {"code": status, "message": message, "status": kind}},
                status_code=status,
            )
    return None


FULL_USAGE_EXTRA: dict[str, Any] = {
    "toolUsePromptTokenCount": 40,
    "toolUsePromptTokensDetails": [{"modality": "TEXT", "tokenCount": 40}],
    "candidatesTokensDetails": [
        {"modality": "TEXT", "tokenCount": 2},
        {"modality": "IMAGE", "tokenCount": 1290},
    ],
}


def _usage(candidates: int | None, final: bool, model: str = "") -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": PROMPT_TOKENS,
        "cachedContentTokenCount": CACHED_TOKENS,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": CACHED_TOKENS}],
    }
    total = PROMPT_TOKENS
    if candidates is not None:
        usage["candidatesTokenCount"] = candidates
        total += candidates
    if final:
        usage["thoughtsTokenCount"] = THOUGHTS_TOKENS
        total += THOUGHTS_TOKENS
    usage["totalTokenCount"] = total
    if final and "full-usage" in model:
        usage.update(FULL_USAGE_EXTRA)
    return usage


def _response(
    model: str, response_id: str, text: str, usage: dict[str, Any], finish: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": response_id,
    }


def _stream(model: str) -> Iterator[bytes]:
    response_id = uuid.uuid4().hex
    for i in range(PIECES):
        final = i == PIECES - 1
        # Early chunks report the prompt only; the finish chunk has every count.
        usage = _usage(CANDIDATES_TOKENS if final else None, final, model)
        chunk = _response(model, response_id, f"w{i} ", usage, final)
        yield f"data: {json.dumps(chunk)}\r\n\r\n".encode()


def _split(target: str) -> tuple[str, str]:
    model, _, action = target.rpartition(":")
    return model.removeprefix("models/"), action


@router.post("/v1beta/models/{target:path}")
@router.post("/v1/models/{target:path}")
async def models_action(target: str, request: Request) -> Response:
    """``models/{model}:{action}`` for the generate and embed actions."""
    model, action = _split(target)
    error = _error(model)
    if error is not None:
        return error
    body = await request.json()
    if action == "generateContent":
        text = "".join(f"w{i} " for i in range(PIECES))
        usage = _usage(CANDIDATES_TOKENS, True, model)
        return JSONResponse(_response(model, uuid.uuid4().hex, text, usage, True))
    if action == "streamGenerateContent":
        return StreamingResponse(_stream(model), media_type="text/event-stream")
    if action in ("embedContent", "batchEmbedContents"):
        count = len(body.get("requests", [])) if action == "batchEmbedContents" else 1
        tokens = EMBED_TOKENS * count
        embeddings = [{"values": [0.25, -0.5, 0.125]} for _ in range(count)]
        usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        if action == "embedContent":
            return JSONResponse({"embedding": embeddings[0], "usageMetadata": usage})
        return JSONResponse({"embeddings": embeddings, "usageMetadata": usage})
    return JSONResponse(
        {"error": {"code": 404, "message": f"unknown action {action}", "status": "NOT_FOUND"}},
        status_code=404,
    )
