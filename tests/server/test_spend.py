"""The ``/spend/`` endpoints agree with the event-level endpoints, and the dashboard session."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
from server_helpers import Api, record

from aicostmanager.server import LocalServer

_SERVICES = ("openai::gpt-4o", "openai::gpt-4o-mini", "anthropic::claude-3-5-haiku-latest")
_CUSTOMERS = ("acme", "globex", "initech", None)


def _workload(api: Api, days: int = 5, n: int = 240, seed: int = 7) -> None:
    rng = random.Random(seed)
    today = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
    records: list[dict[str, Any]] = []
    for _ in range(n):
        moment = today - timedelta(days=rng.randrange(days), minutes=rng.randrange(600))
        fields: dict[str, Any] = {"timestamp": moment.isoformat()}
        customer = rng.choice(_CUSTOMERS)
        if customer is not None:
            fields["customer_key"] = customer
        service = rng.choice(_SERVICES)
        tokens_in, tokens_out = rng.randrange(1, 9000), rng.randrange(1, 900)
        if service.startswith("openai"):
            fields["payload"] = {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            }
        else:
            fields["payload"] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
        records.append(record(uuid.uuid4().hex, service, **fields))
    for start in range(0, len(records), 100):
        api.track_ok(*records[start : start + 100])


def _exact_rollups(api: Api, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = api.get("/usage/rollups/", limit=200, offset=offset, **params)
        out.extend(page["results"])
        if not page["next"]:
            return out
        offset += 200


def _cents(value: str | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _days(n: int) -> dict[str, str]:
    today = datetime.now(timezone.utc).date()
    return {"start_date": str(today - timedelta(days=n - 1)), "end_date": str(today)}


def test_totals_equal_the_event_level_rollups(api: Api) -> None:
    """The period total, per customer and per service equal the Decimal sums of cost events."""
    _workload(api)
    period = _days(7)
    exact = _exact_rollups(api, **period)
    total = sum((Decimal(r["cost"]) for r in exact), Decimal(0))
    summary = api.get("/spend/summary/", **period)
    assert abs(Decimal(summary["total"]) - total) < Decimal("1e-9")
    assert summary["events"] == 240
    per_customer: dict[str | None, Decimal] = {}
    per_service: dict[str, Decimal] = {}
    for r in exact:
        per_customer[r["customer_key"]] = per_customer.get(r["customer_key"], 0) + Decimal(
            r["cost"]
        )
        per_service[r["service_id"]] = per_service.get(r["service_id"], 0) + Decimal(r["cost"])
    customers = api.get("/spend/customers/", **period)["results"]
    assert {c["customer_key"]: _cents(c["cost"]) for c in customers} == {
        k: _cents(v) for k, v in per_customer.items()
    }
    assert [c["cost"] for c in customers] == sorted(
        (c["cost"] for c in customers), key=Decimal, reverse=True
    )
    assert all(len(c["trend"]) == 7 for c in customers)
    services = api.get("/spend/services/", **period)["results"]
    assert {s["service_key"]: _cents(s["cost"]) for s in services} == {
        k: _cents(v) for k, v in per_service.items()
    }
    for s in services:
        unit_total = sum((Decimal(u["cost"]) for u in s["units"]), Decimal(0))
        assert abs(unit_total - Decimal(s["cost"])) < Decimal("1e-9")
        assert all(u["quantity"] > 0 for u in s["units"])


def test_series_buckets_add_up_and_customer_scope_filters(api: Api) -> None:
    """Daily and hourly series sum to the total; a customer's series is only its own spend."""
    _workload(api, days=2, n=120, seed=3)
    period = _days(2)
    total = Decimal(api.get("/spend/summary/", **period)["total"])
    for granularity, buckets in (("daily", 2), ("hourly", 48)):
        series = api.get("/spend/series/", granularity=granularity, group_by="service", **period)
        assert len(series["buckets"]) == buckets
        assert all(len(s["values"]) == buckets for s in series["series"])
        summed = sum((Decimal(v) for s in series["series"] for v in s["values"]), Decimal(0))
        assert abs(summed - total) < Decimal("1e-9")
    acme = api.get("/spend/series/", customer_key="acme", group_by="customer", **period)
    assert [s["key"] for s in acme["series"]] == ["acme"]
    acme_total = api.get("/spend/summary/", customer_key="acme", **period)["total"]
    assert acme["series"][0]["total"] == acme_total


def test_change_against_the_previous_period(api: Api) -> None:
    """``change`` compares with the period of equal length just before."""
    today = datetime.now(timezone.utc).replace(hour=1, minute=0, second=0, microsecond=0)
    rid = uuid.uuid4().hex
    api.track_ok(
        record(rid, timestamp=(today - timedelta(days=1)).isoformat()),
        record(uuid.uuid4().hex, timestamp=today.isoformat()),
        record(uuid.uuid4().hex, timestamp=today.isoformat()),
    )
    summary = api.get("/spend/summary/", **_days(1))
    assert Decimal(summary["total"]) == 2 * Decimal(summary["previous_total"]) > 0
    assert summary["change"] == 1.0


def test_unpriced_lists_unknown_service_keys_only(api: Api) -> None:
    """Events not priced appear with the server's reason; priced ones do not."""
    unknown = uuid.uuid4().hex
    api.track_ok(record(unknown, "nosuchvendor::model-x"), record(uuid.uuid4().hex))
    results = api.get("/spend/unpriced/")["results"]
    assert [r["response_id"] for r in results] == [unknown]
    assert results[0]["status"] == "service_key_unknown"
    assert results[0]["errors"]


def test_latest_events_newest_first_and_per_customer(api: Api) -> None:
    """``/spend/latest/`` lists the newest events first, optionally of one customer."""
    now = datetime.now(timezone.utc)
    ids = [uuid.uuid4().hex for _ in range(5)]
    api.track_ok(
        *(
            record(rid, timestamp=(now - timedelta(minutes=i)).isoformat(), customer_key=c)
            for i, (rid, c) in enumerate(zip(ids, ["a", "b", "a", "b", "a"], strict=True))
        )
    )
    latest = api.get("/spend/latest/", limit=3)["results"]
    assert [e["response_id"] for e in latest] == ids[:3]
    of_a = api.get("/spend/latest/", customer_key="a")["results"]
    assert [e["response_id"] for e in of_a] == [ids[0], ids[2], ids[4]]
    assert api.http.get("/spend/latest/", params={"limit": 0}).status_code == 422


def test_bad_periods_are_422(api: Api) -> None:
    """Reversed, unparsable and absurd periods are refused with 422, never a 500."""
    for params in (
        {"start_date": "2026-05-02", "end_date": "2026-05-01"},
        {"start_date": "yesterday"},
        {"start_date": "0001-01-01", "end_date": "9000-12-31", "granularity": "hourly"},
    ):
        response = api.http.get("/spend/series/", params=params)
        assert response.status_code == 422, (params, response.text)


def test_session_cookie_reads_but_never_writes(local_server: LocalServer, api_key: str) -> None:
    """Sign-in sets an HttpOnly SameSite=Strict cookie (not the key) that authorizes GETs only."""
    with httpx.Client(base_url=local_server.url, timeout=30) as browser:
        assert browser.get("/dashboard/session").json() == {"signed_in": False}
        assert browser.post("/dashboard/login", json={"api_key": "sk-wrong.x"}).status_code == 401
        response = browser.post("/dashboard/login", json={"api_key": api_key})
        assert response.status_code == 204
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert api_key not in cookie and api_key.rsplit(".", 1)[0] not in cookie
        assert browser.get("/dashboard/session").json()["signed_in"] is True
        assert browser.get("/api/v1/spend/summary/").status_code == 200
        created = browser.post("/api/v1/customers/", json={"customer_key": "x", "name": "x"})
        assert created.status_code == 401
        page = browser.get("/")
        assert page.status_code == 200 and api_key not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert browser.post("/dashboard/logout", json={}).status_code == 204
        assert browser.get("/api/v1/spend/summary/").status_code == 401


def test_rollups_are_rebuilt_for_an_older_database(tmp_path: Any) -> None:
    """A database whose events predate the rollups gets them built once at start."""
    db_path = str(tmp_path / "server.db")
    key = "sk-test-old.rollup-key"
    with LocalServer(db=db_path, api_keys=[key], testing=False) as server:
        api = Api(server.api_root, key)
        try:
            api.track_ok(record(uuid.uuid4().hex), record(uuid.uuid4().hex))
            before = api.get("/spend/summary/")["total"]
        finally:
            api.close()
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        for table in (
            "spend_hourly",
            "spend_daily",
            "spend_units_daily",
            "spend_customer_units_daily",
            "spend_meta",
        ):
            conn.execute(f"DELETE FROM {table}")
    with LocalServer(db=db_path, api_keys=[key], testing=False) as server:
        api = Api(server.api_root, key)
        try:
            assert api.get("/spend/summary/")["total"] == before != "0"
        finally:
            api.close()
