"""After a short outage delivery resumes within seconds, without hammering the server meanwhile."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from aicostmanager import APIConnectionError, APITimeoutError, AsyncTracker
from aicostmanager._backoff import MIN_RETRY_DELAY, PROBE_INTERVAL, probe_interval
from aicostmanager._delivery._classify import Action, classify

from .conftest import AddFault
from .resilience_helpers import SERVICE, USAGE, persistent_options, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _common import new_api_key
from _outage import ServerProcess

OUTAGE = 6.0  # seconds the server stays down


async def test_delivery_resumes_within_seconds_of_the_server_return(tmp_path: Path) -> None:
    """A 6 s outage (kill -9) ends in delivery within seconds, at <= ~1 request/s while down."""
    key = new_api_key()
    server = ServerProcess(tmp_path / "server.db", key)
    await anyio.to_thread.run_sync(server.start)
    try:
        # The default backoff (0.5 s doubling to 60 s) is the one that used to stall.
        options = persistent_options(
            tmp_path, key, server.url, backoff_base=0.5, backoff_max=60.0, timeout=5
        )
        async with AsyncTracker(**options) as tracker:
            await tracker.track(SERVICE, USAGE)
            with anyio.fail_after(30):
                assert await tracker.flush()
            await anyio.to_thread.run_sync(server.kill)
            await tracker.track(SERVICE, USAGE)
            tracked = 2
            with anyio.fail_after(30):
                await wait_until(lambda: tracker.statistics().failed_requests > 0)
            first_failure = time.monotonic()
            failed_before = tracker.statistics().failed_requests
            # The outage is the scenario: keep tracking through it.
            while time.monotonic() - first_failure < OUTAGE:
                await tracker.track(SERVICE, USAGE)
                tracked += 1
                await anyio.sleep(0.05)
            down = tracker.statistics()
            requests_while_down = down.failed_requests - failed_before
            assert down.delivered == 1
            assert down.paused_reason is not None and "unreachable" in down.paused_reason
            await anyio.to_thread.run_sync(server.start)
            # No flush(): the worker must find out by itself that the server is back.
            with anyio.fail_after(15):
                await wait_until(lambda: tracker.statistics().delivered == tracked)
        # One probe per second at most (plus the batches in flight when it went down).
        assert requests_while_down <= OUTAGE * 1.0 + 2
        stored = await anyio.to_thread.run_sync(server.response_ids)
        assert len(stored) == len(set(stored)) == tracked
    finally:
        await anyio.to_thread.run_sync(server.kill)


async def test_flush_cuts_a_backoff_pause_short(
    tracker_options: dict[str, Any], fault: AddFault
) -> None:
    """flush() after a 503 retries at once instead of sleeping out a long backoff."""
    fault(status=503, count=1)
    options = dict(tracker_options, backoff_base=600.0, backoff_max=600.0)
    async with AsyncTracker(**options) as tracker:
        await tracker.track(SERVICE, USAGE)
        with anyio.fail_after(30):
            await wait_until(lambda: tracker.statistics().failed_requests == 1)
        assert tracker.statistics().paused_reason is not None
        with anyio.fail_after(30):
            assert await tracker.flush(timeout=20)
        stats = tracker.statistics()
        assert (stats.delivered, stats.failed_requests) == (1, 1)


def test_no_answer_is_unreachable_but_a_timeout_is_not() -> None:
    """classify(): refused/reset/DNS mark the server unreachable; a timeout backs off instead."""
    refused = classify(["a"], APIConnectionError("POST /track failed: ConnectError"), None)
    timed_out = classify(["a"], APITimeoutError("POST /track timed out"), None)
    assert (refused.action, refused.unreachable) == (Action.RETRY, True)
    assert (timed_out.action, timed_out.unreachable) == (Action.RETRY, False)


def test_probe_interval_is_one_second_unless_testing(monkeypatch: pytest.MonkeyPatch) -> None:
    """probe_interval(): 1 s; AICM_TESTING_INSTANT_RETRIES=1 shortens it to the retry floor."""
    monkeypatch.delenv("AICM_TESTING_INSTANT_RETRIES", raising=False)
    assert probe_interval() == PROBE_INTERVAL == 1.0
    monkeypatch.setenv("AICM_TESTING_INSTANT_RETRIES", "1")
    assert probe_interval() == MIN_RETRY_DELAY
