"""Models of the read-only spend endpoints (``/spend/...``), which the dashboard reads too."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from ._base import ResponseModel

__all__ = (
    "CostUnitSpend",
    "CustomerSpend",
    "ServiceSpend",
    "SpendSeries",
    "SpendSeriesLine",
    "SpendSummary",
    "RecentEvent",
)


class SpendSummary(ResponseModel):
    """Total spend of a period and of the period of equal length just before it.

    Attributes:
        change: ``(total - previous_total) / previous_total``; ``None`` when the previous
            total is zero.
        estimated_total: the part of ``total`` priced from estimated usage (``None`` from a
            server that does not tell); ``exact_total`` is the rest.
        not_fully_priced_events: events with usage fields that no rate covered.
    """

    start: str
    end: str
    total: Decimal
    exact_total: Decimal | None = None
    estimated_total: Decimal | None = None
    not_fully_priced_events: int | None = None
    events: int
    customers: int
    services: int
    previous_total: Decimal
    previous_events: int
    change: float | None = None


class SpendSeriesLine(ResponseModel):
    """One group's cost per bucket (``key`` is the vendor, service or customer key)."""

    key: str | None = None
    total: Decimal
    values: list[Decimal]


class SpendSeries(ResponseModel):
    """Spend over time: ``buckets`` (ISO starts, UTC) and one line per group."""

    granularity: Literal["hourly", "daily"]
    group_by: Literal["vendor", "service", "customer"]
    buckets: list[str]
    series: list[SpendSeriesLine]


class CustomerSpend(ResponseModel):
    """One customer's spend in a period, with its cost per day (``trend``)."""

    customer_key: str | None = None
    cost: Decimal
    events: int
    trend: list[Decimal] = []


class CostUnitSpend(ResponseModel):
    """Quantity and cost of one cost unit (input tokens, output tokens...) of a service."""

    cost_unit_id: str
    quantity: float
    cost: Decimal


class ServiceSpend(ResponseModel):
    """One service's spend in a period, with its cost units."""

    service_key: str
    vendor: str | None = None
    cost: Decimal
    events: int
    units: list[CostUnitSpend] = []


class RecentEvent(ResponseModel):
    """A stored usage event, as the latest-events and not-counted lists show it.

    ``status`` is ``completed`` when it was priced; ``errors`` says why it was not.
    ``fully_priced`` is false when some usage fields (``unpriced_fields``) had no rate;
    ``estimated`` when some usage was estimated (``estimated_fields``).
    """

    event_id: str
    service_key: str | None = None
    timestamp: str
    response_id: str
    customer_key: str | None = None
    status: str
    errors: list[str] = []
    estimated: bool = False
    estimated_fields: list[str] = []
    fully_priced: bool = True
    unpriced_fields: list[str] = []
