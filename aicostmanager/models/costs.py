"""Cost events (``/costs/``, ``/cost-events/{response_id}``, its ``/explain``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from ._base import RequestModel, ResponseModel

__all__ = (
    "ApiCostEventOut",
    "CostEventFilters",
    "CostEventItem",
    "CostExplanation",
    "CostLineExplanation",
)


class CostEventItem(ResponseModel):
    """One priced line: an item of ``/costs/`` or of a ``/track`` result's ``cost_events``."""

    provider_id: str | None = None
    service_key: str
    cost_unit_id: str | None = None
    quantity: Decimal
    cost_per_unit: Decimal
    cost: Decimal
    estimated: bool = False
    fully_priced: bool = True
    unpriced_fields: list[str] = []


class CostLineExplanation(ResponseModel):
    """One line of a cost explanation: ``quantity x cost_per_unit = cost``.

    Attributes:
        source: where the rate came from: the catalogue and its version
            (``"genai-prices 0.2.5"``), ``"supplement"`` (the server's table of rates the
            catalogue lacks) or ``"custom service"``.
    """

    cost_unit_id: str
    quantity: Decimal
    cost_per_unit: Decimal
    cost: Decimal
    formula: str
    source: str


class CostExplanation(ResponseModel):
    """How one tracked response's cost was worked out (``/cost-events/{id}/explain``).

    Attributes:
        catalog_name: the price catalogue (``genai-prices``, ``custom service``); None for
            events stored before the server recorded it.
        catalog_version: the catalogue's version, when it has one.
        estimated: some usage was an estimate (``estimated_fields`` names it).
        fully_priced: false when some usage fields had no rate (``unpriced_fields``); the
            lines then cover only the priced part.
    """

    response_id: str
    event_id: str
    service_key: str | None = None
    status: str
    errors: list[str] = []
    timestamp: str
    catalog: str | None = None
    catalog_name: str | None = None
    catalog_version: str | None = None
    lines: list[CostLineExplanation]
    total: Decimal
    estimated: bool = False
    estimated_fields: list[str] = []
    fully_priced: bool = True
    unpriced_fields: list[str] = []


class ApiCostEventOut(ResponseModel):
    """A stored cost event as returned by ``/cost-events/{response_id}``.

    ``estimated`` and ``fully_priced`` / ``unpriced_fields`` describe the event the line
    belongs to (see :class:`CostExplanation`).
    """

    uuid: str
    event_id: str | None = None
    team_id: str | None = None
    api_key_id: str | None = None
    timestamp: str
    customer_key: str | None = None
    response_id: str
    provider_id: str | None = None
    service_key: str
    cost_unit_id: str | None = None
    quantity: Decimal
    cost_per_unit: Decimal
    cost: Decimal
    context: dict[str, Any] | None = None
    hourly_rollup_status: str | None = None
    daily_rollup_status: str | None = None
    estimated: bool = False
    fully_priced: bool = True
    unpriced_fields: list[str] = []


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
