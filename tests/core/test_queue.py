"""The durable queue file: leases, counters, dead letters, bounds and full policies."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncQueueManager, AsyncTracker, QueueFullError, QueueFullPolicy
from aicostmanager._api_key import key_fingerprint
from aicostmanager._queue import DurableQueue, QueueError

from .conftest import key_id

BODY = b'{"service_key":"openai::gpt-5-mini","response_id":"r","timestamp":"1.0","payload":{"n":1}}'


async def test_two_claimers_never_share_rows(tmp_path: Path) -> None:
    """Two connections claiming concurrently split the rows without overlap."""
    first = await DurableQueue.open(tmp_path / "q.db")
    second = await DurableQueue.open(tmp_path / "q.db")
    try:
        for _ in range(10):
            await first.append([BODY] * 100, "k", time.time())
        claimed: dict[str, list[int]] = {"a": [], "b": []}

        async def claim(queue: DurableQueue, name: str) -> None:
            while rows := await queue.claim("k", name, limit=37, now=time.time(), lease_seconds=60):
                claimed[name] += [row.id for row in rows]

        async with anyio.create_task_group() as group:
            group.start_soon(claim, first, "a")
            group.start_soon(claim, second, "b")
        assert not set(claimed["a"]) & set(claimed["b"])
        assert len(claimed["a"]) + len(claimed["b"]) == 1000
    finally:
        await first.close()
        await second.close()


async def test_expired_lease_is_reclaimed_and_keys_are_separate(tmp_path: Path) -> None:
    """A dead worker's rows come back when the lease ends; rows of another key never do."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    try:
        now = time.time()
        await queue.append([BODY] * 3, "mine", now)
        await queue.append([BODY] * 2, "theirs", now)
        assert len(await queue.claim("mine", "dead", limit=10, now=now, lease_seconds=30)) == 3
        assert await queue.claim("mine", "next", limit=10, now=now + 1, lease_seconds=30) == []
        again = await queue.claim("mine", "next", limit=10, now=now + 31, lease_seconds=30)
        assert [row.attempts for row in again] == [2, 2, 2]
        assert (await queue.counts()).pending == 5
        assert await queue.next_due("theirs") == pytest.approx(now)
    finally:
        await queue.close()


async def test_counters_dead_letters_requeue_and_purge(tmp_path: Path) -> None:
    """Counters follow every change; dead letters keep the reason and can be requeued."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    try:
        now = time.time()
        await queue.append([BODY] * 4, "k", now)
        rows = await queue.claim("k", "w", limit=4, now=now, lease_seconds=60)
        await queue.settle(
            delivered=[rows[0].id],
            dead=[(rows[1].id, "bad payload", ["missing total_tokens"])],
            retry=[(rows[2].id, now + 100, "HTTP 503")],
            now=now,
        )
        counts = await queue.counts()
        assert (counts.pending, counts.dead) == (2, 1)
        assert counts.pending_bytes == 2 * len(BODY)
    finally:
        await queue.close()
    async with AsyncQueueManager(tmp_path / "q.db") as manager:
        [dead] = await manager.list_failed()
        assert (dead.reason, dead.errors, dead.record["service_key"]) == (
            "bad payload",
            ["missing total_tokens"],
            "openai::gpt-5-mini",
        )
        assert await manager.requeue_failed() == 1
        assert (await manager.stats()).pending == 3
        assert await manager.purge_failed() == 0


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A queue file written by a newer SDK is refused with a clear error, not corrupted."""
    queue = await DurableQueue.open(tmp_path / "q.db")
    await queue.close()
    with sqlite3.connect(tmp_path / "q.db") as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(QueueError, match="newer"):
        await DurableQueue.open(tmp_path / "q.db")


def test_fingerprint_is_not_the_key() -> None:
    """The stored key fingerprint is a short hash."""
    fingerprint = key_fingerprint("sk-secret.abc")
    assert "secret" not in fingerprint and len(fingerprint) == 24


async def _down_tracker(
    options: dict[str, Any], admin: Any, api_key: str, **extra: Any
) -> AsyncTracker:
    admin.add_fault(status=503, api_key_id=key_id(api_key))
    return AsyncTracker(**options, max_queue_events=5, **extra)


@pytest.mark.parametrize(
    ("policy", "accepted", "dropped"),
    [(QueueFullPolicy.DROP_NEWEST, 5, 3), (QueueFullPolicy.DROP_OLDEST, 5, 3)],
)
async def test_drop_policies(
    tracker_options: dict[str, Any],
    admin: Any,
    api_key: str,
    policy: QueueFullPolicy,
    accepted: int,
    dropped: int,
) -> None:
    """With the server down, a full queue drops the newest (or oldest) records and counts them."""
    try:
        async with await _down_tracker(
            tracker_options, admin, api_key, queue_full_policy=policy
        ) as tracker:
            results = [
                await tracker.track("openai::gpt-5-mini", {"n": i}, response_id=f"r{i}")
                for i in range(8)
            ]
            stats = tracker.statistics()
            assert stats.dropped == dropped
            counts = await _counts(tracker_options["db_path"])
            assert counts.pending == accepted
        if policy is QueueFullPolicy.DROP_NEWEST:
            assert [r.status for r in results] == ["queued"] * 5 + ["error"] * 3
    finally:
        admin.clear_faults()


async def test_raise_and_block_policies(
    tracker_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """`raise` fails at once; `block` waits up to its timeout, then reports the drop."""
    try:
        async with await _down_tracker(
            tracker_options, admin, api_key, queue_full_policy="raise"
        ) as tracker:
            for i in range(5):
                await tracker.track("openai::gpt-5-mini", {"n": i})
            with pytest.raises(QueueFullError):
                await tracker.track("openai::gpt-5-mini", {"n": 9})
            with pytest.raises(QueueFullError):
                tracker.track_nowait("openai::gpt-5-mini", {"n": 9})
        blocking = {
            **tracker_options,
            "queue_full_timeout": 0.3,
            "db_path": Path(tracker_options["db_path"]).with_name("b.db"),
        }
        async with await _down_tracker(blocking, admin, api_key) as tracker:
            for i in range(5):
                await tracker.track("openai::gpt-5-mini", {"n": i})
            started = time.monotonic()
            result = await tracker.track("openai::gpt-5-mini", {"n": 9})
            assert time.monotonic() - started >= 0.25
            assert result.status == "error" and "queue full" in result.errors[0]
            assert tracker.statistics().dropped == 1
    finally:
        admin.clear_faults()


async def _counts(db_path: Any) -> Any:
    async with AsyncQueueManager(db_path) as manager:
        return await manager.stats()


async def test_orphaned_leases_are_released_at_start(tmp_path: Path) -> None:
    """Rows leased by a process that died are due again at once; live owners keep theirs."""
    import sys

    from aicostmanager._delivery._worker import is_orphaned, lease_owner_id

    dead = await anyio.run_process([sys.executable, "-c", "import os; print(os.getpid())"])
    host = lease_owner_id().split(":")[0]
    dead_owner = f"{host}:{dead.stdout.decode().strip()}:deadbeef"
    live_owner = lease_owner_id()
    queue = await DurableQueue.open(tmp_path / "q.db")
    try:
        now = time.time()
        await queue.append([BODY] * 4, "k", now)
        await queue.claim("k", dead_owner, limit=2, now=now, lease_seconds=600)
        await queue.claim("k", live_owner, limit=2, now=now, lease_seconds=600)
        assert is_orphaned(dead_owner) and not is_orphaned(live_owner)
        assert not is_orphaned("otherhost:1:abc") and not is_orphaned("legacy-owner")
        assert await queue.release_orphaned_leases(is_orphaned, now) == 2
        assert len(await queue.claim("k", "next", limit=10, now=now, lease_seconds=60)) == 2
    finally:
        await queue.close()


def test_keys_and_adopt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records queued with a mistyped key can be handed to the right one."""
    from aicostmanager.cli import main

    async def fill() -> None:
        queue = await DurableQueue.open(tmp_path / "q.db")
        await queue.append([BODY] * 3, key_fingerprint("sk-typo.1"), time.time())
        await queue.append([BODY], key_fingerprint("sk-right.2"), time.time())
        await queue.close()

    anyio.run(fill)
    monkeypatch.setenv("AICM_API_KEY", "sk-right.2")
    assert main(["queue", "keys", str(tmp_path / "q.db")]) == 0
    out = capsys.readouterr().out
    assert f"{key_fingerprint('sk-typo.1')}  3" in out and "<- $AICM_API_KEY" in out
    assert main(["queue", "adopt", str(tmp_path / "q.db")]) == 0
    assert capsys.readouterr().out.strip() == "adopted 3"
    assert main(["queue", "keys", str(tmp_path / "q.db")]) == 0
    assert capsys.readouterr().out.startswith(f"{key_fingerprint('sk-right.2')}  4")
