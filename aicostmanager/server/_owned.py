"""What the routers of team-owned rows share: their documented errors and the owned-row read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Response

from ._db import Database

__all__ = (
    "CONFLICT",
    "Responses",
    "change_owned",
    "delete_owned",
    "fetch_owned",
    "not_found",
    "team_router",
)

Responses = dict[int | str, dict[str, Any]]
"""FastAPI's ``responses=`` notes: status code -> OpenAPI response object."""

CONFLICT: Responses = {409: {"description": "the key is already used in the caller's team"}}


def team_router(tag: str) -> APIRouter:
    """A router whose every route needs an API key (its 401 is documented once here)."""
    return APIRouter(tags=[tag], responses={401: {"description": "missing or unknown API key"}})


def not_found(what: str) -> Responses:
    """The 404 note of a route reading one ``what`` of the caller's team."""
    return {404: {"description": f"no such {what} in the caller's team"}}


async def fetch_owned(
    db: Database, table: str, columns: str, row_uuid: str, team_uuid: str, what: str
) -> tuple[Any, ...]:
    """The row ``row_uuid`` of ``table`` if the team owns it.

    Raises:
        HTTPException: 404 ``"<what> not found"`` when there is no such row in the team.
    """
    row = await db.fetchone(
        f"SELECT {columns} FROM {table} WHERE uuid = ? AND team_uuid = ?", (row_uuid, team_uuid)
    )
    if row is None:
        raise HTTPException(404, detail=f"{what} not found")
    return row


async def change_owned(db: Database, sql: str, params: Sequence[Any], what: str) -> None:
    """Run ``sql``, an UPDATE or DELETE of one row of the caller's team.

    Raises:
        HTTPException: 404 ``"<what> not found"`` when it matched no row.
        ConstraintError: the change breaks a constraint (the caller maps it to a 409).
    """
    if not await db.execute(sql, params):
        raise HTTPException(404, detail=f"{what} not found")


async def delete_owned(
    db: Database, table: str, row_uuid: str, team_uuid: str, what: str
) -> Response:
    """Delete the row ``row_uuid`` of ``table`` if the team owns it; the route's 204.

    Raises:
        HTTPException: 404 ``"<what> not found"`` when there is no such row in the team.
    """
    sql = f"DELETE FROM {table} WHERE uuid = ? AND team_uuid = ?"
    await change_owned(db, sql, (row_uuid, team_uuid), what)
    return Response(status_code=204)
