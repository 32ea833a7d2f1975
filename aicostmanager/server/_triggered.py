"""Triggered limits: evaluation after ``/track`` and the RS256-signed envelope.

``GET /triggered-limits`` and every ``/track`` response carry the caller's full current set as
``{"version": "v1", "public_key": PEM, "key_id": ..., "encrypted_payload": <compact JWS>}``,
claims ``iss="aicm-api"``, ``sub`` (the caller's key id), ``iat``, ``jti``, ``version``,
``key_id`` and ``triggered_limits`` (the events, fields of the contract's §5.2). The envelope is
always signed, also when the list is empty, so that clients can drop limits that ended.

Envelopes are cached per API key until the team's set changes, an event expires, or the clock
moves back; ``iat`` never decreases within a server run, so clients can keep the newest set.
"""

from __future__ import annotations

import logging
import math
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from . import _clock, _signing
from ._auth import ApiKey
from ._db import Database
from ._deps import DB, CurrentKey
from ._limit_rules import (
    LIMIT_COLUMNS,
    TRIGGERED_SCHEMA,
    Limit,
    evaluate,
    generation,
    load_limits,
)

__all__ = ("SCHEMA", "after_track", "envelope", "router")

logger = logging.getLogger("aicostmanager.server")

SCHEMA = TRIGGERED_SCHEMA + _signing.SCHEMA
ISSUER = "aicm-api"
VERSION = "v1"

router = APIRouter(tags=["usage limits"])


@dataclass(frozen=True)
class _Cached:
    generation: int
    built_at: float
    valid_until: float
    has_events: bool
    envelope: dict[str, Any] = field(repr=False)


_cache: weakref.WeakKeyDictionary[Database, dict[str, _Cached]] = weakref.WeakKeyDictionary()
_last_iat: weakref.WeakKeyDictionary[Database, float] = weakref.WeakKeyDictionary()


def _next_iat(db: Database, now: float) -> float:
    iat = max(now, _last_iat.get(db, -math.inf) + 1e-6)
    _last_iat[db] = iat
    return iat


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


async def after_track(db: Database, key: ApiKey) -> None:
    """Called by ``/track`` after each commit that stored new cost events for ``key``:
    trigger the limits covering ``key`` whose current-period spend reached their amount."""
    try:
        limits = await load_limits(db, key.team_uuid, active_only=True, api_key_id=key.key_id)
        if limits:
            await evaluate(db, limits)
    except Exception:  # the records are committed: never turn that into a failed /track
        logger.exception("evaluating usage limits failed")


async def _events(db: Database, key: ApiKey, now: float) -> list[dict[str, Any]]:
    prefixed = ", ".join(f"l.{c.strip()}" for c in LIMIT_COLUMNS.split(","))
    rows = await db.fetchall(
        f"SELECT t.event_id, t.triggered_at, t.expires_at, t.spend, {prefixed}"
        " FROM triggered_limits t JOIN usage_limits l ON l.uuid = t.limit_id"
        " WHERE t.team_uuid = ? AND t.period_start <= ? AND t.expires_at > ? AND l.active = 1"
        " AND (l.api_key_id IS NULL OR l.api_key_id = ?)"
        " ORDER BY t.triggered_at, t.event_id",
        (key.team_uuid, now, now, key.key_id),
    )
    events = []
    for row in rows:
        limit = Limit.from_row(row[4:])
        events.append(
            {
                "event_id": str(row[0]),
                "limit_id": limit.uuid,
                "threshold_type": limit.threshold_type,
                "amount": limit.amount,
                "period": limit.period,
                "limit_context": "key" if limit.api_key_id else "team",
                "limit_message": (
                    f"{limit.threshold_type} of {format(limit.amount, 'f')} per {limit.period}"
                    f" reached (spend {Decimal(str(row[3])):f})"
                ),
                "service_key": limit.service_key,
                "customer_key": limit.customer_key,
                "api_key_id": limit.api_key_id or key.key_id,
                "triggered_at": _iso(float(row[1])),
                "expires_at": _iso(float(row[2])),
            }
        )
    return events


async def envelope(db: Database, key: ApiKey, *, include_public_key: bool) -> dict[str, Any]:
    """The signed envelope of ``key``'s current triggered limits, for ``/track`` responses.

    The PEM is included when asked and whenever the set is not empty: a client that never
    received the key (a new process, the 0.3 SDK with a fresh INI) can then still verify and
    enforce a set that matters; empty sets stay small. A failure is logged and answered with
    ``{}`` ("nothing known"), never with a failed ``/track``.
    """
    try:
        return await _envelope(db, key, include_public_key=include_public_key)
    except Exception:
        logger.exception("building the triggered-limits envelope failed")
        return {}


async def _envelope(db: Database, key: ApiKey, *, include_public_key: bool) -> dict[str, Any]:
    signer = await _signing.get_signer(db)
    now = _clock.now_ts()
    gen = await generation(db, key.team_uuid)
    per_key = _cache.setdefault(db, {})
    cached = per_key.get(key.key_id)
    if (
        cached is None
        or cached.generation != gen
        or not cached.built_at <= now < cached.valid_until
    ):
        iat = _next_iat(db, now)
        events = await _events(db, key, now)
        claims = {
            "iss": ISSUER,
            "sub": key.key_id,
            "iat": iat,
            "jti": uuid.uuid4().hex,
            "version": VERSION,
            "key_id": signer.key_id,
            "triggered_limits": events,
        }
        valid_until = min(
            (datetime.fromisoformat(e["expires_at"]).timestamp() for e in events),
            default=math.inf,
        )
        cached = _Cached(
            generation=gen,
            built_at=now,
            valid_until=valid_until,
            has_events=bool(events),
            envelope={
                "version": VERSION,
                "key_id": signer.key_id,
                "encrypted_payload": signer.sign(claims),
            },
        )
        per_key[key.key_id] = cached
    body = dict(cached.envelope)
    if include_public_key or cached.has_events:
        body["public_key"] = signer.public_pem
    return body


class TriggeredLimitsEnvelope(BaseModel):
    """The signed set of triggered limits (``encrypted_payload`` is a compact RS256 JWS)."""

    version: str = Field(examples=["v1"])
    public_key: str | None = Field(default=None, description="PEM of the verification key")
    key_id: str = Field(description="id of the signing key (the token header's kid)")
    encrypted_payload: str = Field(description="compact JWS; claims iss, sub, iat, jti, ...")


@router.get(
    "/triggered-limits",
    response_model=TriggeredLimitsEnvelope,
    response_model_exclude_none=True,
    summary="The caller's current triggered limits, signed",
)
async def get_triggered_limits(db: DB, key: CurrentKey) -> dict[str, Any]:
    """The signed envelope of the caller's current (non-expired) triggered limits."""
    return await _envelope(db, key, include_public_key=True)
