"""Group commits into the queue file: multi-row appends and the sync callers' appender."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import anyio
import pytest

from aicostmanager._queue import DurableQueue, QueueError
from aicostmanager._queue_sql import MAX_ROWS_PER_INSERT

BODY = b'{"service_key":"openai::gpt-5-mini","response_id":"r","timestamp":"1.0","payload":{"n":1}}'


def _moved_aside(folder: Path) -> list[Path]:
    return [p for p in folder.glob("q.db.corrupt-*") if p.name.endswith("Z")]


def _body(n: int) -> bytes:
    return BODY.replace(b'"r"', b'"r%d"' % n)


async def test_append_stores_every_body_in_order_with_counters(tmp_path: Path) -> None:
    """Groups of 1, many, and more than one statement holds are stored in order and counted."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    try:
        sizes = (1, 7, MAX_ROWS_PER_INSERT, MAX_ROWS_PER_INSERT * 2 + 3)
        bodies = [_body(n) for n in range(sum(sizes))]
        start = 0
        marks = []
        for size in sizes:
            marks.append(await queue.append(bodies[start : start + size], "k", time.time()))
            start += size
        rows = await queue.claim("k", "me", limit=1000, now=time.time() + 1, lease_seconds=60)
        assert [row.body for row in rows] == bodies
        assert marks == [rows[n - 1].id for n in (1, 8, 8 + 256, len(bodies))]
        counts = await queue.counts()
        assert (counts.pending, counts.pending_bytes) == (len(bodies), sum(map(len, bodies)))
    finally:
        await queue.close()


async def test_appender_group_commits_records_of_many_threads(tmp_path: Path) -> None:
    """Records appended from 8 threads at once are all stored once, counted, and marked."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    appender = queue.blocking_appender("k")
    marks: dict[int, int] = {}

    def produce(thread: int) -> None:
        for n in range(50):
            marks[thread * 100 + n] = appender.append(_body(thread * 100 + n))

    try:
        threads = [threading.Thread(target=produce, args=(t,)) for t in range(8)]
        await anyio.to_thread.run_sync(lambda: [(t.start(), t.join()) for t in threads] and None)
        rows = await queue.claim("k", "me", limit=1000, now=time.time() + 1, lease_seconds=60)
        stored = {row.body: row.id for row in rows}
        assert len(rows) == 400 and len(stored) == 400
        for key, mark in marks.items():
            assert stored[_body(key)] <= mark  # a flush mark covers the record
        assert (await queue.counts()).pending == 400
    finally:
        await queue.close()
    with pytest.raises(QueueError, match="closed"):
        appender.append(BODY)


async def test_appender_follows_a_recovered_file(tmp_path: Path) -> None:
    """After the queue file is moved aside and rebuilt, sync appends land in the new file."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    appender = queue.blocking_appender("k")
    try:
        await anyio.to_thread.run_sync(appender.append, _body(1))
        assert await queue.recover() == 1
        await anyio.to_thread.run_sync(appender.append, _body(2))
        rows = await queue.claim("k", "me", limit=10, now=time.time() + 1, lease_seconds=60)
        assert sorted(row.body for row in rows) == [_body(1), _body(2)]
    finally:
        await queue.close()
    assert len(_moved_aside(tmp_path)) == 1
