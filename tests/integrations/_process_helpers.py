"""Helpers of the Django/Celery integration tests: child processes, ports, server queries."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
SERVICE = "openai::gpt-5-mini"


def child_env(api_key: str, base_url: str, tmp: Path, *paths: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: this source tree first, AICM_* pointed at tmp."""
    # DJANGO_SETTINGS_MODULE (set by test_django) would turn on Celery's Django fix-up.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AICM_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), *map(str, paths)]),
        AICM_API_KEY=api_key,
        AICM_API_BASE=base_url,
        AICM_DB_PATH=str(tmp / "queue.db"),
        AICM_INI_PATH=str(tmp / "AICM.INI"),
        AICM_BACKOFF_BASE="0.05",
        AICM_BACKOFF_MAX="0.5",
        AICM_BATCH_INTERVAL="0.01",
        AICM_LEASE_SECONDS="5",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so the whole group can be signalled)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_group(
    proc: subprocess.Popen[bytes],
    sig: int = signal.SIGTERM,
    timeout: float = 20,
    group: bool = True,
) -> int:
    """Send ``sig`` to the process group (or its leader), wait for the leader, then SIGKILL
    the group (at once if the leader hangs)."""
    try:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(10)
    finally:
        # Children that outlive the leader (a killed reloader parent) go too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(condition: Any, timeout: float, what: str, proc: Any = None, log: Any = None) -> Any:
    """Poll ``condition()`` until truthy, failing after ``timeout`` s or if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None else ""
            raise AssertionError(f"process exited ({proc.returncode}) waiting for {what}\n{tail}")
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log is not None else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.05)


def events(api_root: str, api_key: str) -> list[dict[str, Any]]:
    """Every event the server stored for this key's team (refused records left out)."""
    found: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=api_root, headers=headers, timeout=30) as client:
        while True:
            params = {"limit": 500, "offset": len(found)}
            page = client.get("/usage/events/", params=params).raise_for_status().json()
            found.extend(page["results"])
            if not page["results"] or len(found) >= page["count"]:
                return [e for e in found if e["status"] != "error"]


def event_count(api_root: str, api_key: str) -> int:
    """How many events the server stored for this key's team (one cheap request)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    response = httpx.get(
        f"{api_root}/usage/events/", params={"limit": 1}, headers=headers, timeout=30
    )
    count: int = response.raise_for_status().json()["count"]
    return count
