"""Replacing a stored event by a richer record of the same provider call.

Two processes may report one provider call under the same ``response_id`` (a service exporting
OTLP spans with input and output tokens only, and a Python wrapper whose record also has cached
and reasoning tokens). The first one stored is kept, unless the later one is *richer*
(:func:`is_richer`): then the stored event, its cost events and its share of the rollups are
removed in the transaction that stores the richer record, so that every total equals what
storing only the richer record gives. Only records found to be duplicates are looked at, so
the ingest of new ids does no extra work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from . import _rollups
from ._db import IN_LIST_CHUNK, Database
from ._track_parse import Record
from ._track_schema import FLAG_ESTIMATED

__all__ = ("Stored", "drop_empty", "is_richer", "load", "negated", "remove")


@dataclass(slots=True)
class Stored:
    """A stored event that a richer record replaces: what removing it takes."""

    rec: Record  # its service key, time, customer, cost lines and flags (for its rollups)
    event_id: str
    cost_first: int | None
    cost_last: int | None


def _units(costs: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, str]]:
    """The priced usage fields of some cost lines: ``(service key, cost unit)`` of each line
    whose quantity is not zero."""
    found = set()
    for line in costs:
        try:
            quantity = Decimal(str(line["quantity"]))
        except (InvalidOperation, KeyError):
            continue
        if quantity:
            found.add((str(line["service_key"]), str(line["cost_unit_id"])))
    return frozenset(found)


def is_richer(new: Record, stored_flags: int, stored_costs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the priced record ``new`` should replace the stored ``completed`` event of its
    response id (same service key, checked by the caller) with ``stored_flags`` and
    ``stored_costs``.

    - An estimate never replaces exact usage; exact usage always replaces an estimate.
    - Otherwise ``new`` is richer when its priced usage fields (the cost units it has a
      non-zero quantity of) strictly include the stored event's: it carries a priced field the
      stored one lacks, and lacks none the stored one has. The same fields (whatever the
      counts) make a plain duplicate: the first stays.
    """
    new_estimated = bool(new.flags & FLAG_ESTIMATED)
    stored_estimated = bool(stored_flags & FLAG_ESTIMATED)
    if new_estimated != stored_estimated:
        return stored_estimated
    return _units(new.costs) > _units(stored_costs)


async def load(
    db: Database,
    team_uuid: str,
    candidates: Mapping[str, tuple[Record, Sequence[Mapping[str, Any]]]],
) -> dict[str, Stored]:
    """The stored events that a richer record of ``candidates`` replaces.

    Args:
        candidates: per response id, the new priced record and the stored event's cost lines
            (both ``completed``).
    """
    replaced: dict[str, Stored] = {}
    ids = list(candidates)
    for start in range(0, len(ids), IN_LIST_CHUNK):
        chunk = ids[start : start + IN_LIST_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            "SELECT response_id, event_id, service_key, ts, customer_key, flags, cost_first,"
            f" cost_last FROM usage_events WHERE team_uuid = ? AND response_id IN ({marks})"
            " AND status = 'completed'",
            (team_uuid, *chunk),
        )
        for rid, event_id, service, ts, customer, flags, first, last in rows:
            new, costs = candidates[rid]
            if service != new.service_key or not is_richer(new, int(flags), costs):
                continue
            old = Record(
                index=-1,
                response_id=rid,
                service_key=service,
                ts=float(ts),
                customer_key=customer,
                status="completed",
                costs=[{k: str(v) for k, v in line.items()} for line in costs],
                picos=[None] * len(costs),
                flags=int(flags),
            )
            replaced[rid] = Stored(old, event_id, first, last)
    return replaced


async def remove(db: Database, team_uuid: str, events: Iterable[Stored]) -> None:
    """Delete stored events and their cost events (call inside the storing transaction)."""
    for stored in events:
        if stored.cost_first is not None:
            await db.execute(
                "DELETE FROM cost_events WHERE rowid BETWEEN ? AND ? AND event_id = ?",
                (stored.cost_first, stored.cost_last, stored.event_id),
            )
        await db.execute(
            "DELETE FROM usage_events WHERE team_uuid = ? AND response_id = ?",
            (team_uuid, stored.rec.response_id),
        )


async def drop_empty(db: Database, team_uuid: str, removed: _rollups.Totals) -> None:
    """Delete the rollup rows that ``removed`` touched and that hold nothing any more (the
    replaced event was alone in its hour, customer or service)."""
    for table, keys in (("spend_hourly", removed.hourly), ("spend_daily", removed.daily)):
        await db.executemany(
            f"DELETE FROM {table} WHERE team_uuid = ? AND bucket = ? AND customer_key = ?"
            " AND service_key = ? AND cost_pico = 0 AND events = 0 AND estimated_pico = 0"
            " AND partial_events = 0",
            [(team_uuid, *k) for k in keys],
        )
    await db.executemany(
        "DELETE FROM spend_customer_units_daily WHERE team_uuid = ? AND bucket = ?"
        " AND customer_key = ? AND service_key = ? AND cost_unit_id = ? AND cost_pico = 0"
        " AND quantity = 0",
        [(team_uuid, *k) for k in removed.customer_units],
    )
    await db.executemany(
        "DELETE FROM spend_units_daily WHERE team_uuid = ? AND bucket = ? AND service_key = ?"
        " AND cost_unit_id = ? AND cost_pico = 0 AND quantity = 0",
        [(team_uuid, *k) for k in removed.units],
    )


def negated(totals: _rollups.Totals) -> _rollups.Totals:
    """The rollup increments that take ``totals`` back out."""
    return _rollups.Totals(
        {k: [-v for v in values] for k, values in totals.hourly.items()},
        {k: [-v for v in values] for k, values in totals.daily.items()},
        {k: [-v for v in values] for k, values in totals.customer_units.items()},
        {k: [-v for v in values] for k, values in totals.units.items()},
    )
