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
from ._base import BaseClient, body

__all__ = ("WebhooksMixin",)


class WebhooksMixin(BaseClient):
    """Webhook endpoint CRUD."""

    async def create_webhook_endpoint(
        self, data: WebhookEndpointCreate | Mapping[str, Any]
    ) -> WebhookEndpointOut:
        """Register a webhook endpoint.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``WebhookEndpointCreate``.
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        answer = await self._send("POST", "/webhooks/", body(WebhookEndpointCreate, data))
        return WebhookEndpointOut.model_validate(answer)

    async def list_webhook_endpoints(self, active_only: bool = False) -> Any:
        """The team's webhook endpoints as raw JSON (``{"endpoints", "total_count", ...}``).

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return await self._get("/webhooks/", {"active_only": active_only})

    async def list_webhook_endpoints_typed(
        self, active_only: bool = False
    ) -> WebhookEndpointsResponse:
        """The team's webhook endpoints, parsed.

        Raises:
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        data = await self.list_webhook_endpoints(active_only)
        return WebhookEndpointsResponse.model_validate(data)

    async def get_webhook_endpoint(self, webhook_uuid: str) -> WebhookEndpointOut:
        """The webhook endpoint with this ``uuid``.

        Raises:
            NotFoundError: no such endpoint.
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        return WebhookEndpointOut.model_validate(await self._get(f"/webhooks/{webhook_uuid}/"))

    async def update_webhook_endpoint(
        self, webhook_uuid: str, data: WebhookEndpointUpdate | Mapping[str, Any]
    ) -> WebhookEndpointOut:
        """Change the given fields of a webhook endpoint (``None`` fields are left alone).

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``WebhookEndpointUpdate``.
            NotFoundError: no such endpoint.
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        path = f"/webhooks/{webhook_uuid}/"
        answer = await self._send("PUT", path, body(WebhookEndpointUpdate, data))
        return WebhookEndpointOut.model_validate(answer)

    async def delete_webhook_endpoint(self, webhook_uuid: str) -> None:
        """Delete a webhook endpoint.

        Raises:
            NotFoundError: no such endpoint.
            APIRequestError: the server answered non-2xx.
            APIConnectionError: no answer.
        """
        await self._delete(f"/webhooks/{webhook_uuid}/")
