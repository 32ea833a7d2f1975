"""Managers over real HTTP: triggered-limit fetch, usage-limit CRUD, ConfigManager refresh."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from limits_helpers import SERVICE, Api

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import APIConnectionError, MissingConfiguration, NotFoundError
from aicostmanager._http import AsyncHTTP
from aicostmanager._limits import (
    AsyncConfigManager,
    AsyncTriggeredLimitManager,
    AsyncUsageLimitManager,
    CostManagerConfig,
    TriggeredLimitManager,
    TriggeredLimitsEnforcer,
    UsageLimitManager,
    refresh_triggered_limits,
)
from aicostmanager._sync_client import CostManagerClient


async def test_async_usage_limit_manager_crud(api: Api, api_root: str, ini_path: Path) -> None:
    """Create, read, update, list progress and delete a limit through the async manager."""
    async with AsyncUsageLimitManager(
        aicm_api_key=api.api_key, aicm_api_base=api_root, aicm_api_url="", ini_path=ini_path
    ) as manager:
        created = await manager.create_usage_limit(
            {"threshold_type": "limit", "amount": "0.5", "period": "day", "service_key": SERVICE}
        )
        assert created.service == SERVICE and created.amount == Decimal("0.5")
        assert [x.uuid for x in await manager.list_usage_limits()] == [created.uuid]
        updated = await manager.update_usage_limit(
            created.uuid, {"threshold_type": "alert", "amount": 2, "period": "month"}
        )
        assert updated.threshold_type == "alert" and updated.service is None
        assert (await manager.get_usage_limit(created.uuid)).amount == Decimal(2)
        await anyio.to_thread.run_sync(api.track)
        (progress,) = await manager.list_usage_limit_progress()
        assert progress.current_spend > 0
        assert progress.remaining_amount == Decimal(2) - progress.current_spend
        await manager.delete_usage_limit(created.uuid)
        with pytest.raises(NotFoundError):
            await manager.get_usage_limit(created.uuid)


def test_sync_managers(api: Api, api_root: str, ini_path: Path) -> None:
    """The blocking managers create a limit, fetch the triggered set and filter it."""
    options: dict[str, Any] = {
        "aicm_api_key": api.api_key,
        "aicm_api_base": api_root,
        "aicm_api_url": "",
        "ini_path": ini_path,
    }
    with UsageLimitManager(**options) as limits:
        limit = limits.create_usage_limit(
            {"threshold_type": "limit", "amount": "0.00001", "period": "day", "client": "acme"}
        )
    api.track(customer_key="acme")
    with TriggeredLimitManager(**options) as triggered:
        assert triggered.get_triggered_limits() == []
        events = triggered.update_triggered_limits()
        assert [e.limit_id for e in events] == [limit.uuid]
        assert triggered.get_triggered_limits(customer_key="acme") == events
        assert triggered.get_triggered_limits(customer_key="globex") == []
        assert triggered.get_triggered_limits(service_key="any::thing") == events
    # The set was persisted: a tracker-side enforcer on the same INI blocks without network.
    enforcer = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=api.api_key)
    assert [e.limit_id for e in enforcer.active_limits()] == [limit.uuid]


async def test_config_manager_auto_refresh(api: Api, api_root: str, ini_path: Path) -> None:
    """auto_refresh=0 refetches on every read; without it the cached set is returned."""
    client = AsyncCostManagerClient(
        aicm_api_key=api.api_key, aicm_api_base=api_root, aicm_api_url=""
    )
    async with client:
        fresh = AsyncConfigManager(
            client, auto_refresh=0, ini_path=ini_path, aicm_api_key=api.api_key
        )
        cached = AsyncConfigManager(
            client,
            auto_refresh=False,
            ini_path=ini_path.with_name("cached.ini"),
            aicm_api_key=api.api_key,
        )
        assert await fresh.get_triggered_limits() == []
        api.create_limit(threshold_type="limit", amount="0.00001", period="day")
        await anyio.to_thread.run_sync(api.track)
        (event,) = await fresh.get_triggered_limits(service_id=SERVICE)
        assert event.threshold_type == "limit"
        assert await cached.get_triggered_limits() == []
        await cached.refresh()
        assert [e.event_id for e in await cached.get_triggered_limits()] == [event.event_id]
        await fresh.aclose()  # does not close the borrowed client
        assert (await client.list_usage_limits_typed())[0].uuid == event.limit_id


def test_cost_manager_config_alias_with_a_sync_client(
    api: Api, api_root: str, ini_path: Path
) -> None:
    """CostManagerConfig(CostManagerClient) reads the triggered set like the 0.1 SDK did."""
    api.create_limit(threshold_type="alert", amount="0.00001", period="day", client="acme")
    api.track(customer_key="acme")
    with CostManagerClient(
        aicm_api_key=api.api_key, aicm_api_base=api_root, aicm_api_url=""
    ) as client:
        config = CostManagerConfig(
            client, auto_refresh=True, ini_path=ini_path, aicm_api_key=api.api_key
        )
        (event,) = config.get_triggered_limits(client_customer_key="acme")
        assert event.threshold_type == "alert"
        assert config.get_triggered_limits(customer_key="globex") == []
        config.close()


async def test_auto_refresh_failure_uses_the_cache(
    api: Api, ini_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed refresh is logged and the cached set is returned."""
    manager = AsyncConfigManager(
        auto_refresh=0,
        aicm_api_key=api.api_key,
        aicm_api_base="http://127.0.0.1:9",
        ini_path=ini_path,
    )
    async with manager:
        with caplog.at_level(logging.WARNING, logger="aicostmanager.limits"):
            assert await manager.get_triggered_limits() == []
        assert "refresh failed" in caplog.text
        with pytest.raises(APIConnectionError):
            await manager.refresh()


async def test_refresh_helper_for_trackers(api: Api, api_root: str, ini_path: Path) -> None:
    """refresh_triggered_limits fetches with an AsyncHTTP; failures return False."""
    api.create_limit(threshold_type="limit", amount="0.00001", period="day")
    await anyio.to_thread.run_sync(api.track)
    enforcer = TriggeredLimitsEnforcer(ini_path=ini_path, api_key=api.api_key)
    assert not enforcer.has_public_key
    http = AsyncHTTP(api_root=api_root, api_key=api.api_key)
    try:
        assert await refresh_triggered_limits(http, enforcer)
    finally:
        await http.aclose()
    assert enforcer.has_public_key and len(enforcer.active_limits()) == 1
    broken = AsyncHTTP(api_root=api_root, api_key="sk-wrong.key")
    try:
        assert not await refresh_triggered_limits(broken, enforcer)
    finally:
        await broken.aclose()
    assert len(enforcer.active_limits()) == 1


def test_missing_key_is_a_configuration_error(
    ini_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Managers need an API key."""
    monkeypatch.delenv("AICM_API_KEY", raising=False)
    with pytest.raises(MissingConfiguration):
        AsyncTriggeredLimitManager(ini_path=ini_path)
    with pytest.raises(ValueError):
        AsyncConfigManager(auto_refresh=-1, aicm_api_key="sk-x.y", ini_path=ini_path)
    with pytest.raises(TypeError):
        AsyncConfigManager(object(), aicm_api_key="sk-x.y", ini_path=ini_path)
