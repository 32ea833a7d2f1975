"""A base URL that ends in the API prefix (``…/api/v1``) is accepted and normalised everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncCostManagerClient, AsyncTracker
from aicostmanager._config import api_root
from aicostmanager.server import LocalServer

from .resilience_helpers import SERVICE, USAGE


@pytest.mark.parametrize(
    ("base", "prefix", "root"),
    [
        ("http://h:8765", "/api/v1", "http://h:8765/api/v1"),
        ("http://h:8765/api/v1", "/api/v1", "http://h:8765/api/v1"),
        ("http://h:8765/api/v1/", "/api/v1", "http://h:8765/api/v1"),
        ("http://h:8765/proxy/api/v1", "api/v1/", "http://h:8765/proxy/api/v1"),
        ("http://api/v1", "/api/v1", "http://api/v1/api/v1"),  # host "api", path "/v1"
        ("https://h", "", "https://h"),
    ],
)
def test_api_root_does_not_repeat_the_prefix(base: str, prefix: str, root: str) -> None:
    """api_root() joins base and prefix once, looking at the URL path only."""
    assert api_root(base, prefix) == root


async def test_client_accepts_the_api_root_from_each_source(
    local_server: LocalServer, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constructor, AICM_API_BASE and the INI all accept the root that `serve` prints."""
    ini = tmp_path / "AICM.INI"
    ini.write_text(f"[tracker]\nAICM_API_BASE = {local_server.api_root}\n")
    async with AsyncCostManagerClient(
        aicm_api_key=api_key, aicm_api_base=local_server.api_root
    ) as client:
        assert client.api_root == local_server.api_root
        assert await client.list_usage_limits() == []
    async with AsyncCostManagerClient(aicm_api_key=api_key, ini_path=ini) as client:
        assert client.api_root == local_server.api_root
    monkeypatch.setenv("AICM_API_BASE", local_server.api_root + "/")
    async with AsyncCostManagerClient(aicm_api_key=api_key) as client:
        assert client.api_root == local_server.api_root


async def test_tracker_delivers_with_the_api_root_as_base(
    tracker_options: dict[str, Any], local_server: LocalServer
) -> None:
    """A tracker given `…/api/v1` as its base delivers (no `/api/v1/api/v1/track` 404)."""
    options = dict(tracker_options, aicm_api_base=local_server.api_root)
    async with AsyncTracker(**options) as tracker:
        await tracker.track(SERVICE, USAGE)
        with anyio.fail_after(30):
            assert await tracker.flush(timeout=20)
        assert tracker.statistics().delivered == 1
