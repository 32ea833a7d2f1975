"""Usage-limit rules shared by the limit CRUD and the triggered-limit envelope.

A limit sums the team's ``cost_events.cost`` whose ``ts`` falls in the current UTC calendar
period (day or month, by the server clock) and that match its scope (service key, customer key,
API key; null = all). When that spend reaches the limit's amount, one ``triggered_limits`` row is
inserted for the limit and period (``UNIQUE (limit_id, period_start)``, so concurrent
evaluations create it once); it expires at the end of the period.

Table ``usage_limits``: ``uuid``, ``team_uuid``, ``threshold_type`` (alert|limit), ``amount``
(decimal TEXT), ``period`` (day|month), ``service_key``, ``customer_key``, ``api_key_id`` (all
nullable scopes), ``notification_list`` (JSON or NULL), ``active`` (0/1), ``created_at``,
``updated_at``.

Table ``triggered_limits``: ``event_id``, ``limit_id``, ``team_uuid``, ``period_start``,
``expires_at`` (REAL epoch), ``triggered_at`` (REAL epoch), ``spend`` (decimal TEXT at trigger).

Table ``limit_generations``: ``team_uuid``, ``generation``: bumped (after the change is
committed) whenever the team's triggered set may have changed; the envelope cache of
:mod:`._triggered` is keyed on it. It lives in the database so that every server process sees a
change made through another one at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from . import _clock
from ._db import Database, Row
from ._rollups import PICO
from ._track_schema import COST_VIEW

__all__ = (
    "LIMITS_SCHEMA",
    "TRIGGERED_SCHEMA",
    "Limit",
    "bump",
    "evaluate",
    "generation",
    "load_limits",
    "period_bounds",
    "reached",
    "spend",
)

LIMITS_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_limits (
    uuid              TEXT PRIMARY KEY,
    team_uuid         TEXT NOT NULL,
    threshold_type    TEXT NOT NULL,
    amount            TEXT NOT NULL,
    period            TEXT NOT NULL,
    service_key       TEXT,
    customer_key      TEXT,
    api_key_id        TEXT,
    notification_list TEXT,
    active            INTEGER NOT NULL,
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_limits_team ON usage_limits (team_uuid);
"""

TRIGGERED_SCHEMA = """
CREATE TABLE IF NOT EXISTS triggered_limits (
    event_id     TEXT PRIMARY KEY,
    limit_id     TEXT NOT NULL,
    team_uuid    TEXT NOT NULL,
    period_start REAL NOT NULL,
    expires_at   REAL NOT NULL,
    triggered_at REAL NOT NULL,
    spend        TEXT NOT NULL,
    UNIQUE (limit_id, period_start)
);
CREATE INDEX IF NOT EXISTS triggered_limits_team ON triggered_limits (team_uuid, expires_at);
CREATE TABLE IF NOT EXISTS limit_generations (
    team_uuid  TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);
"""

LIMIT_COLUMNS = (
    "uuid, team_uuid, threshold_type, amount, period, service_key, customer_key, api_key_id,"
    " notification_list, active"
)


@dataclass(frozen=True)
class Limit:
    """One stored usage limit."""

    uuid: str
    team_uuid: str
    threshold_type: str
    amount: Decimal
    period: str
    service_key: str | None
    customer_key: str | None
    api_key_id: str | None
    notification_list: list[str] | None
    active: bool

    @classmethod
    def from_row(cls, row: Row) -> Limit:
        """Build from a ``SELECT {LIMIT_COLUMNS}`` row."""
        return cls(
            uuid=str(row[0]),
            team_uuid=str(row[1]),
            threshold_type=str(row[2]),
            amount=Decimal(str(row[3])),
            period=str(row[4]),
            service_key=row[5],
            customer_key=row[6],
            api_key_id=row[7],
            notification_list=json.loads(row[8]) if row[8] else None,
            active=bool(row[9]),
        )


def period_bounds(period: str, now: float) -> tuple[float, float]:
    """Start and end (epoch seconds) of the UTC day or month containing ``now``.

    Raises:
        ValueError: ``period`` is neither ``day`` nor ``month``.
    """
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    if period == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.timestamp(), start.timestamp() + 86400.0
    if period == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if start.month == 12:
            end = start.replace(year=start.year + 1, month=1)
        else:
            end = start.replace(month=start.month + 1)
        return start.timestamp(), end.timestamp()
    raise ValueError(f"unknown period {period!r}")


async def load_limits(
    db: Database, team_uuid: str, *, active_only: bool = False, api_key_id: str | None = None
) -> list[Limit]:
    """The team's limits (only active ones / only those covering ``api_key_id`` when asked)."""
    sql = f"SELECT {LIMIT_COLUMNS} FROM usage_limits WHERE team_uuid = ?"
    params: list[object] = [team_uuid]
    if active_only:
        sql += " AND active = 1"
    if api_key_id is not None:
        sql += " AND (api_key_id IS NULL OR api_key_id = ?)"
        params.append(api_key_id)
    rows = await db.fetchall(sql + " ORDER BY created_at, uuid", params)
    return [Limit.from_row(row) for row in rows]


def _scope_filter(limit: Limit, start: float, end: float) -> tuple[str, list[object]]:
    where = "team_uuid = ? AND ts >= ? AND ts < ?"
    params: list[object] = [limit.team_uuid, start, end]
    for column, value in (
        ("service_key", limit.service_key),
        ("customer_key", limit.customer_key),
        ("api_key_id", limit.api_key_id),
    ):
        if value is not None:
            where += f" AND {column} = ?"
            params.append(value)
    return where, params


def _rollup_filter(limit: Limit, start: float, end: float) -> tuple[str, list[object]] | None:
    """The rollup query for the limit, or None when only the events can answer it (a limit
    scoped to one API key, or a period that does not start and end on UTC midnights)."""
    if limit.api_key_id is not None or start % 86400 or end % 86400:
        return None
    where = "team_uuid = ? AND bucket >= ? AND bucket < ?"
    params: list[object] = [limit.team_uuid, int(start), int(end)]
    for column, value in (("service_key", limit.service_key), ("customer_key", limit.customer_key)):
        if value is not None:
            where += f" AND {column} = ?"
            params.append(value)
    return where, params


async def spend(db: Database, limit: Limit, start: float, end: float) -> Decimal:
    """The team's cost in ``[start, end)`` within the limit's scope.

    Day and month limits read the daily spend rollups (exact to the pico-dollar, and as fast at
    a million events as at ten); a limit scoped to one API key sums its cost events exactly.
    """
    rollup = _rollup_filter(limit, start, end)
    if rollup is not None:
        row = await db.fetchone(
            f"SELECT COALESCE(SUM(cost_pico), 0) FROM spend_daily WHERE {rollup[0]}", rollup[1]
        )
        return Decimal(int(row[0]) if row else 0) / PICO
    where, params = _scope_filter(limit, start, end)
    row = await db.fetchone(
        f"SELECT {db.dialect.decimal_sum('cost')} FROM {COST_VIEW} WHERE {where}", params
    )
    return Decimal(str(row[0])) if row is not None and row[0] is not None else Decimal(0)


async def reached(db: Database, limit: Limit, start: float, end: float) -> Decimal | None:
    """The exact spend when it reached the limit's amount, else None (the sum is exact in
    SQL on either engine: no float screening)."""
    total = await spend(db, limit, start, end)
    return total if total >= limit.amount else None


async def generation(db: Database, team_uuid: str) -> int:
    """The team's triggered-set generation (changes whenever the set may have changed)."""
    row = await db.fetchone(
        "SELECT generation FROM limit_generations WHERE team_uuid = ?", (team_uuid,)
    )
    return 0 if row is None else int(row[0])


async def bump(db: Database, team_uuid: str) -> None:
    """Mark the team's triggered set as changed (call it once the change is committed)."""
    await db.execute(
        "INSERT INTO limit_generations (team_uuid, generation) VALUES (?, 1)"
        " ON CONFLICT (team_uuid) DO UPDATE SET generation = limit_generations.generation + 1",
        (team_uuid,),
    )


async def evaluate(db: Database, limits: Sequence[Limit]) -> int:
    """Trigger every active limit whose current-period spend reached its amount.

    Limits already triggered in the current period are skipped. Returns the number of events
    created (0 when a concurrent evaluation created them first).
    """
    now = _clock.now_ts()
    created = 0
    for limit in limits:
        if not limit.active:
            continue
        start, end = period_bounds(limit.period, now)
        done = await db.fetchone(
            "SELECT 1 FROM triggered_limits WHERE limit_id = ? AND period_start = ?",
            (limit.uuid, start),
        )
        if done is not None:
            continue
        total = await reached(db, limit, start, end)
        if total is None:
            continue
        created += await db.execute(
            "INSERT INTO triggered_limits (event_id, limit_id, team_uuid, period_start,"
            " expires_at, triggered_at, spend) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (str(uuid.uuid4()), limit.uuid, limit.team_uuid, start, end, now, format(total, "f")),
        )
    if created:
        for team in {limit.team_uuid for limit in limits}:
            await bump(db, team)
    return created
