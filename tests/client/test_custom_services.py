"""Custom services CRUD through both clients, and pricing of tracked events with them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import ConflictError, NotFoundError
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import CustomServiceIn, CustomServiceOut, CustomServiceSummaryOut

from ._helpers import track

VIDEO: dict[str, Any] = {
    "custom_service_key": "acme::avatar",
    "configuration": {
        "cost_units": [
            {"name": "hd_minute", "cost": "0.30", "unit": "minute"},
            {"name": "sd_minute", "cost": "0.10", "unit": "minute"},
            {"name": "render_call", "cost": "0.01", "unit": "call", "min_units": 1},
        ],
        "mappings": [
            {
                "field": "duration_ms",
                "divide_by": 60000,
                "rounding": {"mode": "ceil"},
                "cost_unit_switch": {
                    "field": "quality",
                    "cases": {"hd": "hd_minute", "sd": "sd_minute"},
                    "default": "sd_minute",
                },
            },
            {"field": "calls", "cost_unit": "render_call", "only_if": {"regex": {"model": "^v2"}}},
        ],
        "exclusions": [{"equals": {"test_mode": True}}],
    },
}


async def test_async_custom_service_crud(client: AsyncCostManagerClient) -> None:
    """Create, get, replace, list and soft-delete a custom service."""
    created = await client.create_custom_service(CustomServiceIn.model_validate(VIDEO))
    assert isinstance(created, CustomServiceOut)
    assert created.custom_service_key == "acme::avatar" and created.is_active
    assert [u.name for u in created.cost_units] == ["hd_minute", "sd_minute", "render_call"]
    assert created.cost_units[0].cost == Decimal("0.30") and created.cost_units[0].per_quantity == 1
    assert await client.get_custom_service(created.uuid) == created
    replaced = await client.update_custom_service(created.uuid, {**VIDEO, "is_active": False})
    assert replaced.is_active is False
    listed = await client.list_custom_services_typed()
    assert [s.uuid for s in listed] == [created.uuid]
    assert isinstance(listed[0], CustomServiceSummaryOut) and listed[0].cost_units_count == 3
    await client.delete_custom_service(created.uuid)
    assert await client.list_custom_services() == []
    deleted = await client.list_custom_services(is_deleted=True)
    assert [s["uuid"] for s in deleted] == [created.uuid] and deleted[0]["is_deleted"] is True
    assert (await client.get_custom_service(created.uuid)).is_deleted is True
    with pytest.raises(NotFoundError):
        await client.delete_custom_service(created.uuid)
    with pytest.raises(NotFoundError):
        await client.update_custom_service(created.uuid, VIDEO)


async def test_custom_service_filters_and_conflicts(client: AsyncCostManagerClient) -> None:
    """is_active / has_cost_units filter the list; a live key is unique per team."""
    one = await client.create_custom_service(VIDEO)
    two = await client.create_custom_service(
        {**VIDEO, "custom_service_key": "acme::other", "is_active": False}
    )
    with pytest.raises(ConflictError):
        await client.create_custom_service(VIDEO)
    active = await client.list_custom_services(is_active=True)
    assert [s["uuid"] for s in active] == [one.uuid]
    inactive = await client.list_custom_services(is_active=False)
    assert [s["uuid"] for s in inactive] == [two.uuid]
    assert len(await client.list_custom_services(has_cost_units=True)) == 2
    assert await client.list_custom_services(has_cost_units=False) == []
    await client.delete_custom_service(one.uuid)
    again = await client.create_custom_service(VIDEO)  # the key is free once deleted
    assert again.uuid != one.uuid


def test_sync_custom_service_crud(sync_client: CostManagerClient) -> None:
    """The blocking client drives the same endpoints."""
    created = sync_client.create_custom_service(VIDEO)
    assert sync_client.get_custom_service(created.uuid).custom_service_key == "acme::avatar"
    changed = sync_client.update_custom_service(
        created.uuid, {**VIDEO, "custom_service_key": "acme::renamed"}
    )
    assert changed.custom_service_key == "acme::renamed"
    assert [s.custom_service_key for s in sync_client.list_custom_services_typed()] == [
        "acme::renamed"
    ]
    assert sync_client.list_custom_services(is_active=True)[0]["uuid"] == created.uuid
    sync_client.delete_custom_service(created.uuid)
    assert sync_client.list_custom_services_typed(is_deleted=True)[0].is_deleted


async def test_tracked_event_is_priced_by_the_custom_service(
    client: AsyncCostManagerClient, api_root: str, api_key: str
) -> None:
    """Mappings, the cost_unit_switch, only_if and exclusions price /track events exactly."""
    await client.create_custom_service(VIDEO)
    answer = track(
        api_root,
        api_key,
        [
            {
                "service_key": "acme::avatar",
                "payload": {"duration_ms": 90000, "quality": "hd", "calls": 0, "model": "v2.1"},
            },
            {"service_key": "acme::avatar", "payload": {"duration_ms": 60000}},
            {
                "service_key": "acme::avatar",
                "payload": {"duration_ms": 60000, "test_mode": True},
            },
        ],
    )
    hd, sd, excluded = answer["results"]
    assert hd["status"] == "completed"
    lines = {e["cost_unit_id"]: e for e in hd["cost_events"]}
    assert set(lines) == {"hd_minute", "render_call"}
    assert Decimal(lines["hd_minute"]["quantity"]) == 2  # 1.5 minutes, rounded up
    assert Decimal(lines["hd_minute"]["cost"]) == Decimal("0.60")
    assert Decimal(lines["render_call"]["quantity"]) == 1  # min_units
    assert Decimal(lines["render_call"]["cost"]) == Decimal("0.01")
    assert [(e["cost_unit_id"], Decimal(e["cost"])) for e in sd["cost_events"]] == [
        ("sd_minute", Decimal("0.10"))
    ]
    assert excluded["status"] == "completed" and excluded["cost_events"] == []
    stored = await client.list_cost_events_by_response_id_typed(hd["response_id"])
    assert sum(e.cost for e in stored) == Decimal("0.61")


async def test_inactive_custom_service_does_not_price(
    client: AsyncCostManagerClient, api_root: str, api_key: str
) -> None:
    """An inactive custom service leaves its key unknown to the server."""
    await client.create_custom_service({**VIDEO, "is_active": False})
    answer = track(api_root, api_key, [{"service_key": "acme::avatar", "payload": {"calls": 1}}])
    assert answer["results"][0]["status"] == "service_key_unknown"
