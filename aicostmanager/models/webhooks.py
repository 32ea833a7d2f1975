"""Webhook endpoints (``/webhooks/``)."""

from __future__ import annotations

from pydantic import Field

from ._base import RequestModel, ResponseModel

__all__ = (
    "WebhookEndpointCreate",
    "WebhookEndpointOut",
    "WebhookEndpointUpdate",
    "WebhookEndpointsResponse",
)


class WebhookEndpointCreate(RequestModel):
    """Body of ``POST /webhooks/``."""

    url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://\S+$")
    secret: str = Field(min_length=1, max_length=255)
    active: bool = True
    tolerance: int = Field(default=300, ge=0, le=86400)


class WebhookEndpointUpdate(RequestModel):
    """Body of ``PUT /webhooks/{uuid}/``: only the fields given are changed."""

    url: str | None = Field(default=None, min_length=1, max_length=2048, pattern=r"^https?://\S+$")
    secret: str | None = Field(default=None, min_length=1, max_length=255)
    active: bool | None = None
    tolerance: int | None = Field(default=None, ge=0, le=86400)


class WebhookEndpointOut(ResponseModel):
    """A stored webhook endpoint."""

    uuid: str
    team_uuid: str | None = None
    url: str
    secret: str | None = None
    active: bool = True
    tolerance: int = 300
    created_at: str | None = None
    updated_at: str | None = None


class WebhookEndpointsResponse(ResponseModel):
    """The answer of ``GET /webhooks/``."""

    endpoints: list[WebhookEndpointOut] = []
    total_count: int = 0
    active_count: int = 0
