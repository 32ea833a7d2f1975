"""``POST /otlp/v1/traces``: OTLP/HTTP exports of GenAI spans become priced, unique events."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from server_helpers import Api

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}  # int64 is text in OTLP/JSON
    return {"key": key, "value": {"stringValue": value}}


def _export(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr(k, v) for k, v in (resource or {}).items()]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": list(spans)}],
            }
        ]
    }


def _span(span_id: str = SPAN, **attributes: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "name": "chat gpt-4o-mini",
        "kind": 3,
        "startTimeUnixNano": "1765000000000000000",
        "endTimeUnixNano": "1765000001000000000",
        "attributes": [_attr(k, v) for k, v in attributes.items()],
    }


CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.id": "chatcmpl-otlp-1",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
}


def _post(api: Api, body: bytes, **headers: str) -> httpx.Response:
    return api.http.post(
        "/otlp/v1/traces", content=body, headers={"content-type": "application/json", **headers}
    )


def _events(api: Api) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = api.get("/usage/events/")["results"]
    return results


def _cost(api: Api, response_id: str) -> Decimal:
    lines = api.get(f"/cost-events/{response_id}")
    lines = lines["results"] if isinstance(lines, dict) else lines
    return sum((Decimal(str(line["cost"])) for line in lines), Decimal(0))


def test_json_export_of_a_genai_span_is_one_priced_event(api: Api) -> None:
    """An OTLP/JSON export with one GenAI span stores one priced event; sent twice, still one."""
    body = json.dumps(
        _export(
            _span(**CHAT, **{"aicm.context.feature": "chat"}),
            resource={"aicm.customer_key": "node-svc"},
        )
    ).encode()
    first = _post(api, body)
    assert first.status_code == 200, first.text
    assert first.json() == {}
    assert _post(api, body).status_code == 200  # a retried export is de-duplicated
    (event,) = _events(api)
    assert event["response_id"] == "chatcmpl-otlp-1"
    assert event["customer_key"] == "node-svc"
    assert event["usage"] == {"input_tokens": 1000, "output_tokens": 200}
    # gpt-4o-mini: $0.15 / M input, $0.60 / M output
    assert _cost(api, "chatcmpl-otlp-1") == Decimal("0.00027")


def test_gzip_json_and_trace_span_id_fallback(api: Api) -> None:
    """A gzip body is read; a span without gen_ai.response.id is keyed by trace and span id."""
    chat = {k: v for k, v in CHAT.items() if k != "gen_ai.response.id"}
    other = {"http.method": "GET"}
    body = gzip.compress(
        json.dumps(_export(_span(**chat), _span("00000000000000aa", **other))).encode()
    )
    response = _post(api, body, **{"content-encoding": "gzip"})
    assert response.status_code == 200, response.text
    (event,) = _events(api)
    assert event["response_id"] == f"otel-{TRACE}-{SPAN}"


def test_rejected_spans_are_a_partial_success(api: Api) -> None:
    """A GenAI span that /track would refuse is counted in partialSuccess; the others stored."""
    bad = {**CHAT, "gen_ai.response.id": "bad-one", "gen_ai.usage.input_tokens": -5}
    good = {**CHAT, "gen_ai.response.id": "good-one"}
    body = json.dumps(_export(_span("0000000000000001", **good), _span("0000000000000002", **bad)))
    response = _post(api, body.encode())
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert partial["errorMessage"]
    assert "good-one" in {e["response_id"] for e in _events(api)}


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", {}, 400),
        (b"\x1f\x8b broken", {"content-encoding": "gzip"}, 400),
        (b"{}", {"content-type": "text/plain"}, 415),
        (b"\x0a\xff\xff", {"content-type": "application/x-protobuf"}, 400),
    ],
    ids=["json", "gzip", "content-type", "protobuf"],
)
def test_undecodable_bodies_are_refused(
    api: Api, body: bytes, headers: dict[str, str], status: int
) -> None:
    """A body that cannot be decoded is answered 400 (415 for another type) and stores nothing."""
    response = _post(api, body, **headers)
    assert response.status_code == status
    assert response.json()["message"]
    assert _events(api) == []


def test_the_api_key_is_required(api_root: str) -> None:
    """Without a valid API key the endpoint answers 401."""
    response = httpx.post(
        f"{api_root}/otlp/v1/traces",
        content=json.dumps(_export(_span(**CHAT))).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer nope"},
    )
    assert response.status_code == 401


def test_the_real_otlp_exporter_sends_protobuf(api: Api, api_root: str) -> None:
    """The OpenTelemetry SDK's OTLP/HTTP exporter (protobuf, gzip) delivers one priced event."""
    exporter = OTLPSpanExporter(
        endpoint=f"{api_root}/otlp/v1/traces",
        headers={"authorization": f"Bearer {api.key}"},
        compression=Compression.Gzip,
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("go-or-node-service")
    with tracer.start_as_current_span("chat claude-3-5-haiku") as span:
        span.set_attributes(
            {
                "gen_ai.system": "anthropic",
                "gen_ai.request.model": "claude-3-5-haiku-latest",
                "gen_ai.response.id": "msg_otlp_proto",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 100,
                "aicm.customer_key": "proto-customer",
            }
        )
    provider.shutdown()
    (event,) = _events(api)
    assert event["response_id"] == "msg_otlp_proto"
    assert event["customer_key"] == "proto-customer"
    assert event["usage"] == {"input_tokens": 1000, "output_tokens": 100}
    assert _cost(api, "msg_otlp_proto") > 0


def test_protobuf_answer_is_an_export_response(api: Api) -> None:
    """A protobuf request gets an ExportTraceServiceResponse back, in protobuf."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    response = api.http.post(
        "/otlp/v1/traces",
        content=ExportTraceServiceRequest().SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse()
    answer.ParseFromString(response.content)
    assert answer.partial_success.rejected_spans == 0
