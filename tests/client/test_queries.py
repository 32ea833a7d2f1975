"""Costs, usage events and rollups: every filter and pagination, through both clients."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import NotFoundError
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import (
    ApiCostEventOut,
    CostEventFilters,
    CostEventItem,
    PaginatedResponse,
    RollupFilters,
    UsageEvent,
    UsageEventFilters,
    UsageRollup,
)

from ._helpers import track

METER: dict[str, Any] = {
    "custom_service_key": "acme::meter",
    "configuration": {
        "cost_units": [{"name": "unit", "cost": "0.5", "unit": "u"}],
        "mappings": [{"field": "n", "cost_unit": "unit"}],
    },
}
OTHER = {**METER, "custom_service_key": "acme::other"}

EVENTS = [
    ("acme::meter", "alice", {"env": "prod", "region": "eu-west"}, 1),
    ("acme::meter", "alice", {"env": "dev", "region": "us-east"}, 2),
    ("acme::meter", "bob", {"env": "prod", "region": "us-west"}, 3),
    ("acme::other", "bob", {"env": "prod"}, 4),
    ("acme::other", "carol", {"env": "dev"}, 5),
]


@pytest.fixture
async def tracked(client: AsyncCostManagerClient, api_root: str, api_key: str) -> list[str]:
    """Five priced events of two custom services; returns their response ids in order."""
    await client.create_custom_service(METER)
    await client.create_custom_service(OTHER)
    answer = track(
        api_root,
        api_key,
        [
            {"service_key": s, "customer_key": c, "context": ctx, "payload": {"n": n}}
            for s, c, ctx, n in EVENTS
        ],
    )
    assert [r["status"] for r in answer["results"]] == ["completed"] * 5
    return [r["response_id"] for r in answer["results"]]


async def _costs(client: AsyncCostManagerClient, filters: Any = None, **params: Any) -> list[str]:
    return sorted(
        [format(e.quantity, "f") async for e in client.iter_cost_events(filters, **params)]
    )


async def test_cost_event_filters(
    client: AsyncCostManagerClient, tracked: list[str], api_key: str
) -> None:
    """Each /costs/ filter (lists as repeated keys, dates, context.<key>) narrows the events."""
    assert await _costs(client) == ["1", "2", "3", "4", "5"]
    assert await _costs(client, CostEventFilters(customer_key=["alice", "carol"])) == [
        "1",
        "2",
        "5",
    ]
    assert await _costs(client, CostEventFilters(customer_key="bob")) == ["3", "4"]
    assert await _costs(client, {"service_key": ["acme::other"]}) == ["4", "5"]
    assert await _costs(client, CostEventFilters(response_id=tracked[2])) == ["3"]
    key_id = api_key.rsplit(".", 1)[-1]
    assert len(await _costs(client, CostEventFilters(api_key_id=[key_id]))) == 5
    assert await _costs(client, CostEventFilters(api_key_id=["nope"])) == []
    assert await _costs(client, CostEventFilters(context={"env": "dev"})) == ["2", "5"]
    assert await _costs(client, CostEventFilters(context={"region": "us-*"})) == ["2", "3"]
    assert await _costs(client, {"context.env": "prod", "customer_key": "bob"}) == ["3", "4"]
    today = datetime.now(timezone.utc).date()
    assert len(await _costs(client, CostEventFilters(start_date=today, end_date=today))) == 5
    assert await _costs(client, CostEventFilters(start_date=today + timedelta(days=2))) == []
    assert await _costs(client, end_date=(today - timedelta(days=2)).isoformat()) == []


async def test_cost_event_pages(client: AsyncCostManagerClient, tracked: list[str]) -> None:
    """Pages of two follow next links; typed pages parse Decimals."""
    page = await client.list_cost_events_typed(CostEventFilters(limit=2))
    assert isinstance(page, PaginatedResponse) and page.count == 5
    assert len(page.results) == 2 and page.next is not None
    assert all(isinstance(e, CostEventItem) for e in page.results)
    assert sum(e.cost for e in page.results) in {Decimal("4.5"), Decimal("4")}
    raw = await client.list_cost_events({"limit": 2, "offset": 4})
    assert len(raw["results"]) == 1 and raw["next"] is None
    assert len([e async for e in client.iter_cost_events(limit=2)]) == 5


async def test_cost_events_by_response_id(
    client: AsyncCostManagerClient, tracked: list[str]
) -> None:
    """/cost-events/{response_id} lists the lines of one record."""
    raw = await client.list_cost_events_by_response_id(tracked[0])
    assert len(raw) == 1 and raw[0]["response_id"] == tracked[0]
    (typed,) = await client.list_cost_events_by_response_id_typed(tracked[3])
    assert isinstance(typed, ApiCostEventOut)
    assert typed.cost == Decimal("2.0") and typed.service_key == "acme::other"
    assert await client.list_cost_events_by_response_id("unknown") == []


async def test_usage_events(client: AsyncCostManagerClient, tracked: list[str]) -> None:
    """Usage events: filters, pagination, get by id, 404 for an unknown id."""
    page = await client.list_usage_events_typed(UsageEventFilters(limit=2))
    assert page.count == 5 and len(page.results) == 2
    assert isinstance(page.results[0], UsageEvent)
    events = [e async for e in client.iter_usage_events(limit=2)]
    assert sorted(e.response_id for e in events) == sorted(tracked)
    alice = await client.list_usage_events(UsageEventFilters(customer_key="alice"))
    assert alice["count"] == 2
    other = await client.list_usage_events({"service_id": "acme::other"})
    assert {e["customer_key"] for e in other["results"]} == {"bob", "carol"}
    vendor = await client.list_usage_events(config_id="acme")
    assert vendor["count"] == 5
    today = date.today()
    ranged = await client.list_usage_events(
        UsageEventFilters(start_date=today - timedelta(days=1), end_date=today + timedelta(days=1))
    )
    assert ranged["count"] == 5
    one = await client.get_usage_event(events[0].event_id)
    assert one.event_id == events[0].event_id and one.usage
    with pytest.raises(NotFoundError):
        await client.get_usage_event("does-not-exist")


async def test_usage_rollups(client: AsyncCostManagerClient, tracked: list[str]) -> None:
    """Daily and hourly rollups sum quantity and cost per customer and service."""
    daily = [r async for r in client.iter_usage_rollups(RollupFilters(granularity="daily"))]
    assert all(isinstance(r, UsageRollup) for r in daily)
    assert sum(r.cost for r in daily) == Decimal("7.5")
    assert sum(r.quantity for r in daily) == 15
    bob = await client.list_usage_rollups_typed(
        RollupFilters(customer_key="bob", service_id="acme::meter", granularity="hourly")
    )
    assert [(r.customer_key, r.quantity) for r in bob.results] == [("bob", 3)]
    raw = await client.list_usage_rollups({"granularity": "daily", "limit": 1})
    assert len(raw["results"]) == 1 and raw["count"] == len(daily)


def test_sync_queries(sync_client: CostManagerClient, api_root: str, api_key: str) -> None:
    """The blocking client lists, iterates and types costs, usage and rollups."""
    sync_client.create_custom_service(METER)
    answer = track(
        api_root, api_key, [{"service_key": "acme::meter", "payload": {"n": i}} for i in (1, 2, 3)]
    )
    rid = answer["results"][0]["response_id"]
    assert len(list(sync_client.iter_cost_events(limit=2))) == 3
    assert sync_client.list_cost_events(limit=1)["count"] == 3
    assert sync_client.list_cost_events_typed({"response_id": rid}).results[0].quantity == 1
    assert sync_client.list_cost_events_by_response_id_typed(rid)[0].response_id == rid
    assert len(sync_client.list_cost_events_by_response_id(rid)) == 1
    events = list(sync_client.iter_usage_events(limit=2))
    assert len(events) == 3
    assert sync_client.get_usage_event(events[0].event_id).response_id == events[0].response_id
    assert sync_client.list_usage_events_typed().count == 3
    assert sync_client.list_usage_events()["count"] == 3
    assert sum(r.cost for r in sync_client.iter_usage_rollups()) == Decimal("3.0")
    assert sync_client.list_usage_rollups_typed().count == 1
    assert sync_client.list_usage_rollups()["count"] == 1
