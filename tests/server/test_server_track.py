"""POST /track: envelope validation, per-record results, timestamps, de-duplication, poison."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from _postgres import stored_bytes
from server_helpers import Api, record

ENVELOPE_CASES = [
    (b"not json", 422),
    (b"[]", 422),
    (b'{"tracked": []}', 422),
    (b'{"tracked": {}}', 422),
    (b'{"records": []}', 422),
    (b'{"tracked": [{}], "extra": 1}', 422),
    (b'{"tracked": [{}], "skip_limits": "yes"}', 422),
]


@pytest.mark.parametrize(("body", "status"), ENVELOPE_CASES)
def test_envelope_problems_are_422(api: Api, body: bytes, status: int) -> None:
    """A malformed envelope is answered 422 with a detail and stores nothing."""
    response = api.http.post("/track", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json()["detail"]


def test_more_than_1000_records_is_413(api: Api) -> None:
    """A batch over the 1000-record cap is refused with 413."""
    response = api.track(*(record(f"r{i}") for i in range(1001)))
    assert response.status_code == 413
    assert "1000" in response.json()["detail"]
    assert api.get("/costs/")["count"] == 0


def test_exactly_1000_records_are_accepted(api: Api) -> None:
    """A batch of exactly 1000 records is accepted, one result per record."""
    results = api.track_ok(*(record(f"r{i}") for i in range(1000)))
    assert [r["response_id"] for r in results] == [f"r{i}" for i in range(1000)]
    assert {r["status"] for r in results} == {"completed"}


RECORD_CASES: list[tuple[dict[str, Any], str]] = [
    ({"service_key": "openai"}, "vendor::service"),
    ({"service_key": "::gpt-4o"}, "vendor::service"),
    ({"service_key": 12}, "service_key must be a string"),
    ({"service_key": None}, "Missing service_key"),
    ({"payload": [1, 2]}, "payload must be a JSON object"),
    ({"payload": "x"}, "payload must be a JSON object"),
    ({"timestamp": "yesterday"}, "neither epoch seconds nor ISO 8601"),
    ({"timestamp": True}, "timestamp must be"),
    ({"timestamp": "1e30"}, "out of range"),
    ({"timestamp": 1e20}, "out of range"),
    ({"timestamp": "nan"}, "out of range"),
    ({"timestamp": -1}, "out of range"),
    ({"customer_key": 5}, "customer_key must be a string"),
    ({"context": "prod"}, "context must be a JSON object"),
    ({"api_id": "openai"}, "unexpected field"),
    ({"payload": {"foo": 1}}, "no token counts"),
    ({"payload": {"prompt_tokens": -1, "completion_tokens": 1}}, "negative"),
    ({"payload": {"prompt_tokens": 1.5, "completion_tokens": 1}}, "not an integer"),
]


@pytest.mark.parametrize(("change", "message"), RECORD_CASES)
def test_record_problems_are_per_record_errors(
    api: Api, change: dict[str, Any], message: str
) -> None:
    """A bad record gets status error with a reason; its neighbour is still accepted."""
    bad = record("bad")
    bad.update(change)
    results = api.track_ok(bad, record("good"))
    assert results[0]["response_id"] == "bad"
    assert results[0]["status"] == "error"
    assert any(message in e for e in results[0]["errors"]), results[0]["errors"]
    assert results[1]["status"] == "completed"


def test_missing_response_id_alone_is_422(api: Api) -> None:
    """A batch whose only record lacks response_id is 422 with an UNKNOWN-RESPONSE result."""
    rec = record("x")
    del rec["response_id"]
    response = api.track(rec)
    assert response.status_code == 422
    result = response.json()["results"][0]
    assert result["response_id"] == "UNKNOWN-RESPONSE-0"
    assert result["errors"] == ["Missing response_id."]


def test_missing_response_id_next_to_good_record_is_202(api: Api) -> None:
    """A record without response_id does not sink the rest of the batch."""
    rec = record("x")
    del rec["response_id"]
    results = api.track_ok(record("ok"), rec)
    assert results[0]["status"] == "completed"
    assert results[1]["response_id"] == "UNKNOWN-RESPONSE-1"
    assert results[1]["status"] == "error"


def test_unknown_service_key(api: Api) -> None:
    """A well-formed but unknown service key is set aside, not priced."""
    (result,) = api.track_ok(record("u1", "acme::nope"))
    assert result["status"] == "service_key_unknown"
    assert "not recognized" in result["errors"][0]
    assert "queued for review" in result["errors"][0]
    assert "cost_events" not in result
    events = api.get("/usage/events/")["results"]
    assert [(e["response_id"], e["status"]) for e in events] == [("u1", "service_key_unknown")]


def test_results_keep_request_order_across_statuses(api: Api) -> None:
    """Results come back one per record, in request order, whatever their status."""
    recs = [record("a"), record("b", "acme::x"), record("c", "openai"), record("d")]
    results = api.track_ok(*recs)
    assert [r["response_id"] for r in results] == ["a", "b", "c", "d"]
    assert [r["status"] for r in results] == [
        "completed",
        "service_key_unknown",
        "error",
        "completed",
    ]


TS = datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "value",
    [
        str(TS.timestamp()),
        TS.timestamp(),
        int(TS.timestamp()),
        "2025-01-15T10:30:00Z",
        "2025-01-15T10:30:00+00:00",
        "2025-01-15T12:30:00+02:00",
        "2025-01-15T10:30:00",
    ],
)
def test_timestamp_shapes(api: Api, value: Any) -> None:
    """Epoch seconds (string or number) and ISO 8601 (Z, offset, naive = UTC) all place the
    event at the same instant."""
    api.track_ok(record("t", timestamp=value))
    (event,) = api.get("/usage/events/")["results"]
    assert event["timestamp"] == "2025-01-15T10:30:00Z"


def test_missing_timestamp_is_server_now(api: Api, admin: Any) -> None:
    """Without a timestamp the event is placed at the server's (shiftable) clock."""
    admin.set_clock(86400 * 10)
    try:
        api.track_ok(record("t"))
    finally:
        admin.set_clock(0)
    (event,) = api.get("/usage/events/")["results"]
    placed = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    shift = (placed - datetime.now(tz=timezone.utc)).total_seconds()
    assert 86400 * 10 - 120 < shift < 86400 * 10 + 120


def test_retried_batch_never_double_counts(api: Api, admin: Any) -> None:
    """Re-sending a batch returns the first outcome and adds no cost events."""
    batch = [record(f"d{i}") for i in range(5)] + [record("unk", "acme::x"), record("bad", "x")]
    first = api.track_ok(*batch)
    costs_before = api.get("/costs/", limit=200)
    second = api.track_ok(*batch)
    assert second == first
    assert api.get("/costs/", limit=200)["count"] == costs_before["count"]
    stats = admin.stats(api.key_id)
    assert stats["duplicates"] == 7
    assert stats["records_received"] == 14
    assert stats["requests"] == 2


def test_duplicate_gets_first_outcome_even_if_changed(api: Api) -> None:
    """A duplicate with a different payload is answered with the first, stored outcome."""
    (first,) = api.track_ok(record("same"))
    changed = record("same", payload={"prompt_tokens": 999999, "completion_tokens": 1})
    (again,) = api.track_ok(changed)
    assert again == first
    assert len(api.get("/cost-events/same")) == len(first["cost_events"])


def test_duplicates_inside_one_batch(api: Api, admin: Any) -> None:
    """The same response_id twice in one batch is stored once, both get the same result."""
    results = api.track_ok(record("twice"), record("other"), record("twice"))
    assert results[0] == results[2]
    assert api.get("/usage/events/")["count"] == 2
    assert admin.stats(api.key_id)["duplicates"] == 1


def test_dedup_is_per_api_key(api_root: str, api: Api, admin: Any) -> None:
    """Another key may reuse a response_id: de-duplication is per API key."""
    other = Api(api_root, admin.new_api_key()[0])
    try:
        api.track_ok(record("shared"))
        (result,) = other.track_ok(record("shared"))
        assert result["status"] == "completed"
        assert admin.stats(other.key_id)["duplicates"] == 0
    finally:
        other.close()


def test_poisoned_response_ids_always_fail(api: Api, admin: Any) -> None:
    """Poisoned response ids get the given reason as a per-record error, every time."""
    admin.poison(["p1"], reason="bad apple")
    for _ in range(2):
        results = api.track_ok(record("p1"), record("fine"))
        assert results[0]["status"] == "error"
        assert results[0]["errors"] == ["bad apple"]
        assert results[1]["status"] == "completed"


def test_poison_vendor_is_rejected(api: Api, admin: Any) -> None:
    """A record of the ``poison`` vendor is rejected with reason 'poison record'."""
    (result,) = api.track_ok(record("pv", "poison::x"))
    assert result["status"] == "error"
    assert result["errors"] == ["poison record"]
    assert admin.stats(api.key_id)["rejected"] == 1


def test_triggered_limits_field_is_present(api: Api) -> None:
    """Every /track answer carries a triggered_limits object."""
    response = api.track(record("tl"))
    assert isinstance(response.json()["triggered_limits"], dict)


def test_skip_limits_is_accepted(api: Api) -> None:
    """The schema's skip_limits flag is accepted."""
    response = api.track(record("s"), skip_limits=True)
    assert response.status_code == 202


def test_keys_never_stored_in_clear(local_server: Any, api: Api) -> None:
    """The database holds only a hash of the API key."""
    api.track_ok(record("k"))
    data = stored_bytes(local_server.config.db)
    assert api.key_id.encode() in data
    secret = api.key.rsplit(".", 1)[0].encode()
    assert secret not in data
