"""kill -9 of a producer: every id that ``await track()`` returned is delivered, once."""

from __future__ import annotations

import os
import random
import signal
from collections import Counter
from pathlib import Path

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from aicostmanager import AsyncQueueManager, AsyncTracker
from aicostmanager.server import LocalServer

from .resilience_helpers import (
    persistent_options,
    script_command,
    server_response_ids,
    server_stats,
)


async def _run_producer_and_kill(
    tmp: Path, key: str, server: LocalServer, kill_after: int
) -> list[str]:
    """Run the producer, SIGKILL it after ``kill_after`` printed ids; return every printed id."""
    env = {**os.environ, "AICM_API_KEY": key}
    command = script_command(
        "producer.py", server.url, tmp / "queue.db", tmp / "AICM.INI", kill_after + 5000
    )
    printed: list[str] = []
    with (tmp / "producer.err").open("wb") as stderr:
        process = await anyio.open_process(command, env=env, stderr=stderr)
        assert process.stdout is not None
        lines = BufferedByteReceiveStream(process.stdout)
        try:
            try:
                with anyio.fail_after(60):
                    assert await lines.receive_until(b"\n", 100) == b"ready"
                    while len(printed) < kill_after:
                        printed.append((await lines.receive_until(b"\n", 100)).decode())
            except (TimeoutError, anyio.EndOfStream, anyio.IncompleteRead):
                error = (tmp / "producer.err").read_text(errors="replace")[-2000:]
                pytest.fail(f"the producer stopped after {len(printed)} ids:\n{error}")
            process.send_signal(signal.SIGKILL)
            with anyio.fail_after(30):
                assert await process.wait() == -signal.SIGKILL
                # Lines written before the kill are promises too: read them to the end.
                rest = b""
                try:
                    while True:
                        rest += await lines.receive()
                except (anyio.EndOfStream, anyio.IncompleteRead):
                    pass
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            await process.aclose()
    # A line cut by the kill has no newline and is no promise.
    printed.extend(line.decode() for line in rest.split(b"\n")[:-1])
    return printed


@pytest.mark.parametrize("seed", [11, 22, 33, 44])
async def test_kill9_loses_nothing_returned_by_track(
    tmp_path: Path, local_server: LocalServer, api_key: str, seed: int
) -> None:
    """Every id printed after ``track()`` returned reaches the server exactly once after kill -9."""
    kill_after = random.Random(seed).randint(1, 400)
    printed = await _run_producer_and_kill(tmp_path, api_key, local_server, kill_after)
    assert len(printed) >= kill_after
    assert len(set(printed)) == len(printed)

    async with AsyncTracker(**persistent_options(tmp_path, api_key, local_server.url)) as tracker:
        with anyio.fail_after(60):
            assert await tracker.flush()

    on_server = Counter(await server_response_ids(local_server.api_root, api_key))
    missing = [rid for rid in printed if rid not in on_server]
    assert not missing, f"{len(missing)} of {len(printed)} returned ids never reached the server"
    assert max(on_server.values()) == 1
    stats = await server_stats(local_server.url, api_key.rsplit(".", 1)[1])
    assert stats["accepted"] == len(on_server)
    async with AsyncQueueManager(tmp_path / "queue.db") as manager:
        counts = await manager.stats()
    assert (counts.pending, counts.dead) == (0, 0)
