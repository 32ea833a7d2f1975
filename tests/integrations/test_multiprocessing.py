"""Scripts: ``docs/examples/script_pool.py`` tracks from pool workers (fork and spawn) and the
parent; every event reaches the local server exactly once, with nothing closed by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aicostmanager import CostManagerClient, TrackerClosedError
from aicostmanager.integrations.pool import worker_tracker
from aicostmanager.server import LocalServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "examples" / "script_pool.py"
TASKS = 60


def _env(local_server: LocalServer, api_key: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    env.update(
        PYTHONPATH=str(ROOT),
        AICM_API_KEY=api_key,
        AICM_API_BASE=local_server.url,
        AICM_INI_PATH=str(tmp / "AICM.INI"),
        AICM_DB_PATH=str(tmp / "queue.db"),
        AICM_CLOSE_TIMEOUT="30",
    )
    env.update(extra)
    return env


def _events(local_server: LocalServer, api_key: str, tmp: Path) -> dict[str, str | None]:
    with CostManagerClient(
        aicm_api_key=api_key, aicm_api_base=local_server.url, ini_path=str(tmp / "c")
    ) as client:
        return {e.response_id: e.customer_key for e in client.iter_usage_events()}


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_pool_workers_and_parent_deliver_every_event_once(
    local_server: LocalServer, api_key: str, tmp_path: Path, admin: Any, start_method: str
) -> None:
    """Every task's event and the parent's atexit-drained one are on the server, once each."""
    env = _env(local_server, api_key, tmp_path)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--start-method", start_method, "--tasks", str(TASKS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split()
    assert len(ids) == len(set(ids)) == TASKS + 1
    expected = {rid: f"customer-{n % 5}" for n, rid in enumerate(ids[:-1])}
    expected[ids[-1]] = "parent"

    assert _events(local_server, api_key, tmp_path) == expected
    stats = admin.stats(api_key.rsplit(".", 1)[1])
    assert (stats["accepted"], stats["duplicates"]) == (TASKS + 1, 0)


_TERMINATE_MID_DRAIN = """
import multiprocessing, sys, time
import httpx
sys.path.insert(0, {examples!r})
from script_pool import task
from aicostmanager.integrations.pool import init_worker

if __name__ == "__main__":
    pool = multiprocessing.get_context({start_method!r}).Pool(2, init_worker)
    print(*pool.map(task, range({tasks})), flush=True)
    pool.close()  # the workers leave and start their drains
    deadline = time.monotonic() + 60
    while httpx.get({stats_url!r}).json()["requests"] == 0:  # a drain's POST is in flight
        assert time.monotonic() < deadline, "no worker drained"
        time.sleep(0.01)
    pool.terminate()  # SIGTERM while that POST is still waiting for its answer
    pool.join()
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_pool_workers_drain_even_when_terminated_mid_drain(
    local_server: LocalServer, api_key: str, tmp_path: Path, admin: Any, start_method: str
) -> None:
    """Only the workers' exit drains deliver, and Pool.terminate() does not cut them short."""
    key_id = api_key.rsplit(".", 1)[1]
    # Delivery is held back until the drains (batch_interval=30) and each POST takes 1 s.
    admin.add_fault(path="/track", api_key_id=key_id, latency=1.0)
    code = _TERMINATE_MID_DRAIN.format(
        examples=str(SCRIPT.parent),
        start_method=start_method,
        tasks=TASKS,
        stats_url=f"{local_server.url}/_testing/stats?api_key_id={key_id}",
    )
    env = _env(local_server, api_key, tmp_path, AICM_BATCH_INTERVAL="30")
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split()
    assert len(set(ids)) == TASKS
    assert set(_events(local_server, api_key, tmp_path)) == set(ids)


def test_worker_tracker_outside_a_pool_says_how_to_fix_it() -> None:
    """worker_tracker() without init_worker as the initializer raises a clear error."""
    with pytest.raises(TrackerClosedError, match="initializer=init_worker"):
        worker_tracker()
