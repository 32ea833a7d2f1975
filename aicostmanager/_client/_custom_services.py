"""Custom services: ``/custom-services/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import CustomServiceIn, CustomServiceOut, CustomServiceSummaryOut
from ._base import BaseClient, body, query, segment

__all__ = ("CustomServicesMixin",)


class CustomServicesMixin(BaseClient):
    """Custom service CRUD."""

    async def list_custom_services(
        self,
        is_active: bool | None = None,
        is_deleted: bool | None = None,
        has_cost_units: bool | None = None,
    ) -> Any:
        """The team's custom services as a raw JSON array (``None`` filters are not sent).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        filters = _filters(is_active, is_deleted, has_cost_units)
        return await self._get("/custom-services/", query(filters))

    async def list_custom_services_typed(
        self,
        is_active: bool | None = None,
        is_deleted: bool | None = None,
        has_cost_units: bool | None = None,
    ) -> list[CustomServiceSummaryOut]:
        """The team's custom services, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        filters = _filters(is_active, is_deleted, has_cost_units)
        kind = list[CustomServiceSummaryOut]
        return await self._get_as(kind, "/custom-services/", query(filters))

    async def create_custom_service(
        self, data: CustomServiceIn | Mapping[str, Any]
    ) -> CustomServiceOut:
        """Create a custom service.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``CustomServiceIn``.
            ConflictError: the team already has a service with this key.
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        payload = body(CustomServiceIn, data)
        return await self._send_as(CustomServiceOut, "POST", "/custom-services/", payload)

    async def get_custom_service(self, uuid: str) -> CustomServiceOut:
        """The custom service with this ``uuid``.

        Raises:
            NotFoundError: no such service.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        path = f"/custom-services/{segment(uuid, 'uuid')}/"
        return await self._get_as(CustomServiceOut, path)

    async def update_custom_service(
        self, uuid: str, data: CustomServiceIn | Mapping[str, Any]
    ) -> CustomServiceOut:
        """Replace the custom service with this ``uuid``.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``CustomServiceIn``.
            NotFoundError: no such service.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        path = f"/custom-services/{segment(uuid, 'uuid')}/"
        return await self._send_as(CustomServiceOut, "PUT", path, body(CustomServiceIn, data))

    async def delete_custom_service(self, uuid: str) -> None:
        """Soft-delete the custom service with this ``uuid`` (it stops pricing events).

        Raises:
            NotFoundError: no such service.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        await self._delete(f"/custom-services/{segment(uuid, 'uuid')}/")


def _filters(
    is_active: bool | None, is_deleted: bool | None, has_cost_units: bool | None
) -> dict[str, bool | None]:
    return {"is_active": is_active, "is_deleted": is_deleted, "has_cost_units": has_cost_units}
