"""Amazon Bedrock usage extraction: Converse responses and events, InvokeModel bodies.

Pure functions over the dicts ``boto3`` returns and the JSON bodies of InvokeModel; no SDK
import. Every payload uses Bedrock's own Converse names (api-contract §7.3): ``inputTokens``,
``outputTokens``, ``totalTokens``, ``cacheReadInputTokens``, ``cacheWriteInputTokens`` (plus any
other field Converse returns, as is). InvokeModel bodies differ per model family (Anthropic,
Nova, Llama, Titan); they are mapped to the same names so that one vendor has one shape.

Sources, per call:
- ``converse``: ``response["usage"]``.
- ``converse_stream``: the ``{"metadata": {"usage": ...}}`` event.
- ``invoke_model``: the body's usage fields, else the ``x-amzn-bedrock-*-token-count`` headers.
- ``invoke_model_with_response_stream``: the chunks' usage fields merged, the final
  ``amazon-bedrock-invocationMetrics`` winning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._common import Observed, token_count, usage_dict
from .estimate import partial_usage, request_input_tokens

__all__ = (
    "ConverseStreamAccumulator",
    "InvokeStreamAccumulator",
    "bedrock_request_id",
    "converse_request_input_tokens",
    "converse_usage",
    "invoke_body_usage",
    "invoke_headers_usage",
    "invoke_request_input_tokens",
    "invoke_usage",
)

_IN, _OUT, _TOTAL = "inputTokens", "outputTokens", "totalTokens"
_CACHE_READ, _CACHE_WRITE = "cacheReadInputTokens", "cacheWriteInputTokens"

# Anthropic body names and the Bedrock metric names -> the Converse names.
_ANTHROPIC_NAMES = {
    "input_tokens": _IN,
    "output_tokens": _OUT,
    "cache_read_input_tokens": _CACHE_READ,
    "cache_creation_input_tokens": _CACHE_WRITE,
}
_METRIC_NAMES = {
    "inputTokenCount": _IN,
    "outputTokenCount": _OUT,
    "cacheReadInputTokenCount": _CACHE_READ,
    "cacheWriteInputTokenCount": _CACHE_WRITE,
}
_NOVA_RENAMES = {"cacheReadInputTokenCount": _CACHE_READ, "cacheWriteInputTokenCount": _CACHE_WRITE}
_HEADER_NAMES = {
    "x-amzn-bedrock-input-token-count": _IN,
    "x-amzn-bedrock-output-token-count": _OUT,
    "x-amzn-bedrock-cache-read-input-token-count": _CACHE_READ,
    "x-amzn-bedrock-cache-write-input-token-count": _CACHE_WRITE,
}
# A streamed chunk is decoded only when it may carry usage (most carry only text).
_USAGE_MARKERS = (b"invocationMetrics", b'"usage"', b"token_count", b"TokenCount")


def converse_usage(response: Mapping[str, Any]) -> Observed | None:
    """``response["usage"]`` of a ``converse`` response (a copy) and its request id."""
    usage = usage_dict(response.get("usage"))
    if usage is None:
        return None
    return Observed(usage, bedrock_request_id(response))


def bedrock_request_id(response: Mapping[str, Any]) -> str | None:
    """The AWS request id of a boto3 response (``ResponseMetadata.RequestId``), or None."""
    metadata = response.get("ResponseMetadata")
    if isinstance(metadata, Mapping):
        value = metadata.get("RequestId")
        if isinstance(value, str) and value:
            return value
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return usage_dict(value) or {}


def _renamed(source: Mapping[str, Any], names: Mapping[str, str], into: dict[str, Any]) -> None:
    for key, name in names.items():
        count = token_count(source.get(key))
        if count is not None:
            into[name] = count


def _body_fields(body: Mapping[str, Any], into: dict[str, Any]) -> None:
    """Merge the usage fields of one body or streamed chunk (any family) into ``into``."""
    usage = body.get("usage")
    if isinstance(usage, Mapping):
        if _IN in usage or _OUT in usage:  # Nova
            for key, value in _mapping(usage).items():
                into[_NOVA_RENAMES.get(key, key)] = value
        else:  # Anthropic (a whole message, or a message_delta event)
            _renamed(usage, _ANTHROPIC_NAMES, into)
    kind = body.get("type")
    if kind == "message_start":
        message = body.get("message")
        if isinstance(message, Mapping) and isinstance(message.get("usage"), Mapping):
            _renamed(message["usage"], _ANTHROPIC_NAMES, into)
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("usage"), Mapping):
        for key, value in _mapping(metadata["usage"]).items():  # Nova stream
            into[_NOVA_RENAMES.get(key, key)] = value
    # Llama: the prompt count arrives once (null later), the generation count is cumulative.
    _renamed(body, {"prompt_token_count": _IN, "generation_token_count": _OUT}, into)
    # Titan: inputTextTokenCount; output per result, or totalOutputTextTokenCount when streamed.
    titan_in = token_count(body.get("inputTextTokenCount"))
    if titan_in is not None:
        into[_IN] = titan_in
        results = body.get("results")
        if isinstance(results, list):
            counts = [token_count(r.get("tokenCount")) for r in results if isinstance(r, Mapping)]
            into[_OUT] = sum(c for c in counts if c is not None)
    titan_out = token_count(body.get("totalOutputTextTokenCount"))
    if titan_out is not None:
        into[_OUT] = titan_out
    metrics = body.get("amazon-bedrock-invocationMetrics")
    if isinstance(metrics, Mapping):
        _renamed(metrics, _METRIC_NAMES, into)


def invoke_body_usage(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The usage of an ``invoke_model`` JSON body (Anthropic, Nova, Llama, Titan), or None."""
    usage: dict[str, Any] = {}
    _body_fields(body, usage)
    return usage or None


def invoke_headers_usage(headers: Mapping[str, Any]) -> dict[str, Any] | None:
    """The usage in the ``x-amzn-bedrock-*-token-count`` response headers, or None."""
    lowered = {str(k).lower(): v for k, v in headers.items()}
    usage: dict[str, Any] = {}
    _renamed(lowered, _HEADER_NAMES, usage)
    return usage or None


def invoke_usage(
    body: Any, headers: Mapping[str, Any] | None, response_id: str | None
) -> Observed | None:
    """Usage of an ``invoke_model`` call: from the JSON body, else from the headers."""
    usage = invoke_body_usage(body) if isinstance(body, Mapping) else None
    if usage is None and headers:
        usage = invoke_headers_usage(headers)
    if usage is None:
        return None
    return Observed(usage, response_id)


class ConverseStreamAccumulator:
    """``converse_stream`` events: usage from the ``metadata`` event (sent last)."""

    __slots__ = ("_id", "_pieces", "_chars", "_usage")

    def __init__(self, response_id: str | None = None) -> None:
        self._id = response_id
        self._usage: dict[str, Any] | None = None
        self._pieces = 0
        self._chars = 0

    def feed(self, event: Any) -> bool:
        """Note one event dict; never hides it."""
        if isinstance(event, Mapping):
            block = event.get("contentBlockDelta")
            if block is not None:
                self._pieces += 1
                try:
                    text = block["delta"]["text"]
                except (KeyError, TypeError):  # a tool-use delta: no text
                    text = None
                if type(text) is str:
                    self._chars += len(text)
            else:
                metadata = event.get("metadata")
                if isinstance(metadata, Mapping):
                    self._usage = usage_dict(metadata.get("usage")) or self._usage
        return False

    def result(self, source: Any) -> Observed | None:
        """The metadata event's usage, with the call's request id.

        A stream abandoned before its metadata event (even before its first text: the
        prompt is billed once the stream was opened) is recorded with its output estimated
        from the text seen and its input from the request (``aicm_estimated``).
        """
        if self._usage is not None:
            return Observed(self._usage, self._id)
        usage = partial_usage(None, _OUT, self._chars, self._pieces)
        return Observed(usage, self._id, estimate_input=_IN)


class InvokeStreamAccumulator:
    """``invoke_model_with_response_stream`` chunks: usage fields merged, later values winning.

    A chunk is decoded only when its bytes may hold usage; the final chunk's
    ``amazon-bedrock-invocationMetrics`` is authoritative.
    """

    __slots__ = ("_chunks", "_id", "_usage")

    def __init__(self, response_id: str | None = None) -> None:
        self._id = response_id
        self._usage: dict[str, Any] = {}
        self._chunks = 0

    def feed_bytes(self, data: bytes) -> None:
        """Note the ``bytes`` of one ``{"chunk": {"bytes": ...}}`` event."""
        if not any(marker in data for marker in _USAGE_MARKERS):
            return
        try:
            body = json.loads(data)
        except ValueError:
            return
        if isinstance(body, Mapping):
            _body_fields(body, self._usage)

    def feed(self, event: Any) -> bool:
        """Note one event (only ``chunk`` events matter); never hides it."""
        if isinstance(event, Mapping):
            chunk = event.get("chunk")
            if isinstance(chunk, Mapping):
                data = chunk.get("bytes")
                if isinstance(data, (bytes, bytearray)):
                    self._chunks += 1
                    self.feed_bytes(bytes(data))
        return False

    def result(self, source: Any) -> Observed | None:
        """The merged usage so far (a copy), with the call's request id.

        A stream abandoned before any usage field (a Nova stream before its metadata chunk,
        or any stream before its first chunk) is recorded with the chunks seen as
        ``outputTokens`` and its input estimated from the request (``aicm_estimated``).
        """
        usage = dict(self._usage)
        if _OUT not in usage:
            usage = partial_usage(usage, _OUT, 0, self._chunks)
        missing = None if _IN in usage else _IN
        return Observed(usage, self._id, estimate_input=missing)


# Measured on Claude 4 through Bedrock: the same request bills 28 more input tokens with
# extended thinking on; Anthropic's tool-use system prompt is 346 tokens (its documentation).
_CLAUDE_THINKING = 28
_CLAUDE_TOOLS = 346


def _model_input_tokens(model: str, request: Mapping[str, Any], thinking: Any) -> int:
    """``request_input_tokens`` with the framing of the model family ``model`` names."""
    if "amazon.nova" in model:  # Nova bills the texts alone (no per-message framing)
        return request_input_tokens(request, per_message=0, per_request=0)
    if "anthropic." in model:
        total = request_input_tokens(request, with_tools=_CLAUDE_TOOLS)
        if isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive"):
            total += _CLAUDE_THINKING
        return total
    return request_input_tokens(request)


def converse_request_input_tokens(request: Mapping[str, Any]) -> int:
    """Estimate a ``converse`` / ``converse_stream`` request's input tokens (its keywords)."""
    fields = request.get("additionalModelRequestFields")
    thinking = fields.get("thinking") if isinstance(fields, Mapping) else None
    return _model_input_tokens(str(request.get("modelId") or ""), request, thinking)


def invoke_request_input_tokens(request: Mapping[str, Any]) -> int:
    """Estimate an ``invoke_model*`` request's input tokens from its JSON ``body``.

    The body is the model's native request (Anthropic / Nova ``messages`` and ``system``,
    Llama ``prompt``, Titan ``inputText``); a body that is not JSON counts as text.
    """
    model = str(request.get("modelId") or "")
    body = request.get("body")
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", "replace")
    if not isinstance(body, str):
        return _model_input_tokens(model, {}, None)
    try:
        native = json.loads(body)
    except ValueError:
        native = None
    if not isinstance(native, Mapping):
        return _model_input_tokens(model, {"prompt": body}, None)
    text = native.get("inputText")
    extra = {"prompt": text} if isinstance(text, str) and "prompt" not in native else {}
    return _model_input_tokens(model, {**native, **extra}, native.get("thinking"))
