"""The blocking shim: same behaviour as the async core, fork-safe, drained at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from aicostmanager import AsyncTracker, Tracker, TrackerClosedError
from aicostmanager._portal import get_portal

from .conftest import key_id

SCRIPTS = Path(__file__).parent / "_scripts"


def _response_ids(api_root: str, api_key: str) -> list[str]:
    ids: list[str] = []
    url: str | None = f"{api_root}/usage/events/?limit=200"
    with httpx.Client(headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as http:
        while url:
            page = http.get(url).raise_for_status().json()
            ids += [event["response_id"] for event in page["results"]]
            url = page["next"]
    return ids


def test_sync_track_flush_and_statistics(
    tracker_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """Tracker.track commits, flush delivers, statistics count; the scope applies per thread."""
    with Tracker(**tracker_options) as tracker:
        with tracker.scope(customer_key="acme"):
            first = tracker.track("openai::gpt-5-mini", {"input_tokens": 10, "output_tokens": 20})
        assert first.status == "queued"
        batch = tracker.track_batch(
            [{"service_key": "openai::gpt-4o", "usage": {"prompt_tokens": 5}}] * 5
        )
        assert len(batch) == 5
        tracker.track_nowait("anthropic::claude-sonnet-4", {"input_tokens": 3, "output_tokens": 4})
        assert tracker.flush(timeout=30)
        stats = tracker.statistics()
        assert stats.delivered == stats.enqueued == 7
    assert admin.stats(key_id(api_key))["accepted"] == 7
    with pytest.raises(TrackerClosedError):
        tracker.track("openai::gpt-5-mini", {"input_tokens": 1})


def test_immediate_sync_returns_the_servers_outcome(tracker_options: dict[str, Any]) -> None:
    """In immediate mode the sync call returns the server's status and cost events."""
    options = {**tracker_options, "delivery_type": "immediate"}
    with Tracker(**options) as tracker:
        result = tracker.track("openai::gpt-5-mini", {"input_tokens": 1000, "output_tokens": 10})
        unknown = tracker.track("acme::no-such-model", {"units": 1})
    assert result.status == "completed" and result.delivered and result.cost_events
    assert unknown.status == "service_key_unknown" and unknown.errors


def test_threads_share_one_tracker(
    tracker_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """Eight threads tracking through one Tracker: every record delivered once."""
    with Tracker(**tracker_options) as tracker:

        def work(worker: int) -> None:
            for index in range(50):
                tracker.track(
                    "openai::gpt-5-mini", {"input_tokens": index}, customer_key=f"c{worker}"
                )

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert tracker.flush(timeout=60)
    assert admin.stats(key_id(api_key))["accepted"] == 400


def test_calling_the_shim_from_its_own_loop_is_a_clear_error(
    tracker_options: dict[str, Any],
) -> None:
    """Blocking calls from the SDK's own event loop raise instead of deadlocking."""
    with Tracker(**tracker_options) as tracker:

        async def inside() -> str:
            try:
                tracker.flush(timeout=1)
            except RuntimeError as exc:
                return str(exc)
            return "no error"

        message = get_portal().call(inside)
    assert "async API" in message


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_tracker_survives_fork(
    tracker_options: dict[str, Any], local_server: Any, api_key: str
) -> None:
    """A forked child gets a working tracker of its own; the parent's keeps working."""
    with Tracker(**tracker_options) as tracker:
        tracker.track("openai::gpt-5-mini", {"input_tokens": 1}, response_id="parent-1")
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:
                tracker.track("openai::gpt-5-mini", {"input_tokens": 2}, response_id="child-1")
                code = 0 if tracker.flush(timeout=30) else 2
                tracker.close(timeout=5)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        tracker.track("openai::gpt-5-mini", {"input_tokens": 3}, response_id="parent-2")
        assert tracker.flush(timeout=30)
    ids = set(_response_ids(local_server.api_root, api_key))
    assert {"parent-1", "parent-2", "child-1"} <= ids


def test_exit_without_close_drains(
    tracker_options: dict[str, Any], local_server: Any, api_key: str, tmp_path: Path
) -> None:
    """A script that never closes its Tracker still delivers its records at exit."""
    env = {**os.environ, "AICM_API_KEY": api_key}
    out = subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "atexit_producer.py"),
            local_server.url,
            str(tmp_path / "AICM.INI"),
            str(tmp_path / "child.db"),
            "200",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tracked"
    ids = set(_response_ids(local_server.api_root, api_key))
    assert {f"atexit-{i}" for i in range(200)} <= ids


async def test_async_tracker_requires_start(tracker_options: dict[str, Any]) -> None:
    """Tracking before `async with` is a clear error, and a tracker starts only once."""
    tracker = AsyncTracker(**tracker_options)
    with pytest.raises(TrackerClosedError, match="async with"):
        await tracker.track("openai::gpt-5-mini", {"input_tokens": 1})
    async with tracker:
        pass
    with pytest.raises(TrackerClosedError):
        async with tracker:
            pass
    with anyio.fail_after(1):
        await tracker.aclose()
