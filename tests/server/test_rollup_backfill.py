"""The start-up rollup backfill (SQL) gives the rows the per-event Python rules give."""

from __future__ import annotations

import random
import uuid
from typing import Any

import anyio
from server_helpers import Api, record

from aicostmanager.server import LocalServer
from aicostmanager.server._db import Database
from aicostmanager.server._rollups import backfill
from aicostmanager.server._rollups import record as record_rollups

_TABLES = {
    "spend_hourly": "team_uuid, bucket, customer_key, service_key",
    "spend_daily": "team_uuid, bucket, customer_key, service_key",
    "spend_units_daily": "team_uuid, bucket, service_key, cost_unit_id",
    "spend_customer_units_daily": "team_uuid, bucket, customer_key, service_key, cost_unit_id",
}
# Costs with up to 18 decimals, ties at the 13th decimal both ways, negatives, exponents.
_COSTS = (
    "0.000123",
    "1.5",
    "0.0000000000005",
    "0.0000000000015",
    "0.0000000000025",
    "-0.0000000000035",
    "0.123456789012345678",
    "12.3456789012344999",
    "1E-7",
    "0",
    "3",
)
_SERVICES = ("openai::gpt-4o", "anthropic::claude-3-5-haiku-latest", "plain-service", None)
_CUSTOMERS = ("acme", "", None, "globex")


async def _add_events(db: Database, seed: int) -> None:
    """Store varied events and cost events straight into the tables (three teams)."""
    rng = random.Random(seed)
    teams = [uuid.uuid4().hex for _ in range(3)]
    usage, costs = [], []
    for n in range(400):
        team = rng.choice(teams)
        ts = 1_700_000_000 + rng.randrange(5 * 86400) + rng.choice((0.0, 0.25, 0.999))
        service, customer = rng.choice(_SERVICES), rng.choice(_CUSTOMERS)
        status = rng.choice(("completed", "completed", "error", "service_key_unknown"))
        event = f"ev-{seed}-{n}"
        usage.append(
            (event, team, "k", f"r-{seed}-{n}", service, None, ts, ts, customer, "{}", status)
        )
        if service is None or status != "completed":
            continue
        for unit in rng.sample(("input_tokens", "output_tokens", "cached"), rng.randrange(1, 3)):
            # A cost event under another service key now and then (its own rollup row).
            line_service = service if rng.random() < 0.9 else "openai::other"
            quantity = rng.choice((str(rng.randrange(1, 9000)), "0.5", "2.25"))
            costs.append(
                (uuid.uuid4().hex, event, team, "k", f"r-{seed}-{n}", ts, customer,
                 line_service, "p", unit, quantity, "0", rng.choice(_COSTS))
            )  # fmt: skip
    # Cost events of a team without usage events are not counted (as before).
    costs.append(
        (uuid.uuid4().hex, "x", "no-events-team", "k", "x", 1_700_000_000.0, None,
         "openai::gpt-4o", "p", "input_tokens", "1", "0", "5")
    )  # fmt: skip
    async with db.transaction():
        await db.executemany(
            "INSERT INTO usage_events (event_id, team_uuid, api_key_id, response_id,"
            " service_key, vendor, ts, received_at, customer_key, usage, status)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            usage,
        )
        await db.executemany(
            "INSERT INTO cost_events (uuid, event_id, team_uuid, api_key_id, response_id, ts,"
            " customer_key, service_key, provider_id, cost_unit_id, quantity, cost_per_unit,"
            " cost) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            costs,
        )


async def _snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [tuple(row) for row in await db.fetchall(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in _TABLES.items()
    }


async def _clear(db: Database) -> None:
    async with db.transaction():
        for table in (*_TABLES, "spend_meta"):
            await db.execute(f"DELETE FROM {table}")


async def _python_rollups(db: Database) -> None:
    """The former backfill: events read back and summed by :func:`record`, team by team."""
    async with db.transaction():
        for (team,) in await db.fetchall("SELECT DISTINCT team_uuid FROM usage_events"):
            events = await db.fetchall(
                "SELECT ts, customer_key, service_key FROM usage_events"
                " WHERE team_uuid = ? AND status != 'error' ORDER BY rowid",
                (team,),
            )
            costs = await db.fetchall(
                "SELECT ts, customer_key, service_key, cost_unit_id, quantity, cost"
                " FROM cost_events WHERE team_uuid = ? ORDER BY rowid",
                (team,),
            )
            await record_rollups(db, team, events, costs)


async def _compare(url: str) -> tuple[dict[str, list[tuple[Any, ...]]], ...]:
    db = await Database.open(url)
    try:
        await _add_events(db, 11)
        await _clear(db)
        await _python_rollups(db)
        expected = await _snapshot(db)
        await _clear(db)
        await backfill(db)
        built = await _snapshot(db)
        await backfill(db)  # marked done: adds nothing
        again = await _snapshot(db)
    finally:
        await db.close()
    return expected, built, again


def test_sql_backfill_equals_the_python_rules_row_for_row(server_db: str) -> None:
    """Every rollup row the SQL backfill builds equals the one the per-event Python gives."""
    key = "sk-test-backfill.rollup-key"
    with LocalServer(db=server_db, api_keys=[key], testing=False) as server:
        api = Api(server.api_root, key)
        try:
            api.track_ok(*(record(uuid.uuid4().hex) for _ in range(3)))
        finally:
            api.close()
    expected, built, again = anyio.run(_compare, server_db)
    assert all(expected[table] for table in _TABLES)
    assert len(expected["spend_hourly"]) > 100
    for table in _TABLES:
        assert built[table] == expected[table], table
    assert again == built
