"""Fixtures for the wrapper tests: the fake provider server and a tracker on a fresh key.

- ``fake_provider`` (session): every provider's fake API on ``127.0.0.1:<port>``.
- ``tracker_options``: options of a tracker on a fresh API key and queue file.
- ``recorded``: reads back what the local server stored for that key (events and costs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncCostManagerClient

from .fake_provider import FakeProvider


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AICM_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("AICM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AICM_INI_PATH", str(tmp_path / "default" / "AICM.INI"))
    yield


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    """The fake provider server for the whole session."""
    server = FakeProvider()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Stored:
    """One usage event as the local server stored it, with its priced cost."""

    response_id: str
    service_key: str
    customer_key: str | None
    usage: dict[str, Any]
    cost: Decimal


async def read_stored(options: dict[str, Any]) -> list[Stored]:
    """Every usage event of the key in ``options``, with the sum of its cost lines."""
    client_options = {
        "aicm_api_key": options["aicm_api_key"],
        "aicm_api_base": options["aicm_api_base"],
        "ini_path": str(options["ini_path"]),
    }
    stored: list[Stored] = []
    async with AsyncCostManagerClient(**client_options) as client:
        events = [event async for event in client.iter_usage_events()]
        for event in events:
            lines = await client.list_cost_events_by_response_id_typed(event.response_id)
            stored.append(
                Stored(
                    response_id=event.response_id,
                    service_key=str(event.service_id),
                    customer_key=event.customer_key,
                    usage=event.usage,
                    cost=sum((line.cost for line in lines), Decimal(0)),
                )
            )
    return stored


def read_stored_sync(options: dict[str, Any]) -> list[Stored]:
    """``read_stored`` from synchronous code."""
    return anyio.run(read_stored, options)
