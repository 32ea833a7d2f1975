"""``POST /track``: validate, de-duplicate, price and store usage records.

The tables are described in :mod:`._track_schema`; parsing is in :mod:`._track_parse`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..models import CustomServiceConfiguration
from . import _clock, _custom_services, _rollups, _track_richer, _triggered
from ._auth import ApiKey, CurrentKey
from ._db import IN_LIST_CHUNK, Database
from ._pricing import CATALOG, PricingError, cost_event, price_event
from ._track_parse import MAX_DEPTH, EnvelopeError, Record, parse_body
from ._track_schema import COST_VIEW, FLAG_ESTIMATED, FLAG_UNPRICED, SCHEMA
from ._usage_extract import ESTIMATED_KEY

__all__ = ("MAX_DEPTH", "SCHEMA", "router")

router = APIRouter(tags=["tracking"])

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


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


_VERSION_4 = bytes(b & 0x0F | 0x40 for b in range(256))
_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))
# Where each of a UUID's 32 hex digits goes in its 36-character text (dashes at 8, 13, 18, 23).
_HEX_POSITIONS = tuple(j + (j >= 8) + (j >= 12) + (j >= 16) + (j >= 20) for j in range(32))


def uuid4_strings(n: int) -> Iterator[str]:
    """``n`` random version-4 UUIDs as text (much faster than ``str(uuid.uuid4())`` each)."""
    raw = bytearray(os.urandom(16 * n))
    # Version 4 and the RFC 4122 variant, set on all of them at once.
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    digits = raw.hex().encode()
    # All UUIDs' text in one buffer, filled one digit position at a time (32 strided copies
    # rather than 5 slices per UUID), then cut into 36-character pieces.
    text = bytearray(b"-" * (36 * n))
    for digit, position in enumerate(_HEX_POSITIONS):
        text[position::36] = digits[digit::32]
    joined = text.decode()
    return iter([joined[i : i + 36] for i in range(0, 36 * n, 36)])


MAX_RECORD_PICO = 10**18
"""The most one record may cost: $1,000,000 in pico-dollars. Costs are summed in signed 64-bit
SQLite integers (at most about 9.2 * 10**18 pico-dollars); a record above this is refused with
an error result (the SDK dead-letters it) rather than failing its whole batch."""


# The pricing notes of most events (catalogue only), encoded once.
_PLAIN: dict[str, Any] = {"catalog": CATALOG}
_PLAIN_CATALOG = _encode(_PLAIN).decode()


def _estimated(payload: Mapping[str, Any]) -> list[str]:
    marked = payload.get(ESTIMATED_KEY)
    if isinstance(marked, list):
        return [str(x) for x in marked]
    return []


def price_record(rec: Record, config: CustomServiceConfiguration | None) -> None:
    """Set the record's status, cost lines and pricing notes from its custom service
    ``config`` when it has one, else from the catalogue."""
    sk = rec.service_key
    assert sk is not None
    try:
        lines = None if config is None else _custom_services.price_usage(config, sk, rec.payload)
        if lines is not None:
            info: dict[str, Any] = {"catalog": "custom service"}
            unpriced: list[str] = []
            estimated = _estimated(rec.payload)
            costs = [cost_event(line) for line in lines]
            picos: list[int | None] = [None] * len(costs)
        else:
            priced = price_event(sk, rec.payload, rec.ts)
            if priced is None:
                rec.status = "service_key_unknown"
                rec.errors.append(f"service key {sk!r} not recognized, queued for review")
                return
            unpriced, estimated = priced.unpriced, priced.estimated
            info = {"catalog": CATALOG}
            if priced.supplement:
                info["supplement"] = priced.supplement
            costs, picos = priced.wire()
        if None in picos:
            picos = [
                _rollups.to_pico(c["cost"]) if p is None else p
                for c, p in zip(costs, picos, strict=True)
            ]
    except (PricingError, ValueError) as exc:
        rec.errors.append(f"cannot price usage: {exc}")
        return
    exact = cast("list[int]", picos)  # every line's pico is known by now
    total = sum(exact)
    if total > MAX_RECORD_PICO or (exact and min(exact) < 0):
        rec.errors.append(
            f"cannot price usage: the cost {total} pico-dollars is outside 0 to $1,000,000"
            " per record"
        )
        return
    flags = 0
    if unpriced:
        info["unpriced"] = unpriced
        flags |= FLAG_UNPRICED
    if estimated:
        info["estimated"] = estimated
        flags |= FLAG_ESTIMATED
    rec.status = "completed"
    rec.costs = costs
    rec.picos = picos
    rec.flags = flags
    rec.pricing = _PLAIN_CATALOG if info == _PLAIN else _encode(info).decode()


def result_of(rec: Record) -> dict[str, Any]:
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
    for start in range(0, len(ids), IN_LIST_CHUNK):
        chunk = ids[start : start + IN_LIST_CHUNK]
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
    for start in range(0, len(completed), IN_LIST_CHUNK):
        chunk = completed[start : start + IN_LIST_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            "SELECT response_id, provider_id, service_key, cost_unit_id, quantity,"
            f" cost_per_unit, cost FROM {COST_VIEW} WHERE team_uuid = ?"
            f" AND response_id IN ({marks}) ORDER BY cost_rowid",
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


# The first columns are the same in every row of a batch: bound once per statement.
_INSERT_USAGE = (
    "INSERT INTO usage_events (team_uuid, api_key_id, received_at, event_id, response_id,"
    " service_key, vendor, ts, customer_key, usage, context, status, errors, result, pricing,"
    " flags,"
    " cost_first, cost_last)"
)
_COST_COLUMNS = (
    "uuid, event_id, response_id, ts, customer_key, service_key, provider_id, cost_unit_id,"
    " quantity, cost_per_unit, cost, context)"
)
_INSERT_COSTS = f"INSERT INTO cost_events (team_uuid, api_key_id, {_COST_COLUMNS}"
# Where the engine does not give the reserved rowids by itself (PostgreSQL), they are inserted.
_INSERT_COSTS_ROWID = f"INSERT INTO cost_events (team_uuid, api_key_id, rowid, {_COST_COLUMNS}"


@dataclass(slots=True)
class _Rows:
    """What storing one record adds: its result, its usage row and its cost rows."""

    rec: Record
    result: dict[str, Any]
    usage: tuple[Any, ...]
    costs: list[tuple[Any, ...]]


def _build_rows(fresh: list[Record]) -> list[_Rows]:
    """The rows of every record not seen before in this batch (before taking the write lock:
    inside it only the de-duplication against stored records and the inserts run), without
    the columns common to the batch (team, key id, receipt time: see ``_INSERT_*``)."""
    ids = uuid4_strings(len(fresh) + sum(len(r.costs) for r in fresh))
    built: list[_Rows] = []
    append = built.append
    for rec in fresh:
        event_id = next(ids)
        rid, ts, customer, context = rec.response_id, rec.ts, rec.customer_key, rec.context_json
        status = rec.status
        result: dict[str, Any] = {"response_id": rid, "status": status}
        if status == "completed":
            result["cost_events"] = rec.costs
            costs = [
                (
                    next(ids),
                    event_id,
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
        else:
            costs = []
        if rec.errors:
            result["errors"] = rec.errors
        usage = (
            event_id,
            rid,
            rec.service_key,
            rec.vendor,
            ts,
            customer,
            rec.payload_json,
            context,
            status,
            _encode(rec.errors).decode() if rec.errors else None,
            None if status == "completed" else _encode(result).decode(),
            rec.pricing if status == "completed" else None,
            rec.flags if status == "completed" else 0,
        )
        append(_Rows(rec, result, usage, costs))
    return built


def _spend_of(built: list[_Rows]) -> _rollups.Totals:
    """The rollup increments of storing ``built`` (what :func:`._rollups.aggregate` gives for
    these events and cost events, summed per record rather than per cost line)."""
    hour_s, day_s, to_pico = _rollups.HOUR, _rollups.DAY, _rollups.to_pico
    hourly: dict[tuple[int, str, str], list[int]] = {}
    units: dict[tuple[int, str, str, str], list[Any]] = {}
    for rows in built:
        rec = rows.rec
        if rec.status == "error":
            continue
        ts = rec.ts
        customer = rec.customer_key or ""
        service = rec.service_key or ""
        hour = (int(ts // hour_s) * hour_s, customer, service)
        own = 0  # pico of the cost lines of the record's own service key (all, in practice)
        if rec.costs:
            day = int(ts // day_s) * day_s
            for line, pico in zip(rec.costs, rec.picos, strict=True):
                if pico is None:
                    pico = to_pico(line["cost"])
                line_service = line["service_key"]
                if line_service == service:
                    own += pico
                else:
                    other = (hour[0], customer, line_service)
                    acc = hourly.get(other)
                    if acc is None:
                        hourly[other] = [pico, 0, 0, 0]
                    else:
                        acc[0] += pico
                unit = (day, customer, line_service, line["cost_unit_id"])
                unit_acc = units.get(unit)
                if unit_acc is None:
                    units[unit] = [float(line["quantity"]), pico]
                else:
                    unit_acc[0] += float(line["quantity"])
                    unit_acc[1] += pico
        estimated = own if rec.flags & FLAG_ESTIMATED else 0
        partial = 1 if rec.flags & FLAG_UNPRICED else 0
        acc = hourly.get(hour)
        if acc is None:
            hourly[hour] = [own, 1, estimated, partial]
        else:
            acc[0] += own
            acc[1] += 1
            acc[2] += estimated
            acc[3] += partial
    return _rollups.totals(hourly, units)


_NUL_ERROR = (
    "cannot store the record: its response_id, service_key, customer_key or context holds a"
    " NUL character, which this server's database (PostgreSQL) cannot store or search"
)


# ``\u0000`` in JSON text, not preceded by an escaped backslash (``\\u0000`` is literal text).
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _holds_nul(rec: Record) -> bool:
    """Whether a text column of the record's rows would hold NUL, or its context would (the
    JSON escapes it, but PostgreSQL's JSON functions, which context filters use, refuse it)."""
    return any(
        text is not None and "\x00" in text
        for text in (rec.response_id, rec.service_key, rec.customer_key)
    ) or (rec.context_json is not None and _JSON_NUL.search(rec.context_json) is not None)


async def ingest(db: Database, key: ApiKey, records: list[Record], now: float) -> Outcome:
    """Price, de-duplicate and store one batch of parsed records; results in request order."""
    results: list[dict[str, Any] | None] = [None] * len(records)
    outcome = Outcome(results=[])
    first_index: dict[str, int] = {}
    custom: dict[str, CustomServiceConfiguration | None] = {}
    fresh: list[Record] = []
    nul_free = not db.dialect.text_holds_nul
    for rec in records:
        if rec.missing_id:
            results[rec.index] = result_of(rec)
            outcome.rejected += 1
            outcome.missing_ids += 1
            continue
        if nul_free and _holds_nul(rec):
            # Refused unstored, like a record without an id: there is no row it could be.
            rec.errors.append(_NUL_ERROR)
            results[rec.index] = result_of(rec)
            outcome.rejected += 1
            continue
        seen = first_index.get(rec.response_id)
        if seen is not None:
            rec.duplicate_of = seen
            continue
        first_index[rec.response_id] = rec.index
        fresh.append(rec)
        if rec.errors:
            continue
        sk = rec.service_key
        assert sk is not None
        # Each service key's custom service is looked up once per batch (None: not one).
        if sk not in custom:
            try:
                custom[sk] = await _custom_services.custom_config(db, key, sk)
            except ValueError as exc:
                rec.errors.append(f"cannot price usage: {exc}")
                continue
        price_record(rec, custom[sk])
    built = _build_rows(fresh)
    try:
        stored_costs = await _store(db, key, built, results, outcome, now)
    except _rollups.RollupOverflow:
        # Some rollup bucket would leave the range of its 64-bit sum: store the records one
        # at a time, so that only those that overflow are refused (each with its reason).
        stored_costs = False
        for rows in built:
            stored_costs |= await _store_alone(db, key, rows, results, outcome, now)
    for rec in records:
        if rec.duplicate_of is not None:
            results[rec.index] = results[rec.duplicate_of]
            outcome.duplicates += 1
    outcome.results = [r for r in results if r is not None]
    outcome.stored_costs = stored_costs
    return outcome


async def _store_alone(
    db: Database,
    key: ApiKey,
    rows: _Rows,
    results: list[dict[str, Any] | None],
    outcome: Outcome,
    now: float,
) -> bool:
    """:func:`_store` one record; when its rollups would overflow, store it as an error."""
    try:
        return await _store(db, key, [rows], results, outcome, now)
    except _rollups.RollupOverflow as exc:
        rec = rows.rec
        rec.status, rec.costs, rec.picos = "error", [], []
        rec.errors.append(f"cannot store usage: {exc}")
        return await _store(db, key, _build_rows([rec]), results, outcome, now)


async def _replace_poorer(
    db: Database, key: ApiKey, built: list[_Rows], stored: dict[str, dict[str, Any]]
) -> set[str]:
    """Remove the stored events (with their cost events and rollups) that a record of
    ``built`` with the same response id is richer than (:mod:`._track_richer`); their ids."""
    candidates = {}
    for rows in built:
        rec = rows.rec
        previous = stored.get(rec.response_id)
        if (
            previous is not None
            and rec.status == "completed"
            and previous.get("status") == "completed"
        ):
            candidates[rec.response_id] = (rec, previous.get("cost_events") or [])
    if not candidates:
        return set()
    replaced = await _track_richer.load(db, key.team_uuid, candidates)
    if replaced:
        removed = _spend_of([_Rows(s.rec, {}, (), []) for s in replaced.values()])
        await _track_richer.remove(db, key.team_uuid, replaced.values())
        await _rollups.write(db, key.team_uuid, _track_richer.negated(removed))
        await _track_richer.drop_empty(db, key.team_uuid, removed)
    return set(replaced)


async def _store(
    db: Database,
    key: ApiKey,
    built: list[_Rows],
    results: list[dict[str, Any] | None],
    outcome: Outcome,
    now: float,
) -> bool:
    """Store the records of ``built`` not stored before, in one transaction; fill their
    results and counts once it committed. True when cost events were stored.

    Raises:
        _rollups.RollupOverflow: a rollup sum would overflow (nothing is stored).
    """

    async def attempt() -> tuple[dict[int, dict[str, Any]], int, list[_Rows], bool]:
        answers: dict[int, dict[str, Any]] = {}
        duplicates = 0
        new = built
        stored = await _existing(db, key, [rows.rec.response_id for rows in built])
        if stored:
            replaced = await _replace_poorer(db, key, built, stored)
            new = []
            for rows in built:
                rid = rows.rec.response_id
                previous = stored.get(rid)
                if previous is None or rid in replaced:
                    new.append(rows)
                else:
                    answers[rows.rec.index] = previous
                    duplicates += 1
        spend = _spend_of(new)
        usage_rows = []
        cost_rows: list[tuple[Any, ...]] = []
        # The usage row names the rowids of its first and last cost event.
        rowids = await db.reserve_rowids("cost_events", sum(len(r.costs) for r in new))
        implicit = db.implicit_rowids
        taken = 0
        for rows in new:
            answers[rows.rec.index] = rows.result
            count = len(rows.costs)
            if count:
                mine = rowids[taken : taken + count]
                taken += count
                usage_rows.append((*rows.usage, mine[0], mine[-1]))
                if implicit:
                    cost_rows += rows.costs
                else:
                    cost_rows += [(r, *cost) for r, cost in zip(mine, rows.costs, strict=True)]
            else:
                usage_rows.append((*rows.usage, None, None))
        await db.insert_rows(_INSERT_USAGE, usage_rows, (key.team_uuid, key.key_id, now))
        insert = _INSERT_COSTS if implicit else _INSERT_COSTS_ROWID
        await db.insert_rows(insert, cost_rows, (key.team_uuid, key.key_id))
        await _rollups.write(db, key.team_uuid, spend)
        return answers, duplicates, new, bool(cost_rows)

    answers, duplicates, built, stored_costs = await db.run_transaction(attempt, key.team_uuid)
    for index, answer in answers.items():
        results[index] = answer
    outcome.duplicates += duplicates
    for rows in built:
        if rows.rec.status == "error":
            outcome.rejected += 1
        else:
            outcome.accepted += 1
    return stored_costs


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
    testing = getattr(app_state, "testing", None)
    poisoned: Mapping[str, str] | None = testing.poisoned if testing is not None else None
    raw = await request.body()
    now = _clock.now_ts()
    try:
        records, skip_limits = parse_body(raw, app_state.config.max_batch, now, poisoned)
    except EnvelopeError as exc:
        return _json({"detail": exc.detail}, exc.status)
    db: Database = app_state.db
    outcome = await ingest(db, key, records, now)
    if testing is not None:
        testing.count(key.key_id, "records_received", len(records))
        testing.count(key.key_id, "accepted", outcome.accepted)
        testing.count(key.key_id, "duplicates", outcome.duplicates)
        testing.count(key.key_id, "rejected", outcome.rejected)
    if outcome.stored_costs and not skip_limits:
        await _triggered.after_track(db, key)
    # Always with the PEM: a client may reach another worker or host on its next request.
    envelope = await _triggered.envelope(db, key, include_public_key=True)
    body = {"results": outcome.results, "triggered_limits": envelope}
    if outcome.missing_ids and not outcome.accepted and not outcome.duplicates:
        body["detail"] = "no record was acceptable"
        return _json(body, 422)
    return _json(body, 202)
