"""Two records of one provider call from two processes: the server keeps the richer one."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from server_helpers import Api

CUSTOMER = "acme"


@pytest.fixture
def solo(api_root: str, admin: Any) -> Iterator[Api]:
    """A second fresh team: it receives only the richer record, for comparison."""
    client = Api(api_root, admin.new_api_key()[0])
    try:
        yield client
    finally:
        client.close()


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _span(rid: str, ts: float) -> bytes:
    """An OTLP/JSON export of one GenAI span: input and output tokens only."""
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.id": rid,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
    }
    nanos = int(ts * 1e9)
    span = {
        "traceId": uuid.uuid4().hex,
        "spanId": uuid.uuid4().hex[:16],
        "name": "chat gpt-4o-mini",
        "kind": 3,
        "startTimeUnixNano": str(nanos - 10**9),
        "endTimeUnixNano": str(nanos),
        "attributes": [_attr(k, v) for k, v in attributes.items()],
    }
    resource = {"attributes": [_attr("aicm.customer_key", CUSTOMER)]}
    body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    return json.dumps(body).encode()


def _post_span(api: Api, rid: str, ts: float) -> None:
    response = api.http.post(
        "/otlp/v1/traces", content=_span(rid, ts), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {}


def _wrapper(rid: str, ts: float, **extra: Any) -> dict[str, Any]:
    """What the OpenAI wrapper records for the same call: cached and reasoning tokens too."""
    payload = {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "total_tokens": 1200,
        "prompt_tokens_details": {"cached_tokens": 600},
        "completion_tokens_details": {"reasoning_tokens": 50},
        **extra,
    }
    return {
        "service_key": "openai::gpt-4o-mini",
        "response_id": rid,
        "timestamp": ts,
        "customer_key": CUSTOMER,
        "payload": payload,
    }


def _plain(rid: str, ts: float, **extra: Any) -> dict[str, Any]:
    """A record with input and output tokens only (``extra`` added to its payload)."""
    record = _wrapper(rid, ts)
    record["payload"] = {"prompt_tokens": 1000, "completion_tokens": 200, **extra}
    return record


def _track(api: Api, record: dict[str, Any]) -> dict[str, Any]:
    [result] = api.track_ok(record)
    assert result["status"] == "completed", result
    return result


def _events(api: Api) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = api.get("/usage/events/")["results"]
    return results


def _lines(api: Api, rid: str) -> list[dict[str, Any]]:
    lines = api.get(f"/cost-events/{rid}")
    out: list[dict[str, Any]] = lines["results"] if isinstance(lines, dict) else lines
    return out


def _cost(api: Api, rid: str) -> Decimal:
    return sum((Decimal(str(line["cost"])) for line in _lines(api, rid)), Decimal(0))


def _priced(api: Api, rid: str) -> list[tuple[str, str, str, str]]:
    """Each cost line's unit, quantity, rate and cost."""
    return sorted(
        (line["cost_unit_id"], line["quantity"], line["cost_per_unit"], line["cost"])
        for line in _lines(api, rid)
    )


def _summary(api: Api) -> dict[str, Any]:
    summary: dict[str, Any] = api.get("/spend/summary/")
    return {k: v for k, v in summary.items() if k not in ("start", "end")}


def _explained(api: Api, rid: str) -> dict[str, Any]:
    explained: dict[str, Any] = api.get(f"/cost-events/{rid}/explain")
    return explained


def test_span_first_then_wrapper_record_keeps_the_wrapper_record(api: Api, solo: Api) -> None:
    """A span, then the wrapper's record of the same call: one event with the cached tokens."""
    rid, ts = f"chatcmpl-{uuid.uuid4().hex}", time.time()
    _post_span(api, rid, ts)
    poorer = _cost(api, rid)
    result = _track(api, _wrapper(rid, ts))
    assert result["cost_events"], result  # a normal success, with the new cost lines
    (event,) = _events(api)
    assert event["usage"]["prompt_tokens_details"] == {"cached_tokens": 600}
    _track(solo, _wrapper(rid, ts))
    assert _priced(api, rid) == _priced(solo, rid)
    assert _cost(api, rid) == _cost(solo, rid) < poorer  # cached input costs less
    assert _summary(api) == _summary(solo)


def test_wrapper_record_first_then_span_keeps_the_wrapper_record(api: Api, solo: Api) -> None:
    """The wrapper's record, then a span of the same call: the span is a plain duplicate."""
    rid, ts = f"chatcmpl-{uuid.uuid4().hex}", time.time()
    _track(api, _wrapper(rid, ts))
    before = _priced(api, rid)
    _post_span(api, rid, ts)
    (event,) = _events(api)
    assert event["usage"]["prompt_tokens_details"] == {"cached_tokens": 600}
    assert _priced(api, rid) == before
    _track(solo, _wrapper(rid, ts))
    assert _summary(api) == _summary(solo)


def test_equal_usage_is_a_plain_duplicate(api: Api) -> None:
    """Same priced fields with other counts: the first record stays, its result is returned."""
    rid, ts = f"chatcmpl-{uuid.uuid4().hex}", time.time()
    first = _track(api, _plain(rid, ts))
    summary = _summary(api)
    again = _plain(rid, ts)
    again["payload"]["completion_tokens"] = 999
    assert _track(api, again) == first
    (event,) = _events(api)
    assert event["usage"]["completion_tokens"] == 200
    assert _summary(api) == summary


def test_exact_record_replaces_an_estimated_one(api: Api, solo: Api) -> None:
    """An estimated record, then an exact one of the same call: the exact one is kept."""
    rid, ts = f"chatcmpl-{uuid.uuid4().hex}", time.time()
    _track(api, _plain(rid, ts, aicm_estimated=["prompt_tokens"]))
    assert _explained(api, rid)["estimated"] is True
    _track(api, _plain(rid, ts))
    assert _explained(api, rid)["estimated"] is False
    _track(solo, _plain(rid, ts))
    summary = _summary(api)
    assert summary == _summary(solo)
    assert Decimal(summary["estimated_total"]) == 0
    assert summary["events"] == 1


def test_estimated_record_never_replaces_an_exact_one(api: Api) -> None:
    """An exact record, then an estimated one with more fields: the exact one stays."""
    rid, ts = f"chatcmpl-{uuid.uuid4().hex}", time.time()
    _track(api, _plain(rid, ts))
    summary = _summary(api)
    richer = _wrapper(rid, ts, aicm_estimated=["prompt_tokens"])
    _track(api, richer)
    assert _explained(api, rid)["estimated"] is False
    (event,) = _events(api)
    assert "prompt_tokens_details" not in event["usage"]
    assert _summary(api) == summary


def test_totals_equal_storing_only_the_richer_records(api: Api, solo: Api) -> None:
    """Many calls, spans first, an hour apart and for two customers: every total and every
    customer's total equals the team that received only the wrapper records, to the cent."""
    base = time.time() - 7200
    rids = [f"chatcmpl-{uuid.uuid4().hex}" for _ in range(6)]
    for i, rid in enumerate(rids):
        _post_span(api, rid, base + 1800 * i)
    records = [_wrapper(rid, base + 1800 * i) for i, rid in enumerate(rids)]
    records[0]["customer_key"] = "other"  # the span said "acme": its rollup row empties
    assert all(r["status"] == "completed" for r in api.track_ok(*records))
    solo.track_ok(*records)
    assert _summary(api) == _summary(solo)
    for customer in (CUSTOMER, "other"):
        mine = api.get("/spend/summary/", customer_key=customer)
        theirs = solo.get("/spend/summary/", customer_key=customer)
        assert mine["total"] == theirs["total"] and mine["events"] == theirs["events"]
    assert len(_events(api)) == len(rids)
    assert sum((_cost(api, r) for r in rids), Decimal(0)) == Decimal(_summary(solo)["total"])


def test_another_service_key_never_replaces(api: Api) -> None:
    """A richer record under another service key is a plain duplicate of the stored event."""
    rid, ts = f"chatcmpl-{uuid.uuid4().hex}", time.time()
    first = _track(api, _plain(rid, ts))
    other = _wrapper(rid, ts)
    other["service_key"] = "openai::gpt-4o"
    assert _track(api, other) == first
    (event,) = _events(api)
    assert "prompt_tokens_details" not in event["usage"]


def test_a_batch_mixing_new_ids_and_a_replacement(api: Api, solo: Api) -> None:
    """New ids and a replacing record in one batch: each stored once, totals as if alone."""
    rid, ts = f"chatcmpl-{uuid.uuid4().hex}", time.time()
    _post_span(api, rid, ts)
    batch = [_wrapper(f"chatcmpl-{uuid.uuid4().hex}", ts) for _ in range(3)]
    batch.insert(1, _wrapper(rid, ts))
    results = api.track_ok(*batch)
    assert [r["response_id"] for r in results] == [r["response_id"] for r in batch]
    assert all(r["status"] == "completed" and r["cost_events"] for r in results)
    solo.track_ok(*batch)
    assert len(_events(api)) == 4
    assert _summary(api) == _summary(solo)
