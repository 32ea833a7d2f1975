"""``aicostmanager demo --api-base``: one clear line and exit 1 when the server cannot be used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from aicostmanager.server import LocalServer

from .conftest import key_id

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _outage import free_port


def _demo(*args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    if key is not None:
        env["AICM_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "aicostmanager.cli", "demo", "--events", "200", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def test_demo_against_a_server_that_is_down_fails_in_one_line() -> None:
    """Nothing listening: exit 1 and one line saying the server cannot be reached."""
    done = _demo("--api-base", f"http://127.0.0.1:{free_port()}", key="sk-test-x.y")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "cannot reach the server" in done.stderr
    assert "Traceback" not in done.stderr and "stays queued" not in done.stderr


def test_demo_with_a_wrong_key_says_so(local_server: LocalServer) -> None:
    """A key the server does not know: exit 1, 'refused the API key', the key not shown."""
    wrong = "sk-test-0123456789abcdef.00000000-0000-0000-0000-000000000000"
    done = _demo("--api-base", local_server.url, "--api-key", wrong)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "refused the API key" in done.stderr
    assert wrong not in done.stderr


def test_demo_without_a_key_says_so(local_server: LocalServer) -> None:
    """--api-base without --api-key or AICM_API_KEY: exit 1 with the reason."""
    done = _demo("--api-base", local_server.url)
    assert (done.returncode, done.stderr.strip()) == (
        1,
        "aicostmanager demo: --api-base needs --api-key or AICM_API_KEY",
    )


def test_demo_accepts_the_api_root_that_serve_prints(
    local_server: LocalServer, api_key: str
) -> None:
    """`--api-base http://host:port/api/v1` is the same server: the demo delivers everything."""
    done = _demo("--api-base", local_server.api_root, key=api_key)
    assert done.returncode == 0, done.stderr
    assert "delivered 200" in done.stderr
    assert key_id(api_key) not in done.stdout
