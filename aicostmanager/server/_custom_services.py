"""Owned by the client helper."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ._auth import ApiKey
from ._db import Database
from ._pricing import CostLine

router = APIRouter()
SCHEMA = ""


async def price_custom(
    db: Database, key: ApiKey, service_key: str, usage: dict[str, Any]
) -> list[CostLine] | None:
    """Price ``usage`` with the team's custom service ``service_key``; None if not a custom one."""
    return None
