"""Fault injection over real HTTP: flapping server, poison records, hung server, 401/413/429,
and expiry of events a failing server never takes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncQueueManager, AsyncTracker
from aicostmanager.server import LocalServer

from .conftest import AddFault
from .resilience_helpers import (
    SERVICE,
    USAGE,
    key_id,
    persistent_options,
    server_response_ids,
    server_stats,
    wait_until,
)


def _options(tmp_path: Path, key: str, server: LocalServer, **overrides: Any) -> dict[str, Any]:
    return persistent_options(tmp_path, key, server.url, **overrides)


def _records(n: int) -> list[dict[str, Any]]:
    return [{"service_key": SERVICE, "usage": {**USAGE, "input_tokens": i}} for i in range(n)]


async def _queue_counts(tmp_path: Path) -> tuple[int, int]:
    async with AsyncQueueManager(tmp_path / "queue.db") as manager:
        counts = await manager.stats()
    return counts.pending, counts.dead


async def test_flapping_server_gets_every_event_exactly_once(
    tmp_path: Path, local_server: LocalServer, api_key: str, admin: Any, fault: AddFault
) -> None:
    """503s, 429 + Retry-After and dropped connections at once: accepted == tracked, exactly."""
    n = 3000
    drop_after = fault(drop="after", rate=0.15)
    fault(drop="before", rate=0.1)
    fault(status=503, rate=0.2)
    fault(status=429, retry_after="1", count=3)
    ids: list[str] = []
    options = _options(tmp_path, api_key, local_server, max_batch_size=50, timeout=5)
    async with AsyncTracker(**options) as tracker:
        for _ in range(0, n, 500):
            results = await tracker.track_batch(_records(500))
            assert {r.status for r in results} == {"queued"}
            ids += [r.response_id for r in results]
        with anyio.fail_after(60):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert stats.delivered == n
    assert stats.retries > 0
    assert stats.failed_requests >= 3
    assert stats.dead_lettered == 0

    server = await server_stats(local_server.url, key_id(api_key))
    applied = {rule["id"]: rule["applied"] for rule in admin.faults()}
    assert applied[drop_after] > 0
    assert server["accepted"] == n
    assert server["duplicates"] > 0  # batches recorded, then the connection was dropped
    assert server["records_received"] == n + server["duplicates"]
    assert server["rejected"] == 0
    assert sorted(await server_response_ids(local_server.api_root, api_key)) == sorted(ids)
    assert await _queue_counts(tmp_path) == (0, 0)


@pytest.mark.parametrize("how", ["service_key", "admin_poison"])
async def test_poison_record_is_dead_lettered_once_and_spares_the_batch(
    tmp_path: Path, local_server: LocalServer, api_key: str, admin: Any, how: str
) -> None:
    """One poison record among 200: 199 delivered, it is dead-lettered with the server's reason."""
    records = _records(200)
    poison_id = uuid.uuid4().hex
    records[137] = {**records[137], "response_id": poison_id}
    if how == "service_key":
        records[137]["service_key"] = "poison::x"
        reason = "poison record"
    else:
        reason = "refused by the resilience test"
        admin.poison([poison_id], reason)
    async with AsyncTracker(**_options(tmp_path, api_key, local_server)) as tracker:
        results = await tracker.track_batch(records)
        assert {r.status for r in results} == {"queued"}
        with anyio.fail_after(30):
            assert await tracker.flush()
            assert await tracker.flush()  # a second flush sends nothing more
        stats = tracker.statistics()
    assert (stats.delivered, stats.dead_lettered) == (199, 1)

    server = await server_stats(local_server.url, key_id(api_key))
    assert server["records_received"] == 200  # the poison record was sent once
    assert (server["accepted"], server["rejected"]) == (199, 1)
    async with AsyncQueueManager(tmp_path / "queue.db") as manager:
        failed = await manager.list_failed()
        counts = await manager.stats()
    assert len(failed) == 1
    assert failed[0].record["response_id"] == poison_id
    assert reason in failed[0].reason
    assert failed[0].attempts == 1
    assert (counts.pending, counts.dead) == (0, 1)
    on_server = await server_response_ids(local_server.api_root, api_key)
    assert len(on_server) == 199
    assert poison_id not in on_server


async def test_aclose_returns_by_its_deadline_when_the_server_hangs(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault, admin: Any
) -> None:
    """aclose(timeout=2) returns within 2.5 s against a hung server; rows go out on next start."""
    hang = fault(hang=True)
    options = _options(tmp_path, api_key, local_server, timeout=60)
    async with AsyncTracker(**options) as tracker:
        results = await tracker.track_batch(_records(50))
        ids = [r.response_id for r in results]
        with anyio.fail_after(30):
            await wait_until(lambda: tracker.statistics().in_flight > 0)
        started = time.monotonic()
        await tracker.aclose(timeout=2)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"aclose(timeout=2) took {elapsed:.2f} s"
    pending, _ = await _queue_counts(tmp_path)
    assert pending == 50

    admin.remove_fault(hang)
    async with AsyncTracker(**_options(tmp_path, api_key, local_server)) as tracker:
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert await _queue_counts(tmp_path) == (0, 0)
    assert sorted(await server_response_ids(local_server.api_root, api_key)) == sorted(ids)
    assert (await server_stats(local_server.url, key_id(api_key)))["accepted"] == 50


@pytest.mark.parametrize("cause", ["fault", "unknown_key"])
async def test_401_pauses_delivery_and_keeps_the_rows(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault, cause: str
) -> None:
    """A 401 pauses delivery with a clear error in statistics(); the rows stay queued."""
    key = api_key
    if cause == "fault":
        fault(status=401, body={"detail": "Invalid API key"})
    else:
        key = f"sk-test-nope.{uuid.uuid4()}"  # a key the server does not know: a real 401
    async with AsyncTracker(**_options(tmp_path, key, local_server)) as tracker:
        await tracker.track_batch(_records(20))
        with anyio.fail_after(30):
            await wait_until(lambda: tracker.statistics().paused_reason is not None)
        stats = tracker.statistics()
        assert stats.last_error is not None and "HTTP 401" in stats.last_error
        assert "API key" in stats.last_error
        assert stats.paused_reason is not None and "401" in stats.paused_reason
        assert stats.paused_until is not None and stats.paused_until > time.time() + 5
        assert not await tracker.flush(timeout=0.5)  # paused: nothing goes out
        stats = tracker.statistics()
        assert (stats.delivered, stats.dead_lettered, stats.failed_requests) == (0, 0, 1)
        assert await _queue_counts(tmp_path) == (20, 0)
        started = time.monotonic()
        await tracker.aclose(timeout=2)
        assert time.monotonic() - started < 2.5
    assert await _queue_counts(tmp_path) == (20, 0)
    if cause == "fault":
        assert (await server_stats(local_server.url, key_id(key)))["requests"] == 1


async def test_413_splits_the_batch(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault
) -> None:
    """A 413 makes the worker send the batch in halves: all delivered, nothing dead-lettered."""
    fault(status=413, count=1)
    async with AsyncTracker(**_options(tmp_path, api_key, local_server)) as tracker:
        await tracker.track_batch(_records(100))
        with anyio.fail_after(30):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert (stats.delivered, stats.dead_lettered) == (100, 0)
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["requests"] >= 3  # the refused batch, then its halves
    assert (server["accepted"], server["duplicates"], server["rejected"]) == (100, 0, 0)


async def test_retry_after_pauses_delivery_until_the_given_time(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault
) -> None:
    """429 with Retry-After: 3 sets statistics().paused_until; delivery resumes after it."""
    fault(status=429, retry_after="3", count=1)
    async with AsyncTracker(**_options(tmp_path, api_key, local_server)) as tracker:
        await tracker.track(SERVICE, USAGE)
        with anyio.fail_after(30):
            await wait_until(lambda: tracker.statistics().failed_requests > 0)
        stats = tracker.statistics()
        assert stats.paused_until is not None
        assert 1.0 < stats.paused_until - time.time() <= 3.5
        assert stats.paused_reason is not None and "Retry-After" in stats.paused_reason
        with anyio.fail_after(30):
            assert await tracker.flush()
        assert time.time() >= stats.paused_until - 0.05
        assert tracker.statistics().delivered == 1
    server = await server_stats(local_server.url, key_id(api_key))
    assert (server["requests"], server["accepted"]) == (2, 1)


async def test_events_older_than_max_event_age_are_dead_lettered_as_expired(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault
) -> None:
    """A server that keeps answering 503 makes rows expire after max_event_age, with a reason."""
    fault(status=503)
    options = _options(tmp_path, api_key, local_server, max_event_age=1)
    async with AsyncTracker(**options) as tracker:
        await tracker.track_batch(_records(5))
        with anyio.fail_after(30):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert (stats.delivered, stats.dead_lettered) == (0, 5)
    assert stats.retries >= 5
    async with AsyncQueueManager(tmp_path / "queue.db") as manager:
        failed = await manager.list_failed()
    assert len(failed) == 5
    for row in failed:
        assert row.reason.startswith("expired")
        assert "HTTP 503" in row.reason
        assert row.failed_at - row.enqueued_at > 1


async def test_failed_batch_is_retried_after_its_backoff_not_its_lease(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault
) -> None:
    """An idle worker retries a failed batch after the backoff, not when its 60 s lease ends."""
    fault(status=503, count=1)
    options = _options(tmp_path, api_key, local_server, lease_seconds=60)
    async with AsyncTracker(**options) as tracker:
        await tracker.track(SERVICE, USAGE)
        with anyio.fail_after(20):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert (stats.delivered, stats.failed_requests) == (1, 1)
