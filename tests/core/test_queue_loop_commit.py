"""Commits on the event loop's thread (``LoopAppender``): they never wait, and declining is safe."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from aicostmanager import AsyncTracker
from aicostmanager._queue import DurableQueue
from aicostmanager._queue_append import LOOP_MAX_ROWS
from aicostmanager._queue_sql import Role, connection_settings

from .resilience_helpers import wait_until

BODY = b'{"service_key":"openai::gpt-5-mini","response_id":"r","timestamp":"1.0","payload":{"n":1}}'
USAGE = {"input_tokens": 1, "output_tokens": 2}


def _body(n: int) -> bytes:
    return BODY.replace(b'"r"', b'"r%d"' % n)


class _WriteLock:
    """Another connection holding the file's write lock (as another process would)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self._conn.execute("ROLLBACK")
        self._conn.close()


async def _bodies(queue: DurableQueue) -> list[bytes]:
    rows = await queue.claim("k", "me", limit=1000, now=time.time() + 1, lease_seconds=60)
    return [row.body for row in rows]


async def test_loop_appender_commits_and_returns_the_last_id(tmp_path: Path) -> None:
    """A group is stored in order, counted, and the mark is its last row's id."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    appender = queue.loop_appender("k")
    try:
        await appender.open()
        assert appender.usable
        first = appender.try_append([_body(1)], time.time())
        mark = appender.try_append([_body(2), _body(3)], time.time())
        assert first is not None and mark == first + 2
        assert await _bodies(queue) == [_body(1), _body(2), _body(3)]
        assert (await queue.counts()).pending == 3
    finally:
        await queue.close()
    assert not appender.usable


async def test_loop_appender_declines_at_once_while_another_writer_holds_the_lock(
    tmp_path: Path,
) -> None:
    """It returns None while the lock is still held (it never waits for it); nothing is written."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    appender = queue.loop_appender("k")
    lock: _WriteLock | None = None
    try:
        await appender.open()
        lock = _WriteLock(queue.path)
        # The lock is released only after try_append returns: waiting for it would never end.
        with anyio.fail_after(10):  # well below the queue's 15 s busy timeout
            declined = await anyio.to_thread.run_sync(appender.try_append, [_body(1)], 1.0)
        assert declined is None
        lock.release()
        lock = None
        assert appender.usable  # a busy file is not a broken connection
        assert appender.try_append([_body(2)], time.time()) is not None
        assert await _bodies(queue) == [_body(2)]
    finally:
        if lock is not None:
            lock.release()
        await queue.close()


async def test_loop_appender_declines_big_groups_and_full_synchronous(tmp_path: Path) -> None:
    """Groups over ``LOOP_MAX_ROWS``, or ``synchronous=FULL`` (an fsync), are declined."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    appender = queue.loop_appender("k")
    try:
        await appender.open()
        too_many = [_body(n) for n in range(LOOP_MAX_ROWS + 1)]
        assert appender.try_append(too_many, time.time()) is None
        assert appender.try_append([], time.time()) is None
        assert (await queue.counts()).pending == 0
    finally:
        await queue.close()
    full = await DurableQueue.open(tmp_path / "full.db", synchronous="FULL")
    appender = full.loop_appender("k")
    try:
        await appender.open()
        assert not appender.usable
        assert appender.try_append([_body(1)], time.time()) is None
    finally:
        await full.close()


async def test_loop_connection_never_checkpoints_nor_syncs(tmp_path: Path) -> None:
    """The loop's connection has checkpoints and syncs off; the queue's own keeps both on."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    appender = queue.loop_appender("k")
    try:
        await appender.open()
        conn = appender._conn
        assert conn is not None
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
        # A commit right after a checkpoint restarted the log is what used to sync on the loop.
        await queue.checkpoint()
        assert appender.try_append([_body(1)], time.time()) is not None
        assert await _bodies(queue) == [_body(1)]
    finally:
        await queue.close()
    assert connection_settings(Role.THREAD, "NORMAL", 15.0)[1] == "PRAGMA synchronous=NORMAL"
    assert "PRAGMA synchronous=FULL" in connection_settings(Role.QUEUE, "FULL", 15.0)


async def test_loop_appender_follows_a_recovered_file(tmp_path: Path) -> None:
    """After the file is moved aside and rebuilt, it declines until reopened, then writes there."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    appender = queue.loop_appender("k")
    try:
        await appender.open()
        assert appender.try_append([_body(1)], time.time()) is not None
        assert await queue.recover() == 1
        assert not appender.usable
        assert appender.try_append([_body(2)], time.time()) is None
        await appender.open()
        assert appender.try_append([_body(3)], time.time()) is not None
        assert sorted(await _bodies(queue)) == [_body(1), _body(3)]
    finally:
        await queue.close()


async def test_track_waits_off_the_loop_while_the_file_is_locked(tmp_path: Path) -> None:
    """A locked file makes track() wait in aiosqlite's thread: the loop keeps running meanwhile,
    and the record is committed once the lock is gone."""
    options: dict[str, Any] = {
        "aicm_api_key": "sk-test-loop-commit",
        "aicm_api_base": "http://127.0.0.1:9",
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "delivery_type": "persistent_queue",
    }
    async with AsyncTracker(**options) as tracker:
        await tracker.track("openai::gpt-5-mini", USAGE)  # the loop connection is open now
        lock = _WriteLock(tmp_path / "queue.db")
        done = threading.Event()
        ticks = 0
        try:

            async def tracked() -> None:
                await tracker.track("openai::gpt-5-mini", USAGE, response_id="while-locked")
                done.set()

            async with anyio.create_task_group() as group:
                group.start_soon(tracked)
                with anyio.fail_after(10):
                    while ticks < 20:  # the loop runs while track() waits for the lock
                        await asyncio.sleep(0.001)
                        ticks += 1
                assert not done.is_set()
                lock.release()
                lock = None
        finally:
            if lock is not None:
                lock.release()
        assert done.is_set()
        assert tracker.statistics().enqueued == 2
    conn = sqlite3.connect(str(tmp_path / "queue.db"))
    try:
        stored = [row[0] for row in conn.execute("SELECT body FROM pending")]
    finally:
        conn.close()
    assert any(b'"while-locked"' in body for body in stored)


async def test_write_ahead_log_is_checkpointed_when_only_the_loop_commits(
    tmp_path: Path, local_server: Any
) -> None:
    """With delivery paused (a refused key), 3,000 one-record commits on the loop leave a bounded
    write-ahead log: the loop's connection never checkpoints, the queue's connection does."""
    options: dict[str, Any] = {
        "aicm_api_key": "sk-refused-by-the-server",
        "aicm_api_base": local_server.url,
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "delivery_type": "persistent_queue",
        "batch_interval": 0.0,
    }
    wal = tmp_path / "queue.db-wal"
    async with AsyncTracker(**options) as tracker:
        await tracker.track("openai::gpt-5-mini", USAGE)
        with anyio.fail_after(20):
            await wait_until(lambda: tracker.statistics().paused_until is not None)
        for _ in range(3000):
            await tracker.track("openai::gpt-5-mini", USAGE)
        # ~3 pages per commit: about 37 MB of log without checkpoints.
        assert wal.stat().st_size < 12 * 1024 * 1024
    conn = sqlite3.connect(str(tmp_path / "queue.db"))
    try:
        assert conn.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 3001
    finally:
        conn.close()
