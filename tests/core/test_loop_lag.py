"""Tracking never blocks the event loop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from aicostmanager import AsyncTracker


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`aicostmanager serve` in its own process, so its work does not share our GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = "sk-test-lag." + "0" * 8 + "-0000-4000-8000-" + "0" * 12
    process = subprocess.Popen(
        [sys.executable, "-m", "aicostmanager.cli", "serve", "--port", str(port)]
        + ["--db", str(tmp_path / "server.db"), "--api-key", key],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/v1/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url, key
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_loop_keeps_running_while_100_producers_track(
    server_process: tuple[str, str], tmp_path: Path
) -> None:
    """Other tasks keep running while 100 producers track and deliver over HTTP.

    How long the loop is held is a timing figure, measured by ``benchmarks/bench_loop_lag.py``;
    this checks the behaviour: a task that only yields gets turns all along, and every event
    is delivered.
    """
    url, key = server_process
    turns_while_tracking = 0
    tracking = False
    stop = anyio.Event()

    async def other_task() -> None:
        nonlocal turns_while_tracking
        while not stop.is_set():
            await anyio.lowlevel.checkpoint()
            turns_while_tracking += tracking

    options: dict[str, Any] = {
        "aicm_api_key": key,
        "aicm_api_base": url,
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
    }
    async with AsyncTracker(**options) as tracker:

        async def producer() -> None:
            for index in range(50):
                await tracker.track(
                    "openai::gpt-5-mini", {"input_tokens": index, "output_tokens": 5}
                )

        async with anyio.create_task_group() as group:
            group.start_soon(other_task)
            tracking = True
            async with anyio.create_task_group() as producers:
                for _ in range(100):
                    producers.start_soon(producer)
            tracking = False
            with anyio.fail_after(60):
                assert await tracker.flush()
            stop.set()
        assert tracker.statistics().delivered == 5_000
    # Each of the 100 producers awaits 50 group commits; the other task runs in between.
    assert turns_while_tracking >= 50
