"""Owned by the limits helper."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ._auth import ApiKey
from ._db import Database

router = APIRouter()
SCHEMA = ""


async def after_track(db: Database, key: ApiKey) -> None:
    """Called by ``/track`` after each commit that stored new cost events for ``key``."""
    return None


async def envelope(db: Database, key: ApiKey, *, include_public_key: bool) -> dict[str, Any]:
    """The signed triggered-limits envelope for ``key`` (``{}`` when there is nothing)."""
    return {}
