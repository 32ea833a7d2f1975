"""The dashboard's requests with 10,000,000 events on PostgreSQL, and a 1,000,000-event backfill.

1. A fresh database on a PostgreSQL server; ``aicostmanager serve --db postgresql://...``
   creates the schema (its own migrations) and stores one probe record through ``/track``
   (which tells the team's uuid and key id); three usage limits are made through the API; the
   server stops.
2. ``--events`` events (default 10M) are generated straight into the tables with
   ``generate_series`` (1M per statement, ordered by time like real ingestion, over the last 30
   days; 50 customers with a skewed share, 11 services, 1% with an unknown service key stored
   as ``service_key_unknown``): ``usage_events``, two ``cost_events`` per priced event (input
   and output tokens, exact ``numeric`` arithmetic), and the four rollup tables summed from the
   same rows in the same statement, so rollups and events agree. Load time and database size
   are printed.
3. The server starts again on that database; every request the dashboard makes (the list of
   ``bench_dashboard.py``) is timed over HTTP: median and p95 of ``--samples`` calls after a
   warm-up, against the 200 ms median target.
4. Backfill: another database gets ``--backfill-events`` events (default 1M) generated the
   same way but without rollups and with the "backfilled" mark removed, i.e. a database of a
   version before rollups; the time from starting ``serve`` to its first answer is timed (the
   server builds the rollups at start-up), net of the start-up time on the already-filled
   database, and the rollups it built are checked against the events to the cent.

``--dsn`` (or ``AICM_BENCH_PG``) names the server; by default a throw-away cluster is started.
``--quick``: 200,000 events and a 100,000-event backfill.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _common import (
    Measurement,
    cpu_model,
    new_api_key,
    parse_args,
    percentile,
    print_header,
    report,
    workdir,
)
from _pg_cluster import postgres_url, server_code
from bench_dashboard import _requests
from bench_server_scale import Server, Skipped, _database_url

NAME = "pg_dashboard"
CHUNK = 1_000_000
SPAN = 30 * 86400 - 120

# (service key, rate per input token, rate per output token): decimal text, exact in numeric.
_SERVICES = (
    ("openai::gpt-4o", "0.0000025", "0.00001"),
    ("openai::gpt-4o-mini", "0.00000015", "0.0000006"),
    ("openai::gpt-4.1", "0.000002", "0.000008"),
    ("openai::gpt-4.1-mini", "0.0000004", "0.0000016"),
    ("openai::o3-mini", "0.0000011", "0.0000044"),
    ("anthropic::claude-3-5-haiku-latest", "0.0000008", "0.000004"),
    ("anthropic::claude-sonnet-4-0", "0.000003", "0.000015"),
    ("anthropic::claude-3-7-sonnet-latest", "0.000003", "0.000015"),
    ("google::gemini-2.5-flash", "0.0000003", "0.0000025"),
    ("google::gemini-2.5-pro", "0.00000125", "0.00001"),
    ("google::gemini-2.0-flash", "0.0000001", "0.0000004"),
)

# One chunk of generated events, as a temporary table ``gen`` (parameters: first, last, total,
# now). Everything is a function of ``i``, so the inserts below read the same values.
_GEN = """
CREATE TEMP TABLE gen ON COMMIT DROP AS
SELECT i,
    'gen-' || lpad(i::text, 12, '0') AS response_id,
    md5('event' || i) AS event_id,
    %(now)s - {span} + (i::float8 / %(total)s) * {span} AS ts,
    'customer-' || lpad(
        (floor(50 * power((abs(hashint8(i)::bigint) %% 100000) / 100000.0, 3)))::int::text, 2, '0'
    ) AS customer_key,
    CASE WHEN i %% 100 = 0 THEN 'nosuchvendor::model-x' ELSE s.service_key END AS service_key,
    CASE WHEN i %% 100 = 0 THEN 'service_key_unknown' ELSE 'completed' END AS status,
    50 + abs(hashint8(i + 1)::bigint) %% 7950 AS input_tokens,
    5 + abs(hashint8(i + 2)::bigint) %% 1995 AS output_tokens,
    s.rate_in, s.rate_out
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
JOIN (VALUES {services}) AS s (k, service_key, rate_in, rate_out) ON s.k = i %% 11
"""
_USAGE = """
INSERT INTO usage_events (event_id, team_uuid, api_key_id, response_id, service_key, vendor,
    ts, received_at, customer_key, usage, context, status, errors, result, cost_first,
    cost_last, pricing, flags)
SELECT event_id, %(team)s, %(key_id)s, response_id, service_key, split_part(service_key, '::', 1),
    ts, ts + 0.5, customer_key,
    '{{"input_tokens": ' || input_tokens || ', "output_tokens": ' || output_tokens || '}}',
    '{{"env": "prod"}}', status, NULL,
    CASE WHEN status = 'completed' THEN NULL ELSE
        '{{"response_id": "' || response_id || '", "status": "service_key_unknown"}}' END,
    {cost_first}, {cost_last},
    CASE WHEN status = 'completed' THEN '{{"catalog": "bench", "unpriced": [], "estimated": []}}'
    END,
    0
FROM gen ORDER BY i
"""
_COSTS = """
INSERT INTO cost_events ({id_column}uuid, event_id, team_uuid, api_key_id, response_id, ts,
    customer_key, service_key, provider_id, cost_unit_id, quantity, cost_per_unit, cost, context)
{overriding}SELECT {id_value}md5('cost' || g.i || u.unit), g.event_id, %(team)s, %(key_id)s,
    g.response_id, g.ts, g.customer_key, g.service_key, split_part(g.service_key, '::', 1),
    u.unit, u.quantity::text, u.rate::text, (u.quantity * u.rate)::text, '{{"env": "prod"}}'
FROM gen AS g CROSS JOIN LATERAL (VALUES (0, 'input_tokens', g.input_tokens, g.rate_in),
    (1, 'output_tokens', g.output_tokens, g.rate_out)) AS u (n, unit, quantity, rate)
WHERE g.status = 'completed' ORDER BY g.i, u.n
"""
_PICO = "((g.input_tokens * g.rate_in + g.output_tokens * g.rate_out) * 1000000000000)::bigint"
_SPEND = """
INSERT INTO {table} (team_uuid, bucket, customer_key, service_key, vendor, cost_pico, events,
    estimated_pico, partial_events)
SELECT %(team)s, (floor(g.ts / {size}) * {size})::bigint AS b, g.customer_key, g.service_key,
    split_part(g.service_key, '::', 1),
    SUM(CASE WHEN g.status = 'completed' THEN {pico} ELSE 0 END), COUNT(*), 0, 0
FROM gen AS g GROUP BY b, g.customer_key, g.service_key
ON CONFLICT (team_uuid, bucket, customer_key, service_key) DO UPDATE SET
    cost_pico = {table}.cost_pico + excluded.cost_pico, events = {table}.events + excluded.events
"""
_UNITS = """
WITH u AS (
    SELECT (floor(g.ts / 86400) * 86400)::bigint AS b, g.customer_key, g.service_key, x.unit,
        x.quantity, (x.quantity * x.rate * 1000000000000)::bigint AS pico
    FROM gen AS g CROSS JOIN LATERAL (VALUES ('input_tokens', g.input_tokens, g.rate_in),
        ('output_tokens', g.output_tokens, g.rate_out)) AS x (unit, quantity, rate)
    WHERE g.status = 'completed'
), c AS (
    INSERT INTO spend_customer_units_daily (team_uuid, bucket, customer_key, service_key,
        cost_unit_id, quantity, cost_pico)
    SELECT %(team)s, b, customer_key, service_key, unit, SUM(quantity), SUM(pico)
    FROM u GROUP BY b, customer_key, service_key, unit
    ON CONFLICT (team_uuid, customer_key, bucket, service_key, cost_unit_id) DO UPDATE SET
        quantity = spend_customer_units_daily.quantity + excluded.quantity,
        cost_pico = spend_customer_units_daily.cost_pico + excluded.cost_pico
)
INSERT INTO spend_units_daily (team_uuid, bucket, service_key, cost_unit_id, quantity, cost_pico)
SELECT %(team)s, b, service_key, unit, SUM(quantity), SUM(pico)
FROM u GROUP BY b, service_key, unit
ON CONFLICT (team_uuid, bucket, service_key, cost_unit_id) DO UPDATE SET
    quantity = spend_units_daily.quantity + excluded.quantity,
    cost_pico = spend_units_daily.cost_pico + excluded.cost_pico
"""


def _cost_link(conn: Any) -> tuple[str, str] | None:
    """The ``cost_events`` column the view joins ``cost_first``/``cost_last`` on, and the
    sequence behind it (None when the view does not join that way)."""
    import re

    row = conn.execute("SELECT pg_get_viewdef('team_cost_events'::regclass)").fetchone()
    found = re.search(r"c\.(\w+) >= u\.cost_first", row[0]) if row else None
    found = found or (re.search(r"\(c\.(\w+) BETWEEN u\.cost_first", row[0]) if row else None)
    if found is None:
        return None
    column = found.group(1)
    seq = conn.execute("SELECT pg_get_serial_sequence('cost_events', %s)", (column,)).fetchone()
    return column, (seq[0] if seq else None) or ""


def _fill(admin_db: str, team: str, key_id: str, total: int, rollups: bool) -> float:
    """Generate ``total`` events (see the module docstring); the seconds it took."""
    import psycopg

    services = ", ".join(
        f"({k}, '{name}', {rate_in}::numeric, {rate_out}::numeric)"
        for k, (name, rate_in, rate_out) in enumerate(_SERVICES)
    )
    started = time.perf_counter()
    # Client-side binding: the chunk's parameters go into a CREATE TABLE AS.
    # (Autocommit: each chunk's transaction below is a real one, so ``gen`` is dropped.)
    with psycopg.connect(admin_db, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        link = _cost_link(conn)
        row = conn.execute(
            f"SELECT COALESCE(MAX({link[0]}), 0) FROM cost_events" if link else "SELECT 0"
        ).fetchone()
        base = int(row[0]) if row else 0
        # Cost ids of event i (priced events only; 1 in 100 is not priced): two per event.
        priced_before = "(g.i - 1 - (g.i - 1) / 100)"
        first = f"{base} + 2 * {priced_before.replace('g.', '')} + 1"
        if link:
            cost_first = f"CASE WHEN status = 'completed' THEN {first} END"
            cost_last = f"CASE WHEN status = 'completed' THEN {first} + 1 END"
            id_column, id_value = f"{link[0]}, ", f"{base} + 2 * {priced_before} + 1 + u.n, "
            overriding = "OVERRIDING SYSTEM VALUE "
        else:
            cost_first = cost_last = "NULL"
            id_column = id_value = overriding = ""
        gen = _GEN.format(span=SPAN, services=services)
        usage = _USAGE.format(cost_first=cost_first, cost_last=cost_last)
        costs = _COSTS.format(id_column=id_column, id_value=id_value, overriding=overriding)
        now = time.time()
        for start in range(1, total + 1, CHUNK):
            params = {
                "first": start,
                "last": min(total, start + CHUNK - 1),
                "total": total,
                "now": now,
                "team": team,
                "key_id": key_id,
            }
            with conn.transaction():
                conn.execute(gen, params)
                conn.execute(usage, params)
                conn.execute(costs, params)
                if rollups:
                    for table, size in (("spend_hourly", 3600), ("spend_daily", 86400)):
                        conn.execute(_SPEND.format(table=table, size=size, pico=_PICO), params)
                    conn.execute(_UNITS, params)
            print(
                f"  generated {params['last']:,} events ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        if link and link[1]:
            conn.execute(f"SELECT setval(%s, (SELECT MAX({link[0]}) FROM cost_events))", (link[1],))
        conn.commit()
    with psycopg.connect(admin_db, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    if not link:
        print("  note: the cost view does not join on cost_first/cost_last: links left NULL")
    return time.perf_counter() - started


def _prepare(admin: str, tmp: Path, name: str) -> tuple[str, str, str, str, float]:
    """A new database with the server's schema and one probe record: (URL, API key, team,
    key id, server start-up seconds)."""
    import psycopg

    db = _database_url(admin, name)
    key = new_api_key()
    server = Server(db, key, None, tmp / f"{name}.log")
    try:
        started = time.perf_counter()
        server.wait_ready()
        startup = time.perf_counter() - started
        with httpx.Client(
            base_url=server.root, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as http:
            probe = {
                "service_key": "openai::gpt-4o-mini",
                "response_id": f"probe-{name}",
                "payload": {"input_tokens": 1, "output_tokens": 1},
            }
            http.post("/track", json={"tracked": [probe]}).raise_for_status()
    finally:
        server.stop()
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT team_uuid, api_key_id FROM usage_events WHERE response_id = %s",
            (f"probe-{name}",),
        ).fetchone()
    assert row is not None
    return db, key, str(row[0]), str(row[1]), startup


def _time_requests(root: str, key: str, samples: int) -> list[Measurement]:
    out = []
    with httpx.Client(base_url=root, headers={"Authorization": f"Bearer {key}"}, timeout=120) as h:
        for body in (
            {"threshold_type": "alert", "amount": "100", "period": "day"},
            {"threshold_type": "limit", "amount": "5000", "period": "month"},
            {"threshold_type": "limit", "amount": "50", "period": "month", "client": "customer-00"},
        ):
            h.post("/usage-limits/", json=body).raise_for_status()
        for name, (path, params) in _requests("customer-03").items():
            h.get(path, params=params).raise_for_status()  # warm-up
            values = []
            for _ in range(samples):
                started = time.perf_counter()
                h.get(path, params=params).raise_for_status()
                values.append((time.perf_counter() - started) * 1000)
            p95 = percentile(values, 0.95)
            m = Measurement(name, "ms", values, target=200.0, higher_is_better=False)
            m.extra["p95_ms"] = p95
            print(f"  {name}: median {statistics.median(values):.1f} ms, p95 {p95:.1f} ms")
            out.append(m)
    return out


def _rollups_match(db: str) -> tuple[bool, str, str]:
    """Whether the rollups equal the events to the cent (and both totals, in dollars)."""
    import psycopg

    with psycopg.connect(db) as conn:
        events = conn.execute("SELECT COALESCE(SUM(cost::numeric), 0) FROM cost_events").fetchone()
        rolled = conn.execute(
            "SELECT COALESCE(SUM(cost_pico), 0)::numeric / 1000000000000 FROM spend_daily"
        ).fetchone()
    assert events is not None and rolled is not None
    a, b = round(events[0], 2), round(rolled[0], 2)
    return a == b, str(events[0]), str(rolled[0])


def run(args: argparse.Namespace, info: dict[str, Any]) -> list[Measurement]:
    """Fill, time the dashboard, then the backfill."""
    import psycopg

    total = 200_000 if args.quick else args.events
    backfill_total = 100_000 if args.quick else args.backfill_events
    samples = 10 if args.quick else args.samples
    out: list[Measurement] = []
    run_id = uuid.uuid4().hex[:8]
    with workdir("aicm-pgdash-") as tmp, postgres_url(args.dsn) as admin:
        with psycopg.connect(admin, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else "?"
        try:
            db, key, team, key_id, _ = _prepare(admin, tmp, f"aicm_dash_{run_id}")
        except Skipped as exc:
            print(f"skipped: this revision's server does not run on PostgreSQL:\n{exc}")
            return out
        print(f"  filling {total:,} events (team {team})")
        fill_s = _fill(db, team, key_id, total, rollups=True)
        with psycopg.connect(db) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        out.append(Measurement(f"generate {total:,} events with rollups (SQL)", "s", [fill_s]))
        out.append(Measurement("database size", "GB", [int(size[0]) / 1e9 if size else 0]))
        server = Server(db, key, None, tmp / "dash.log")
        try:
            started = time.perf_counter()
            server.wait_ready(600)
            filled_startup = time.perf_counter() - started
            print(f"  server ready on {total:,} events in {filled_startup:.1f} s")
            out += _time_requests(server.root, key, samples)
        finally:
            server.stop()
        out.append(Measurement(f"serve start-up on {total:,} events", "s", [filled_startup]))
        # The backfill: a database as a version before rollups left it.
        db2, key2, team2, key_id2, empty_startup = _prepare(admin, tmp, f"aicm_backfill_{run_id}")
        _fill(db2, team2, key_id2, backfill_total, rollups=False)
        with psycopg.connect(db2) as conn:
            conn.execute(
                "TRUNCATE spend_hourly, spend_daily, spend_units_daily, spend_customer_units_daily"
            )
            conn.execute("DELETE FROM spend_meta WHERE name = 'backfilled'")
        server = Server(db2, key2, None, tmp / "backfill.log")
        try:
            started = time.perf_counter()
            server.wait_ready(3600)
            backfill_s = time.perf_counter() - started
        finally:
            server.stop()
        same, events_total, rolled_total = _rollups_match(db2)
        print(
            f"  backfill of {backfill_total:,} events at start-up: {backfill_s:.1f} s (an empty "
            f"database starts in {empty_startup:.1f} s); rollups {rolled_total} vs events "
            f"{events_total}: {'equal' if same else 'DIFFERENT'} to the cent"
        )
        m = Measurement(f"rollup backfill of {backfill_total:,} events at serve start-up", "s")
        m.values.append(backfill_s - empty_startup)
        m.extra.update(
            wall_s=backfill_s,
            empty_startup_s=empty_startup,
            equal_to_the_cent=same,
            events_total=events_total,
            rollups_total=rolled_total,
        )
        out.append(m)
    model = cpu_model()
    for m in out:
        m.extra["cpu_model"] = model
        m.extra["events"] = total
    return out


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Parse the arguments, run, print and write ``results/pg_dashboard.json``."""
    argv = sys.argv[1:] if argv is None else argv
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--dsn", default=None)
    extra.add_argument("--events", type=int, default=10_000_000)
    extra.add_argument("--backfill-events", type=int, default=1_000_000)
    extra.add_argument("--samples", type=int, default=30)
    own, rest = extra.parse_known_args(argv)
    args = parse_args(__doc__, rest + (["--repeat", "1"] if "--repeat" not in rest else []))
    args.dsn, args.events = own.dsn, own.events
    args.backfill_events, args.samples = own.backfill_events, own.samples
    info = print_header(NAME, __doc__)
    info["server_code"] = server_code()
    measurements = run(args, info)
    report(NAME, measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
