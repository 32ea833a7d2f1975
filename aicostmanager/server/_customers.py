"""Customers CRUD: ``/customers/`` and ``/customers/{customer_id}/`` (team-scoped).

Filters of the list: ``customer_key`` (exact), ``name``, ``phone`` (case-insensitive substring)
and ``address`` (case-insensitive substring of the e-mail address). Pages hold ``limit`` items
(default 25, at most 1000) from ``offset``; ``next``/``previous`` are absolute URLs.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response

from ..models import CustomerIn, CustomerOut, PaginatedResponse
from . import _clock
from ._db import ConstraintError
from ._deps import DB, CurrentKey
from ._owned import CONFLICT as _CONFLICT
from ._owned import change_owned, delete_owned, fetch_owned, not_found, team_router

__all__ = ("SCHEMA", "page_links", "router")

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    uuid         TEXT PRIMARY KEY,
    team_uuid    TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    name         TEXT,
    phone        TEXT,
    email        TEXT,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    UNIQUE (team_uuid, customer_key)
);
"""

router = team_router("customers")

_NOT_FOUND = not_found("customer")

_COLUMNS = "uuid, customer_key, name, phone, email"


def page_links(request: Request, limit: int, offset: int, count: int) -> dict[str, str | None]:
    """Absolute ``next``/``previous`` URLs of a page (None at either end)."""
    url = request.url
    nxt = None
    prev = None
    if offset + limit < count:
        nxt = str(url.include_query_params(limit=limit, offset=offset + limit))
    if offset > 0:
        prev = str(url.include_query_params(limit=limit, offset=max(offset - limit, 0)))
    return {"next": nxt, "previous": prev}


def _out(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(("uuid", "customer_key", "name", "phone", "email"), row, strict=True))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conflict(customer_key: str) -> HTTPException:
    return HTTPException(409, detail=f"a customer with customer_key {customer_key!r} exists")


@router.get("/customers/", response_model=PaginatedResponse[CustomerOut])
async def list_customers(
    request: Request,
    db: DB,
    key: CurrentKey,
    customer_key: str | None = None,
    name: str | None = None,
    address: str | None = None,
    phone: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 25,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> dict[str, Any]:
    """One page of the team's customers, oldest first."""
    where = ["team_uuid = ?"]
    params: list[Any] = [key.team_uuid]
    if customer_key is not None:
        where.append("customer_key = ?")
        params.append(customer_key)
    for column, value in (("name", name), ("email", address), ("phone", phone)):
        if value is not None:
            where.append(f"{column} {db.dialect.like} ? ESCAPE '\\'")
            params.append(_like(value))
    clause = " AND ".join(where)
    row = await db.fetchone(f"SELECT COUNT(*) FROM customers WHERE {clause}", params)
    count = int(row[0]) if row else 0
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM customers WHERE {clause}"
        " ORDER BY created_at, uuid LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return {
        "count": count,
        **page_links(request, limit, offset, count),
        "results": [_out(r) for r in rows],
    }


@router.post("/customers/", response_model=CustomerOut, status_code=201, responses=_CONFLICT)
async def create_customer(body: CustomerIn, db: DB, key: CurrentKey) -> dict[str, Any]:
    """Create a customer (409 when the team already has this ``customer_key``)."""
    new_id = str(uuid.uuid4())
    now = _clock.now_ts()
    try:
        await db.execute(
            "INSERT INTO customers (uuid, team_uuid, customer_key, name, phone, email,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (new_id, key.team_uuid, body.customer_key, body.name, body.phone, body.email, now, now),
        )
    except ConstraintError:
        raise _conflict(body.customer_key) from None
    return {"uuid": new_id, **body.model_dump()}


async def _fetch(db: DB, team_uuid: str, customer_id: str) -> dict[str, Any]:
    return _out(await fetch_owned(db, "customers", _COLUMNS, customer_id, team_uuid, "customer"))


@router.get("/customers/{customer_id}/", response_model=CustomerOut, responses=_NOT_FOUND)
async def get_customer(customer_id: str, db: DB, key: CurrentKey) -> dict[str, Any]:
    """One customer by ``uuid``."""
    return await _fetch(db, key.team_uuid, customer_id)


@router.put(
    "/customers/{customer_id}/", response_model=CustomerOut, responses={**_NOT_FOUND, **_CONFLICT}
)
async def update_customer(
    customer_id: str, body: CustomerIn, db: DB, key: CurrentKey
) -> dict[str, Any]:
    """Replace a customer's fields."""
    try:
        await change_owned(
            db,
            "UPDATE customers SET customer_key = ?, name = ?, phone = ?, email = ?,"
            " updated_at = ? WHERE uuid = ? AND team_uuid = ?",
            (
                body.customer_key,
                body.name,
                body.phone,
                body.email,
                _clock.now_ts(),
                customer_id,
                key.team_uuid,
            ),
            "customer",
        )
    except ConstraintError:
        raise _conflict(body.customer_key) from None
    return {"uuid": customer_id, **body.model_dump()}


@router.delete(
    "/customers/{customer_id}/", status_code=204, response_class=Response, responses=_NOT_FOUND
)
async def delete_customer(customer_id: str, db: DB, key: CurrentKey) -> Response:
    """Delete a customer."""
    return await delete_owned(db, "customers", customer_id, key.team_uuid, "customer")
