"""Cost events (``/costs/``, ``/cost-events/{response_id}``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from ._base import RequestModel, ResponseModel

__all__ = ("ApiCostEventOut", "CostEventFilters", "CostEventItem")


class CostEventItem(ResponseModel):
    """One priced line: an item of ``/costs/`` or of a ``/track`` result's ``cost_events``."""

    provider_id: str | None = None
    service_key: str
    cost_unit_id: str | None = None
    quantity: Decimal
    cost_per_unit: Decimal
    cost: Decimal


class ApiCostEventOut(CostEventItem):
    """A stored cost event as returned by ``/cost-events/{response_id}``: a priced line and
    where it belongs."""

    uuid: str
    event_id: str | None = None
    team_id: str | None = None
    api_key_id: str | None = None
    timestamp: str
    customer_key: str | None = None
    response_id: str
    context: dict[str, Any] | None = None
    hourly_rollup_status: str | None = None
    daily_rollup_status: str | None = None


class CostEventFilters(RequestModel):
    """Query filters of ``GET /costs/``.

    List filters are sent as repeated query keys; a single string is accepted where a list is
    expected. ``context`` is sent as ``context.<key>=<value>`` (``*`` is a wildcard).
    """

    response_id: str | None = None
    api_key_id: list[str] | None = None
    customer_key: list[str] | None = None
    service_key: list[str] | None = None
    start_date: date | str | None = None
    end_date: date | str | None = None
    context: dict[str, str] | None = None
    limit: int | None = Field(default=None, ge=1)
    offset: int | None = Field(default=None, ge=0)

    @field_validator("api_key_id", "customer_key", "service_key", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
