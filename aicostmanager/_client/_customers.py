"""Customers: ``/customers/``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..models import CustomerFilters, CustomerIn, CustomerOut, PaginatedResponse
from ._base import BaseClient, body, query, segment

__all__ = ("CustomersMixin",)


class CustomersMixin(BaseClient):
    """Customer CRUD."""

    async def list_customers(
        self, filters: CustomerFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of customers as raw JSON (``{"count", "next", "previous", "results"}``).

        Args:
            filters: ``customer_key``, ``name``, ``address``, ``phone``, ``limit``, ``offset``.
            **params: more query parameters (override ``filters``).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/customers/", query(filters, params))

    async def list_customers_typed(
        self, filters: CustomerFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[CustomerOut]:
        """One page of customers, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        kind = PaginatedResponse[CustomerOut]
        return await self._get_as(kind, "/customers/", query(filters, params))

    async def iter_customers(
        self, filters: CustomerFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> AsyncIterator[CustomerOut]:
        """Every customer matching the filters, following the pages.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        async for item in self._pages("/customers/", query(filters, params), CustomerOut):
            yield item

    async def create_customer(self, data: CustomerIn | Mapping[str, Any]) -> CustomerOut:
        """Create a customer.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``CustomerIn``.
            ConflictError: the team already has a customer with this ``customer_key``.
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._send_as(CustomerOut, "POST", "/customers/", body(CustomerIn, data))

    async def get_customer(self, customer_id: str) -> CustomerOut:
        """The customer with this ``uuid``.

        Raises:
            NotFoundError: no such customer.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        return await self._get_as(CustomerOut, f"/customers/{segment(customer_id, 'customer_id')}/")

    async def update_customer(
        self, customer_id: str, data: CustomerIn | Mapping[str, Any]
    ) -> CustomerOut:
        """Replace the customer with this ``uuid``.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``CustomerIn``.
            NotFoundError: no such customer.
            ConflictError: another customer has this ``customer_key``.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        path = f"/customers/{segment(customer_id, 'customer_id')}/"
        return await self._send_as(CustomerOut, "PUT", path, body(CustomerIn, data))

    async def delete_customer(self, customer_id: str) -> None:
        """Delete the customer with this ``uuid``.

        Raises:
            NotFoundError: no such customer.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        await self._delete(f"/customers/{segment(customer_id, 'customer_id')}/")
