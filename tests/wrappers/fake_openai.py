"""Fake OpenAI-compatible API: JSON and SSE in the real wire format, fixed token counts.

Routes (mounted by ``fake_provider``): ``POST /v1/chat/completions`` (also Azure's
``/openai/deployments/{name}/chat/completions``), ``POST /v1/completions``
(both plain and SSE with ``stream: true``), ``POST /v1/responses`` (plain and SSE),
``POST /v1/embeddings``. OpenAI clients use ``<root>/v1`` as ``base_url``; the Fireworks SDK
uses ``<root>`` (it adds ``/v1`` itself).

Behaviour: a chat stream sends its usage-only chunk (empty ``choices``) only when the request
asked with ``stream_options.include_usage``, as OpenAI does; a model under
``accounts/fireworks/`` streams Fireworks-style (usage on the last content chunk, always). A
model containing ``rate-limit`` answers 429 with ``retry-after``; ``bad-request`` answers 400;
``server-error`` 500; each with OpenAI's error body. A chat stream requested with the header
``x-fake-fail-after: N`` sends N chunks, then an SSE error event (the SDK raises mid-stream).
With ``response_format`` / ``text.format`` of type ``json_schema`` the text is the JSON
``{"answer": "forty-two"}``.

Wire details the wrappers must pass on: responses and chunks name their ``service_tier``
(``flex`` for a model containing ``flex``, else ``default``). A chat model containing
``no-stream-options`` answers 400 naming ``stream_options`` when the request has it (older
Azure API versions, some OpenAI-compatible servers); ``no-usage`` answers without ``usage``.
A chat stream requested with ``x-fake-style: groq`` ends Groq's way: the last chunk carries
the usage in ``x_groq.usage`` (never in ``usage``), whatever ``stream_options`` says.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = ("COMPLETION_TOKENS", "PIECES", "PROMPT_TOKENS", "REQUESTS", "router")

PROMPT_TOKENS = 19
PIECES = 8  # content chunks / text deltas per streamed answer
COMPLETION_TOKENS = PIECES
JSON_ANSWER = '{"answer": "forty-two"}'

router = APIRouter()

AZURE_DEPLOYMENTS = {"prod-chat": "gpt-4o-mini-2024-07-18"}
"""Azure deployment name -> the model it serves (what Azure reports in ``model``)."""

REQUESTS: Counter[str] = Counter()
"""Requests received per model (tests use a unique model name to count theirs)."""

_ERRORS = (
    ("rate-limit", 429, "rate_limit_exceeded", "Rate limit reached for requests"),
    ("bad-request", 400, "invalid_request_error", "Invalid value for 'messages'."),
    ("server-error", 500, "server_error", "The server had an error processing your request."),
)


def _error(model: str) -> Response | None:
    REQUESTS[model] += 1
    for marker, status, code, message in _ERRORS:
        if marker in model:
            headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
            if status == 429:
                headers["retry-after"] = "0"
            body = {"error": {"message": message, "type": code, "param": None, "code": code}}
            return JSONResponse(body, status_code=status, headers=headers)
    return None


def _chat_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _responses_usage() -> dict[str, Any]:
    return {
        "input_tokens": PROMPT_TOKENS,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": COMPLETION_TOKENS,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def _pieces(structured: bool) -> list[str]:
    text = JSON_ANSWER if structured else "The answer is forty-two, as always. "
    size = -(-len(text) // PIECES)
    parts = [text[i * size : (i + 1) * size] for i in range(PIECES)]
    return parts


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def _stream(chunks: Iterator[bytes]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream")


# ---- chat completions ----------------------------------------------------------------------


def _wants_json(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") == "json_schema"


@router.post("/openai/deployments/{deployment}/chat/completions")
async def azure_chat_completions(deployment: str, request: Request) -> Response:
    """Azure OpenAI: the deployment is in the path; the answer names the model behind it."""
    return await _chat(request, AZURE_DEPLOYMENTS.get(deployment, deployment))


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """Chat completion: JSON, or SSE chunks with ``stream: true``."""
    return await _chat(request, None)


def _tier(model: str) -> str:
    return "flex" if "flex" in model else "default"


def _refuses_stream_options(model: str, body: dict[str, Any]) -> Response | None:
    if "no-stream-options" in model and "stream_options" in body:
        message = "Unrecognized request argument supplied: stream_options"
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
        return JSONResponse({"error": error}, status_code=400)
    return None


async def _chat(request: Request, served_model: str | None) -> Response:
    body = await request.json()
    model = served_model or str(body.get("model", ""))
    failed = _error(model) or _refuses_stream_options(model, body)
    if failed is not None:
        return failed
    rid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    structured = _wants_json(body)
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "".join(_pieces(structured)),
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                **({} if "no-usage" in model else {"usage": _chat_usage()}),
                "service_tier": _tier(model),
                "system_fingerprint": "fp_fake",
            }
        )
    include = bool((body.get("stream_options") or {}).get("include_usage"))
    fireworks = model.startswith("accounts/fireworks/")
    groq = request.headers.get("x-fake-style") == "groq"
    chunks = _chat_chunks(rid, created, model, structured, include and not groq, fireworks, groq)
    fail_after = request.headers.get("x-fake-fail-after")
    if fail_after is not None:
        chunks = _failing(chunks, int(fail_after))
    return _stream(chunks)


def _failing(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """The first ``count`` chunks, then an SSE error event, as OpenAI sends mid-stream."""
    for index, chunk in enumerate(chunks):
        if index == count:
            error = {"message": "The server had an error while processing your request."}
            yield _sse({"error": {**error, "type": "server_error", "code": None}})
            return
        yield chunk


def _chat_chunks(
    rid: str,
    created: int,
    model: str,
    structured: bool,
    include: bool,
    fireworks: bool,
    groq: bool = False,
) -> Iterator[bytes]:
    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": _tier(model),
            "system_fingerprint": "fp_fake",
            "choices": choices,
        }
        if include or usage is not None:
            data["usage"] = usage
        return data

    pieces = _pieces(structured)
    for index, piece in enumerate(pieces):
        delta: dict[str, Any] = {"content": piece}
        if index == 0:
            delta["role"] = "assistant"
        last = index == len(pieces) - 1
        choice = {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": "stop" if last else None,
        }
        usage = _chat_usage() if (fireworks and last) else None
        data = chunk([choice], usage)
        if groq and last:
            data["x_groq"] = {"id": f"req_{rid}", "usage": _chat_usage()}
        yield _sse(data)
    if include and not fireworks:
        yield _sse(chunk([], _chat_usage()))
    yield b"data: [DONE]\n\n"


# ---- legacy completions --------------------------------------------------------------------


@router.post("/v1/completions")
async def completions(request: Request) -> Response:
    """Legacy text completion: JSON, or SSE chunks with ``stream: true``."""
    body = await request.json()
    model = str(body.get("model", ""))
    failed = _error(model)
    if failed is not None:
        return failed
    rid = f"cmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": rid,
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "text": "".join(_pieces(False)),
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            }
        )
    include = bool((body.get("stream_options") or {}).get("include_usage"))
    fireworks = model.startswith("accounts/fireworks/")

    def chunks() -> Iterator[bytes]:
        pieces = _pieces(False)
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            data: dict[str, Any] = {
                "id": rid,
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "text": piece,
                        "logprobs": None,
                        "finish_reason": "stop" if last else None,
                    }
                ],
            }
            if fireworks and last:
                data["usage"] = {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                }
            yield _sse(data)
        if include and not fireworks:
            yield _sse(
                {
                    "id": rid,
                    "object": "text_completion",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": PROMPT_TOKENS,
                        "completion_tokens": COMPLETION_TOKENS,
                        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                    },
                }
            )
        yield b"data: [DONE]\n\n"

    return _stream(chunks())


# ---- responses -----------------------------------------------------------------------------


def _response(
    rid: str, model: str, status: str, text: str | None, msg_id: str, created: int
) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if text is not None:
        output.append(
            {
                "type": "message",
                "id": msg_id,
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "service_tier": _tier(model),
        "usage": _responses_usage() if status == "completed" else None,
    }


@router.post("/v1/responses")
async def responses(request: Request) -> Response:
    """Responses API: JSON, or the SSE event sequence with ``stream: true``."""
    body = await request.json()
    model = str(body.get("model", ""))
    failed = _error(model)
    if failed is not None:
        return failed
    rid = f"resp_{uuid.uuid4().hex}"
    msg_id = f"msg_{uuid.uuid4().hex}"
    created = int(time.time())
    fmt = (body.get("text") or {}).get("format") or {}
    structured = fmt.get("type") == "json_schema"
    pieces = _pieces(structured)
    if not body.get("stream"):
        return JSONResponse(_response(rid, model, "completed", "".join(pieces), msg_id, created))

    def events() -> Iterator[bytes]:
        seq = 0

        def event(kind: str, **data: Any) -> bytes:
            nonlocal seq
            payload = {"type": kind, "sequence_number": seq, **data}
            seq += 1
            return _sse(payload, kind)

        yield event(
            "response.created", response=_response(rid, model, "in_progress", None, "", created)
        )
        yield event(
            "response.in_progress", response=_response(rid, model, "in_progress", None, "", created)
        )
        item = {"type": "message", "id": msg_id, "status": "in_progress", "role": "assistant"}
        yield event("response.output_item.added", output_index=0, item={**item, "content": []})
        part = {"type": "output_text", "text": "", "annotations": []}
        yield event(
            "response.content_part.added",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            part=part,
        )
        for piece in pieces:
            yield event(
                "response.output_text.delta",
                item_id=msg_id,
                output_index=0,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        text = "".join(pieces)
        yield event(
            "response.output_text.done",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            text=text,
            logprobs=[],
        )
        done_part = {"type": "output_text", "text": text, "annotations": []}
        yield event(
            "response.content_part.done",
            item_id=msg_id,
            output_index=0,
            content_index=0,
            part=done_part,
        )
        final = _response(rid, model, "completed", text, msg_id, created)
        yield event("response.output_item.done", output_index=0, item=final["output"][0])
        yield event("response.completed", response=final)

    return _stream(events())


# ---- embeddings ----------------------------------------------------------------------------


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    """Embeddings: one vector per input, usage with ``prompt_tokens`` and ``total_tokens``."""
    body = await request.json()
    model = str(body.get("model", ""))
    failed = _error(model)
    if failed is not None:
        return failed
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    fmt = body.get("encoding_format")
    vector: Any = "AAAAAAAAgD8AAABA" if fmt == "base64" else [0.0, 1.0, 2.0]
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": vector} for i in range(count)
            ],
            "model": model,
            "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS},
        }
    )
