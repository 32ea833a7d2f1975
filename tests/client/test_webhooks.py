"""Webhook endpoints CRUD through both clients, over real HTTP."""

from __future__ import annotations

import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import NotFoundError
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import (
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointsResponse,
    WebhookEndpointUpdate,
)


async def test_async_webhook_crud(client: AsyncCostManagerClient) -> None:
    """Create, get, partially update, list and delete an endpoint."""
    created = await client.create_webhook_endpoint(
        WebhookEndpointCreate(url="https://hooks.example.test/a", secret="s3cret")
    )
    assert isinstance(created, WebhookEndpointOut)
    assert created.active is True and created.tolerance == 300 and created.secret == "s3cret"
    assert created.created_at and created.team_uuid
    assert await client.get_webhook_endpoint(created.uuid) == created
    updated = await client.update_webhook_endpoint(
        created.uuid, WebhookEndpointUpdate(active=False, tolerance=60)
    )
    assert updated.active is False and updated.tolerance == 60
    assert updated.url == "https://hooks.example.test/a" and updated.secret == "s3cret"
    await client.delete_webhook_endpoint(created.uuid)
    with pytest.raises(NotFoundError):
        await client.get_webhook_endpoint(created.uuid)
    with pytest.raises(NotFoundError):
        await client.update_webhook_endpoint(created.uuid, {"active": True})


async def test_active_only_and_counts(client: AsyncCostManagerClient) -> None:
    """active_only filters the endpoints; total_count and active_count count them all."""
    one = await client.create_webhook_endpoint({"url": "https://a.test/1", "secret": "x"})
    await client.create_webhook_endpoint(
        {"url": "https://a.test/2", "secret": "y", "active": False}
    )
    everything = await client.list_webhook_endpoints()
    assert everything["total_count"] == 2 and everything["active_count"] == 1
    assert len(everything["endpoints"]) == 2
    active = await client.list_webhook_endpoints_typed(active_only=True)
    assert isinstance(active, WebhookEndpointsResponse)
    assert [e.uuid for e in active.endpoints] == [one.uuid]
    assert active.total_count == 2


def test_sync_webhook_crud(sync_client: CostManagerClient) -> None:
    """The blocking client drives the same endpoints."""
    created = sync_client.create_webhook_endpoint(
        {"url": "http://127.0.0.1:9/hook", "secret": "k", "tolerance": 10}
    )
    assert sync_client.get_webhook_endpoint(created.uuid).tolerance == 10
    assert sync_client.update_webhook_endpoint(created.uuid, {"url": "https://b.test/"}).url == (
        "https://b.test/"
    )
    assert sync_client.list_webhook_endpoints_typed().total_count == 1
    sync_client.delete_webhook_endpoint(created.uuid)
    assert sync_client.list_webhook_endpoints(active_only=False)["total_count"] == 0


async def test_bad_webhook_body_is_rejected_locally(client: AsyncCostManagerClient) -> None:
    """A URL that is not http(s) fails validation before anything is sent."""
    with pytest.raises(ValueError, match="url"):
        await client.create_webhook_endpoint({"url": "ftp://x", "secret": "s"})
