"""Tracking never blocks the event loop."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
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


async def _p99_lag_while_tracking(url: str, key: str, directory: Path) -> float:
    """p99 overshoot of a 1 ms ticker while 100 producers track 20,000 events at full speed."""
    lags: list[float] = []
    stop = anyio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await anyio.sleep(0.001)
            lags.append(time.perf_counter() - started - 0.001)

    options: dict[str, Any] = {
        "aicm_api_key": key,
        "aicm_api_base": url,
        "ini_path": directory / "AICM.INI",
        "db_path": directory / "queue.db",
    }
    async with AsyncTracker(**options) as tracker:

        async def producer() -> None:
            for index in range(200):
                await tracker.track(
                    "openai::gpt-5-mini", {"input_tokens": index, "output_tokens": 5}
                )

        async with anyio.create_task_group() as group:
            group.start_soon(ticker)
            async with anyio.create_task_group() as producers:
                for _ in range(100):
                    producers.start_soon(producer)
            with anyio.fail_after(60):
                assert await tracker.flush()
            stop.set()
        assert tracker.statistics().delivered == 20_000
    assert len(lags) > 20
    return statistics.quantiles(lags, n=100)[98]


async def test_loop_lag_stays_in_single_digit_ms(
    server_process: tuple[str, str], tmp_path: Path
) -> None:
    """p99 lag of a 1 ms ticker stays under 10 ms while 100 producers track at full speed.

    A blocking call on the loop fails every attempt; a noisy neighbour on a shared 2-core
    machine may spoil one, so the best of up to three runs is judged.
    """
    url, key = server_process
    measured: list[float] = []
    for attempt in range(3):
        measured.append(await _p99_lag_while_tracking(url, key, tmp_path / f"run{attempt}"))
        if measured[-1] < 0.010:
            break
    assert min(measured) < 0.010, (
        f"p99 loop lag per run (ms): {[round(m * 1000, 1) for m in measured]}"
    )
