"""Cost events: ``/costs/`` and ``/cost-events/{response_id}``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..models import (
    ApiCostEventOut,
    CostEventFilters,
    CostEventItem,
    CostExplanation,
    PaginatedResponse,
)
from ._base import BaseClient, query, segment

__all__ = ("CostsMixin",)


class CostsMixin(BaseClient):
    """Cost queries."""

    async def list_cost_events(
        self, filters: CostEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of ``/costs/`` as raw JSON.

        Args:
            filters: ``response_id``, ``api_key_id``, ``customer_key``, ``service_key`` (lists
                are sent as repeated keys), ``start_date``, ``end_date``, ``context`` (a mapping
                sent as ``context.<key>``), ``limit``, ``offset``. A dict may also carry
                ``context.<key>`` entries directly.
            **params: more query parameters (override ``filters``).

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return await self._get("/costs/", query(filters, params))

    async def list_cost_events_typed(
        self, filters: CostEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[CostEventItem]:
        """One page of ``/costs/``, parsed.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
            APIResponseValidationError: the answer does not fit the response model.
        """
        kind = PaginatedResponse[CostEventItem]
        return await self._get_as(kind, "/costs/", query(filters, params))

    async def iter_cost_events(
        self, filters: CostEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> AsyncIterator[CostEventItem]:
        """Every cost event matching the filters, following the pages.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
            APIResponseValidationError: the answer does not fit the response model.
        """
        async for item in self._pages("/costs/", query(filters, params), CostEventItem):
            yield item

    async def list_cost_events_by_response_id(self, response_id: str) -> Any:
        """The cost events of one tracked record, as a raw JSON array.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
            TypeError: an id is not a ``str``, ``int`` or ``uuid.UUID``.
            ValueError: an id is empty or not valid Unicode.
        """
        return await self._get(f"/cost-events/{segment(response_id, 'response_id')}")

    async def list_cost_events_by_response_id_typed(
        self, response_id: str
    ) -> list[ApiCostEventOut]:
        """The cost events of one tracked record, parsed.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
            APIResponseValidationError: the answer does not fit the response model.
            TypeError: an id is not a ``str``, ``int`` or ``uuid.UUID``.
            ValueError: an id is empty or not valid Unicode.
        """
        path = f"/cost-events/{segment(response_id, 'response_id')}"
        return await self._get_as(list[ApiCostEventOut], path)

    async def explain_cost(self, response_id: str) -> CostExplanation:
        """How one tracked record's cost was worked out: each line as quantity x rate =
        amount with the rate's source (catalogue and version, supplement, custom service),
        the total, whether the usage was estimated and which usage fields were not priced.

        Raises:
            NotFoundError: the team has no record with this response id.
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
            APIResponseValidationError: the answer does not fit the response model.
            TypeError: an id is not a ``str``, ``int`` or ``uuid.UUID``.
            ValueError: an id is empty or not valid Unicode.
        """
        path = f"/cost-events/{segment(response_id, 'response_id')}/explain"
        return await self._get_as(CostExplanation, path)
