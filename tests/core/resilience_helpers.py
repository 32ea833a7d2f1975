"""Shared helpers of the resilience tests: tracker options, server queries, condition polling."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx

SCRIPTS = Path(__file__).parent / "_scripts"
SERVICE = "openai::gpt-5-mini"
USAGE = {"input_tokens": 10, "output_tokens": 20}


def persistent_options(tmp: Path, key: str, base_url: str, **overrides: Any) -> dict[str, Any]:
    """Options of a persistent tracker with fast retries on a queue file under ``tmp``."""
    options: dict[str, Any] = {
        "aicm_api_key": key,
        "aicm_api_base": base_url,
        "ini_path": tmp / "AICM.INI",
        "db_path": tmp / "queue.db",
        "delivery_type": "persistent_queue",
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "lease_seconds": 5,
        "timeout": 5,
    }
    options.update(overrides)
    return options


def script_command(name: str, *args: object) -> list[str]:
    """The command line running ``_scripts/<name>`` with this interpreter."""
    return [sys.executable, str(SCRIPTS / name), *map(str, args)]


def key_id(key: str) -> str:
    """The ``api_key_id`` of a key (the text after its last ``.``)."""
    return key.rsplit(".", 1)[1]


async def new_key(base_url: str) -> tuple[str, str]:
    """Mint a key on a testing server; returns ``(key, key_id)``."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{base_url}/_testing/api-keys")
    data = response.raise_for_status().json()
    return data["api_key"], data["api_key_id"]


async def server_stats(base_url: str, api_key_id: str) -> dict[str, int]:
    """The ``/track`` counters of one key on a testing server."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{base_url}/_testing/stats", params={"api_key_id": api_key_id})
    data: dict[str, int] = response.raise_for_status().json()
    return data


async def server_response_ids(api_root: str, key: str) -> list[str]:
    """The ``response_id`` of every event the server accepted for this key's team.

    One entry per stored event, so an event stored twice would show twice. Records the server
    refused are stored too (with status ``error``, for de-duplication) and are left out.
    """
    ids: list[str] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_root, headers=headers, timeout=30) as client:
        offset = 0
        while True:
            response = await client.get("/usage/events/", params={"limit": 200, "offset": offset})
            page = response.raise_for_status().json()
            ids.extend(e["response_id"] for e in page["results"] if e["status"] != "error")
            offset += len(page["results"])
            if not page["results"] or offset >= page["count"]:
                return ids


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], interval: float = 0.02
) -> None:
    """Poll ``condition`` until it is true (wrap the call in ``anyio.fail_after``)."""
    while True:
        value = condition()
        if not isinstance(value, bool):
            value = await value
        if value:
            return
        await anyio.sleep(interval)
