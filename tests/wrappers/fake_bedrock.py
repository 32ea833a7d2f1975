"""Fake Amazon Bedrock runtime: JSON bodies and the AWS binary event stream, fixed counts.

Routes (mounted by the shared fake provider server): ``POST /model/{id}/converse``,
``/converse-stream``, ``/invoke`` and ``/invoke-with-response-stream``. Streams use the
``application/vnd.amazon.eventstream`` encoding botocore parses: per message a prelude (total
and header lengths, CRC32), string headers (``:event-type``, ``:content-type``,
``:message-type``), a JSON payload and a CRC32 of the whole message. InvokeModel bodies follow
the model family of the id: ``anthropic.*``, ``amazon.nova*``, ``meta.*`` (Llama) and
``amazon.titan*``. A model id containing ``throttle`` answers 429 ``ThrottlingException``,
``bad-request`` answers 400 ``ValidationException``. A stream requested with the header
``x-fake-fail-after: N`` sends a ``modelStreamErrorException`` exception message after N
content events, as Bedrock does when a model fails mid-stream.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

__all__ = ("INPUT_TOKENS", "OUTPUT_TOKENS", "PIECES", "encode_event", "router")

INPUT_TOKENS = 30
PIECES = 10  # text deltas per stream; one output token each
OUTPUT_TOKENS = PIECES

router = APIRouter()

_ERRORS = (
    ("throttle", 429, "ThrottlingException", "Too many requests, please wait before trying again."),
    ("bad-request", 400, "ValidationException", "The provided model identifier is invalid."),
)


def _error(model_id: str) -> Response | None:
    for marker, status, kind, message in _ERRORS:
        if marker in model_id:
            return JSONResponse(
                {"message": message},
                status_code=status,
                headers={"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/"},
            )
    return None


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    # name length (1 byte), name, type 7 = string, value length (2 bytes), value
    return (
        struct.pack("!B", len(raw_name))
        + raw_name
        + b"\x07"
        + struct.pack("!H", len(raw_value))
        + raw_value
    )


def encode_event(event_type: str, payload: dict[str, Any], exception: bool = False) -> bytes:
    """One event-stream message: prelude + prelude CRC, headers, JSON payload, message CRC.

    With ``exception``, an exception message (``:exception-type`` instead of ``:event-type``).
    """
    headers = (
        _header(":exception-type" if exception else ":event-type", event_type)
        + _header(":content-type", "application/json")
        + _header(":message-type", "exception" if exception else "event")
    )
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack("!II", total, len(headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + headers + body
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


def _request_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    headers.update(extra or {})
    return headers


def _converse_usage() -> dict[str, int]:
    return {
        "inputTokens": INPUT_TOKENS,
        "outputTokens": OUTPUT_TOKENS,
        "totalTokens": INPUT_TOKENS + OUTPUT_TOKENS,
    }


@router.post("/model/{model_id:path}/converse")
async def converse(model_id: str) -> Response:
    """Converse: the message, stop reason, usage and metrics."""
    error = _error(model_id)
    if error is not None:
        return error
    text = "".join(f"w{i} " for i in range(PIECES))
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": _converse_usage(),
        "metrics": {"latencyMs": 120},
    }
    return JSONResponse(body, headers=_request_headers())


_STREAM_ERROR = {"message": "The model failed mid-stream.", "originalStatusCode": 424}


def _converse_stream(fail_after: int | None = None) -> Iterator[bytes]:
    yield encode_event("messageStart", {"role": "assistant"})
    for i in range(PIECES):
        if fail_after is not None and i == fail_after:
            yield encode_event("modelStreamErrorException", _STREAM_ERROR, exception=True)
            return
        yield encode_event(
            "contentBlockDelta", {"delta": {"text": f"w{i} "}, "contentBlockIndex": 0}
        )
    yield encode_event("contentBlockStop", {"contentBlockIndex": 0})
    yield encode_event("messageStop", {"stopReason": "end_turn"})
    yield encode_event("metadata", {"usage": _converse_usage(), "metrics": {"latencyMs": 150}})


@router.post("/model/{model_id:path}/converse-stream")
async def converse_stream(model_id: str, request: Request) -> Response:
    """ConverseStream: messageStart, deltas, stops, then the metadata event with usage."""
    error = _error(model_id)
    if error is not None:
        return error
    fail = request.headers.get("x-fake-fail-after")
    return StreamingResponse(
        _converse_stream(int(fail) if fail else None),
        media_type="application/vnd.amazon.eventstream",
        headers=_request_headers(),
    )


def _family(model_id: str) -> str:
    bare = model_id.split(".", 1)[1] if model_id.startswith(("us.", "eu.", "apac.")) else model_id
    for prefix, family in (
        ("anthropic.", "anthropic"),
        ("amazon.nova", "nova"),
        ("meta.", "llama"),
        ("amazon.titan", "titan"),
    ):
        if bare.startswith(prefix):
            return family
    return "unknown"


def _invoke_body(family: str, model_id: str) -> dict[str, Any]:
    text = "".join(f"w{i} " for i in range(PIECES))
    if family == "anthropic":
        return {
            "id": f"msg_bdrk_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": model_id,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
        }
    if family == "nova":
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": _converse_usage(),
        }
    if family == "llama":
        return {
            "generation": text,
            "prompt_token_count": INPUT_TOKENS,
            "generation_token_count": OUTPUT_TOKENS,
            "stop_reason": "stop",
        }
    if family == "titan":
        return {
            "inputTextTokenCount": INPUT_TOKENS,
            "results": [
                {"tokenCount": OUTPUT_TOKENS, "outputText": text, "completionReason": "FINISH"}
            ],
        }
    return {"text": text}


@router.post("/model/{model_id:path}/invoke")
async def invoke(model_id: str) -> Response:
    """InvokeModel: the family's body, with the token-count headers Bedrock adds."""
    error = _error(model_id)
    if error is not None:
        return error
    body = _invoke_body(_family(model_id), model_id)
    headers = _request_headers(
        {
            "X-Amzn-Bedrock-Input-Token-Count": str(INPUT_TOKENS),
            "X-Amzn-Bedrock-Output-Token-Count": str(OUTPUT_TOKENS),
            "X-Amzn-Bedrock-Invocation-Latency": "120",
        }
    )
    return Response(json.dumps(body).encode(), media_type="application/json", headers=headers)


def _stream_chunks(family: str, model_id: str) -> Iterator[dict[str, Any]]:
    if family == "anthropic":
        start = _invoke_body(family, model_id)
        start.update(content=[], stop_reason=None)
        start["usage"] = {"input_tokens": INPUT_TOKENS, "output_tokens": 1}
        yield {"type": "message_start", "message": start}
        yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}
        for i in range(PIECES):
            delta = {"type": "text_delta", "text": f"w{i} "}
            yield {"type": "content_block_delta", "index": 0, "delta": delta}
        yield {"type": "content_block_stop", "index": 0}
        yield {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": OUTPUT_TOKENS},
        }
        yield {"type": "message_stop"}
    elif family == "nova":
        yield {"messageStart": {"role": "assistant"}}
        for i in range(PIECES):
            yield {"contentBlockDelta": {"delta": {"text": f"w{i} "}, "contentBlockIndex": 0}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {"metadata": {"usage": {"inputTokens": INPUT_TOKENS, "outputTokens": PIECES}}}
    elif family == "llama":
        for i in range(PIECES):
            yield {
                "generation": f"w{i} ",
                "prompt_token_count": INPUT_TOKENS if i == 0 else None,
                "generation_token_count": i + 1,
                "stop_reason": "stop" if i == PIECES - 1 else None,
            }
    else:  # titan
        for i in range(PIECES):
            last = i == PIECES - 1
            chunk: dict[str, Any] = {
                "outputText": f"w{i} ",
                "index": 0,
                "totalOutputTextTokenCount": i + 1,
                "completionReason": "FINISH" if last else None,
            }
            if last:
                chunk["inputTextTokenCount"] = INPUT_TOKENS
            yield chunk


def _invoke_stream(family: str, model_id: str) -> Iterator[bytes]:
    chunks = list(_stream_chunks(family, model_id))
    # Bedrock appends its own metrics to the last chunk of every model family.
    chunks[-1]["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": INPUT_TOKENS,
        "outputTokenCount": OUTPUT_TOKENS,
        "invocationLatency": 300,
        "firstByteLatency": 90,
    }
    for chunk in chunks:
        data = base64.b64encode(json.dumps(chunk).encode()).decode()
        yield encode_event("chunk", {"bytes": data})


@router.post("/model/{model_id:path}/invoke-with-response-stream")
async def invoke_stream(model_id: str, request: Request) -> Response:
    """InvokeModelWithResponseStream: the family's chunks as base64 ``chunk`` events."""
    error = _error(model_id)
    if error is not None:
        return error
    await request.body()
    return StreamingResponse(
        _invoke_stream(_family(model_id), model_id),
        media_type="application/vnd.amazon.eventstream",
        headers=_request_headers({"X-Amzn-Bedrock-Content-Type": "application/json"}),
    )
