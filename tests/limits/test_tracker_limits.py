"""Limits through the public AsyncTracker against the local server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from limits_helpers import SERVICE, USAGE, Api

from aicostmanager import AsyncTracker, TriggeredLimit, UsageLimitExceeded
from aicostmanager._ini import update_section
from aicostmanager._limits import INSTALL_HINT


async def test_immediate_tracker_blocks_once_the_limit_triggers(
    api: Api, api_root: str, ini_path: Path
) -> None:
    """The record that crosses the limit is delivered, then track() and check_limits() raise."""
    limit = api.create_limit(threshold_type="limit", amount="0.00005", period="day", client="acme")
    tracker = AsyncTracker(
        aicm_api_key=api.api_key,
        aicm_api_base=api_root,
        aicm_api_url="",
        ini_path=ini_path,
        delivery_type="immediate",
        limits_enabled=True,
    )
    async with tracker:
        first = await tracker.track(SERVICE, USAGE, customer_key="acme")
        assert first.delivered
        with pytest.raises(UsageLimitExceeded) as info:
            await tracker.track(SERVICE, USAGE, customer_key="acme")
        assert limit["uuid"] in str(info.value)
        with pytest.raises(UsageLimitExceeded):
            tracker.check_limits(SERVICE, "acme")
        tracker.check_limits(SERVICE, "globex")
        other = await tracker.track(SERVICE, USAGE, customer_key="globex")
        assert other.delivered
    # Both acme records reached the server (a limit never drops a record).
    (progress,) = api.http.get("/usage-limits/progress/").json()
    assert Decimal(progress["current_spend"]) == Decimal("0.00009")


async def test_persistent_tracker_enforces_after_delivery(
    api: Api, api_root: str, tmp_path: Path
) -> None:
    """With the durable queue, the set arrives with the worker's batches; alerts are reported."""
    api.create_limit(threshold_type="limit", amount="0.00001", period="day", service_key=SERVICE)
    alert = api.create_limit(threshold_type="alert", amount="0.00001", period="day")
    alerts: list[list[TriggeredLimit]] = []
    alerted = anyio.Event()

    def on_alert(events: list[TriggeredLimit]) -> None:
        alerts.append(events)
        alerted.set()

    tracker = AsyncTracker(
        aicm_api_key=api.api_key,
        aicm_api_base=api_root,
        aicm_api_url="",
        ini_path=tmp_path / "AICM.INI",
        db_path=tmp_path / "queue.db",
        delivery_type="persistent_queue",
        limits_enabled=True,
        on_alert=on_alert,
    )
    async with tracker:
        await tracker.track(SERVICE, USAGE)
        with anyio.fail_after(30):
            assert await tracker.flush()
            await alerted.wait()
        with pytest.raises(UsageLimitExceeded):
            tracker.check_limits(SERVICE, None)
        tracker.check_limits("openai::gpt-4o", None)
    assert [e.limit_id for e in alerts[0]] == [alert["uuid"]]


@pytest.mark.parametrize("where", ["argument", "environment", "ini"])
async def test_enabling_limits_from_each_source(
    api: Api, api_root: str, ini_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """limits_enabled comes from the constructor, AICM_LIMITS_ENABLED or the INI [tracker]."""
    api.create_limit(threshold_type="limit", amount="0.00001", period="day")
    options: dict[str, Any] = {}
    monkeypatch.delenv("AICM_LIMITS_ENABLED", raising=False)
    if where == "argument":
        options["limits_enabled"] = True
    elif where == "environment":
        monkeypatch.setenv("AICM_LIMITS_ENABLED", "true")
    else:
        update_section(ini_path, "tracker", {"AICM_LIMITS_ENABLED": "true"})
    tracker = AsyncTracker(
        aicm_api_key=api.api_key,
        aicm_api_base=api_root,
        aicm_api_url="",
        ini_path=ini_path,
        delivery_type="immediate",
        **options,
    )
    async with tracker:
        with pytest.raises(UsageLimitExceeded):
            await tracker.track(SERVICE, USAGE)


def test_tracker_without_cryptography_says_how_to_install(tmp_path: Path) -> None:
    """limits_enabled without cryptography fails at construction with the install line."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["cryptography"] = None
        from aicostmanager import AsyncTracker
        AsyncTracker(aicm_api_key="sk-x.k", ini_path=sys.argv[1], limits_enabled=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "AICM.INI")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert INSTALL_HINT in proc.stderr


async def test_limits_disabled_never_block(api: Api, api_root: str, ini_path: Path) -> None:
    """Without limits_enabled a triggered limit is not enforced."""
    api.create_limit(threshold_type="limit", amount="0.00001", period="day")
    tracker = AsyncTracker(
        aicm_api_key=api.api_key,
        aicm_api_base=api_root,
        aicm_api_url="",
        ini_path=ini_path,
        delivery_type="immediate",
    )
    async with tracker:
        for _ in range(3):
            result = await tracker.track(SERVICE, USAGE)
            assert result.delivered
        tracker.check_limits(SERVICE, None)


def test_blocking_tracker_enforces_limits(api: Api, api_root: str, ini_path: Path) -> None:
    """The sync Tracker raises from track() and check_limits() like the async one."""
    from aicostmanager import Tracker

    limit = api.create_limit(threshold_type="limit", amount="0.00001", period="day")
    with Tracker(
        aicm_api_key=api.api_key,
        aicm_api_base=api_root,
        aicm_api_url="",
        ini_path=ini_path,
        delivery_type="immediate",
        limits_enabled=True,
    ) as tracker:
        with pytest.raises(UsageLimitExceeded) as info:
            tracker.track(SERVICE, USAGE)
        assert limit["uuid"] in str(info.value)
        with pytest.raises(UsageLimitExceeded):
            tracker.check_limits(SERVICE, None)
