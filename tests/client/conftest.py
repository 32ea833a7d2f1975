"""Fixtures of the REST client tests: clients bound to a fresh key of the session's server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aicostmanager._backoff import Backoff
from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._sync_client import CostManagerClient

FAST = Backoff(base=0.01, cap=0.05)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AICM_* variable nor user INI file leaks into the tests."""
    for name in list(os.environ):
        if name.startswith("AICM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AICM_INI_PATH", str(tmp_path / "AICM.INI"))


@pytest.fixture
def api_base(api_root: str) -> str:
    """The server's base URL (API root without ``/api/v1``)."""
    return api_root.removesuffix("/api/v1")


@pytest.fixture
async def client(api_key: str, api_base: str) -> AsyncIterator[AsyncCostManagerClient]:
    """An async client with a fresh key (fast retries)."""
    async with AsyncCostManagerClient(aicm_api_key=api_key, aicm_api_base=api_base) as c:
        c.backoff = FAST
        yield c


@pytest.fixture
def sync_client(api_key: str, api_base: str) -> Iterator[CostManagerClient]:
    """A blocking client with a fresh key (fast retries)."""
    with CostManagerClient(aicm_api_key=api_key, aicm_api_base=api_base) as c:
        c.async_client.backoff = FAST
        yield c
