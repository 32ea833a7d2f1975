"""Usage events and rollups (``/usage/events/``, ``/usage/rollups/``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from ._base import RequestModel, ResponseModel

__all__ = ("RollupFilters", "UsageEvent", "UsageEventFilters", "UsageRollup")


class UsageEvent(ResponseModel):
    """One tracked usage event."""

    event_id: str
    config_id: str | None = None
    service_id: str | None = None
    timestamp: str
    response_id: str
    customer_key: str | None = None
    usage: dict[str, Any] = {}
    base_url: str | None = None
    context: dict[str, Any] | None = None
    status: str | None = None


class UsageRollup(ResponseModel):
    """Aggregated quantity and cost of one service (and customer) over a day or an hour."""

    customer_key: str | None = None
    service_id: str
    date: str
    quantity: Decimal
    cost: Decimal


class UsageEventFilters(RequestModel):
    """Query filters of ``GET /usage/events/``."""

    customer_key: str | None = None
    config_id: str | None = None
    service_id: str | None = None
    start_date: date | str | None = None
    end_date: date | str | None = None
    limit: int | None = Field(default=None, ge=1)
    offset: int | None = Field(default=None, ge=0)


class RollupFilters(RequestModel):
    """Query filters of ``GET /usage/rollups/``."""

    customer_key: str | None = None
    service_id: str | None = None
    granularity: Literal["daily", "hourly"] | None = None
    start_date: date | str | None = None
    end_date: date | str | None = None
    limit: int | None = Field(default=None, ge=1)
    offset: int | None = Field(default=None, ge=0)
