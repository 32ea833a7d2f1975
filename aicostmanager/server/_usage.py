"""Usage events (``/usage/events/``, ``/usage/event/{id}/``) and rollups (``/usage/rollups/``).

Rollups are computed on request from ``cost_events``: cost and quantity summed with
``Decimal`` per (period, customer, service), where the period is a UTC day or hour.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request

from ._deps import DB, CurrentKey
from ._query import iso, json_or_none, page, page_bounds, parse_day_bound
from ._track_schema import COST_VIEW

__all__ = ("SCHEMA", "rollups", "router")

SCHEMA = ""  # reads usage_events and cost_events, owned by _track

router = APIRouter(tags=["usage"])

_EVENT_COLUMNS = (
    "event_id, vendor, service_key, ts, response_id, customer_key, usage, context, status"
)


def _event(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "event_id": row[0],
        "config_id": row[1],
        "service_id": row[2],
        "timestamp": iso(row[3]),
        "response_id": row[4],
        "customer_key": row[5],
        "usage": json_or_none(row[6]) or {},
        "base_url": None,
        "context": json_or_none(row[7]),
        "status": row[8],
    }


def _range(
    start_date: str | None, end_date: str | None, where: list[str], params: list[Any]
) -> None:
    start = parse_day_bound(start_date, end=False, name="start_date")
    end = parse_day_bound(end_date, end=True, name="end_date")
    if start is not None:
        where.append("ts >= ?")
        params.append(start)
    if end is not None:
        where.append("ts < ?")
        params.append(end)


@router.get("/usage/events/", summary="List usage events")
async def list_usage_events(
    request: Request,
    db: DB,
    key: CurrentKey,
    customer_key: str | None = None,
    config_id: str | None = None,
    service_id: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    """Usage events of the caller's team, newest first (``config_id`` = vendor,
    ``service_id`` = service key)."""
    lim, off = page_bounds(limit, offset)
    where = ["team_uuid = ?"]
    params: list[Any] = [key.team_uuid]
    for column, value in (
        ("customer_key", customer_key),
        ("vendor", config_id),
        ("service_key", service_id),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    _range(start_date, end_date, where, params)
    clause = " AND ".join(where)
    row = await db.fetchone(f"SELECT COUNT(*) FROM usage_events WHERE {clause}", params)
    rows = await db.fetchall(
        f"SELECT {_EVENT_COLUMNS} FROM usage_events WHERE {clause}"
        " ORDER BY ts DESC, rowid DESC LIMIT ? OFFSET ?",
        (*params, lim, off),
    )
    return page(request, int(row[0]) if row else 0, lim, off, [_event(r) for r in rows])


@router.get("/usage/event/{event_id}/", summary="One usage event")
async def get_usage_event(event_id: str, db: DB, key: CurrentKey) -> dict[str, Any]:
    """One usage event of the caller's team.

    Raises:
        HTTPException: 404 when not found.
    """
    row = await db.fetchone(
        f"SELECT {_EVENT_COLUMNS} FROM usage_events WHERE team_uuid = ? AND event_id = ?",
        (key.team_uuid, event_id),
    )
    if row is None:
        raise HTTPException(404, "usage event not found")
    return _event(row)


def _period(ts: float, granularity: str) -> str:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    if granularity == "hourly":
        return moment.strftime("%Y-%m-%dT%H:00:00Z")
    return moment.strftime("%Y-%m-%d")


def rollups(rows: list[tuple[Any, ...]], granularity: str) -> list[dict[str, Any]]:
    """Sum ``(ts, customer_key, service_key, quantity, cost)`` rows per period/customer/service."""
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0), Decimal(0)]
    )
    for ts, customer, service, quantity, cost in rows:
        acc = sums[(_period(ts, granularity), customer or "", service)]
        acc[0] += Decimal(quantity)
        acc[1] += Decimal(cost)
        acc[2] += 1
    out = []
    for (period, customer, service), (quantity, cost, n) in sorted(sums.items()):
        out.append(
            {
                "customer_key": customer or None,
                "service_id": service,
                "date": period,
                "granularity": granularity,
                "quantity": format(quantity, "f"),
                "cost": format(cost, "f"),
                "cost_events": int(n),
            }
        )
    return out


@router.get("/usage/rollups/", summary="Daily or hourly rollups")
async def list_rollups(
    request: Request,
    db: DB,
    key: CurrentKey,
    customer_key: str | None = None,
    service_id: str | None = None,
    granularity: Literal["daily", "hourly"] = "daily",
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> dict[str, Any]:
    """Cost and quantity per (day or hour, customer, service), Decimal-exact, oldest first."""
    lim, off = page_bounds(limit, offset)
    where = ["team_uuid = ?"]
    params: list[Any] = [key.team_uuid]
    if customer_key:
        where.append("customer_key = ?")
        params.append(customer_key)
    if service_id:
        where.append("service_key = ?")
        params.append(service_id)
    _range(start_date, end_date, where, params)
    rows = await db.fetchall(
        f"SELECT ts, customer_key, service_key, quantity, cost FROM {COST_VIEW}"
        f" WHERE {' AND '.join(where)}",
        params,
    )
    items = rollups(rows, granularity)
    return page(request, len(items), lim, off, items[off : off + lim])
