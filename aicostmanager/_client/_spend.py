"""Spend summaries: ``/spend/summary/``, ``/spend/series/``, ``/spend/customers/``,
``/spend/services/``, ``/spend/latest/`` and ``/spend/unpriced/`` (read-only; what the
dashboard shows)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from ..models import CustomerSpend, RecentEvent, ServiceSpend, SpendSeries, SpendSummary
from ._base import BaseClient

__all__ = ("SpendMixin",)

DateLike = date | str | None


def _period(
    start_date: DateLike, end_date: DateLike, customer_key: str | None = None
) -> dict[str, str]:
    params = {
        "start_date": start_date.isoformat() if isinstance(start_date, date) else start_date,
        "end_date": end_date.isoformat() if isinstance(end_date, date) else end_date,
        "customer_key": customer_key,
    }
    return {k: v for k, v in params.items() if v is not None}


class SpendMixin(BaseClient):
    """Spend summaries computed from the server's rollups (UTC periods).

    ``start_date``/``end_date`` take a ``date`` or ``YYYY-MM-DD`` (an end date includes its
    whole day) or ISO 8601 text; both default to the last 30 days.
    """

    async def get_spend_summary(
        self,
        start_date: DateLike = None,
        end_date: DateLike = None,
        *,
        customer_key: str | None = None,
    ) -> SpendSummary:
        """Total spend of the period, and of the period of equal length just before it.

        Raises:
            APIRequestError: the server answered non-2xx (422 for a malformed period).
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        data = await self._get("/spend/summary/", _period(start_date, end_date, customer_key))
        return SpendSummary.model_validate(data)

    async def get_spend_series(
        self,
        start_date: DateLike = None,
        end_date: DateLike = None,
        *,
        granularity: Literal["hourly", "daily"] = "daily",
        group_by: Literal["vendor", "service", "customer"] = "vendor",
        customer_key: str | None = None,
    ) -> SpendSeries:
        """Spend per hour or day of the period, one line per vendor, service or customer.

        Raises:
            APIRequestError: the server answered non-2xx (422 for too many buckets).
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        params = {
            **_period(start_date, end_date, customer_key),
            "granularity": granularity,
            "group_by": group_by,
        }
        return SpendSeries.model_validate(await self._get("/spend/series/", params))

    async def list_spend_by_customer(
        self, start_date: DateLike = None, end_date: DateLike = None
    ) -> list[CustomerSpend]:
        """Customers ranked by spend in the period, each with its cost per day.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        data = await self._get("/spend/customers/", _period(start_date, end_date))
        return [CustomerSpend.model_validate(item) for item in data["results"]]

    async def list_spend_by_service(
        self,
        start_date: DateLike = None,
        end_date: DateLike = None,
        *,
        customer_key: str | None = None,
    ) -> list[ServiceSpend]:
        """Services ranked by spend in the period, with quantity and cost per cost unit.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        params = _period(start_date, end_date, customer_key)
        data = await self._get("/spend/services/", params)
        return [ServiceSpend.model_validate(item) for item in data["results"]]

    async def list_latest_events(
        self, limit: int = 20, *, customer_key: str | None = None
    ) -> list[RecentEvent]:
        """The newest usage events, newest first (no count, no paging: cheap to poll).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        params: dict[str, Any] = {"limit": limit}
        if customer_key is not None:
            params["customer_key"] = customer_key
        data = await self._get("/spend/latest/", params)
        return [RecentEvent.model_validate(item) for item in data["results"]]

    async def list_unpriced_events(self, limit: int = 50) -> list[RecentEvent]:
        """The newest events that count for nothing (unknown service key, failed pricing).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        data = await self._get("/spend/unpriced/", {"limit": limit})
        return [RecentEvent.model_validate(item) for item in data["results"]]
