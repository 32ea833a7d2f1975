"""Query endpoints: /costs/ pagination and filters, /cost-events, /usage/*, catalogue."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from server_helpers import Api, record

DAY = 86400.0
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc).timestamp()


def _seed(api: Api) -> list[dict[str, Any]]:
    """30 priced records over 3 days, 2 customers, 2 services and a context."""
    recs = [
        record(
            f"q{i}",
            "openai::gpt-4o" if i % 2 else "anthropic::claude-sonnet-4-5",
            timestamp=T0 + (i % 3) * DAY + i * 60,
            customer_key="acme" if i % 3 == 0 else "globex",
            context={"env": "prod" if i < 20 else "dev", "session": f"s-{i}"},
            payload={"input_tokens": 100 + i, "output_tokens": 10 + i}
            if i % 2 == 0
            else {"prompt_tokens": 100 + i, "completion_tokens": 10 + i},
        )
        for i in range(30)
    ]
    results = api.track_ok(*recs)
    assert {r["status"] for r in results} == {"completed"}
    return recs


def _all_pages(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    page = api.get(path, **params)
    items = list(page["results"])
    while page["next"]:
        assert page["next"].startswith("http://")
        response = api.http.get(page["next"])
        assert response.status_code == 200
        page = response.json()
        items.extend(page["results"])
    return items


def test_costs_pagination(api: Api) -> None:
    """/costs/ pages with absolute next/previous URLs; following next yields every event once."""
    _seed(api)
    first = api.get("/costs/", limit=7)
    assert first["count"] == 60
    assert first["previous"] is None
    assert "offset=7" in first["next"]
    second = api.http.get(first["next"]).json()
    assert "offset=0" in second["previous"]
    items = _all_pages(api, "/costs/", limit=7)
    assert len(items) == 60
    assert len({i["uuid"] for i in items}) == 60
    stamps = [i["timestamp"] for i in items]
    assert stamps == sorted(stamps, reverse=True)


def test_costs_default_and_capped_page_size(api: Api) -> None:
    """Default page size is 25, a larger limit is capped at 200, bad values are 422."""
    api.track_ok(*(record(f"r{i}") for i in range(120)))
    assert len(api.get("/costs/")["results"]) == 25
    page = api.get("/costs/", limit=1000)
    assert len(page["results"]) == 200
    assert page["count"] == 240
    assert api.http.get("/costs/", params={"limit": 0}).status_code == 422
    assert api.http.get("/costs/", params={"offset": -1}).status_code == 422


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"response_id": "q4"}, {"q4"}),
        ({"customer_key": "acme"}, {f"q{i}" for i in range(0, 30, 3)}),
        ([("customer_key", "acme"), ("customer_key", "globex")], {f"q{i}" for i in range(30)}),
        ({"service_key": "openai::gpt-4o"}, {f"q{i}" for i in range(1, 30, 2)}),
        ({"context.env": "dev"}, {f"q{i}" for i in range(20, 30)}),
        ({"context.session": "s-1*"}, {"q1"} | {f"q{i}" for i in range(10, 20)}),
        ({"context.session": "*-2?"}, set()),
        ({"start_date": "2025-03-03"}, {f"q{i}" for i in range(2, 30, 3)}),
        ({"end_date": "2025-03-01"}, {f"q{i}" for i in range(0, 30, 3)}),
        (
            {"start_date": "2025-03-02", "end_date": "2025-03-02", "customer_key": "globex"},
            {f"q{i}" for i in range(1, 30, 3)},
        ),
        ({"start_date": "2025-03-03T08:00:00Z"}, {f"q{i}" for i in range(2, 30, 3)}),
    ],
)
def test_costs_filters(api: Api, params: Any, expected: set[str]) -> None:
    """Each /costs/ filter selects exactly the matching events."""
    _seed(api)
    if isinstance(params, dict):
        params = list(params.items())
    page = api.http.get("/costs/", params=[*params, ("limit", 200)]).json()
    assert {i["response_id"] for i in page["results"]} == expected
    assert page["count"] == 2 * len(expected)


def test_costs_filter_by_api_key_id_within_team(api_root: str, admin: Any) -> None:
    """Two keys of one team see each other's events; api_key_id filters (repeatable) them."""
    info = admin.new_api_key_info()
    second_key, second_id = admin.new_api_key(team_uuid=info["team_uuid"])
    first = Api(api_root, info["api_key"])
    second = Api(api_root, second_key)
    try:
        first.track_ok(record("a1"))
        second.track_ok(record("b1"), record("b2"))
        assert first.get("/costs/")["count"] == 6
        only_second = first.get("/costs/", api_key_id=second_id)
        assert {i["response_id"] for i in only_second["results"]} == {"b1", "b2"}
        both = first.http.get(
            "/costs/", params=[("api_key_id", second_id), ("api_key_id", first.key_id)]
        ).json()
        assert both["count"] == 6
    finally:
        first.close()
        second.close()


def test_teams_are_isolated(api_root: str, api: Api, admin: Any) -> None:
    """A key of another team sees none of this team's data."""
    api.track_ok(record("mine"))
    other = Api(api_root, admin.new_api_key()[0])
    try:
        assert other.get("/costs/")["count"] == 0
        assert other.get("/cost-events/mine") == []
        assert other.get("/usage/events/")["count"] == 0
        event_id = api.get("/usage/events/")["results"][0]["event_id"]
        assert other.http.get(f"/usage/event/{event_id}/").status_code == 404
    finally:
        other.close()


def test_bad_dates_are_422(api: Api) -> None:
    """A start_date that is not a date is refused with 422."""
    assert api.http.get("/costs/", params={"start_date": "March"}).status_code == 422


def test_usage_events_and_single_event(api: Api) -> None:
    """Usage events list with filters and fetch one by id, with the UsageEvent fields."""
    _seed(api)
    page = api.get("/usage/events/", limit=5)
    assert page["count"] == 30
    assert len(page["results"]) == 5
    event = page["results"][0]
    assert set(event) >= {
        "event_id",
        "config_id",
        "service_id",
        "timestamp",
        "response_id",
        "customer_key",
        "usage",
        "context",
        "status",
    }
    assert api.get(f"/usage/event/{event['event_id']}/") == event
    only = api.get("/usage/events/", config_id="openai", customer_key="acme", limit=200)
    assert {e["response_id"] for e in only["results"]} == {f"q{i}" for i in range(3, 30, 6)}
    assert api.http.get("/usage/event/nope/").status_code == 404


@pytest.mark.parametrize("granularity", ["daily", "hourly"])
def test_rollups_are_exact_sums(api: Api, granularity: str) -> None:
    """Rollups sum cost and quantity per period, customer and service, Decimal-exact."""
    _seed(api)
    events = _all_pages(api, "/costs/", limit=200)
    expected: dict[tuple[str, str, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0)]
    )
    for e in events:
        moment = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        period = (
            moment.strftime("%Y-%m-%d")
            if granularity == "daily"
            else moment.strftime("%Y-%m-%dT%H:00:00Z")
        )
        acc = expected[(period, e["customer_key"], e["service_key"])]
        acc[0] += Decimal(e["quantity"])
        acc[1] += Decimal(e["cost"])
    rows = _all_pages(api, "/usage/rollups/", granularity=granularity, limit=5)
    got = {
        (r["date"], r["customer_key"], r["service_id"]): [
            Decimal(r["quantity"]),
            Decimal(r["cost"]),
        ]
        for r in rows
    }
    assert got == dict(expected)
    filtered = api.get("/usage/rollups/", customer_key="acme", service_id="openai::gpt-4o")
    assert {r["customer_key"] for r in filtered["results"]} == {"acme"}


def test_catalogue(api: Api) -> None:
    """Vendors, their services and a service's cost units come from the price data."""
    vendors = api.get("/vendors/")
    names = {v["name"] for v in vendors}
    assert {"openai", "anthropic", "google", "amazon-bedrock", "xai"} <= names
    services = api.get("/services/", vendor="openai")
    assert "gpt-4o" in {s["service_id"] for s in services}
    by_uuid = api.get(
        "/services/", vendor=next(v["uuid"] for v in vendors if v["name"] == "openai")
    )
    assert by_uuid == services
    units = {u["name"]: u for u in api.get("/service-costs/", vendor="openai", service="gpt-4o")}
    assert Decimal(units["input_tokens"]["cost"]) > 0
    assert units["input_tokens"]["per_quantity"] == 1_000_000
    assert api.http.get("/services/", params={"vendor": "nope"}).status_code == 404


def test_openapi_lists_paths(api_root: str) -> None:
    """The OpenAPI document lists the implemented API paths."""
    paths = httpx.get(api_root + "/openapi.json").json()["paths"]
    for path in (
        "/track",
        "/costs/",
        "/cost-events/{response_id}",
        "/usage/events/",
        "/usage/event/{event_id}/",
        "/usage/rollups/",
        "/vendors/",
        "/services/",
        "/service-costs/",
    ):
        assert "/api/v1" + path in paths
