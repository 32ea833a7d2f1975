"""Unpriced usage, estimated usage, the explain view and per-record overflow, through /track."""

from __future__ import annotations

import uuid
from decimal import Decimal

from server_helpers import Api, record


def _rid() -> str:
    return uuid.uuid4().hex


def test_unpriced_field_flags_the_event_end_to_end(api: Api) -> None:
    """A usage field no rate covers is kept, named on the cost rows, explain and unpriced."""
    rid = _rid()
    payload = {"prompt_tokens": 100, "completion_tokens": 20, "mystery_units": 7}
    [result] = api.track_ok(record(rid, payload=payload))
    assert result["status"] == "completed"
    rows = api.get("/costs/", response_id=rid)["results"]
    assert rows and all(r["fully_priced"] is False for r in rows)
    assert rows[0]["unpriced_fields"] == ["mystery_units"]
    # The part it could price is stored: gpt-4o $2.50 / $10 per MTok.
    assert sum(Decimal(r["cost"]) for r in rows) == Decimal("0.00045")
    explained = api.get(f"/cost-events/{rid}/explain")
    assert explained["fully_priced"] is False
    assert explained["unpriced_fields"] == ["mystery_units"]
    listed = api.get("/spend/unpriced/")["results"]
    mine = [e for e in listed if e["response_id"] == rid]
    assert mine and mine[0]["status"] == "completed"
    assert mine[0]["unpriced_fields"] == ["mystery_units"]
    assert api.get("/spend/summary/")["not_fully_priced_events"] >= 1


def test_informational_fields_are_not_unpriced(api: Api) -> None:
    """Totals, timings and ids are not "unpriced": the event is fully priced."""
    rid = _rid()
    payload = {
        "prompt_tokens": 21,
        "completion_tokens": 10,
        "total_tokens": 31,
        "queue_time": 0.02,
        "completion_tokens_details": {"accepted_prediction_tokens": 0, "reasoning_tokens": 0},
        "service_tier": "default",
        "id": "x",
    }
    api.track_ok(record(rid, payload=payload))
    explained = api.get(f"/cost-events/{rid}/explain")
    assert explained["fully_priced"] is True
    assert explained["unpriced_fields"] == []


def test_estimated_usage_is_flagged_and_summed_apart(api: Api) -> None:
    """``aicm_estimated`` marks the event estimated; the summary splits estimated spend."""
    before = api.get("/spend/summary/")
    rid = _rid()
    payload = {"prompt_tokens": 1000, "completion_tokens": 0, "aicm_estimated": ["prompt_tokens"]}
    [result] = api.track_ok(record(rid, payload=payload))
    assert result["status"] == "completed"
    explained = api.get(f"/cost-events/{rid}/explain")
    assert explained["estimated"] is True
    assert explained["estimated_fields"] == ["prompt_tokens"]
    assert explained["fully_priced"] is True
    after = api.get("/spend/summary/")
    added = Decimal(after["estimated_total"]) - Decimal(before["estimated_total"])
    assert added == Decimal("0.0025")  # 1000 x $2.50 / MTok
    assert Decimal(after["exact_total"]) == Decimal(before["exact_total"])


def test_explain_shows_quantity_rate_amount_and_catalogue(api: Api) -> None:
    """Each line reads quantity x rate = amount, with the catalogue's name and version."""
    rid = _rid()
    payload = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 200},
    }
    api.track_ok(record(rid, payload=payload))
    explained = api.get(f"/cost-events/{rid}/explain")
    assert explained["catalog_name"] == "genai-prices"
    assert explained["catalog_version"][0].isdigit()
    for line in explained["lines"]:
        amount = Decimal(line["quantity"]) * Decimal(line["cost_per_unit"])
        assert amount == Decimal(line["cost"])
        assert line["formula"] == f"{line['quantity']} x {line['cost_per_unit']} = {line['cost']}"
        assert line["source"].startswith("genai-prices ")
    units = {line["cost_unit_id"]: line["quantity"] for line in explained["lines"]}
    assert units == {"input_tokens": "1000", "cache_read_tokens": "200", "output_tokens": "300"}
    total = sum(Decimal(line["cost"]) for line in explained["lines"])
    assert Decimal(explained["total"]) == total


def test_explain_of_an_unknown_response_is_404(api: Api) -> None:
    """Explaining a response id the team never tracked answers 404."""
    assert api.http.get(f"/cost-events/{_rid()}/explain").status_code == 404


def test_huge_record_is_refused_alone(api: Api) -> None:
    """A record costing more than $1M gets an error result; its batch neighbour is stored."""
    huge, fine = _rid(), _rid()
    results = api.track_ok(
        record(huge, payload={"prompt_tokens": 10**15, "completion_tokens": 1}),
        record(fine),
    )
    assert results[0]["status"] == "error"
    assert "per record" in results[0]["errors"][0]
    assert results[1]["status"] == "completed"
    assert api.get("/costs/", response_id=fine)["results"]


def test_large_records_meeting_in_one_bucket_are_refused_per_record(api: Api) -> None:
    """Records that together overflow an hourly rollup are refused one by one, not as a batch."""
    # gpt-4o at $2.50 / $10 per MTok: $500k + $250k = $750k per record, under the $1M
    # per-record cap; 8 in one hour bucket exceed the $4.6M (2**62 pico) a rollup row holds.
    big = {"prompt_tokens": 200_000_000_000, "completion_tokens": 25_000_000_000}
    ids = [_rid() for _ in range(8)]
    small = _rid()
    response = api.track(
        *(record(i, payload=big, timestamp=1_790_000_000) for i in ids),
        record(small, timestamp=1_790_000_000),
    )
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    statuses = [r["status"] for r in results]
    assert statuses[-1] == "completed"
    assert "completed" in statuses[:-1] and "error" in statuses[:-1]
    refused = [r for r in results if r["status"] == "error"]
    assert all("rollup" in r["errors"][0] for r in refused)
    # A second batch into the same bucket is refused per record too (checked in SQLite).
    again = _rid()
    [late] = api.track_ok(record(again, payload=big, timestamp=1_790_000_100))
    assert late["status"] == "error"
    summary = api.get("/spend/summary/", start_date="2026-09-21", end_date="2026-09-23")
    stored = sum(1 for s in statuses if s == "completed") - 1
    assert stored == 6  # 6 x $750k = $4.5M fits; a 7th would not
    assert Decimal(summary["total"]) == stored * Decimal(750_000) + Decimal("0.00045")


def test_service_tier_without_a_price_is_flagged(api: Api) -> None:
    """A tier the catalogue has no price for is priced at standard rates and flagged."""
    rid = _rid()
    payload = {"input_tokens": 100, "output_tokens": 10, "service_tier": "priority"}
    api.track_ok(record(rid, "anthropic::claude-sonnet-4-5", payload=payload))
    explained = api.get(f"/cost-events/{rid}/explain")
    assert explained["unpriced_fields"] == ["service_tier"]
    # Sonnet 4.5 standard: $3 / $15 per MTok.
    assert Decimal(explained["total"]) == Decimal("0.00045")
