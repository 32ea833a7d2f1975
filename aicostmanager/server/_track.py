"""``POST /track``: validate, de-duplicate, price and store usage records.

Storage (other modules query these tables; columns are stable):

``usage_events``: one row per record with a ``response_id`` (errors included, so a retry gets
the first outcome). ``event_id`` uuid, ``team_uuid``, ``api_key_id``, ``response_id``
(UNIQUE with ``team_uuid``: de-duplication is per team, since two teams' key ids may be
equal), ``service_key``, ``vendor``, ``ts`` (REAL epoch seconds, the record's timestamp),
``received_at`` (REAL), ``customer_key``, ``usage`` (JSON), ``context`` (JSON or NULL),
``status`` (``completed`` | ``service_key_unknown`` | ``error``), ``errors`` (JSON list or
NULL), ``result`` (JSON of the per-record result sent back, NULL for ``completed`` events:
theirs is rebuilt from their cost events). ``payload`` and ``context`` nest at most
:data:`MAX_DEPTH` levels (deeper ones are refused, not stored). ``event_id`` is not indexed
(rowid order is insertion order).

``cost_events``: one row per priced cost unit of a ``completed`` event. ``uuid``,
``event_id``, ``team_uuid``, ``api_key_id``, ``response_id``, ``ts`` (REAL epoch seconds),
``customer_key``, ``service_key``, ``provider_id``, ``cost_unit_id``, ``quantity``,
``cost_per_unit``, ``cost`` (decimal TEXT, exact; sum them with ``Decimal`` in Python),
``context`` (JSON or NULL). Indexed on (team_uuid, ts) and (response_id) only:
every index slows ingestion down noticeably (``uuid`` is not indexed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from . import _clock, _custom_services, _rollups, _triggered
from ._auth import ApiKey, CurrentKey
from ._db import Database
from ._pricing import (
    PricingError,
    cost_event,
    price_catalog_wire,
    split_service_key,
)

__all__ = ("MAX_DEPTH", "SCHEMA", "migrate", "router")

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
    UNIQUE (team_uuid, response_id)
);
"""
_USAGE_INDEX = "CREATE INDEX IF NOT EXISTS usage_events_team_ts ON usage_events (team_uuid, ts);"

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
CREATE INDEX IF NOT EXISTS cost_events_team_ts ON cost_events (team_uuid, ts);
CREATE INDEX IF NOT EXISTS cost_events_response ON cost_events (response_id);
"""
)

_OLD_UNIQUE = "UNIQUE (api_key_id, response_id)"


async def migrate(db: Database) -> None:
    """Rebuild a ``usage_events`` table made when de-duplication was scoped by key id.

    Rows are copied in insertion order; of two rows of one team with the same
    ``response_id`` (possible only from two keys of that team), the first is kept.
    """
    row = await db.fetchone(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'usage_events'"
    )
    if row is None or _OLD_UNIQUE not in str(row[0]):
        return
    async with db.transaction():
        await db.execute("ALTER TABLE usage_events RENAME TO usage_events_old")
        await db.execute(_USAGE_TABLE)
        await db.execute("INSERT OR IGNORE INTO usage_events SELECT * FROM usage_events_old")
        await db.execute("DROP TABLE usage_events_old")
        await db.execute(_USAGE_INDEX)


router = APIRouter(tags=["tracking"])

_RECORD_FIELDS = frozenset(
    {"service_key", "response_id", "timestamp", "payload", "customer_key", "context"}
)
_ENVELOPE_FIELDS = frozenset({"tracked", "skip_limits"})
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode
_SQL_CHUNK = 900
MAX_DEPTH = 32
"""Deepest nesting of a record's ``payload`` or ``context`` (usage objects nest 2 or 3)."""


# --- OpenAPI documentation only (the body is parsed with msgspec) -------------------------


class TrackedRecordDoc(BaseModel):
    """One usage record."""

    model_config = ConfigDict(extra="forbid", title="TrackedRecord")
    service_key: str = Field(description="'vendor::service'", examples=["openai::gpt-5-mini"])
    response_id: str = Field(description="de-duplication key, unique per team")
    timestamp: str | float | None = Field(
        default=None, description="epoch seconds (string or number) or ISO 8601; default now"
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="usage object")
    customer_key: str | None = None
    context: dict[str, Any] | None = None


class TrackRequestDoc(BaseModel):
    """Body of POST /track."""

    model_config = ConfigDict(extra="forbid", title="TrackRequest")
    tracked: list[TrackedRecordDoc] = Field(min_length=1, max_length=1000)
    skip_limits: bool = False


class TrackResultDoc(BaseModel):
    """Outcome of one record."""

    model_config = ConfigDict(title="TrackResult")
    response_id: str
    status: str = Field(description="completed | service_key_unknown | error")
    cost_events: list[dict[str, str]] | None = None
    errors: list[str] | None = None


class TrackResponseDoc(BaseModel):
    """Answer of POST /track."""

    model_config = ConfigDict(title="TrackResponse")
    results: list[TrackResultDoc]
    triggered_limits: dict[str, Any]


_OPENAPI_EXTRA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TrackRequest"}}},
    }
}


# --- parsing ------------------------------------------------------------------------------


class EnvelopeError(Exception):
    """The request envelope is invalid (answered 422, or 413 when it has too many records)."""

    def __init__(self, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass(slots=True)
class _Record:
    index: int
    response_id: str
    missing_id: bool = False
    service_key: str | None = None
    vendor: str | None = None
    ts: float = 0.0
    customer_key: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    payload_json: str = "{}"
    context: dict[str, Any] | None = None
    context_json: str | None = None
    errors: list[str] = field(default_factory=list)
    status: str = "error"
    costs: list[dict[str, str]] = field(default_factory=list)
    duplicate_of: int | None = None


def uuid4_strings(n: int) -> Iterator[str]:
    """``n`` random version-4 UUIDs as text (much faster than ``str(uuid.uuid4())`` each)."""
    raw = bytearray(os.urandom(16 * n))
    # Version 4 and the RFC 4122 variant, set on all of them at once.
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])
    h = raw.hex()
    for i in range(0, 32 * n, 32):
        yield (
            f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}"
            f"-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
        )


def parse_timestamp(value: Any, default: float) -> float:
    """Epoch seconds from a string/number of epoch seconds or an ISO 8601 string.

    Raises:
        ValueError: the value is neither, or lies outside years 1970 to 9999.
    """
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError("timestamp must be a string or a number")
    if isinstance(value, (int, float)):
        return _in_range(float(value), value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("timestamp must be a string or a number")
    text = value.strip()
    try:
        return _in_range(float(text), value)
    except ValueError as exc:
        if "out of range" in str(exc):
            raise
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {value!r} is neither epoch seconds nor ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return _in_range(parsed.timestamp(), value)


_MAX_TS = 253402300799.0  # 9999-12-31T23:59:59Z, the last instant datetime can show


def _in_range(ts: float, original: Any) -> float:
    if not 0.0 <= ts <= _MAX_TS:  # also rejects NaN
        raise ValueError(f"timestamp {original!r} is out of range (years 1970 to 9999)")
    return ts


def parse_envelope(body: bytes, max_batch: int) -> tuple[list[Any], bool]:
    """The ``tracked`` list and the ``skip_limits`` flag of a request body.

    The body's size is capped before this runs (:mod:`._body_limit`).

    Raises:
        EnvelopeError: invalid JSON, nested too deeply, wrong shape, empty, or more than
            ``max_batch`` records (413).
    """
    try:
        doc = _decode(body)
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise EnvelopeError("request body is nested too deeply") from None
    if not isinstance(doc, dict):
        raise EnvelopeError("request body must be a JSON object")
    extra = doc.keys() - _ENVELOPE_FIELDS
    if extra:
        raise EnvelopeError(f"unexpected field(s): {', '.join(sorted(extra))}")
    tracked = doc.get("tracked")
    if not isinstance(tracked, list):
        raise EnvelopeError("'tracked' must be a list of records")
    if not tracked:
        raise EnvelopeError("'tracked' must hold at least one record")
    if len(tracked) > max_batch:
        raise EnvelopeError(
            f"too many records: {len(tracked)} > {max_batch} per request", status=413
        )
    skip_limits = doc.get("skip_limits", False)
    if not isinstance(skip_limits, bool):
        raise EnvelopeError("'skip_limits' must be a boolean")
    return tracked, skip_limits


def parse_record(index: int, raw: Any, now: float, poisoned: Mapping[str, str] | None) -> _Record:
    """Validate one raw record; problems land in ``errors``.

    ``poisoned`` is None outside testing mode; in testing mode it maps poisoned response ids
    to their reason, and the ``poison`` vendor is rejected too.
    """
    if not isinstance(raw, dict):
        rec = _Record(index, f"UNKNOWN-RESPONSE-{index}", missing_id=True)
        rec.errors.append("record must be a JSON object")
        return rec
    rid = raw.get("response_id")
    if rid is None or rid == "":
        rec = _Record(index, f"UNKNOWN-RESPONSE-{index}", missing_id=True)
        rec.errors.append("Missing response_id.")
    elif not isinstance(rid, str):
        rec = _Record(index, f"UNKNOWN-RESPONSE-{index}", missing_id=True)
        rec.errors.append("response_id must be a string")
    else:
        rec = _Record(index, rid)
    errors = rec.errors
    extra = raw.keys() - _RECORD_FIELDS
    if extra:
        errors.append(f"unexpected field(s): {', '.join(sorted(extra))}")
    sk = raw.get("service_key")
    if sk is None:
        errors.append("Missing service_key.")
    elif not isinstance(sk, str):
        errors.append("service_key must be a string")
    else:
        parts = split_service_key(sk)
        if parts is None:
            errors.append(f"service_key {sk!r} must look like 'vendor::service'")
        else:
            rec.service_key = sk
            rec.vendor = parts[0]
    payload = raw.get("payload")
    if payload is None:
        rec.payload = {}
    elif not isinstance(payload, dict):
        errors.append("payload must be a JSON object")
    else:
        encoded = _encode(payload)
        if _may_nest_deeper(encoded) and _deeper_than(payload, MAX_DEPTH):
            # Not stored: every later read of it would have to recurse that deep too.
            errors.append(f"payload nests deeper than {MAX_DEPTH} levels")
        else:
            rec.payload = payload
            rec.payload_json = encoded.decode()
    try:
        rec.ts = parse_timestamp(raw.get("timestamp"), now)
    except ValueError as exc:
        errors.append(str(exc))
    ck = raw.get("customer_key")
    if ck is not None and not isinstance(ck, str):
        errors.append("customer_key must be a string")
    else:
        rec.customer_key = ck
    ctx = raw.get("context")
    if ctx is not None:
        if not isinstance(ctx, dict):
            errors.append("context must be a JSON object")
        else:
            encoded = _encode(ctx)
            if _may_nest_deeper(encoded) and _deeper_than(ctx, MAX_DEPTH):
                errors.append(f"context nests deeper than {MAX_DEPTH} levels")
            else:
                rec.context = ctx
                rec.context_json = encoded.decode()
    if poisoned is not None:
        if rec.vendor == "poison":
            errors.append("poison record")
        elif rec.response_id in poisoned and not rec.missing_id:
            errors.append(poisoned[rec.response_id])
    return rec


def _may_nest_deeper(encoded: bytes) -> bool:
    """False when the JSON text has too few brackets to nest deeper than :data:`MAX_DEPTH`
    (brackets inside strings only make this answer True more often, never wrongly False)."""
    return encoded.count(b"{") + encoded.count(b"[") > MAX_DEPTH


def _deeper_than(value: dict[str, Any], limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels in ``value`` (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


async def price_record(db: Database, key: ApiKey, rec: _Record, not_custom: set[str]) -> None:
    """Set the record's status (and cost lines) from custom services, then the catalogue.

    ``not_custom`` collects the service keys found not to be custom services during this
    batch, so the custom-service lookup runs once per service key and batch.
    """
    assert rec.service_key is not None
    try:
        costs = None
        if rec.service_key not in not_custom:
            lines = await _custom_services.price_custom(db, key, rec.service_key, rec.payload)
            if lines is None:
                not_custom.add(rec.service_key)
            else:
                costs = [cost_event(line) for line in lines]
        if costs is None:
            costs = price_catalog_wire(rec.service_key, rec.payload, rec.ts)
    except (PricingError, ValueError) as exc:
        rec.errors.append(f"cannot price usage: {exc}")
        return
    if costs is None:
        rec.status = "service_key_unknown"
        rec.errors.append(f"service key {rec.service_key!r} not recognized, queued for review")
        return
    rec.status = "completed"
    rec.costs = costs


def result_of(rec: _Record) -> dict[str, Any]:
    """The per-record result sent back (and stored for duplicates)."""
    out: dict[str, Any] = {"response_id": rec.response_id, "status": rec.status}
    if rec.status == "completed":
        out["cost_events"] = rec.costs
    if rec.errors:
        out["errors"] = rec.errors
    return out


@dataclass
class Outcome:
    """What one /track request did."""

    results: list[dict[str, Any]]
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    missing_ids: int = 0
    stored_costs: bool = False


async def _existing(db: Database, key: ApiKey, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored results of the response ids already seen in this key's team."""
    found: dict[str, dict[str, Any]] = {}
    completed: list[str] = []
    for start in range(0, len(ids), _SQL_CHUNK):
        chunk = ids[start : start + _SQL_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            f"SELECT response_id, result FROM usage_events"
            f" WHERE team_uuid = ? AND response_id IN ({marks})",
            (key.team_uuid, *chunk),
        )
        for rid, result in rows:
            if result is None:
                completed.append(rid)
                found[rid] = {"response_id": rid, "status": "completed", "cost_events": []}
            else:
                found[rid] = _decode(result)
    # A completed result is not stored: it is rebuilt from its cost events.
    for start in range(0, len(completed), _SQL_CHUNK):
        chunk = completed[start : start + _SQL_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            "SELECT response_id, provider_id, service_key, cost_unit_id, quantity,"
            " cost_per_unit, cost FROM cost_events WHERE team_uuid = ?"
            f" AND response_id IN ({marks}) ORDER BY rowid",
            (key.team_uuid, *chunk),
        )
        for rid, provider, service, unit, quantity, per_unit, cost in rows:
            found[rid]["cost_events"].append(
                {
                    "provider_id": provider,
                    "service_key": service,
                    "cost_unit_id": unit,
                    "quantity": quantity,
                    "cost_per_unit": per_unit,
                    "cost": cost,
                }
            )
    return found


_INSERT_USAGE = (
    "INSERT INTO usage_events (event_id, team_uuid, api_key_id, response_id, service_key,"
    " vendor, ts, received_at, customer_key, usage, context, status, errors, result)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_COSTS = (
    "INSERT INTO cost_events (uuid, event_id, team_uuid, api_key_id, response_id, ts,"
    " customer_key, service_key, provider_id, cost_unit_id, quantity, cost_per_unit, cost,"
    " context) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


@dataclass(slots=True)
class _Rows:
    """What storing one record adds: its result, its usage row and its cost rows."""

    rec: _Record
    result: dict[str, Any]
    usage: tuple[Any, ...]
    costs: list[tuple[Any, ...]]


def _build_rows(key: ApiKey, fresh: list[_Record], now: float) -> list[_Rows]:
    """The rows of every record not seen before in this batch (before taking the write lock:
    inside it only the de-duplication against stored records and the inserts run)."""
    team, key_id = key.team_uuid, key.key_id
    ids = uuid4_strings(len(fresh) + sum(len(r.costs) for r in fresh))
    built: list[_Rows] = []
    for rec in fresh:
        result = result_of(rec)
        event_id = next(ids)
        rid, ts, customer, context = rec.response_id, rec.ts, rec.customer_key, rec.context_json
        usage = (
            event_id,
            team,
            key_id,
            rid,
            rec.service_key,
            rec.vendor,
            ts,
            now,
            customer,
            rec.payload_json,
            context,
            rec.status,
            _encode(rec.errors).decode() if rec.errors else None,
            None if rec.status == "completed" else _encode(result).decode(),
        )
        costs = [
            (
                next(ids),
                event_id,
                team,
                key_id,
                rid,
                ts,
                customer,
                cost["service_key"],
                cost["provider_id"],
                cost["cost_unit_id"],
                cost["quantity"],
                cost["cost_per_unit"],
                cost["cost"],
                context,
            )
            for cost in rec.costs
        ]
        built.append(_Rows(rec, result, usage, costs))
    return built


def _spend_of(built: list[_Rows]) -> _rollups.Totals:
    """The rollup increments of storing ``built``."""
    return _rollups.aggregate(
        (
            (r.rec.ts, r.rec.customer_key, r.rec.service_key)
            for r in built
            if r.rec.status != "error"
        ),
        ((c[5], c[6], c[7], c[9], c[10], c[12]) for r in built for c in r.costs),
    )


async def ingest(
    db: Database, key: ApiKey, tracked: list[Any], poisoned: Mapping[str, str] | None
) -> Outcome:
    """Validate, price, de-duplicate and store one batch; results in request order."""
    now = _clock.now_ts()
    records = [parse_record(i, raw, now, poisoned) for i, raw in enumerate(tracked)]
    results: list[dict[str, Any] | None] = [None] * len(records)
    outcome = Outcome(results=[])
    first_index: dict[str, int] = {}
    not_custom: set[str] = set()
    fresh: list[_Record] = []
    for rec in records:
        if rec.missing_id:
            results[rec.index] = result_of(rec)
            outcome.rejected += 1
            outcome.missing_ids += 1
            continue
        seen = first_index.get(rec.response_id)
        if seen is not None:
            rec.duplicate_of = seen
            continue
        first_index[rec.response_id] = rec.index
        fresh.append(rec)
        if not rec.errors:
            await price_record(db, key, rec, not_custom)
    built = _build_rows(key, fresh, now)
    spend = _spend_of(built)
    async with db.transaction():
        stored = await _existing(db, key, list(first_index))
        if stored:
            new = []
            for rows in built:
                previous = stored.get(rows.rec.response_id)
                if previous is None:
                    new.append(rows)
                else:
                    results[rows.rec.index] = previous
                    outcome.duplicates += 1
            built = new
            spend = _spend_of(built)
        usage_rows = []
        cost_rows: list[tuple[Any, ...]] = []
        for rows in built:
            results[rows.rec.index] = rows.result
            if rows.rec.status == "error":
                outcome.rejected += 1
            else:
                outcome.accepted += 1
            usage_rows.append(rows.usage)
            cost_rows += rows.costs
        if usage_rows:
            await db.executemany(_INSERT_USAGE, usage_rows)
        if cost_rows:
            await db.executemany(_INSERT_COSTS, cost_rows)
        await _rollups.write(db, key.team_uuid, spend)
    for rec in records:
        if rec.duplicate_of is not None:
            results[rec.index] = results[rec.duplicate_of]
            outcome.duplicates += 1
    outcome.results = [r for r in results if r is not None]
    outcome.stored_costs = bool(cost_rows)
    return outcome


def _json(content: Any, status: int) -> Response:
    return Response(_encode(content), status_code=status, media_type="application/json")


@router.post(
    "/track",
    status_code=202,
    response_model=TrackResponseDoc,
    openapi_extra=_OPENAPI_EXTRA,
    summary="Track usage records",
    responses={413: {"description": "more than 1000 records"}},
)
async def track(request: Request, key: CurrentKey) -> Response:
    """Record a batch of usage records: one result per record, in request order."""
    app_state = request.app.state
    try:
        tracked, skip_limits = parse_envelope(await request.body(), app_state.config.max_batch)
    except EnvelopeError as exc:
        return _json({"detail": exc.detail}, exc.status)
    testing = getattr(app_state, "testing", None)
    poisoned: Mapping[str, str] | None = testing.poisoned if testing is not None else None
    db: Database = app_state.db
    outcome = await ingest(db, key, tracked, poisoned)
    if testing is not None:
        testing.count(key.key_id, "records_received", len(tracked))
        testing.count(key.key_id, "accepted", outcome.accepted)
        testing.count(key.key_id, "duplicates", outcome.duplicates)
        testing.count(key.key_id, "rejected", outcome.rejected)
    if outcome.stored_costs and not skip_limits:
        await _triggered.after_track(db, key)
    sent: set[ApiKey] = app_state.public_key_sent
    include_pk = key not in sent
    envelope = await _triggered.envelope(db, key, include_public_key=include_pk)
    if envelope and include_pk:
        sent.add(key)
    body = {"results": outcome.results, "triggered_limits": envelope}
    if outcome.missing_ids and not outcome.accepted and not outcome.duplicates:
        body["detail"] = "no record was acceptable"
        return _json(body, 422)
    return _json(body, 202)
