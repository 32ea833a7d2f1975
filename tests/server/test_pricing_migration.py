"""A database written by 0.5 (no pricing flags, no estimated rollups) is migrated at start."""

from __future__ import annotations

import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

from server_helpers import Api, record

from aicostmanager.server import LocalServer

KEY = "sk-test-" + uuid.uuid4().hex


def _to_0_5(path: Path) -> None:
    """Drop what 0.6 added: usage_events.pricing / flags and the rollups' estimated columns."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE alembic_version")  # 0.5 had no versioned migrations
    conn.execute("DROP VIEW team_cost_events")
    conn.execute("DROP INDEX usage_events_partial")
    for table, columns in (
        ("usage_events", ("pricing", "flags")),
        ("spend_hourly", ("estimated_pico", "partial_events")),
        ("spend_daily", ("estimated_pico", "partial_events")),
    ):
        for column in columns:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.commit()
    conn.close()


def test_0_5_database_gets_the_pricing_columns(tmp_path: Path) -> None:
    """Old events read as exact and fully priced; new events are flagged and summed apart."""
    db = tmp_path / "v05.db"
    with LocalServer(db=str(db), api_keys=[KEY], testing=False) as server:
        api = Api(server.api_root, KEY)
        api.track_ok(record("old"))
        api.close()
    _to_0_5(db)
    with LocalServer(db=str(db), api_keys=[KEY], testing=False) as server:
        api = Api(server.api_root, KEY)
        old = api.get("/cost-events/old/explain")
        assert old["catalog"] is None and old["fully_priced"] and not old["estimated"]
        assert Decimal(old["total"]) == Decimal("0.00045")
        estimated = {
            "prompt_tokens": 1000,
            "completion_tokens": 0,
            "aicm_estimated": ["prompt_tokens"],
        }
        api.track_ok(
            record("new", payload=estimated), record("odd", payload={"prompt_tokens": 1, "odd": 2})
        )
        summary = api.get("/spend/summary/")
        assert Decimal(summary["estimated_total"]) == Decimal("0.0025")
        assert summary["not_fully_priced_events"] == 1
        assert [e["response_id"] for e in api.get("/spend/unpriced/")["results"]] == ["odd"]
        api.close()
