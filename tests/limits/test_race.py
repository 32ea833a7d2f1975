"""Concurrent /track submissions racing across a limit's threshold."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
from limits_helpers import COST, SERVICE, USAGE, Api, claims_of

from aicostmanager._exceptions import UsageLimitExceeded
from aicostmanager._limits import TriggeredLimitsEnforcer

SUBMISSIONS = 50


async def test_concurrent_tracks_create_exactly_one_event(
    api: Api, api_root: str, ini_path: Path
) -> None:
    """50 racing submissions: all accepted, one event per limit and period, limit enforced."""
    amount = Decimal(COST) * 25
    limit = api.create_limit(threshold_type="limit", amount=str(amount), period="day")
    alert = api.create_limit(threshold_type="alert", amount=str(amount / 5), period="day")
    enf = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=api.api_key)
    statuses: list[int] = []
    event_ids: dict[str, set[str]] = {}
    headers = {"Authorization": f"Bearer {api.api_key}"}

    async def submit(client: httpx.AsyncClient) -> None:
        body = {
            "tracked": [{"service_key": SERVICE, "response_id": uuid.uuid4().hex, "payload": USAGE}]
        }
        response = await client.post("/track", json=body)
        statuses.append(response.status_code)
        envelope: dict[str, Any] = response.json()["triggered_limits"]
        for event in claims_of(envelope)["triggered_limits"]:
            event_ids.setdefault(event["limit_id"], set()).add(event["event_id"])
        await enf.aupdate_from_envelope(envelope)

    limits = httpx.Limits(max_connections=SUBMISSIONS)
    async with httpx.AsyncClient(
        base_url=api_root, headers=headers, limits=limits, timeout=60
    ) as client:
        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                for _ in range(SUBMISSIONS):
                    tg.start_soon(submit, client)

    assert statuses == [202] * SUBMISSIONS
    assert {k: len(v) for k, v in event_ids.items()} == {limit["uuid"]: 1, alert["uuid"]: 1}
    final = claims_of(api.triggered())["triggered_limits"]
    assert sorted(e["limit_id"] for e in final) == sorted([limit["uuid"], alert["uuid"]])
    try:
        enf.check(SERVICE, None)
    except UsageLimitExceeded as exc:
        assert [e.limit_id for e in exc.triggered_limits] == [limit["uuid"]]
    else:
        raise AssertionError("the limit is not enforced after the race")
    progress = {p["uuid"]: p for p in api.http.get("/usage-limits/progress/").json()}
    assert Decimal(progress[limit["uuid"]]["current_spend"]) == Decimal(COST) * SUBMISSIONS
