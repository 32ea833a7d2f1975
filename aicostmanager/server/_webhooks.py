"""Webhook endpoints CRUD: ``/webhooks/`` and ``/webhooks/{uuid}/`` (team-scoped).

The local server stores endpoints but never calls them. The ``secret`` is part of the answer
(as on the SaaS) because the caller chose it.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response

from ..models import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointsResponse,
    WebhookEndpointUpdate,
)
from . import _clock
from ._deps import DB, CurrentKey
from ._owned import change_owned, delete_owned, fetch_owned, not_found, team_router

__all__ = ("SCHEMA", "router")

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    uuid       TEXT PRIMARY KEY,
    team_uuid  TEXT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    active     INTEGER NOT NULL,
    tolerance  INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_endpoints_team ON webhook_endpoints (team_uuid, created_at);
"""

router = team_router("webhooks")

_NOT_FOUND = not_found("webhook endpoint")

_FIELDS = ("uuid", "team_uuid", "url", "secret", "active", "tolerance", "created_at", "updated_at")
_COLUMNS = ", ".join(_FIELDS)


def _out(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_FIELDS, row, strict=True))
    out["active"] = bool(out["active"])
    return out


async def _fetch(db: DB, team_uuid: str, webhook_uuid: str) -> dict[str, Any]:
    row = await fetch_owned(
        db, "webhook_endpoints", _COLUMNS, webhook_uuid, team_uuid, "webhook endpoint"
    )
    return _out(row)


@router.post("/webhooks/", response_model=WebhookEndpointOut, status_code=201)
async def create_webhook(body: WebhookEndpointCreate, db: DB, key: CurrentKey) -> dict[str, Any]:
    """Register a webhook endpoint."""
    now = _clock.now().isoformat()
    row = (
        str(uuid.uuid4()),
        key.team_uuid,
        body.url,
        body.secret,
        int(body.active),
        body.tolerance,
        now,
        now,
    )
    await db.execute(
        f"INSERT INTO webhook_endpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row
    )
    return _out(row)


@router.get("/webhooks/", response_model=WebhookEndpointsResponse)
async def list_webhooks(db: DB, key: CurrentKey, active_only: bool = False) -> dict[str, Any]:
    """The team's endpoints (only active ones with ``active_only``) and the counts of all."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE team_uuid = ? ORDER BY created_at, uuid",
        (key.team_uuid,),
    )
    endpoints = [_out(r) for r in rows]
    active = [e for e in endpoints if e["active"]]
    return {
        "endpoints": active if active_only else endpoints,
        "total_count": len(endpoints),
        "active_count": len(active),
    }


@router.get("/webhooks/{webhook_uuid}/", response_model=WebhookEndpointOut, responses=_NOT_FOUND)
async def get_webhook(webhook_uuid: str, db: DB, key: CurrentKey) -> dict[str, Any]:
    """One endpoint by ``uuid``."""
    return await _fetch(db, key.team_uuid, webhook_uuid)


@router.put("/webhooks/{webhook_uuid}/", response_model=WebhookEndpointOut, responses=_NOT_FOUND)
async def update_webhook(
    webhook_uuid: str, body: WebhookEndpointUpdate, db: DB, key: CurrentKey
) -> dict[str, Any]:
    """Change the given (non-null) fields of an endpoint."""
    changes = body.model_dump(exclude_none=True)
    if "active" in changes:
        changes["active"] = int(changes["active"])
    changes["updated_at"] = _clock.now().isoformat()
    assignments = ", ".join(f"{name} = ?" for name in changes)
    await change_owned(
        db,
        f"UPDATE webhook_endpoints SET {assignments} WHERE uuid = ? AND team_uuid = ?",
        (*changes.values(), webhook_uuid, key.team_uuid),
        "webhook endpoint",
    )
    return await _fetch(db, key.team_uuid, webhook_uuid)


@router.delete(
    "/webhooks/{webhook_uuid}/", status_code=204, response_class=Response, responses=_NOT_FOUND
)
async def delete_webhook(webhook_uuid: str, db: DB, key: CurrentKey) -> Response:
    """Delete an endpoint."""
    return await delete_owned(
        db, "webhook_endpoints", webhook_uuid, key.team_uuid, "webhook endpoint"
    )
