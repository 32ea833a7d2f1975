"""Spend rollups kept up to date as events are stored, so spend queries never scan events.

Four tables, each keyed by team and a UTC time bucket (epoch seconds of its start):

- ``spend_hourly`` / ``spend_daily``: per (bucket, customer, service) the cost and the number
  of usage events (events that were not priced count with cost 0), the part of the cost that
  comes from estimated usage (``estimated_pico``) and the number of events that were not fully
  priced (``partial_events``);
- ``spend_units_daily``: per (day, service, cost unit) the quantity and the cost, and
  ``spend_customer_units_daily`` the same per customer (kept apart so that the team-wide
  question reads a few rows per day, not one per customer).

Costs are stored as integer pico-dollars (``10**-12``): SQL sums them exactly, and a total is
exact to the cent for sums up to about 9 million dollars per query. ``''`` stands for "no
customer" so that the primary keys stay unique.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._db import Database
from ._pico import PICO, to_pico

__all__ = (
    "DAY",
    "HOUR",
    "INDEXES",
    "MAX_BUCKET_PICO",
    "PICO",
    "SCHEMA",
    "RollupOverflow",
    "Totals",
    "aggregate",
    "backfill",
    "record",
    "to_pico",
    "totals",
    "write",
)

# The hourly and daily spend tables have the same columns.
_SPEND_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    team_uuid    TEXT NOT NULL,
    bucket       INTEGER NOT NULL,
    customer_key TEXT NOT NULL,
    service_key  TEXT NOT NULL,
    vendor       TEXT NOT NULL,
    cost_pico    INTEGER NOT NULL,
    events       INTEGER NOT NULL,
    estimated_pico INTEGER NOT NULL DEFAULT 0,
    partial_events INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_uuid, bucket, customer_key, service_key)
) WITHOUT ROWID;
"""

SCHEMA = (
    _SPEND_TABLE.format(table="spend_hourly")
    + _SPEND_TABLE.format(table="spend_daily")
    + """
CREATE TABLE IF NOT EXISTS spend_units_daily (
    team_uuid    TEXT NOT NULL,
    bucket       INTEGER NOT NULL,
    service_key  TEXT NOT NULL,
    cost_unit_id TEXT NOT NULL,
    quantity     REAL NOT NULL,
    cost_pico    INTEGER NOT NULL,
    PRIMARY KEY (team_uuid, bucket, service_key, cost_unit_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spend_customer_units_daily (
    team_uuid    TEXT NOT NULL,
    bucket       INTEGER NOT NULL,
    customer_key TEXT NOT NULL,
    service_key  TEXT NOT NULL,
    cost_unit_id TEXT NOT NULL,
    quantity     REAL NOT NULL,
    cost_pico    INTEGER NOT NULL,
    PRIMARY KEY (team_uuid, customer_key, bucket, service_key, cost_unit_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spend_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
)

INDEXES = (
    "CREATE INDEX IF NOT EXISTS usage_events_unpriced"
    " ON usage_events (team_uuid, ts) WHERE status != 'completed'",
    "CREATE INDEX IF NOT EXISTS usage_events_team_customer_ts"
    " ON usage_events (team_uuid, customer_key, ts)",
)
"""Indexes of ``usage_events`` that the spend endpoints need (made again after a migration
rebuilt that table)."""

SCHEMA += "".join(f"{statement};\n" for statement in INDEXES)

HOUR = 3600
DAY = 86400

MAX_BUCKET_PICO = 2**62
"""The most one rollup row may hold (pico-dollars, about $4.6 million): half of SQLite's
64-bit range, so that a query summing a few rows cannot overflow either."""
# Batches adding less than this need no check of the rows they touch (a row reaches the
# limit only through a batch that was checked).
_CHECK_ABOVE = 10**15


class RollupOverflow(ValueError):
    """Storing the events would take a rollup row beyond :data:`MAX_BUCKET_PICO`."""


_UPSERT_SPEND = (
    "INSERT INTO {table} (team_uuid, bucket, customer_key, service_key, vendor, cost_pico,"
    " events, estimated_pico, partial_events) VALUES (?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (team_uuid, bucket, customer_key, service_key)"
    " DO UPDATE SET cost_pico = {table}.cost_pico + excluded.cost_pico,"
    " events = {table}.events + excluded.events,"
    " estimated_pico = {table}.estimated_pico + excluded.estimated_pico,"
    " partial_events = {table}.partial_events + excluded.partial_events"
)
_UPSERT_UNITS = (
    "INSERT INTO spend_units_daily (team_uuid, bucket, service_key, cost_unit_id,"
    " quantity, cost_pico) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT (team_uuid, bucket, service_key, cost_unit_id)"
    " DO UPDATE SET quantity = spend_units_daily.quantity + excluded.quantity,"
    " cost_pico = spend_units_daily.cost_pico + excluded.cost_pico"
)
_UPSERT_CUSTOMER_UNITS = (
    "INSERT INTO spend_customer_units_daily (team_uuid, bucket, customer_key, service_key,"
    " cost_unit_id, quantity, cost_pico) VALUES (?,?,?,?,?,?,?)"
    " ON CONFLICT (team_uuid, customer_key, bucket, service_key, cost_unit_id)"
    " DO UPDATE SET quantity = spend_customer_units_daily.quantity + excluded.quantity,"
    " cost_pico = spend_customer_units_daily.cost_pico + excluded.cost_pico"
)


def _vendor(service_key: str) -> str:
    return service_key.split("::", 1)[0] if "::" in service_key else ""


@dataclass(slots=True)
class Totals:
    """The increments of the rollup rows that storing some events adds (see :func:`aggregate`)."""

    hourly: dict[tuple[int, str, str], list[int]]
    daily: dict[tuple[int, str, str], list[int]]
    customer_units: dict[tuple[int, str, str, str], list[Any]]
    units: dict[tuple[int, str, str], list[Any]]


def aggregate(events: Iterable[Sequence[Any]], costs: Iterable[Sequence[Any]]) -> Totals:
    """Sum events and cost events per rollup row (pure; :func:`write` stores the result).

    Args:
        events: ``(ts, customer_key, service_key)`` per stored usage event.
        costs: ``(ts, customer_key, service_key, cost_unit_id, quantity, cost)`` per cost event;
            ``cost`` is the decimal text in dollars, or an ``int`` already in pico-dollars.
    """
    spend: dict[tuple[int, str, str], list[int]] = {}
    units: dict[tuple[int, str, str, str], list[Any]] = {}
    for ts, customer, service in events:
        hour_row = (int(ts // HOUR) * HOUR, customer or "", service or "")
        acc = spend.get(hour_row)
        if acc is None:
            spend[hour_row] = [0, 1, 0, 0]
        else:
            acc[1] += 1
    for ts, customer, service, unit, quantity, cost in costs:
        pico = cost if type(cost) is int else to_pico(cost)
        customer = customer or ""
        hour_row = (int(ts // HOUR) * HOUR, customer, service)
        acc = spend.get(hour_row)
        if acc is None:
            spend[hour_row] = [pico, 0, 0, 0]
        else:
            acc[0] += pico
        row = (int(ts // DAY) * DAY, customer, service, unit)
        unit_acc = units.get(row)
        if unit_acc is None:
            units[row] = [float(quantity), pico]
        else:
            unit_acc[0] += float(quantity)
            unit_acc[1] += pico
    return totals(spend, units)


def totals(
    hourly: dict[tuple[int, str, str], list[int]],
    customer_units: dict[tuple[int, str, str, str], list[Any]],
) -> Totals:
    """The :class:`Totals` of hourly ``(hour, customer, service) -> [pico, events, estimated
    pico, not fully priced events]`` and daily
    ``(day, customer, service, unit) -> [quantity, pico]`` sums (the daily and team-wide rows
    are derived from them)."""
    daily: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (hour, customer, service), values in hourly.items():
        acc = daily[(hour // DAY * DAY, customer, service)]
        for i, value in enumerate(values):
            acc[i] += value
    team_units: dict[tuple[int, str, str], list[Any]] = defaultdict(lambda: [0.0, 0])
    for (day, _, service, unit), (quantity, pico) in customer_units.items():
        acc = team_units[(day, service, unit)]
        acc[0] += quantity
        acc[1] += pico
    return Totals(hourly, dict(daily), customer_units, dict(team_units))


async def write(db: Database, team_uuid: str, totals: Totals) -> None:
    """Add :func:`aggregate`'s increments to the rollup tables (call inside the transaction
    that stores the events)."""
    if not totals.hourly:
        return
    added = sum(values[0] for values in totals.hourly.values())
    if any(values[1] > MAX_BUCKET_PICO for values in totals.units.values()) or any(
        values[0] > MAX_BUCKET_PICO for values in totals.daily.values()
    ):
        raise RollupOverflow("its cost would take a spend rollup beyond $4.6 million")
    for table, rows in (("spend_hourly", totals.hourly), ("spend_daily", totals.daily)):
        await db.executemany(
            _UPSERT_SPEND.format(table=table),
            [
                (team_uuid, bucket, customer, service, _vendor(service), *values)
                for (bucket, customer, service), values in rows.items()
            ],
        )
    if totals.customer_units:
        await db.executemany(
            _UPSERT_CUSTOMER_UNITS,
            [
                (team_uuid, day, customer, service, unit, quantity, pico)
                for (day, customer, service, unit), (
                    quantity,
                    pico,
                ) in totals.customer_units.items()
            ],
        )
        await db.executemany(
            _UPSERT_UNITS,
            [
                (team_uuid, day, service, unit, quantity, pico)
                for (day, service, unit), (quantity, pico) in totals.units.items()
            ],
        )
    if added > _CHECK_ABOVE:
        await _check(db, team_uuid, totals)


async def _check(db: Database, team_uuid: str, totals: Totals) -> None:
    """Raise :class:`RollupOverflow` when a row that ``totals`` touched is beyond the limit."""
    for table, keys, columns in (
        ("spend_daily", list(totals.daily), "bucket, customer_key, service_key"),
        ("spend_units_daily", list(totals.units), "bucket, service_key, cost_unit_id"),
    ):
        for start in range(0, len(keys), 250):
            chunk = keys[start : start + 250]
            marks = ",".join(["(?,?,?)"] * len(chunk))
            row = await db.fetchone(
                f"SELECT 1 FROM {table} WHERE team_uuid = ? AND ({columns}) IN"
                f" (VALUES {marks}) AND (cost_pico > ? OR {db.dialect.not_integer('cost_pico')})"
                " LIMIT 1",
                [team_uuid, *(v for k in chunk for v in k), MAX_BUCKET_PICO],
            )
            if row is not None:
                raise RollupOverflow("its cost would take a spend rollup beyond $4.6 million")


async def record(
    db: Database,
    team_uuid: str,
    events: Iterable[Sequence[Any]],
    costs: Iterable[Sequence[Any]],
) -> None:
    """Add stored events to the rollups (call inside the transaction that stores them).

    Args:
        events: ``(ts, customer_key, service_key)`` per stored usage event.
        costs: ``(ts, customer_key, service_key, cost_unit_id, quantity, cost)`` per cost event.
    """
    await write(db, team_uuid, aggregate(events, costs))


async def backfill(db: Database) -> None:
    """Build the rollups from the stored events once (databases made before rollups existed;
    the indexes the spend endpoints need are made by the migrations).

    One ``INSERT ... SELECT ... GROUP BY`` per rollup table, giving the rows :func:`record`
    gives for the same events (estimated and not fully priced parts 0: the events' flags are
    not read), added to any rows already there.

    Raises:
        RollupOverflow: a rollup row would go beyond :data:`MAX_BUCKET_PICO`.
    """
    if await db.fetchone("SELECT 1 FROM spend_meta WHERE name = 'backfilled'"):
        return
    # Under a lock, checked again inside: servers starting at once backfill once.
    async with db.transaction(team="aicostmanager:backfill"):
        if await db.fetchone("SELECT 1 FROM spend_meta WHERE name = 'backfilled'"):
            return
        for statement in _backfill_sql(db):
            await db.execute(statement)
        for table in ("spend_daily", "spend_units_daily"):
            if await db.fetchone(
                f"SELECT 1 FROM {table} WHERE cost_pico > ?"
                f" OR {db.dialect.not_integer('cost_pico')} LIMIT 1",
                (MAX_BUCKET_PICO,),
            ):
                raise RollupOverflow("its cost would take a spend rollup beyond $4.6 million")
        await db.execute("INSERT INTO spend_meta (name, value) VALUES ('backfilled', '1')")


def _backfill_sql(db: Database) -> list[str]:
    """The statements that add the stored events to the four rollup tables."""
    dialect = db.dialect
    # Cost events count for the teams that have usage events (as record() was called per team).
    costs = " FROM cost_events WHERE team_uuid IN (SELECT team_uuid FROM usage_events)"
    seconds = dialect.int_floor("ts")
    pico = dialect.pico("cost")
    quantity = "CAST(quantity AS DOUBLE PRECISION)"
    statements = []
    for table, size in (("spend_hourly", HOUR), ("spend_daily", DAY)):
        bucket = f"{seconds} / {size} * {size}"
        found = dialect.position("service_key", "'::'")
        statements.append(
            _UPSERT_SPEND.format(table=table).replace(
                " VALUES (?,?,?,?,?,?,?,?,?)",
                f" SELECT team_uuid, bucket, customer_key, service_key,"
                f" CASE WHEN {found} > 0 THEN substr(service_key, 1, {found} - 1) ELSE '' END,"
                " SUM(pico), SUM(events), 0, 0 FROM ("
                f"SELECT team_uuid, {bucket} AS bucket, COALESCE(customer_key, '') AS"
                " customer_key, COALESCE(service_key, '') AS service_key, 0 AS pico,"
                " 1 AS events FROM usage_events WHERE status != 'error'"
                f" UNION ALL SELECT team_uuid, {bucket}, COALESCE(customer_key, ''),"
                f" service_key, {pico}, 0{costs}"
                ") AS e GROUP BY team_uuid, bucket, customer_key, service_key",
            )
        )
    day = f"{seconds} / {DAY} * {DAY}"
    statements.append(
        _UPSERT_CUSTOMER_UNITS.replace(
            " VALUES (?,?,?,?,?,?,?)",
            f" SELECT team_uuid, {day}, COALESCE(customer_key, ''), service_key, cost_unit_id,"
            f" SUM({quantity}), SUM({pico}){costs}"
            f" GROUP BY team_uuid, {day}, COALESCE(customer_key, ''), service_key, cost_unit_id",
        )
    )
    statements.append(
        _UPSERT_UNITS.replace(
            " VALUES (?,?,?,?,?,?)",
            f" SELECT team_uuid, {day}, service_key, cost_unit_id, SUM({quantity}),"
            f" SUM({pico}){costs} GROUP BY team_uuid, {day}, service_key, cost_unit_id",
        )
    )
    return statements
