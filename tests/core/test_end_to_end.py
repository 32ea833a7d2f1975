"""Events tracked with the tracker show up priced in /costs/, /usage/events/ and rollups."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import anyio

from aicostmanager import AsyncCostManagerClient, AsyncTracker
from aicostmanager.cli._demo import workload
from aicostmanager.models import CostEventFilters
from aicostmanager.server._pricing import price_catalog


async def test_tracked_events_are_priced_and_rolled_up_exactly(
    tracker_options: dict[str, Any],
) -> None:
    """A mixed workload's costs, per-customer filters and daily/hourly rollups add up exactly."""
    events = workload(240, seed=3)
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for event in events:
        lines = price_catalog(event["service_key"], event["usage"]) or []
        expected[(event["customer_key"], event["service_key"])] += sum(
            (line.cost for line in lines), Decimal(0)
        )
    async with AsyncTracker(**tracker_options) as tracker:
        results = await tracker.track_batch(events)
        with anyio.fail_after(60):
            assert await tracker.flush()
    rids = {result.response_id for result in results}

    client_options = {
        "aicm_api_key": tracker_options["aicm_api_key"],
        "aicm_api_base": tracker_options["aicm_api_base"],
        "ini_path": str(tracker_options["ini_path"]),
    }
    async with AsyncCostManagerClient(**client_options) as client:
        usage_ids = {event.response_id async for event in client.iter_usage_events()}
        assert usage_ids == rids

        costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        raw = await client.list_cost_events({"limit": 200})
        total_lines = raw["count"]
        seen_lines = 0
        async for line in client.iter_cost_events():
            seen_lines += 1
            extra = line.model_extra or {}
            costs[(extra["customer_key"], line.service_key)] += line.cost
        assert seen_lines == total_lines
        assert dict(costs) == {k: v for k, v in expected.items() if v}

        acme = Decimal(0)
        async for line in client.iter_cost_events(CostEventFilters(customer_key=["acme"])):
            acme += line.cost
        assert acme == sum((v for (c, _), v in expected.items() if c == "acme"), Decimal(0))

        for granularity in ("daily", "hourly"):
            rolled: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
            async for rollup in client.iter_usage_rollups(granularity=granularity):
                rolled[(rollup.customer_key or "", rollup.service_id)] += rollup.cost
            assert {k: v for k, v in rolled.items() if v} == {
                k: v for k, v in expected.items() if v
            }
