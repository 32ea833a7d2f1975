"""Server outages: tracking goes on while the server is down, and everything arrives once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.streams.buffered import BufferedByteReceiveStream

from aicostmanager import AsyncQueueManager, AsyncTracker
from aicostmanager.server import LocalServer

from .resilience_helpers import (
    SERVICE,
    new_key,
    persistent_options,
    script_command,
    server_response_ids,
    server_stats,
)

OUTAGE_SECONDS = 10.0
PROCESSES = 4
PER_PROCESS = 250


async def test_ten_second_outage_delivers_every_event_once(tmp_path: Path) -> None:
    """Events tracked during a 10 s outage are all delivered after it, none counted twice."""
    server = LocalServer(testing=True, db=str(tmp_path / "server.db"))
    await anyio.to_thread.run_sync(server.start)
    try:
        key, key_id = await new_key(server.url)
        await anyio.to_thread.run_sync(server.stop)
        down_at = time.monotonic()
        ids: list[str] = []
        failures_midway = 0
        options = persistent_options(tmp_path, key, server.url, timeout=2)
        async with AsyncTracker(**options) as tracker:
            # The outage is the scenario: keep tracking through all of it.
            while time.monotonic() - down_at < OUTAGE_SECONDS:
                batch = [{"service_key": SERVICE, "usage": {"input_tokens": len(ids)}}] * 20
                results = await tracker.track_batch(batch)
                assert {r.status for r in results} == {"queued"}
                ids += [r.response_id for r in results]
                ids.append(tracker.track_nowait(SERVICE, {"input_tokens": 1}))
                await anyio.sleep(0.2)
                if not failures_midway and time.monotonic() - down_at > OUTAGE_SECONDS / 2:
                    failures_midway = tracker.statistics().failed_requests
            down = tracker.statistics()
            assert down.failed_requests > failures_midway > 0
            assert down.delivered == 0
            assert down.last_error
            await anyio.to_thread.run_sync(server.start)
            with anyio.fail_after(60):
                assert await tracker.flush()
            assert tracker.statistics().delivered == len(ids)

        stats = await server_stats(server.url, key_id)
        assert stats["accepted"] == len(ids)
        assert stats["rejected"] == 0
        on_server = await server_response_ids(server.api_root, key)
        assert sorted(on_server) == sorted(ids)
    finally:
        await anyio.to_thread.run_sync(server.stop)


async def test_processes_sharing_a_queue_file_deliver_each_event_once(tmp_path: Path) -> None:
    """4 processes track into one file while the server is down; once up, each event lands once."""
    server = LocalServer(testing=True, db=str(tmp_path / "server.db"))
    await anyio.to_thread.run_sync(server.start)
    try:
        key, key_id = await new_key(server.url)
        await anyio.to_thread.run_sync(server.stop)
        env = {**os.environ, "AICM_API_KEY": key}
        command = script_command(
            "sharer.py", server.url, tmp_path / "queue.db", tmp_path / "AICM.INI", PER_PROCESS
        )
        committed: list[str] = []
        reports: list[dict[str, object]] = []
        async with anyio.create_task_group() as tg:
            all_committed = anyio.Event()

            async def run_one(index: int) -> None:
                with (tmp_path / f"sharer{index}.err").open("wb") as stderr:
                    async with await anyio.open_process(command, env=env, stderr=stderr) as proc:
                        assert proc.stdout is not None
                        lines = BufferedByteReceiveStream(proc.stdout)
                        first = json.loads(await lines.receive_until(b"\n", 1 << 20))
                        committed.extend(first["committed"])
                        if len(committed) == PROCESSES * PER_PROCESS:
                            all_committed.set()
                        reports.append(json.loads(await lines.receive_until(b"\n", 1 << 20)))
                        assert await proc.wait() == 0, reports[-1]

            with anyio.fail_after(100):
                for index in range(PROCESSES):
                    tg.start_soon(run_one, index)
                await all_committed.wait()
                # Nothing could be sent so far; the server comes up only now.
                assert (await _offline_stats(tmp_path)) == PROCESSES * PER_PROCESS
                await anyio.to_thread.run_sync(server.start)

        assert len(reports) == PROCESSES
        assert all(report["flushed"] for report in reports)
        stats = await server_stats(server.url, key_id)
        assert stats["accepted"] == PROCESSES * PER_PROCESS
        assert stats["duplicates"] == 0
        assert stats["rejected"] == 0
        on_server = await server_response_ids(server.api_root, key)
        assert sorted(on_server) == sorted(committed)
    finally:
        await anyio.to_thread.run_sync(server.stop)


async def _offline_stats(tmp_path: Path) -> int:
    """Pending rows of the shared file (read while the sharers run)."""
    async with AsyncQueueManager(tmp_path / "queue.db") as manager:
        return (await manager.stats()).pending
