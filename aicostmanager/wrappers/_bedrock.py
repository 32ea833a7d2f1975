"""``BedrockWrapper``: a ``boto3`` ``bedrock-runtime`` client (boto3 is synchronous only).

Tracked: ``converse``, ``converse_stream`` (usage from the ``metadata`` event),
``invoke_model`` and ``invoke_model_with_response_stream`` (usage from the body or chunks of
Anthropic, Nova, Llama and Titan models, else from Bedrock's token-count headers). The
response id is the AWS request id. ``invoke_model``'s body is read here and put back as a
fresh ``StreamingBody`` over the same bytes, so the caller reads it as usual.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._usage.bedrock import (
    ConverseStreamAccumulator,
    InvokeStreamAccumulator,
    bedrock_request_id,
    converse_request_input_tokens,
    converse_usage,
    invoke_request_input_tokens,
    invoke_usage,
)
from ._base import (
    Endpoint,
    ProviderSpec,
    ProviderWrapper,
    model_from_kwargs,
)
from ._stream import StreamProxy

if TYPE_CHECKING:
    from ._recorder import Call

__all__ = ("BEDROCK_SPEC", "BedrockWrapper")


# ARNs whose last part is a model id the pricing catalogue knows.
_ARN_KINDS = (":foundation-model/", ":inference-profile/")  # not application-inference-profile


def _model(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """``modelId``; a foundation-model or inference-profile ARN gives its model id."""
    model = model_from_kwargs(target, args, kwargs)
    if model is not None and model.startswith("arn:"):
        for kind in _ARN_KINDS:
            if kind in model:
                return model.rpartition("/")[2]
    return model


def _headers(result: Mapping[str, Any]) -> Mapping[str, Any] | None:
    metadata = result.get("ResponseMetadata")
    headers = metadata.get("HTTPHeaders") if isinstance(metadata, Mapping) else None
    return headers if isinstance(headers, Mapping) else None


def _wrap_event_stream(key: str, acc_type: type[Any]) -> Any:
    def on_result(result: Any, call: Call, prepared: bool) -> Any:
        if not isinstance(result, dict) or result.get(key) is None:
            call.record(None)
            return result
        acc = acc_type(bedrock_request_id(result))
        result[key] = StreamProxy(result[key], acc, call)
        return result

    return on_result


class _Raising(io.RawIOBase):
    """A body whose read fails again with the error the first read hit."""

    def __init__(self, exc: BaseException) -> None:
        self._exc = exc

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        raise self._exc


def _invoke_result(result: Any, call: Call, prepared: bool) -> Any:
    body = result.get("body") if isinstance(result, dict) else None
    if body is None or not hasattr(body, "read"):
        call.record(None)
        return result
    from botocore.response import StreamingBody  # type: ignore[import-untyped]

    request_id = bedrock_request_id(result)
    try:
        data = body.read()
    except Exception as exc:  # the caller gets this error from their own read()
        result["body"] = StreamingBody(_Raising(exc), None)
        call.extract(lambda r: invoke_usage(None, _headers(r), request_id), result)
        return result
    result["body"] = StreamingBody(io.BytesIO(data), len(data))
    try:
        parsed = json.loads(data) if data[:1] in (b"{", b"[") else None
    except ValueError:
        parsed = None
    call.extract(
        lambda r: invoke_usage(parsed, _headers(r), request_id), result, "bedrock invoke_model"
    )
    return result


BEDROCK_SPEC = ProviderSpec(
    name="bedrock",
    endpoints={
        ("converse",): Endpoint(extract=converse_usage, kind="plain"),
        ("converse_stream",): Endpoint(
            on_result=_wrap_event_stream("stream", ConverseStreamAccumulator),
            estimate=converse_request_input_tokens,
        ),
        ("invoke_model",): Endpoint(on_result=_invoke_result),
        ("invoke_model_with_response_stream",): Endpoint(
            on_result=_wrap_event_stream("body", InvokeStreamAccumulator),
            estimate=invoke_request_input_tokens,
        ),
    },
    model_of=_model,
    transparent=frozenset(),
    rebinders=frozenset(),
)


class BedrockWrapper(ProviderWrapper):
    """Track the inference calls of a ``boto3.client("bedrock-runtime")``.

    ::

        client = BedrockWrapper(boto3.client("bedrock-runtime"), tracker=tracker)
        with tracking_scope(customer_key="acme"):
            client.converse(modelId="amazon.nova-lite-v1:0", messages=[...])

    Tracked: ``converse``, ``converse_stream``, ``invoke_model`` and
    ``invoke_model_with_response_stream``; events are billed as
    ``amazon-bedrock::<modelId>`` (the model id of a foundation-model or inference-profile
    ARN). The returned dicts are boto3's own; the event streams are
    proxied (recorded once: exhausted, closed or abandoned) and ``invoke_model``'s body can be
    read as usual. Everything else on the client passes through untouched.

    Args:
        client: a boto3 ``bedrock-runtime`` client (or a wrapper of one).
        tracker: an ``AsyncTracker`` or ``Tracker`` (default: the process's shared tracker).
        vendor: the vendor slug (default ``amazon-bedrock``).

    Raises:
        TypeError: ``client`` is not a ``bedrock-runtime`` client, or ``tracker`` is not a
            tracker.
        ValueError: ``vendor`` is not a slug.
        MissingConfiguration: no ``tracker=`` and no API key for the default tracker.
    """

    __slots__ = ()
    _aicm_spec_default = BEDROCK_SPEC
    _aicm_vendor_default = "amazon-bedrock"
    _aicm_requires = "converse"
    _aicm_expects = 'a boto3.client("bedrock-runtime") client'
