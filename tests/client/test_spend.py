"""Spend summaries through both clients agree with the event-level rollups."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import UnprocessableEntityError
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import CustomerSpend, ServiceSpend, SpendSeries, SpendSummary

from ._helpers import track


def _records() -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc)
    out = []
    for i in range(30):
        service = "openai::gpt-4o" if i % 3 else "anthropic::claude-3-5-haiku-latest"
        payload = (
            {"prompt_tokens": 1000 + i, "completion_tokens": 100, "total_tokens": 1100 + i}
            if service.startswith("openai")
            else {"input_tokens": 2000 + i, "output_tokens": 50}
        )
        out.append(
            {
                "service_key": service,
                "response_id": uuid.uuid4().hex,
                "timestamp": (now - timedelta(hours=i * 3)).isoformat(),
                "customer_key": ("acme", "globex")[i % 2],
                "payload": payload,
            }
        )
    out.append({"service_key": "nosuch::thing", "response_id": "unknown-1", "payload": {"n": 1}})
    return out


async def test_async_client_spend_matches_rollups(
    client: AsyncCostManagerClient, api_root: str, api_key: str
) -> None:
    """Summary, series, customers and services are typed and add up to the rollups' total."""
    track(api_root, api_key, _records())
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=6)
    exact = sum(
        (r.cost for r in await _all_rollups(client, start.isoformat(), today.isoformat())),
        Decimal(0),
    )
    summary = await client.get_spend_summary(start, today)
    assert isinstance(summary, SpendSummary)
    assert abs(summary.total - exact) < Decimal("1e-9") and summary.events == 31
    series = await client.get_spend_series(start, today, group_by="customer")
    assert isinstance(series, SpendSeries) and len(series.buckets) == 7
    assert {line.key for line in series.series} == {"acme", "globex", None}
    customers = await client.list_spend_by_customer(start, today)
    assert all(isinstance(c, CustomerSpend) for c in customers)
    assert abs(sum(c.cost for c in customers) - exact) < Decimal("1e-9")
    services = await client.list_spend_by_service(start, today, customer_key="acme")
    assert all(isinstance(s, ServiceSpend) and s.units for s in services)
    acme = await client.get_spend_summary(start, today, customer_key="acme")
    assert abs(sum(s.cost for s in services) - acme.total) < Decimal("1e-9")
    unpriced = await client.list_unpriced_events()
    assert [e.response_id for e in unpriced] == ["unknown-1"]
    with pytest.raises(UnprocessableEntityError):
        await client.get_spend_summary("2026-05-02", "2026-05-01")


async def _all_rollups(client: AsyncCostManagerClient, start: str, end: str) -> list[Any]:
    return [r async for r in client.iter_usage_rollups(start_date=start, end_date=end)]


def test_sync_client_spend(sync_client: CostManagerClient, api_root: str, api_key: str) -> None:
    """The blocking twin returns the same models."""
    track(api_root, api_key, _records())
    summary = sync_client.get_spend_summary()
    assert summary.events == 31 and summary.total > 0
    hourly = sync_client.get_spend_series(
        datetime.now(timezone.utc).date(), None, granularity="hourly"
    )
    assert len(hourly.buckets) == 24
    assert sync_client.list_spend_by_customer()[0].customer_key in {"acme", "globex"}
    assert sync_client.list_spend_by_service()[0].service_key == "openai::gpt-4o"
    assert sync_client.list_unpriced_events(limit=1)[0].status == "service_key_unknown"
    latest = sync_client.list_latest_events(limit=5, customer_key="acme")
    assert len(latest) == 5 and {e.customer_key for e in latest} == {"acme"}
