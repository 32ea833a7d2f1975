"""Custom services CRUD (``/custom-services/``) and pricing of tracked events with them.

A custom service belongs to a team; its key (``<vendor>::<name>``) is unique among the team's
services that are not deleted. DELETE is a soft delete (``is_deleted = true``); deleted and
inactive services price nothing. The pricing rules are in :mod:`._custom_pricing`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import HTTPException, Response

from ..models import (
    CustomServiceConfiguration,
    CustomServiceIn,
    CustomServiceOut,
    CustomServiceSummaryOut,
)
from . import _clock
from ._auth import ApiKey
from ._custom_pricing import price_usage
from ._db import ConstraintError, Database
from ._deps import DB, CurrentKey
from ._owned import CONFLICT as _CONFLICT
from ._owned import change_owned, fetch_owned, not_found, team_router

__all__ = ("SCHEMA", "custom_config", "price_usage", "router")

SCHEMA = """
CREATE TABLE IF NOT EXISTS custom_services (
    uuid               TEXT PRIMARY KEY,
    team_uuid          TEXT NOT NULL,
    custom_service_key TEXT NOT NULL,
    configuration      TEXT NOT NULL,
    is_active          INTEGER NOT NULL,
    is_deleted         INTEGER NOT NULL DEFAULT 0,
    cost_units_count   INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS custom_services_live_key
    ON custom_services (team_uuid, custom_service_key) WHERE is_deleted = 0;
"""

router = team_router("custom services")

_NOT_FOUND = not_found("live custom service")

_FIELDS = (
    "uuid",
    "team_uuid",
    "custom_service_key",
    "configuration",
    "is_active",
    "is_deleted",
    "cost_units_count",
    "created_at",
    "updated_at",
)
_COLUMNS = ", ".join(_FIELDS)


def _out(row: tuple[Any, ...]) -> dict[str, Any]:
    data = dict(zip(_FIELDS, row, strict=True))
    configuration = json.loads(data["configuration"])
    data["configuration"] = configuration
    data["is_active"] = bool(data["is_active"])
    data["is_deleted"] = bool(data["is_deleted"])
    data["cost_units"] = configuration["cost_units"]
    data["team_name"] = f"Team {data['team_uuid'][:8]}"
    del data["cost_units_count"]
    return data


def _summary(row: tuple[Any, ...]) -> dict[str, Any]:
    data = dict(zip(_FIELDS, row, strict=True))
    return {
        "uuid": data["uuid"],
        "custom_service_key": data["custom_service_key"],
        "is_active": bool(data["is_active"]),
        "is_deleted": bool(data["is_deleted"]),
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
        "cost_units_count": data["cost_units_count"],
    }


def _config_text(body: CustomServiceIn) -> str:
    return json.dumps(body.configuration.model_dump(mode="json"), separators=(",", ":"))


def _conflict(service_key: str) -> HTTPException:
    return HTTPException(409, detail=f"a custom service {service_key!r} exists")


async def _fetch(db: Database, team_uuid: str, service_uuid: str) -> tuple[Any, ...]:
    return await fetch_owned(
        db, "custom_services", _COLUMNS, service_uuid, team_uuid, "custom service"
    )


@router.get("/custom-services/", response_model=list[CustomServiceSummaryOut])
async def list_custom_services(
    db: DB,
    key: CurrentKey,
    is_active: bool | None = None,
    is_deleted: bool | None = None,
    has_cost_units: bool | None = None,
) -> list[dict[str, Any]]:
    """The team's custom services; deleted ones only when ``is_deleted`` is given."""
    where = ["team_uuid = ?", "is_deleted = ?"]
    params: list[Any] = [key.team_uuid, int(bool(is_deleted))]
    if is_active is not None:
        where.append("is_active = ?")
        params.append(int(is_active))
    if has_cost_units is not None:
        where.append("cost_units_count > 0" if has_cost_units else "cost_units_count = 0")
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM custom_services WHERE {' AND '.join(where)}"
        " ORDER BY created_at, uuid",
        params,
    )
    return [_summary(r) for r in rows]


@router.post(
    "/custom-services/", response_model=CustomServiceOut, status_code=201, responses=_CONFLICT
)
async def create_custom_service(body: CustomServiceIn, db: DB, key: CurrentKey) -> dict[str, Any]:
    """Create a custom service (409 when the team has a live one with this key)."""
    now = _clock.now().isoformat()
    row = (
        str(uuid.uuid4()),
        key.team_uuid,
        body.custom_service_key,
        _config_text(body),
        int(body.is_active),
        0,
        len(body.configuration.cost_units),
        now,
        now,
    )
    try:
        await db.execute(
            f"INSERT INTO custom_services ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
        )
    except ConstraintError:
        raise _conflict(body.custom_service_key) from None
    return _out(row)


@router.get(
    "/custom-services/{service_uuid}/", response_model=CustomServiceOut, responses=_NOT_FOUND
)
async def get_custom_service(service_uuid: str, db: DB, key: CurrentKey) -> dict[str, Any]:
    """One custom service by ``uuid`` (deleted ones too, with ``is_deleted: true``)."""
    return _out(await _fetch(db, key.team_uuid, service_uuid))


@router.put(
    "/custom-services/{service_uuid}/",
    response_model=CustomServiceOut,
    responses={**_NOT_FOUND, **_CONFLICT},
)
async def update_custom_service(
    service_uuid: str, body: CustomServiceIn, db: DB, key: CurrentKey
) -> dict[str, Any]:
    """Replace a live custom service."""
    try:
        await change_owned(
            db,
            "UPDATE custom_services SET custom_service_key = ?, configuration = ?,"
            " is_active = ?, cost_units_count = ?, updated_at = ?"
            " WHERE uuid = ? AND team_uuid = ? AND is_deleted = 0",
            (
                body.custom_service_key,
                _config_text(body),
                int(body.is_active),
                len(body.configuration.cost_units),
                _clock.now().isoformat(),
                service_uuid,
                key.team_uuid,
            ),
            "custom service",
        )
    except ConstraintError:
        raise _conflict(body.custom_service_key) from None
    return _out(await _fetch(db, key.team_uuid, service_uuid))


@router.delete(
    "/custom-services/{service_uuid}/",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
)
async def delete_custom_service(service_uuid: str, db: DB, key: CurrentKey) -> Response:
    """Soft-delete a live custom service."""
    await change_owned(
        db,
        "UPDATE custom_services SET is_deleted = 1, updated_at = ?"
        " WHERE uuid = ? AND team_uuid = ? AND is_deleted = 0",
        (_clock.now().isoformat(), service_uuid, key.team_uuid),
        "custom service",
    )
    return Response(status_code=204)


async def custom_config(
    db: Database, key: ApiKey, service_key: str
) -> CustomServiceConfiguration | None:
    """The live, active custom service ``service_key`` of the caller's team; None if none."""
    row = await db.fetchone(
        "SELECT configuration FROM custom_services"
        " WHERE team_uuid = ? AND custom_service_key = ? AND is_deleted = 0 AND is_active = 1",
        (key.team_uuid, service_key),
    )
    if row is None:
        return None
    return CustomServiceConfiguration.model_validate_json(row[0])
