"""The cheaper ``/track`` ingest keeps every answer: parsing paths agree, integer costs equal the
decimal ones, rollup sums equal the generic aggregate, and older databases are migrated."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest
from server_helpers import Api, record

from aicostmanager.server import LocalServer, _rollups, _track
from aicostmanager.server._track_parse import (
    WireRecord,
    parse_body,
    parse_envelope,
    parse_record,
)

KEY = "sk-test-ingest-storage-secret.ingest-storage"
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _fields(rec: Any) -> tuple[Any, ...]:
    return (
        rec.index,
        rec.response_id,
        rec.missing_id,
        rec.service_key,
        rec.vendor,
        rec.ts,
        rec.customer_key,
        rec.payload,
        rec.payload_json,
        rec.context,
        rec.context_json,
        rec.errors,
    )


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(levels):
        node = {"n": node}
    return node


WELL_TYPED = [
    record("plain"),
    record("", timestamp="1767225600.5"),
    record("bad-key", "no-separator"),
    record("empty-vendor", "::model"),
    record("iso", timestamp="2026-01-01T00:00:00Z", customer_key="acme"),
    record("naive-iso", timestamp="2026-01-01T00:00:00"),
    record("int-ts", timestamp=1767225600),
    record("float-ts", timestamp=1767225600.25),
    record("negative-ts", timestamp=-1),
    record("huge-int-ts", timestamp=10**30),
    record("junk-ts", timestamp="yesterday"),
    record("blank-ts", timestamp="  "),
    record("ctx", context={"env": "prod", "tags": ["a", {"b": 1}]}),
    record("deep-payload", payload=_deep(40)),
    record("deep-context", context=_deep(40)),
    record("null-payload", payload=None, customer_key=None, context=None),
    record("empty-payload", payload={}),
    record("poisoned"),
    record("poison-vendor", "poison::x"),
]


@pytest.mark.parametrize("poisoned", [None, {"poisoned": "poisoned by the test"}])
def test_typed_fast_path_gives_the_same_records_as_the_general_path(
    poisoned: dict[str, str] | None,
) -> None:
    """Well-typed records decoded as structs validate exactly like the general dict path."""
    body = msgspec.json.encode({"tracked": WELL_TYPED, "skip_limits": True})
    fast, skip = parse_body(body, 1000, NOW, poisoned)
    tracked, general_skip = parse_envelope(body, 1000)
    general = [parse_record(i, raw, NOW, poisoned) for i, raw in enumerate(tracked)]
    assert skip is general_skip is True
    assert [_fields(r) for r in fast] == [_fields(r) for r in general]
    assert any(r.errors for r in fast) and any(not r.errors for r in fast)


def test_badly_typed_records_fall_back_to_the_general_path() -> None:
    """A body the structs refuse still gets one result per record, with per-record errors."""
    records = [record("ok"), {"response_id": 7, "service_key": "openai::gpt-4o"}, "nope"]
    body = msgspec.json.encode({"tracked": records})
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(body, type=dict[str, list[WireRecord]])
    parsed, _ = parse_body(body, 1000, NOW, None)
    assert [r.errors for r in parsed] == [
        [],
        ["response_id must be a string"],
        ["record must be a JSON object"],
    ]


def test_rollup_sums_per_record_equal_the_generic_aggregate() -> None:
    """The per-record rollup sums of a batch equal ``_rollups.aggregate`` of its rows."""
    recs, _ = parse_body(
        msgspec.json.encode(
            {
                "tracked": [
                    record(f"r{i}", customer_key=["acme", None][i % 2], timestamp=NOW + i * 1800)
                    for i in range(8)
                ]
                + [record("bad", timestamp="junk"), record("unknown", "nobody::model")]
            }
        ),
        1000,
        NOW,
        None,
    )
    for rec in recs:
        if not rec.errors:
            _track.price_record(rec, None)
            # Costs known only as text.
            if rec.status == "completed" and rec.index % 3 == 0:
                rec.picos = [None] * len(rec.costs)
    built = _track._build_rows(recs)
    expected = _rollups.aggregate(
        (
            (r.rec.ts, r.rec.customer_key, r.rec.service_key)
            for r in built
            if r.rec.status != "error"
        ),
        ((c[3], c[4], c[5], c[7], c[8], c[10]) for r in built for c in r.costs),
    )
    assert _track._spend_of(built) == expected
    assert expected.hourly and expected.units


def _to_previous_layout(db: Path) -> None:
    """Make ``db`` look like a file of the previous version (indexed cost_events, no links)."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DROP TABLE alembic_version")  # it had no versioned migrations
        conn.execute("DROP VIEW team_cost_events")
        conn.execute("ALTER TABLE usage_events DROP COLUMN cost_first")
        conn.execute("ALTER TABLE usage_events DROP COLUMN cost_last")
        conn.execute("CREATE INDEX cost_events_team_ts ON cost_events (team_uuid, ts)")
        conn.execute("CREATE INDEX cost_events_response ON cost_events (response_id)")
    conn.close()


def _reads(api: Api) -> dict[str, Any]:
    return {
        "costs": api.get("/costs/", limit=200),
        "one": api.get("/cost-events/cached"),
        "rollups": api.get("/usage/rollups/"),
        "retry": api.track_ok(record("cached", payload=CACHED)),
    }


CACHED = {
    "prompt_tokens": 1000,
    "completion_tokens": 20,
    "total_tokens": 1020,
    "prompt_tokens_details": {"cached_tokens": 400},
}


def test_database_of_the_previous_layout_is_migrated(tmp_path: Path) -> None:
    """Cost events stored before the layout change read the same after it, and ingest goes on."""
    db = tmp_path / "previous.db"
    stamp = time.time()
    with LocalServer(db=str(db), api_keys=[KEY], testing=False) as server:
        api = Api(server.api_root, KEY)
        api.track_ok(
            record("cached", payload=CACHED, customer_key="acme", context={"env": "prod"}),
            record("plain", timestamp=stamp - 3600),
            record("broken", timestamp="junk"),
            record("unknown", "nobody::model"),
        )
        before = _reads(api)
        api.close()
    _to_previous_layout(db)
    with LocalServer(db=str(db), api_keys=[KEY], testing=False) as server:
        api = Api(server.api_root, KEY)
        assert _reads(api) == before
        assert len(before["one"]) == 3 and before["costs"]["count"] == 5
        (fresh,) = api.track_ok(record("after", timestamp=stamp + 60))
        assert fresh["status"] == "completed"
        assert api.get("/costs/")["count"] == 5 + len(fresh["cost_events"])
        assert api.get("/costs/", response_id="plain")["count"] == 2
        api.close()
    conn = sqlite3.connect(db)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    links = conn.execute(
        "SELECT response_id, cost_last - cost_first + 1 FROM usage_events ORDER BY rowid"
    ).fetchall()
    conn.close()
    assert not {"cost_events_team_ts", "cost_events_response"} & indexes
    assert links == [("cached", 3), ("plain", 2), ("broken", None), ("unknown", None), ("after", 2)]


def test_new_files_get_16k_pages_and_existing_files_keep_theirs(tmp_path: Path) -> None:
    """A database the server creates has 16 KiB pages; an existing 4 KiB file keeps 4 KiB."""
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE placeholder (x)")
    conn.close()
    for path in (tmp_path / "new.db", old):
        with LocalServer(db=str(path), api_keys=[KEY], testing=False) as server:
            api = Api(server.api_root, KEY)
            assert api.track_ok(record("r"))[0]["status"] == "completed"
            api.close()
    sizes = [
        sqlite3.connect(p).execute("PRAGMA page_size").fetchone()[0]
        for p in (tmp_path / "new.db", old)
    ]
    assert sizes == [16384, 4096]


def test_uuid_texts_are_distinct_version_4_uuids() -> None:
    """The bulk UUID generator gives canonical, distinct version-4 UUID texts."""
    texts = list(_track.uuid4_strings(2000))
    parsed = [uuid.UUID(text) for text in texts]
    assert len(set(texts)) == 2000
    assert all(
        str(u) == t and u.version == 4 and u.variant == uuid.RFC_4122
        for u, t in zip(parsed, texts, strict=True)
    )
    assert list(_track.uuid4_strings(0)) == []
