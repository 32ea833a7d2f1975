"""Webhook endpoints: ``/webhooks/``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointsResponse,
    WebhookEndpointUpdate,
)
from ._base import BaseClient, body, segment

__all__ = ("WebhooksMixin",)


class WebhooksMixin(BaseClient):
    """Webhook endpoint CRUD."""

    async def create_webhook_endpoint(
        self, data: WebhookEndpointCreate | Mapping[str, Any]
    ) -> WebhookEndpointOut:
        """Register a webhook endpoint.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``WebhookEndpointCreate``.
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        payload = body(WebhookEndpointCreate, data)
        return await self._send_as(WebhookEndpointOut, "POST", "/webhooks/", payload)

    async def list_webhook_endpoints(self, active_only: bool = False) -> Any:
        """The team's webhook endpoints as raw JSON (``{"endpoints", "total_count", ...}``).

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/webhooks/", {"active_only": active_only})

    async def list_webhook_endpoints_typed(
        self, active_only: bool = False
    ) -> WebhookEndpointsResponse:
        """The team's webhook endpoints, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        params = {"active_only": active_only}
        return await self._get_as(WebhookEndpointsResponse, "/webhooks/", params)

    async def get_webhook_endpoint(self, webhook_uuid: str) -> WebhookEndpointOut:
        """The webhook endpoint with this ``uuid``.

        Raises:
            NotFoundError: no such endpoint.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        path = f"/webhooks/{segment(webhook_uuid, 'webhook_uuid')}/"
        return await self._get_as(WebhookEndpointOut, path)

    async def update_webhook_endpoint(
        self, webhook_uuid: str, data: WebhookEndpointUpdate | Mapping[str, Any]
    ) -> WebhookEndpointOut:
        """Change the given fields of a webhook endpoint (``None`` fields are left alone).

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``WebhookEndpointUpdate``.
            NotFoundError: no such endpoint.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        path = f"/webhooks/{segment(webhook_uuid, 'webhook_uuid')}/"
        payload = body(WebhookEndpointUpdate, data)
        return await self._send_as(WebhookEndpointOut, "PUT", path, payload)

    async def delete_webhook_endpoint(self, webhook_uuid: str) -> None:
        """Delete a webhook endpoint.

        Raises:
            NotFoundError: no such endpoint.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        await self._delete(f"/webhooks/{segment(webhook_uuid, 'webhook_uuid')}/")
