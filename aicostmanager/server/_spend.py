"""``/spend/...``: read-only spend summaries from the rollups (the dashboard's data).

Every answer is computed from :mod:`._rollups`, never by summing events, so a request costs the
same at a million events as at a thousand. Periods are UTC; ``start_date``/``end_date`` take
``YYYY-MM-DD`` (an end date includes its whole day) or ISO 8601, like the other query endpoints.
Costs are decimal strings in dollars.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException

from ._costs import pricing_notes
from ._deps import DB, CurrentKey
from ._query import iso, json_or_none, parse_day_bound
from ._rollups import PICO
from ._rollups import SCHEMA as SCHEMA
from ._track_schema import FLAG_UNPRICED

__all__ = ("SCHEMA", "router")

router = APIRouter(tags=["spend"])

_HOUR = 3600
_DAY = 86400
_MAX_BUCKETS = 24 * 400
_MAX_SPAN = 100 * 366 * _DAY


def _money(pico: int) -> str:
    if not pico:
        return "0"
    text = format((Decimal(pico) / PICO).normalize(), "f")
    return text


@dataclass(frozen=True)
class _Period:
    start: int
    end: int

    @property
    def previous(self) -> _Period:
        return _Period(2 * self.start - self.end, self.start)

    @property
    def day_aligned(self) -> bool:
        return self.start % _DAY == 0 and self.end % _DAY == 0


def _period(start_date: str | None = None, end_date: str | None = None) -> _Period:
    """The requested period in whole hours (default: the last 30 UTC days, today included)."""
    start = parse_day_bound(start_date, end=False, name="start_date")
    end = parse_day_bound(end_date, end=True, name="end_date")
    today = int(time.time() // _DAY) * _DAY
    end_i = today + _DAY if end is None else int(-(-end // _HOUR) * _HOUR)
    start_i = end_i - 30 * _DAY if start is None else int(start // _HOUR) * _HOUR
    if start_i >= end_i:
        raise HTTPException(422, "start_date must be before end_date")
    if end_i - start_i > _MAX_SPAN or abs(end_i) > 10 * _MAX_SPAN or abs(start_i) > 10 * _MAX_SPAN:
        raise HTTPException(422, "the period is too long")
    return _Period(start_i, end_i)


_PeriodQuery = Annotated[_Period, Depends(_period)]
"""The ``start_date``/``end_date`` query parameters of a spend route, as a period."""


def _table(period: _Period, hourly: bool = False) -> str:
    return "spend_daily" if period.day_aligned and not hourly else "spend_hourly"


def _where(team: str, period: _Period, customer_key: str | None) -> tuple[str, list[Any]]:
    clause = "team_uuid = ? AND bucket >= ? AND bucket < ?"
    params: list[Any] = [team, period.start, period.end]
    if customer_key is not None:
        clause += " AND customer_key = ?"
        params.append(customer_key)
    return clause, params


@router.get("/spend/summary/", summary="Total spend of a period and of the period before")
async def summary(
    db: DB,
    key: CurrentKey,
    period: _PeriodQuery,
    customer_key: str | None = None,
) -> dict[str, Any]:
    """Total cost and event count of the period, the same for the period of equal length just
    before it, and the relative change (``null`` when the previous total is zero).

    ``estimated_total`` is the part of ``total`` priced from estimated usage (``exact_total``
    the rest); ``not_fully_priced_events`` counts events with usage no rate covered."""
    totals = []
    for p in (period, period.previous):
        clause, params = _where(key.team_uuid, p, customer_key)
        row = await db.fetchone(
            "SELECT COALESCE(SUM(cost_pico), 0), COALESCE(SUM(events), 0),"
            " COUNT(DISTINCT customer_key), COUNT(DISTINCT service_key),"
            " COALESCE(SUM(estimated_pico), 0), COALESCE(SUM(partial_events), 0)"
            f" FROM {_table(p)} WHERE {clause}",
            params,
        )
        assert row is not None
        totals.append(row)
    current, previous = totals
    change = None
    if previous[0]:
        change = float((Decimal(current[0]) - previous[0]) / Decimal(previous[0]))
    return {
        "start": iso(period.start),
        "end": iso(period.end),
        "total": _money(int(current[0])),
        "exact_total": _money(int(current[0]) - int(current[4])),
        "estimated_total": _money(int(current[4])),
        "not_fully_priced_events": int(current[5]),
        "events": int(current[1]),
        "customers": int(current[2]),
        "services": int(current[3]),
        "previous_total": _money(int(previous[0])),
        "previous_events": int(previous[1]),
        "change": change,
    }


@router.get("/spend/series/", summary="Spend over time, per vendor, service or customer")
async def series(
    db: DB,
    key: CurrentKey,
    period: _PeriodQuery,
    granularity: Literal["hourly", "daily"] = "daily",
    group_by: Literal["vendor", "service", "customer"] = "vendor",
    customer_key: str | None = None,
) -> dict[str, Any]:
    """Cost per time bucket, one series per group, largest group first; every series has a
    value for every bucket (``"0"`` where nothing was spent)."""
    step = _HOUR if granularity == "hourly" else _DAY
    first = period.start // step * step
    count = -(-(period.end - first) // step)
    if count > _MAX_BUCKETS:
        raise HTTPException(422, "too many buckets: choose a shorter period or daily")
    column = {"vendor": "vendor", "service": "service_key", "customer": "customer_key"}[group_by]
    clause, params = _where(key.team_uuid, period, customer_key)
    rows = await db.fetchall(
        f"SELECT bucket - bucket % ?, {column}, SUM(cost_pico) FROM"
        f" {_table(period, hourly=granularity == 'hourly')} WHERE {clause}"
        " GROUP BY 1, 2",
        (step, *params),
    )
    groups: dict[str, list[int]] = {}
    for bucket, group, pico in rows:
        values = groups.setdefault(group or "", [0] * count)
        values[(int(bucket) - first) // step] += int(pico)
    ordered = sorted(groups.items(), key=lambda item: (-sum(item[1]), item[0]))
    return {
        "granularity": granularity,
        "group_by": group_by,
        "buckets": [iso(first + i * step) for i in range(count)],
        "series": [
            {"key": name or None, "total": _money(sum(values)), "values": list(map(_money, values))}
            for name, values in ordered
        ],
    }


@router.get("/spend/customers/", summary="Customers ranked by spend, with a daily trend")
async def customers(
    db: DB,
    key: CurrentKey,
    period: _PeriodQuery,
) -> dict[str, Any]:
    """Each customer's cost and events in the period, most expensive first, with its cost per
    day (``trend``, one value per UTC day of the period). Untagged usage has ``null`` as key."""
    first = period.start // _DAY * _DAY
    days = -(-(period.end - first) // _DAY)
    clause, params = _where(key.team_uuid, period, None)
    rows = await db.fetchall(
        f"SELECT customer_key, bucket - bucket % {_DAY}, SUM(cost_pico), SUM(events)"
        f" FROM {_table(period)} WHERE {clause} GROUP BY 1, 2",
        params,
    )
    found: dict[str, dict[str, Any]] = {}
    for customer, day, pico, events in rows:
        entry = found.setdefault(customer, {"pico": 0, "events": 0, "trend": [0] * days})
        entry["pico"] += int(pico)
        entry["events"] += int(events)
        if days <= 400:
            entry["trend"][(int(day) - first) // _DAY] += int(pico)
    ordered = sorted(found.items(), key=lambda item: (-item[1]["pico"], item[0]))
    return {
        "results": [
            {
                "customer_key": name or None,
                "cost": _money(entry["pico"]),
                "events": entry["events"],
                "trend": list(map(_money, entry["trend"])) if days <= 400 else [],
            }
            for name, entry in ordered
        ]
    }


@router.get("/spend/services/", summary="Services ranked by spend, with quantities per unit")
async def services(
    db: DB,
    key: CurrentKey,
    period: _PeriodQuery,
    customer_key: str | None = None,
) -> dict[str, Any]:
    """Each service's cost and events in the period, most expensive first, with the quantity
    and cost per cost unit (input tokens, output tokens, cached tokens...)."""
    clause, params = _where(key.team_uuid, period, customer_key)
    rows = await db.fetchall(
        f"SELECT service_key, vendor, SUM(cost_pico), SUM(events) FROM {_table(period)}"
        f" WHERE {clause} GROUP BY 1, 2",
        params,
    )
    units: dict[str, list[dict[str, Any]]] = {}
    if period.day_aligned:
        table = "spend_units_daily" if customer_key is None else "spend_customer_units_daily"
        unit_rows = await db.fetchall(
            "SELECT service_key, cost_unit_id, SUM(quantity), SUM(cost_pico)"
            f" FROM {table} WHERE {clause} GROUP BY 1, 2 ORDER BY 4 DESC, 2",
            params,
        )
        for service, unit, quantity, pico in unit_rows:
            units.setdefault(service, []).append(
                {"cost_unit_id": unit, "quantity": float(quantity), "cost": _money(int(pico))}
            )
    ordered = sorted(rows, key=lambda r: (-int(r[2]), r[0]))
    return {
        "results": [
            {
                "service_key": service,
                "vendor": vendor or None,
                "cost": _money(int(pico)),
                "events": int(events),
                "units": units.get(service, []),
            }
            for service, vendor, pico, events in ordered
        ]
    }


@router.get("/spend/latest/", summary="The newest usage events (no count, no paging)")
async def latest(
    db: DB, key: CurrentKey, limit: int = 20, customer_key: str | None = None
) -> dict[str, Any]:
    """The newest stored usage events, newest first: what a live view polls. Unlike
    ``/usage/events/`` it counts nothing, so it answers at once at any number of events."""
    if not 1 <= limit <= 200:
        raise HTTPException(422, "limit must be between 1 and 200")
    where, params = "team_uuid = ?", [key.team_uuid]
    if customer_key is not None:
        where += " AND customer_key = ?"
        params.append(customer_key)
    rows = await db.fetchall(
        f"SELECT {_EVENT_COLUMNS} FROM usage_events WHERE {where} ORDER BY ts DESC LIMIT ?",
        (*params, limit),
    )
    return {"results": [_event(r) for r in rows]}


_EVENT_COLUMNS = (
    "event_id, service_key, ts, response_id, customer_key, status, errors, flags, pricing"
)


def _event(r: tuple[Any, ...]) -> dict[str, Any]:
    notes = pricing_notes(r[7], r[8])
    del notes["catalog"]
    return {
        "event_id": r[0],
        "service_key": r[1],
        "timestamp": iso(r[2]),
        "response_id": r[3],
        "customer_key": r[4],
        "status": r[5],
        "errors": json_or_none(r[6]) or [],
        **notes,
    }


@router.get("/spend/unpriced/", summary="Latest events that were not (fully) priced")
async def unpriced(db: DB, key: CurrentKey, limit: int = 50) -> dict[str, Any]:
    """The newest usage events whose service key was unknown, that failed pricing or
    validation (they are stored but count for nothing), or that were priced only in part
    (``fully_priced`` false, ``unpriced_fields`` names the usage fields no rate covered)."""
    if not 1 <= limit <= 200:
        raise HTTPException(422, "limit must be between 1 and 200")
    rows: list[Any] = []
    # Two queries, each served by its partial index, merged newest first.
    for condition in ("status != 'completed'", db.dialect.bit_set("flags", FLAG_UNPRICED)):
        rows += await db.fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM usage_events WHERE team_uuid = ? AND {condition}"
            " ORDER BY ts DESC LIMIT ?",
            (key.team_uuid, limit),
        )
    rows.sort(key=lambda r: r[2], reverse=True)
    return {"results": [_event(r) for r in rows[:limit]]}
