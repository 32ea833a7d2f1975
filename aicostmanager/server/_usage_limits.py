"""``/usage-limits/``: CRUD of a team's usage limits and their current-period progress.

Storage and spend rules are in :mod:`._limit_rules`. Creating or changing a limit evaluates it at
once (spend may already be over it); changing or deleting one drops its triggered events.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import _clock
from ._auth import ApiKey
from ._db import Database
from ._deps import DB, CurrentKey
from ._limit_rules import LIMIT_COLUMNS, LIMITS_SCHEMA, Limit, bump, evaluate, period_bounds, spend

__all__ = ("SCHEMA", "router")

SCHEMA = LIMITS_SCHEMA

router = APIRouter(tags=["usage limits"])


class UsageLimitIn(BaseModel):
    """Body of ``POST /usage-limits/`` and ``PUT /usage-limits/{uuid}/``."""

    model_config = ConfigDict(extra="forbid")

    threshold_type: Literal["alert", "limit"]
    amount: Decimal = Field(
        ge=0, le=Decimal("1e15"), description="decimal, as a number or a string"
    )
    period: Literal["day", "month"]
    service_key: str | None = None
    client: str | None = Field(default=None, description="customer key scope")
    team_uuid: str | None = None
    api_key_uuid: str | None = None
    notification_list: list[str] | None = None
    active: bool = True

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("amount must be a finite decimal")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -30:
            raise ValueError("amount has more than 30 decimal places")
        return value


class UsageLimitOut(BaseModel):
    """A stored usage limit (``service`` is its service key, ``client`` its customer key)."""

    uuid: str
    threshold_type: str
    amount: str
    period: str
    service: str | None = None
    client: str | None = None
    notification_list: list[str] | None = None
    active: bool
    team_uuid: str
    api_key_uuid: str | None = None


class UsageLimitProgressOut(UsageLimitOut):
    """A usage limit with the spend of its current period."""

    current_spend: str
    remaining_amount: str


def _plain(value: Decimal) -> str:
    """Positional text without trailing zeros (``0.00009000`` -> ``0.00009``)."""
    return format(value.normalize(), "f") if value else "0"


def _out(limit: Limit) -> dict[str, Any]:
    return {
        "uuid": limit.uuid,
        "threshold_type": limit.threshold_type,
        "amount": _plain(limit.amount),
        "period": limit.period,
        "service": limit.service_key,
        "client": limit.customer_key,
        "notification_list": limit.notification_list,
        "active": limit.active,
        "team_uuid": limit.team_uuid,
        "api_key_uuid": limit.api_key_id,
    }


def _check_team(body: UsageLimitIn, key: ApiKey) -> None:
    if body.team_uuid is not None and body.team_uuid != key.team_uuid:
        raise HTTPException(status_code=403, detail="Cannot manage limits of another team.")


async def _get(db: Database, key: ApiKey, limit_id: str) -> Limit:
    row = await db.fetchone(
        f"SELECT {LIMIT_COLUMNS} FROM usage_limits WHERE uuid = ? AND team_uuid = ?",
        (limit_id, key.team_uuid),
    )
    if row is None:
        raise HTTPException(status_code=404, detail="Not found.")
    return Limit.from_row(row)


def _values(body: UsageLimitIn) -> tuple[Any, ...]:
    return (
        body.threshold_type,
        format(body.amount, "f"),
        body.period,
        body.service_key,
        body.client,
        body.api_key_uuid,
        json.dumps(body.notification_list) if body.notification_list is not None else None,
        int(body.active),
    )


@router.get("/usage-limits/", response_model=list[UsageLimitOut], summary="List usage limits")
async def list_limits(db: DB, key: CurrentKey) -> list[dict[str, Any]]:
    """Every usage limit of the caller's team, oldest first."""
    rows = await db.fetchall(
        f"SELECT {LIMIT_COLUMNS} FROM usage_limits WHERE team_uuid = ? ORDER BY created_at, uuid",
        (key.team_uuid,),
    )
    return [_out(Limit.from_row(row)) for row in rows]


_OTHER_TEAM: dict[int | str, dict[str, Any]] = {403: {"description": "the body names another team"}}


@router.post(
    "/usage-limits/",
    response_model=UsageLimitOut,
    summary="Create a usage limit",
    responses=_OTHER_TEAM,
)
async def create_limit(body: UsageLimitIn, db: DB, key: CurrentKey) -> dict[str, Any]:
    """Create a limit for the caller's team; it triggers at once if spend is already over it."""
    _check_team(body, key)
    limit_id = str(uuid.uuid4())
    now = _clock.now_ts()
    await db.execute(
        "INSERT INTO usage_limits (uuid, team_uuid, threshold_type, amount, period, service_key,"
        " customer_key, api_key_id, notification_list, active, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (limit_id, key.team_uuid, *_values(body), now, now),
    )
    limit = await _get(db, key, limit_id)
    await evaluate(db, [limit])
    return _out(limit)


@router.get(
    "/usage-limits/progress/",
    response_model=list[UsageLimitProgressOut],
    summary="Usage limits with their current spend",
)
async def progress(db: DB, key: CurrentKey) -> list[dict[str, Any]]:
    """Each limit with ``current_spend`` in its current day/month and ``remaining_amount``."""
    rows = await db.fetchall(
        f"SELECT {LIMIT_COLUMNS} FROM usage_limits WHERE team_uuid = ? ORDER BY created_at, uuid",
        (key.team_uuid,),
    )
    now = _clock.now_ts()
    answer = []
    for row in rows:
        limit = Limit.from_row(row)
        start, end = period_bounds(limit.period, now)
        current = await spend(db, limit, start, end)
        remaining = max(limit.amount - current, Decimal(0))
        answer.append(
            {
                **_out(limit),
                "current_spend": _plain(current),
                "remaining_amount": _plain(remaining),
            }
        )
    return answer


@router.get("/usage-limits/{limit_id}/", response_model=UsageLimitOut, summary="Get a usage limit")
async def get_limit(limit_id: str, db: DB, key: CurrentKey) -> dict[str, Any]:
    """One limit of the caller's team."""
    return _out(await _get(db, key, limit_id))


@router.put(
    "/usage-limits/{limit_id}/",
    response_model=UsageLimitOut,
    summary="Replace a limit",
    responses=_OTHER_TEAM,
)
async def update_limit(
    limit_id: str, body: UsageLimitIn, db: DB, key: CurrentKey
) -> dict[str, Any]:
    """Replace a limit; its triggered events are dropped and it is evaluated again."""
    _check_team(body, key)
    await _get(db, key, limit_id)
    async with db.transaction():
        await db.execute(
            "UPDATE usage_limits SET threshold_type = ?, amount = ?, period = ?, service_key = ?,"
            " customer_key = ?, api_key_id = ?, notification_list = ?, active = ?,"
            " updated_at = ? WHERE uuid = ? AND team_uuid = ?",
            (*_values(body), _clock.now_ts(), limit_id, key.team_uuid),
        )
        await db.execute("DELETE FROM triggered_limits WHERE limit_id = ?", (limit_id,))
    await bump(db, key.team_uuid)
    limit = await _get(db, key, limit_id)
    await evaluate(db, [limit])
    return _out(limit)


@router.delete(
    "/usage-limits/{limit_id}/", status_code=204, response_class=Response, summary="Delete"
)
async def delete_limit(limit_id: str, db: DB, key: CurrentKey) -> Response:
    """Delete a limit and its triggered events."""
    await _get(db, key, limit_id)
    async with db.transaction():
        await db.execute(
            "DELETE FROM usage_limits WHERE uuid = ? AND team_uuid = ?", (limit_id, key.team_uuid)
        )
        await db.execute("DELETE FROM triggered_limits WHERE limit_id = ?", (limit_id,))
    await bump(db, key.team_uuid)
    return Response(status_code=204)
