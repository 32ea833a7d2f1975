"""Storage of ``POST /track``: the tables, the view that reads cost events, and migrations.

Other modules query these; columns are stable.

``usage_events``: one row per record with a ``response_id`` (errors included, so a retry gets
the first outcome). ``event_id`` uuid, ``team_uuid``, ``api_key_id``, ``response_id``
(UNIQUE with ``team_uuid``: de-duplication is per team, since two teams' key ids may be
equal), ``service_key``, ``vendor``, ``ts`` (REAL epoch seconds, the record's timestamp),
``received_at`` (REAL), ``customer_key``, ``usage`` (JSON), ``context`` (JSON or NULL),
``status`` (``completed`` | ``service_key_unknown`` | ``error``), ``errors`` (JSON list or
NULL), ``result`` (JSON of the per-record result sent back, NULL for ``completed`` events:
theirs is rebuilt from their cost events), ``cost_first`` / ``cost_last`` (the rowids of the
event's first and last cost event, which are stored consecutively; NULL when it has none),
``pricing`` (JSON of how a ``completed`` event was priced: ``catalog``, ``unpriced`` and
``estimated`` field lists, ``supplement`` cost units; NULL for other events and for events
stored before 0.6), ``flags`` (bit :data:`FLAG_UNPRICED`: some usage field could not be priced;
bit :data:`FLAG_ESTIMATED`: some usage field is an estimate).
``payload`` and ``context`` nest at most ``MAX_DEPTH`` levels (deeper ones are refused, not
stored). ``event_id`` is not indexed (rowid order is insertion order).

``cost_events``: one row per priced cost unit of a ``completed`` event. ``uuid``,
``event_id``, ``team_uuid``, ``api_key_id``, ``response_id``, ``ts`` (REAL epoch seconds),
``customer_key``, ``service_key``, ``provider_id``, ``cost_unit_id``, ``quantity``,
``cost_per_unit``, ``cost`` (decimal TEXT, exact; sum them with ``Decimal`` in Python),
``context`` (JSON or NULL). It has no index at all: each index cost every stored cost event an
insert, about a third of SQLite's work per record. Read it through the view
``team_cost_events``: the same columns (``team_uuid``, ``ts`` and ``response_id`` taken from
the usage event, which has the same values) plus ``cost_rowid``, joined from ``usage_events``
through ``cost_first`` / ``cost_last``, so that queries by team, time or response use the
indexes of ``usage_events``; the view also carries the event's ``flags`` and ``pricing``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._db_dialect import Dialect

__all__ = ("COST_VIEW", "FLAG_ESTIMATED", "FLAG_UNPRICED", "SCHEMA", "migrate")

FLAG_UNPRICED = 1
"""``usage_events.flags`` bit: the event is not fully priced (``pricing.unpriced`` names why)."""
FLAG_ESTIMATED = 2
"""``usage_events.flags`` bit: some of the event's usage is estimated."""

_USAGE_TABLE = """
CREATE TABLE IF NOT EXISTS usage_events (
    event_id     TEXT NOT NULL,
    team_uuid    TEXT NOT NULL,
    api_key_id   TEXT NOT NULL,
    response_id  TEXT NOT NULL,
    service_key  TEXT,
    vendor       TEXT,
    ts           REAL NOT NULL,
    received_at  REAL NOT NULL,
    customer_key TEXT,
    usage        TEXT NOT NULL,
    context      TEXT,
    status       TEXT NOT NULL,
    errors       TEXT,
    result       TEXT,
    cost_first   INTEGER,
    cost_last    INTEGER,
    pricing      TEXT,
    flags        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (team_uuid, response_id)
);
"""
_USAGE_INDEX = "CREATE INDEX IF NOT EXISTS usage_events_team_ts ON usage_events (team_uuid, ts);"
# The columns of usage_events before cost_first / cost_last (copied by the rebuild below).
_OLD_USAGE_COLUMNS = (
    "event_id, team_uuid, api_key_id, response_id, service_key, vendor, ts, received_at,"
    " customer_key, usage, context, status, errors, result"
)

COST_VIEW = "team_cost_events"
"""The view to read cost events through (see the module docstring)."""

_VIEW = f"""
CREATE VIEW {COST_VIEW} AS SELECT
    c.rowid AS cost_rowid, c.uuid AS uuid, c.event_id AS event_id, u.team_uuid AS team_uuid,
    c.api_key_id AS api_key_id, u.response_id AS response_id, u.ts AS ts,
    c.customer_key AS customer_key, c.service_key AS service_key,
    c.provider_id AS provider_id, c.cost_unit_id AS cost_unit_id, c.quantity AS quantity,
    c.cost_per_unit AS cost_per_unit, c.cost AS cost, c.context AS context,
    u.flags AS flags, u.pricing AS pricing
FROM usage_events AS u JOIN cost_events AS c
    ON c.rowid BETWEEN u.cost_first AND u.cost_last AND c.event_id = u.event_id
"""

SCHEMA = (
    _USAGE_TABLE
    + _USAGE_INDEX
    + """
CREATE TABLE IF NOT EXISTS cost_events (
    uuid          TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    team_uuid     TEXT NOT NULL,
    api_key_id    TEXT NOT NULL,
    response_id   TEXT NOT NULL,
    ts            REAL NOT NULL,
    customer_key  TEXT,
    service_key   TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    cost_unit_id  TEXT NOT NULL,
    quantity      TEXT NOT NULL,
    cost_per_unit TEXT NOT NULL,
    cost          TEXT NOT NULL,
    context       TEXT
);
"""
)
"""The tables (the view is made by :func:`migrate`, once ``usage_events`` has its columns)."""

_OLD_UNIQUE = "UNIQUE (api_key_id, response_id)"


def _partial_index(dialect: Dialect) -> str:
    """The index of events priced only in part (what /spend/unpriced/ lists besides unpriced
    ones)."""
    return (
        "CREATE INDEX IF NOT EXISTS usage_events_partial ON usage_events (team_uuid, ts)"
        f" WHERE {dialect.bit_set('flags', FLAG_UNPRICED)}"
    )


def migrate(dialect: Dialect, run: Callable[[str], Sequence[Sequence[Any]]]) -> None:
    """Bring the tables of ``/track`` up to date, running each statement with ``run`` (a
    connection's, inside the migration's transaction; it returns the rows of a query).

    On SQLite, a database made by an older version is upgraded (each step runs once):

    - Rebuild a ``usage_events`` table made when de-duplication was scoped by key id. Rows are
      copied in insertion order; of two rows of one team with the same ``response_id``
      (possible only from two keys of that team), the first is kept.
    - Add ``cost_first`` / ``cost_last`` to ``usage_events`` and fill them from the stored
      cost events (an event's cost events were always inserted consecutively).
    - Add ``pricing`` / ``flags`` to ``usage_events`` (0.6), and ``estimated_pico`` /
      ``partial_events`` to ``spend_hourly`` / ``spend_daily``.
    - Drop the indexes of ``cost_events`` (on ``(team_uuid, ts)`` and on ``response_id``).

    Then, on both engines, the partial index is made and the ``team_cost_events`` view is
    (re)created: dropped first, since renaming ``usage_events`` (above, or by hand) rewrites
    or breaks a view that reads it.
    """
    run(f"DROP VIEW IF EXISTS {COST_VIEW}")
    if dialect.name == "sqlite":
        _upgrade_sqlite(run)
    run(_partial_index(dialect))
    run(_VIEW)


def _upgrade_sqlite(run: Callable[[str], Sequence[Sequence[Any]]]) -> None:
    rows = run("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'usage_events'")
    if rows and _OLD_UNIQUE in str(rows[0][0]):
        run("ALTER TABLE usage_events RENAME TO usage_events_old")
        run(_USAGE_TABLE)
        run(
            f"INSERT OR IGNORE INTO usage_events ({_OLD_USAGE_COLUMNS})"
            f" SELECT {_OLD_USAGE_COLUMNS} FROM usage_events_old"
        )
        run("DROP TABLE usage_events_old")
        run(_USAGE_INDEX)
    columns = {r[1] for r in run("PRAGMA table_info(usage_events)")}
    if "cost_first" not in columns:
        run("ALTER TABLE usage_events ADD COLUMN cost_first INTEGER")
        run("ALTER TABLE usage_events ADD COLUMN cost_last INTEGER")
        run("CREATE INDEX cost_events_event_tmp ON cost_events (event_id)")
        run(
            "UPDATE usage_events SET (cost_first, cost_last) = (SELECT MIN(rowid),"
            " MAX(rowid) FROM cost_events WHERE event_id = usage_events.event_id)"
            " WHERE status = 'completed'"
        )
        run("DROP INDEX cost_events_event_tmp")
    if "pricing" not in columns:
        run("ALTER TABLE usage_events ADD COLUMN pricing TEXT")
        run("ALTER TABLE usage_events ADD COLUMN flags INTEGER NOT NULL DEFAULT 0")
    for table in ("spend_hourly", "spend_daily"):
        have = {r[1] for r in run(f"PRAGMA table_info({table})")}
        if have and "estimated_pico" not in have:
            run(f"ALTER TABLE {table} ADD COLUMN estimated_pico INTEGER NOT NULL DEFAULT 0")
            run(f"ALTER TABLE {table} ADD COLUMN partial_events INTEGER NOT NULL DEFAULT 0")
    run("DROP INDEX IF EXISTS cost_events_team_ts")
    run("DROP INDEX IF EXISTS cost_events_response")
