"""Usage events and rollups: ``/usage/events/``, ``/usage/event/{id}/``, ``/usage/rollups/``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..models import (
    PaginatedResponse,
    RollupFilters,
    UsageEvent,
    UsageEventFilters,
    UsageRollup,
)
from ._base import BaseClient, query, segment

__all__ = ("UsageMixin",)


class UsageMixin(BaseClient):
    """Usage queries."""

    async def list_usage_events(
        self, filters: UsageEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of usage events as raw JSON.

        Args:
            filters: ``customer_key``, ``config_id``, ``service_id``, ``start_date``,
                ``end_date``, ``limit``, ``offset``.
            **params: more query parameters (override ``filters``).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/usage/events/", query(filters, params))

    async def list_usage_events_typed(
        self, filters: UsageEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[UsageEvent]:
        """One page of usage events, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        kind = PaginatedResponse[UsageEvent]
        return await self._get_as(kind, "/usage/events/", query(filters, params))

    async def iter_usage_events(
        self, filters: UsageEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> AsyncIterator[UsageEvent]:
        """Every usage event matching the filters, following the pages.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        async for item in self._pages("/usage/events/", query(filters, params), UsageEvent):
            yield item

    async def get_usage_event(self, event_id: str) -> UsageEvent:
        """One usage event by id.

        Raises:
            NotFoundError: no such event.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        return await self._get_as(UsageEvent, f"/usage/event/{segment(event_id, 'event_id')}/")

    async def list_usage_rollups(
        self, filters: RollupFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of usage rollups as raw JSON.

        Args:
            filters: ``customer_key``, ``service_id``, ``granularity`` (``daily``/``hourly``),
                ``start_date``, ``end_date``, ``limit``, ``offset``.
            **params: more query parameters (override ``filters``).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/usage/rollups/", query(filters, params))

    async def list_usage_rollups_typed(
        self, filters: RollupFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[UsageRollup]:
        """One page of usage rollups, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        kind = PaginatedResponse[UsageRollup]
        return await self._get_as(kind, "/usage/rollups/", query(filters, params))

    async def iter_usage_rollups(
        self, filters: RollupFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> AsyncIterator[UsageRollup]:
        """Every usage rollup matching the filters, following the pages.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        async for item in self._pages("/usage/rollups/", query(filters, params), UsageRollup):
            yield item
