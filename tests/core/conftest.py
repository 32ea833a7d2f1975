"""Fixtures for the SDK core tests: a tracker pointed at the session's local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aicostmanager.server import LocalServer


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AICM_* variable of the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("AICM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AICM_INI_PATH", str(tmp_path / "default" / "AICM.INI"))
    yield


@pytest.fixture
def tracker_options(local_server: LocalServer, api_key: str, tmp_path: Path) -> dict[str, Any]:
    """Options of a fast-retrying tracker on a fresh key and a fresh queue file."""
    return {
        "aicm_api_key": api_key,
        "aicm_api_base": local_server.url,
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "batch_interval": 0.005,
        "timeout": 5.0,
    }


def key_id(api_key: str) -> str:
    """The id part of an API key."""
    return api_key.rsplit(".", 1)[1]
