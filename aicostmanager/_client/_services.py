"""The price catalogue: ``/vendors/``, ``/services/``, ``/service-costs/``, ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..models import CostUnitOut, ServiceOut, VendorOut
from ._base import BaseClient, parse_response

__all__ = ("ServicesMixin",)


class ServicesMixin(BaseClient):
    """Vendors, services, cost units, and the server's OpenAPI document."""

    async def list_vendors(self) -> Any:
        """Every vendor, as a raw JSON array.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/vendors/")

    async def list_vendors_typed(self) -> list[VendorOut]:
        """Every vendor, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get_as(list[VendorOut], "/vendors/")

    async def list_vendor_services(self, vendor: str) -> Any:
        """The services of one vendor, as a raw JSON array (without ``vendor``).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/services/", {"vendor": vendor})

    async def list_vendor_services_typed(self, vendor: str) -> list[ServiceOut]:
        """The services of one vendor, parsed, each with ``vendor`` filled in.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        response = await self._request("GET", "/services/", params={"vendor": vendor})
        items = response.json()
        if isinstance(items, list):
            items = [{"vendor": vendor, **i} if isinstance(i, dict) else i for i in items]
        return parse_response(list[ServiceOut], items, response)

    async def list_service_costs(self, vendor: str, service: str) -> Any:
        """The cost units of one service, as a raw JSON array.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/service-costs/", {"vendor": vendor, "service": service})

    async def list_service_costs_typed(self, vendor: str, service: str) -> list[CostUnitOut]:
        """The cost units of one service, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        params = {"vendor": vendor, "service": service}
        return await self._get_as(list[CostUnitOut], "/service-costs/", params)

    async def get_openapi_schema(self) -> Any:
        """The server's OpenAPI document.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/openapi.json")
