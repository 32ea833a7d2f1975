"""Helpers shared by the query endpoints: pagination, dates, row formatting."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import msgspec
from fastapi import HTTPException, Request

__all__ = (
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "iso",
    "json_or_none",
    "page",
    "page_bounds",
    "parse_day_bound",
)

DEFAULT_LIMIT = 25
MAX_LIMIT = 200
MAX_OFFSET = 2**62
"""Largest page offset: ``offset + limit`` must still fit SQLite's 64-bit integers."""

_decode = msgspec.json.decode
_DAY = 86400.0


def page_bounds(limit: int | None, offset: int | None) -> tuple[int, int]:
    """Validated ``(limit, offset)``: default 25, capped at 200.

    Raises:
        HTTPException: 422 for a limit below 1 or an offset outside 0 to :data:`MAX_OFFSET`.
    """
    lim = DEFAULT_LIMIT if limit is None else limit
    off = 0 if offset is None else offset
    if lim < 1 or not 0 <= off <= MAX_OFFSET:
        raise HTTPException(422, f"limit must be >= 1 and offset between 0 and {MAX_OFFSET}")
    return min(lim, MAX_LIMIT), off


def page(
    request: Request, count: int, limit: int, offset: int, results: list[Any]
) -> dict[str, Any]:
    """A page envelope ``{count, next, previous, results}`` with absolute URLs."""
    nxt = None
    if offset + limit < count:
        nxt = str(request.url.include_query_params(limit=limit, offset=offset + limit))
    prev = None
    if offset > 0:
        prev = str(request.url.include_query_params(limit=limit, offset=max(offset - limit, 0)))
    return {"count": count, "next": nxt, "previous": prev, "results": results}


def parse_day_bound(value: str | None, *, end: bool, name: str) -> float | None:
    """Epoch seconds of a ``YYYY-MM-DD`` date or ISO datetime bound.

    A plain date as ``end`` means the end of that day (exclusive bound at next midnight UTC,
    computed on epoch seconds so that ``9999-12-31``, the last date there is, works too).

    Raises:
        HTTPException: 422 when the value is not a date.
    """
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return start.timestamp() + (_DAY if end else 0.0)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"{name} must be YYYY-MM-DD or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def iso(ts: float) -> str:
    """ISO 8601 UTC text of epoch seconds, with a ``Z`` suffix."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def json_or_none(text: Any) -> Any:
    """Decode a JSON column (None stays None)."""
    return None if text is None else _decode(text)
