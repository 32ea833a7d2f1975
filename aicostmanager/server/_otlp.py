"""``POST /otlp/v1/traces``: OTLP/HTTP trace export -> usage events, like ``/track``.

Any service that exports OpenTelemetry spans following the GenAI semantic conventions (a Node
or Go service, an OpenTelemetry Collector) can point its OTLP/HTTP trace exporter at the local
server::

    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:8765/api/v1/otlp/v1/traces
    OTEL_EXPORTER_OTLP_TRACES_HEADERS="Authorization=Bearer <AICM API key>"

Bodies are OTLP protobuf (``application/x-protobuf``, decoded with ``opentelemetry-proto``) or
OTLP/JSON (``application/json``), optionally gzip-compressed (``Content-Encoding: gzip``).
Each span describing a model call (``aicostmanager._usage.genai``) becomes one record that goes
through the same validation, pricing and de-duplication as ``/track``: its ``response_id`` is
``gen_ai.response.id``, else ``otel-<trace id>-<span id>``, so a span exported twice (or also
reported by an SDK wrapper under the provider's id) is stored once. Other spans are ignored.

The answer follows the OTLP/HTTP specification: 200 with an ``ExportTraceServiceResponse`` in
the request's encoding, whose ``partial_success`` counts the GenAI spans that were rejected
(invalid record) with the first reason; 400 for a body that cannot be decoded, 415 for another
content type.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response

from .._usage.genai import (
    CONTEXT_PREFIX,
    CUSTOMER_KEY,
    genai_call,
    span_response_id,
)
from . import _clock, _track, _triggered
from ._auth import CurrentKey
from ._track_parse import parse_record

__all__ = ("router", "span_records")

router = APIRouter(tags=["tracking"])

_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
_decode_json = msgspec.json.Decoder().decode
_encode_json = msgspec.json.Encoder().encode


class OtlpError(ValueError):
    """The body is not a decodable OTLP trace export (answered 400)."""


# (trace id, span id, end time in ns, attributes) of one span
_Span = tuple[int, int, int, dict[str, Any]]


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise OtlpError(f"invalid gzip body: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise OtlpError(f"decompressed body over {limit} bytes")
    return out


# --- OTLP/JSON ------------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return None
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:  # int64 is text in OTLP/JSON
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    array = value.get("arrayValue")
    if isinstance(array, Mapping):
        return tuple(_json_value(v) for v in array.get("values") or ())
    return None


def _json_attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or ():
        if isinstance(item, Mapping) and isinstance(item.get("key"), str):
            out[item["key"]] = _json_value(item.get("value"))
    return out


def _hex_id(value: Any, name: str) -> int:
    if not isinstance(value, str) or not value:
        raise OtlpError(f"span without a {name}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise OtlpError(f"{name} must be hex text in OTLP/JSON") from exc


def _json_spans(body: bytes) -> Iterable[_Span]:
    try:
        doc = _decode_json(body)
    except msgspec.DecodeError as exc:
        raise OtlpError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise OtlpError("the body must be an ExportTraceServiceRequest object")
    for resource_spans in doc.get("resourceSpans") or ():
        resource = _json_attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or ():
            for span in scope_spans.get("spans") or ():
                if not isinstance(span, Mapping):
                    raise OtlpError("a span must be an object")
                attributes = _json_attributes(span.get("attributes"))
                yield (
                    _hex_id(span.get("traceId"), "traceId"),
                    _hex_id(span.get("spanId"), "spanId"),
                    int(span.get("endTimeUnixNano") or 0),
                    _with_resource(attributes, resource),
                )


# --- OTLP protobuf --------------------------------------------------------------------------


def _proto_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_proto_value(v) for v in value.array_value.values)
    if kind in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(value, kind)
    return None


def _proto_spans(body: bytes) -> Iterable[_Span]:
    try:
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise OtlpError(
            "OTLP protobuf needs opentelemetry-proto: pip install 'aicostmanager[server]' "
            "(or export OTLP/JSON)"
        ) from exc
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise OtlpError(f"invalid protobuf: {exc}") from exc
    for resource_spans in request.resource_spans:
        resource = {a.key: _proto_value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {a.key: _proto_value(a.value) for a in span.attributes}
                yield (
                    int.from_bytes(span.trace_id, "big"),
                    int.from_bytes(span.span_id, "big"),
                    span.end_time_unix_nano,
                    _with_resource(attributes, resource),
                )


def _with_resource(attributes: dict[str, Any], resource: Mapping[str, Any]) -> dict[str, Any]:
    """The span's attributes over the resource's ``aicm.*`` ones (a service-wide customer)."""
    for name, value in resource.items():
        if (name == CUSTOMER_KEY or name.startswith(CONTEXT_PREFIX)) and name not in attributes:
            attributes[name] = value
    return attributes


# --- spans -> /track records ----------------------------------------------------------------


def span_records(spans: Iterable[_Span]) -> list[dict[str, Any]]:
    """The ``/track`` records of the spans that describe model calls."""
    records: list[dict[str, Any]] = []
    for trace_id, span_id, end_ns, attributes in spans:
        call = genai_call(attributes)
        if call is None:
            continue
        customer, context = call.customer_key, call.context
        record: dict[str, Any] = {
            "service_key": call.service_key,
            "response_id": call.response_id or span_response_id(trace_id, span_id),
            "payload": call.usage,
        }
        if end_ns:
            record["timestamp"] = end_ns / 1e9
        if customer is not None:
            record["customer_key"] = customer
        if context is not None:
            record["context"] = context
        records.append(record)
    return records


def _answer(rejected: int, message: str, protobuf: bool, status: int = 200) -> Response:
    if protobuf:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTracePartialSuccess,
            ExportTraceServiceResponse,
        )

        answer = ExportTraceServiceResponse()
        if rejected or message:
            answer.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
            )
        content = answer.SerializeToString()
        return Response(content, status_code=status, media_type=_PROTOBUF)
    body: dict[str, Any] = {}
    if rejected or message:
        body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
    return Response(_encode_json(body), status_code=status, media_type=_JSON)


# The body of an error answer: google.rpc.Status in JSON, as OTLP/HTTP specifies.
_STATUS_SCHEMA = {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}


def _error(message: str, status: int) -> Response:
    # google.rpc.Status in JSON: clients log the message; the code does not matter to them.
    return Response(
        _encode_json({"code": 3, "message": message}), status_code=status, media_type=_JSON
    )


@router.post(
    "/otlp/v1/traces",
    summary="Receive OTLP/HTTP trace exports (GenAI spans become usage events)",
    responses={
        400: {"description": "undecodable body", "content": {_JSON: {"schema": _STATUS_SCHEMA}}},
        415: {"description": "bad type", "content": {_JSON: {"schema": _STATUS_SCHEMA}}},
    },
)
async def otlp_traces(request: Request, key: CurrentKey) -> Response:
    """Turn the GenAI model-call spans of an OTLP export into priced, de-duplicated events."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (_PROTOBUF, _JSON):
        return _error(f"unsupported content type {content_type!r}: use {_PROTOBUF} or {_JSON}", 415)
    protobuf = content_type == _PROTOBUF
    app_state = request.app.state
    body = await request.body()
    try:
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding == "gzip":
            body = _gunzip(body, app_state.config.max_body_bytes)
        elif encoding not in ("", "identity"):
            return _error(f"unsupported content encoding {encoding!r}", 415)
        raw = span_records(_proto_spans(body) if protobuf else _json_spans(body))
    except (OtlpError, TypeError, ValueError, AttributeError) as exc:
        return _error(f"invalid OTLP trace export: {exc}", 400)
    if not raw:
        return _answer(0, "", protobuf)
    now = _clock.now_ts()
    testing = getattr(app_state, "testing", None)
    poisoned = testing.poisoned if testing is not None else None
    records = [parse_record(i, record, now, poisoned) for i, record in enumerate(raw)]
    db = app_state.db
    outcome = await _track.ingest(db, key, records, now)
    if outcome.stored_costs:
        await _triggered.after_track(db, key)
    errors = [e for result in outcome.results for e in result.get("errors") or ()]
    return _answer(outcome.rejected, errors[0] if errors else "", protobuf)
