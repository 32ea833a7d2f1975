"""FastAPI dependencies shared by the routers: the database and the authenticated key.

Usage in a router::

    @router.get("/things/")
    async def list_things(db: DB, key: CurrentKey) -> list[dict[str, Any]]: ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ._auth import CurrentKey
from ._db import Database

__all__ = ("DB", "CurrentKey", "get_db")


def get_db(request: Request) -> Database:
    """The server's database (opened by the app's lifespan)."""
    db: Database = request.app.state.db
    return db


DB = Annotated[Database, Depends(get_db)]
"""Route parameter annotation: ``db: DB`` injects the :class:`Database`."""
