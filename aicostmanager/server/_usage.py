"""Usage events (``/usage/events/``, ``/usage/event/{id}/``) and rollups (``/usage/rollups/``).

Rollups are computed on request from ``cost_events``: cost and quantity summed exactly (with
``Decimal``, inside SQLite) per (period, customer, service), where the period is a UTC day or
hour.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request

from ._deps import DB, CurrentKey
from ._query import (
    iso,
    json_or_none,
    keyset_page,
    keyset_rows,
    page,
    page_bounds,
    parse_cursor,
    where_day_range,
    where_equal,
)
from ._track_schema import COST_VIEW

__all__ = ("SCHEMA", "router")

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
    cursor: str | None = None,
) -> dict[str, Any]:
    """Usage events of the caller's team, newest first (``config_id`` = vendor,
    ``service_id`` = service key). ``next`` carries a ``cursor``; a plain ``offset`` may be at
    most 10,000."""
    after = parse_cursor(cursor)
    lim, off = page_bounds(limit, offset, after)
    where = ["team_uuid = ?"]
    params: list[Any] = [key.team_uuid]
    where_equal(
        where,
        params,
        ("customer_key", customer_key),
        ("vendor", config_id),
        ("service_key", service_id),
    )
    where_day_range(start_date, end_date, where, params)
    clause = " AND ".join(where)
    row = await db.fetchone(f"SELECT COUNT(*) FROM usage_events WHERE {clause}", params)
    rows, last = await keyset_rows(
        db,
        f"SELECT {_EVENT_COLUMNS}, rowid FROM usage_events",
        where,
        params,
        rowid="rowid",
        ts_index=3,
        cursor=after,
        limit=lim,
        offset=off,
    )
    count = int(row[0]) if row else 0
    return keyset_page(request, count, lim, off, [_event(r) for r in rows], last)


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


_WIDTH = {"daily": 86400, "hourly": 3600}


def _period(bucket: int, granularity: str) -> str:
    moment = datetime.fromtimestamp(bucket * _WIDTH[granularity], tz=timezone.utc)
    if granularity == "hourly":
        return moment.strftime("%Y-%m-%dT%H:00:00Z")
    return moment.strftime("%Y-%m-%d")


def _rollup(row: tuple[Any, ...], granularity: str) -> dict[str, Any]:
    bucket, customer, service, quantity, cost, events = row[:6]
    return {
        "customer_key": customer or None,
        "service_id": service,
        "date": _period(int(bucket), granularity),
        "granularity": granularity,
        "quantity": quantity,
        "cost": cost,
        "cost_events": int(events),
    }


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
    where_equal(where, params, ("customer_key", customer_key), ("service_key", service_id))
    where_day_range(start_date, end_date, where, params)
    # Summed in SQL, exactly (the dialect's decimal sum of the decimal texts), on a reader and
    # within the read time limit; the count of groups comes along.
    sql = db.dialect
    grouped = (
        f"SELECT {sql.int_floor('ts')} / ? AS bucket, COALESCE(customer_key, '') AS customer,"
        f" service_key, {sql.decimal_sum('quantity')}, {sql.decimal_sum('cost')}, COUNT(*)"
        f" FROM {COST_VIEW} WHERE {' AND '.join(where)} GROUP BY bucket, customer, service_key"
    )
    rows = await db.fetchall(
        f"SELECT *, COUNT(*) OVER () FROM ({grouped}) AS grouped"
        " ORDER BY bucket, customer, service_key LIMIT ? OFFSET ?",
        (_WIDTH[granularity], *params, lim, off),
    )
    if rows:
        count = int(rows[0][6])
    else:
        found = await db.fetchone(
            f"SELECT COUNT(*) FROM ({grouped}) AS grouped", (_WIDTH[granularity], *params)
        )
        count = int(found[0]) if found else 0
    return page(request, count, lim, off, [_rollup(r, granularity) for r in rows])
