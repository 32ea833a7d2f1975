"""The price catalogue: ``/vendors/``, ``/services/``, ``/service-costs/``, ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..models import CostUnitOut, ServiceOut, VendorOut
from ._base import BaseClient

__all__ = ("ServicesMixin",)


class ServicesMixin(BaseClient):
    """Vendors, services, cost units, and the server's OpenAPI document."""

    async def list_vendors(self) -> Any:
        """Every vendor, as a raw JSON array.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return await self._get("/vendors/")

    async def list_vendors_typed(self) -> list[VendorOut]:
        """Every vendor, parsed.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return [VendorOut.model_validate(item) for item in await self.list_vendors()]

    async def list_vendor_services(self, vendor: str) -> Any:
        """The services of one vendor, as a raw JSON array (without ``vendor``).

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return await self._get("/services/", {"vendor": vendor})

    async def list_vendor_services_typed(self, vendor: str) -> list[ServiceOut]:
        """The services of one vendor, parsed, each with ``vendor`` filled in.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        items = await self.list_vendor_services(vendor)
        return [ServiceOut.model_validate({"vendor": vendor, **item}) for item in items]

    async def list_service_costs(self, vendor: str, service: str) -> Any:
        """The cost units of one service, as a raw JSON array.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return await self._get("/service-costs/", {"vendor": vendor, "service": service})

    async def list_service_costs_typed(self, vendor: str, service: str) -> list[CostUnitOut]:
        """The cost units of one service, parsed.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        items = await self.list_service_costs(vendor, service)
        return [CostUnitOut.model_validate(item) for item in items]

    async def get_openapi_schema(self) -> Any:
        """The server's OpenAPI document.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return await self._get("/openapi.json")
