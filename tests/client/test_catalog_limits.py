"""Catalogue (vendors, services, cost units), OpenAPI, usage limits and triggered limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import NotFoundError
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import (
    CostUnitOut,
    ServiceOut,
    UsageLimitIn,
    UsageLimitOut,
    UsageLimitProgressOut,
    VendorOut,
)

from ._helpers import track


async def test_catalogue(client: AsyncCostManagerClient) -> None:
    """Vendors, a vendor's services (vendor filled in) and a service's cost units."""
    vendors = await client.list_vendors_typed()
    assert all(isinstance(v, VendorOut) for v in vendors)
    assert "openai" in [v.name for v in vendors]
    raw = await client.list_vendors()
    assert len(raw) == len(vendors)
    services = await client.list_vendor_services_typed("openai")
    assert services and all(isinstance(s, ServiceOut) and s.vendor == "openai" for s in services)
    assert "vendor" not in (await client.list_vendor_services("openai"))[0]
    units = await client.list_service_costs_typed("openai", "gpt-4o")
    assert units and all(isinstance(u, CostUnitOut) for u in units)
    assert all(isinstance(u.cost, Decimal) for u in units)
    assert len(await client.list_service_costs("openai", "gpt-4o")) == len(units)
    with pytest.raises(NotFoundError):
        await client.list_vendor_services("no-such-vendor")


async def test_openapi_schema(client: AsyncCostManagerClient) -> None:
    """The server documents the management endpoints and their request models."""
    schema = await client.get_openapi_schema()
    paths = schema["paths"]
    for path in ("/customers/", "/webhooks/{webhook_uuid}/", "/custom-services/"):
        assert any(p.endswith(path) for p in paths), path
    assert "CustomServiceIn" in schema["components"]["schemas"]


async def test_usage_limits_crud_and_progress(
    client: AsyncCostManagerClient, api_root: str, api_key: str
) -> None:
    """Usage limits CRUD, progress with the current spend, and the triggered-limits envelope."""
    await client.create_custom_service(
        {
            "custom_service_key": "acme::meter",
            "configuration": {
                "cost_units": [{"name": "unit", "cost": "1", "unit": "u"}],
                "mappings": [{"field": "n", "cost_unit": "unit"}],
            },
        }
    )
    created = await client.create_usage_limit(
        UsageLimitIn(threshold_type="limit", amount=Decimal("5"), period="day")
    )
    assert isinstance(created, UsageLimitOut) and created.amount == 5
    assert (await client.get_usage_limit(created.uuid)).uuid == created.uuid
    assert [item.uuid for item in await client.list_usage_limits_typed()] == [created.uuid]
    assert len(await client.list_usage_limits()) == 1
    track(api_root, api_key, [{"service_key": "acme::meter", "payload": {"n": 7}}])
    (progress,) = await client.list_usage_limit_progress_typed()
    assert isinstance(progress, UsageLimitProgressOut)
    assert progress.current_spend == 7 and progress.remaining_amount == 0
    assert (await client.list_usage_limit_progress())[0]["uuid"] == created.uuid
    envelope = await client.get_triggered_limits()
    assert isinstance(envelope, dict) and envelope
    updated = await client.update_usage_limit(
        created.uuid, {"threshold_type": "alert", "amount": "100", "period": "month"}
    )
    assert updated.threshold_type == "alert" and updated.amount == 100
    await client.delete_usage_limit(created.uuid)
    with pytest.raises(NotFoundError):
        await client.get_usage_limit(created.uuid)


def test_sync_catalogue_and_limits(sync_client: CostManagerClient) -> None:
    """The blocking client reaches the same endpoints."""
    assert "openai" in [v.name for v in sync_client.list_vendors_typed()]
    assert sync_client.list_vendors()
    assert sync_client.list_vendor_services_typed("openai")[0].vendor == "openai"
    assert sync_client.list_vendor_services("openai")
    assert sync_client.list_service_costs_typed("openai", "gpt-4o")
    assert sync_client.list_service_costs("openai", "gpt-4o")
    assert "paths" in sync_client.get_openapi_schema()
    limit = sync_client.create_usage_limit(
        {"threshold_type": "alert", "amount": "0.5", "period": "month", "client": "acme"}
    )
    assert sync_client.get_usage_limit(limit.uuid).client == "acme"
    assert (
        sync_client.update_usage_limit(
            limit.uuid, {"threshold_type": "alert", "amount": "2", "period": "month"}
        ).amount
        == 2
    )
    assert [x.uuid for x in sync_client.list_usage_limits_typed()] == [limit.uuid]
    assert sync_client.list_usage_limits()[0]["uuid"] == limit.uuid
    assert sync_client.list_usage_limit_progress_typed()[0].current_spend == 0
    assert Decimal(sync_client.list_usage_limit_progress()[0]["remaining_amount"]) == 2
    assert isinstance(sync_client.get_triggered_limits(), dict)
    sync_client.delete_usage_limit(limit.uuid)
    assert sync_client.list_usage_limits() == []
