"""``GET /costs/`` (paginated, filterable), ``GET /cost-events/{response_id}`` and its
explanation ``GET /cost-events/{response_id}/explain``.

Every cost row says whether its event was estimated and whether it was fully priced (with the
usage fields no rate covered): see :func:`pricing_notes`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from ._db_dialect import Dialect
from ._deps import DB, CurrentKey
from ._query import (
    iso,
    json_or_none,
    keyset_page,
    keyset_rows,
    page_bounds,
    parse_cursor,
    where_day_range,
)
from ._track_schema import COST_VIEW, FLAG_ESTIMATED, FLAG_UNPRICED

__all__ = ("COUNT_CAP", "SCHEMA", "pricing_notes", "router")

SCHEMA = ""  # reads cost events through the view of _track_schema

router = APIRouter(tags=["costs"])

COUNT_CAP = 10_000
"""``count`` of ``GET /costs/`` is exact up to this; beyond, it is this and ``count_capped``."""

_COLUMNS = (
    "uuid, event_id, api_key_id, response_id, ts, customer_key, service_key, provider_id,"
    " cost_unit_id, quantity, cost_per_unit, cost, context, flags, pricing"
)


def pricing_notes(flags: int | None, pricing: str | None) -> dict[str, Any]:
    """How an event was priced, from its ``flags`` and ``pricing`` columns: ``estimated``,
    ``estimated_fields``, ``fully_priced``, ``unpriced_fields`` and ``catalog`` (None for
    events stored before 0.6)."""
    info = json_or_none(pricing) or {}
    flags = flags or 0
    return {
        "estimated": bool(flags & FLAG_ESTIMATED),
        "estimated_fields": list(info.get("estimated", [])),
        "fully_priced": not flags & FLAG_UNPRICED,
        "unpriced_fields": list(info.get("unpriced", [])),
        "catalog": info.get("catalog"),
    }


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    notes = pricing_notes(row[13], row[14])
    return {
        "id": row[0],
        "uuid": row[0],
        "event_id": row[1],
        "api_key_id": row[2],
        "response_id": row[3],
        "timestamp": iso(row[4]),
        "customer_key": row[5],
        "service_key": row[6],
        "provider_id": row[7],
        "cost_unit_id": row[8],
        "quantity": row[9],
        "cost_per_unit": row[10],
        "cost": row[11],
        "context": json_or_none(row[12]),
        "estimated": notes["estimated"],
        "fully_priced": notes["fully_priced"],
        "unpriced_fields": notes["unpriced_fields"],
    }


def _in(column: str, values: list[str], where: list[str], params: list[Any]) -> None:
    if values:
        where.append(f"{column} IN ({','.join('?' * len(values))})")
        params.extend(values)


def _like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def context_filters(
    request: Request, dialect: Dialect, where: list[str], params: list[Any]
) -> None:
    """Add ``context.<key>=<value>`` query filters (``*`` is a wildcard, matching ignores
    ASCII case) to a WHERE clause.

    The key is matched against the context's entries (``json_each``) rather than spliced into
    a JSON path, so any text (quotes, dots, NUL) is taken as the key itself.
    """
    for name, value in request.query_params.multi_items():
        if not name.startswith("context.") or len(name) <= len("context."):
            continue
        key = name[len("context.") :]
        if not dialect.text_holds_nul and "\x00" in key + value:
            where.append("1 = 0")  # no stored text holds NUL
            continue
        if "*" in value:
            test = f"CAST(value AS TEXT) {dialect.like} ? ESCAPE '\\'"
            pattern = _like_pattern(value)
        else:
            test, pattern = "CAST(value AS TEXT) = ?", value
        entries = dialect.json_entries("context")
        where.append(f"EXISTS (SELECT 1 FROM {entries} AS e WHERE key = ? AND {test})")
        params.extend((key, pattern))


@router.get("/costs/", summary="List cost events")
async def list_costs(
    request: Request,
    db: DB,
    key: CurrentKey,
    response_id: str | None = None,
    api_key_id: Annotated[list[str] | None, Query()] = None,
    customer_key: Annotated[list[str] | None, Query()] = None,
    service_key: Annotated[list[str] | None, Query()] = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Cost events of the caller's team, newest first.

    Filters combine with AND; repeated keys mean OR within one filter. ``context.<key>=<value>``
    matches the event's context (``*`` matches any text; ``%`` and ``_`` are literal). Page
    size: default 25, at most 200. ``next`` carries a ``cursor``; a plain ``offset`` may be at
    most 10,000. ``count`` is exact up to 10,000 matches; past that it is 10,000 and
    ``count_capped`` is true.
    """
    after = parse_cursor(cursor)
    lim, off = page_bounds(limit, offset, after)
    where = ["team_uuid = ?"]
    params: list[Any] = [key.team_uuid]
    if response_id:
        where.append("response_id = ?")
        params.append(response_id)
    _in("api_key_id", api_key_id or [], where, params)
    _in("customer_key", customer_key or [], where, params)
    _in("service_key", service_key or [], where, params)
    where_day_range(start_date, end_date, where, params)
    context_filters(request, db.dialect, where, params)
    clause = " AND ".join(where)
    # Counting every match of a big team reads all its cost events: count at most COUNT_CAP.
    row = await db.fetchone(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {COST_VIEW} WHERE {clause} LIMIT ?) AS capped",
        (*params, COUNT_CAP + 1),
    )
    found = int(row[0]) if row else 0
    count = min(found, COUNT_CAP)
    select = f"SELECT {_COLUMNS}, cost_rowid FROM {COST_VIEW}"
    rows, last = await keyset_rows(
        db,
        select,
        where,
        params,
        rowid="cost_rowid",
        ts_index=4,
        cursor=after,
        limit=lim,
        offset=off,
    )
    body = keyset_page(request, count, lim, off, [_item(r) for r in rows], last)
    body["count_capped"] = found > COUNT_CAP
    return body


@router.get("/cost-events/{response_id}", summary="Cost events of one response")
async def cost_events_of(response_id: str, db: DB, key: CurrentKey) -> list[dict[str, Any]]:
    """Every cost event of ``response_id`` in the caller's team (empty list when none)."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM {COST_VIEW} WHERE team_uuid = ? AND response_id = ?"
        " ORDER BY cost_rowid",
        (key.team_uuid, response_id),
    )
    out = []
    for row in rows:
        item = _item(row)
        del item["id"]
        item["team_id"] = key.team_uuid
        item["hourly_rollup_status"] = "complete"
        item["daily_rollup_status"] = "complete"
        out.append(item)
    return out


def _source(unit_id: str, info: dict[str, Any]) -> str:
    if unit_id in info.get("supplement", []):
        return "supplement"
    return str(info.get("catalog") or "unknown")


@router.get(
    "/cost-events/{response_id}/explain",
    summary="How one response's cost was worked out, line by line",
)
async def explain(response_id: str, db: DB, key: CurrentKey) -> dict[str, Any]:
    """Each cost line of ``response_id`` as quantity x rate = amount with where the rate came
    from (the catalogue and its version, the supplement table, or a custom service), the total,
    whether the usage was estimated, and the usage fields that no rate covered.

    Raises:
        HTTPException: 404 when the team has no event with this response id.
    """
    event = await db.fetchone(
        "SELECT event_id, service_key, status, errors, flags, pricing, ts FROM usage_events"
        " WHERE team_uuid = ? AND response_id = ?",
        (key.team_uuid, response_id),
    )
    if event is None:
        raise HTTPException(404, f"no event with response_id {response_id!r}")
    rows = await db.fetchall(
        "SELECT cost_unit_id, quantity, cost_per_unit, cost FROM"
        f" {COST_VIEW} WHERE team_uuid = ? AND response_id = ? ORDER BY cost_rowid",
        (key.team_uuid, response_id),
    )
    info = json_or_none(event[5]) or {}
    notes = pricing_notes(event[4], event[5])
    lines = [
        {
            "cost_unit_id": unit,
            "quantity": quantity,
            "cost_per_unit": rate,
            "cost": cost,
            "formula": f"{quantity} x {rate} = {cost}",
            "source": _source(unit, info),
        }
        for unit, quantity, rate, cost in rows
    ]
    total = sum((Decimal(line["cost"]) for line in lines), Decimal(0))
    catalog = notes["catalog"]
    # "genai-prices 0.2.5" -> name and version; "custom service" has no version.
    name, _, version = (catalog or "").rpartition(" ")
    if not version[:1].isdigit():
        name, version = catalog or "", ""
    return {
        "response_id": response_id,
        "event_id": event[0],
        "service_key": event[1],
        "status": event[2],
        "errors": json_or_none(event[3]) or [],
        "timestamp": iso(event[6]),
        "catalog": catalog,
        "catalog_name": name or None,
        "catalog_version": version or None,
        "lines": lines,
        "total": format(total.normalize(), "f") if total else "0",
        **{k: v for k, v in notes.items() if k != "catalog"},
    }
