"""Helpers shared by the query endpoints: pagination, dates, row formatting.

Pagination of the event lists is by keyset: ``next`` carries a ``cursor`` (the ``(ts, rowid)``
of the page's last row) with the ``offset`` it stands for, so a page deep in a big team's
history costs the same as the first. A plain ``offset`` is still accepted up to
:data:`MAX_OFFSET` (skipping rows costs their reading).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import msgspec
from fastapi import HTTPException, Request

if TYPE_CHECKING:
    from ._db import Database

__all__ = (
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "Cursor",
    "iso",
    "json_or_none",
    "keyset_page",
    "keyset_rows",
    "keyset_where",
    "page",
    "page_bounds",
    "parse_cursor",
    "parse_day_bound",
    "where_equal",
    "where_day_range",
)

DEFAULT_LIMIT = 25
MAX_LIMIT = 200
MAX_OFFSET = 10_000
"""Largest plain ``offset`` (without a ``cursor``); deeper pages follow the cursor in ``next``."""
_MAX_CURSOR_OFFSET = 2**62  # the offset a cursor stands for: offset + limit must fit int64

Cursor = tuple[float, int]
"""``(ts, rowid)`` of the last row of a page (rows are ordered by ts, then rowid, descending)."""

_decode = msgspec.json.decode
_DAY = 86400.0


def page_bounds(
    limit: int | None, offset: int | None, cursor: Cursor | None = None
) -> tuple[int, int]:
    """Validated ``(limit, offset)``: default 25, capped at 200.

    Raises:
        HTTPException: 422 for a limit below 1, or an offset below 0 or above
            :data:`MAX_OFFSET` (with a ``cursor``, the offset only numbers the page).
    """
    lim = DEFAULT_LIMIT if limit is None else limit
    off = 0 if offset is None else offset
    if lim < 1:
        raise HTTPException(422, "limit must be >= 1")
    if not 0 <= off <= (MAX_OFFSET if cursor is None else _MAX_CURSOR_OFFSET):
        raise HTTPException(
            422,
            f"offset must be between 0 and {MAX_OFFSET}; for deeper pages follow the"
            " 'next' link (it carries a cursor)",
        )
    return min(lim, MAX_LIMIT), off


def parse_cursor(text: str | None) -> Cursor | None:
    """The ``(ts, rowid)`` of a ``cursor`` query parameter (None when absent).

    Raises:
        HTTPException: 422 when the text is not a cursor this server made.
    """
    if not text:
        return None
    ts_text, sep, rowid_text = text.partition("_")
    try:
        if not sep:
            raise ValueError(text)
        ts, rowid = float(ts_text), int(rowid_text)
    except ValueError:
        raise HTTPException(422, "cursor is not valid: use the 'next' link as given") from None
    if not math.isfinite(ts) or not 0 <= rowid < 2**63:
        raise HTTPException(422, "cursor is not valid: use the 'next' link as given")
    return ts, rowid


def keyset_where(cursor: Cursor | None, rowid: str, where: list[str], params: list[Any]) -> None:
    """Restrict a query ordered by ``ts DESC, <rowid> DESC`` to the rows after ``cursor``."""
    if cursor is not None:
        where.append(f"(ts < ? OR (ts = ? AND {rowid} < ?))")
        params.extend((cursor[0], cursor[0], cursor[1]))


def keyset_page(
    request: Request,
    count: int,
    limit: int,
    offset: int,
    results: list[Any],
    last: Cursor | None,
) -> dict[str, Any]:
    """A page envelope whose ``next`` carries the cursor ``last`` (None: no more rows).

    ``previous`` is the plain-offset link of the page before, when that offset is allowed.
    """
    nxt = None
    if last is not None:
        nxt = str(
            request.url.include_query_params(
                limit=limit, offset=offset + limit, cursor=f"{last[0]!r}_{last[1]}"
            )
        )
    prev = None
    back = max(offset - limit, 0)
    if offset > 0 and back <= MAX_OFFSET:
        prev = str(
            request.url.remove_query_params("cursor").include_query_params(limit=limit, offset=back)
        )
    return {"count": count, "next": nxt, "previous": prev, "results": results}


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


def where_day_range(
    start_date: str | None, end_date: str | None, where: list[str], params: list[Any]
) -> None:
    """Append the ``ts`` conditions of a ``start_date``/``end_date`` filter to ``where``.

    Raises:
        HTTPException: 422 when a bound is not a date.
    """
    start = parse_day_bound(start_date, end=False, name="start_date")
    end = parse_day_bound(end_date, end=True, name="end_date")
    if start is not None:
        where.append("ts >= ?")
        params.append(start)
    if end is not None:
        where.append("ts < ?")
        params.append(end)


def where_equal(where: list[str], params: list[Any], *filters: tuple[str, str | None]) -> None:
    """Append ``<column> = ?`` for each ``(column, value)`` whose value is given (not empty)."""
    for column, value in filters:
        if value:
            where.append(f"{column} = ?")
            params.append(value)


async def keyset_rows(
    db: Database,
    select: str,
    where: list[str],
    params: list[Any],
    *,
    rowid: str,
    ts_index: int,
    cursor: Cursor | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Any, ...]], Cursor | None]:
    """One page of ``select`` (``SELECT <columns>, <rowid> FROM <table>``), newest first.

    Reads after ``cursor`` when given, else from ``offset``; returns the page's rows and the
    cursor of the page after (None on the last page), for :func:`keyset_page`.
    """
    keyset_where(cursor, rowid, where, params)
    rows = await db.fetchall(
        f"{select} WHERE {' AND '.join(where)} ORDER BY ts DESC, {rowid} DESC LIMIT ? OFFSET ?",
        (*params, limit + 1, 0 if cursor else offset),
    )
    last = (rows[limit - 1][ts_index], rows[limit - 1][-1]) if len(rows) > limit else None
    return rows[:limit], last
