"""``aicostmanager demo --serve``: the demo's server stays up with its dashboard."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx


def test_demo_serve_prints_a_working_dashboard_address() -> None:
    """The printed URL and key sign in to a dashboard whose totals cover the demo's events."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aicostmanager.cli", "demo", "--events", "300", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        url = key = None
        deadline = time.monotonic() + 90
        lines = []
        while time.monotonic() < deadline and key is None:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if m := re.match(r"dashboard: (http://127\.0\.0\.1:\d+)/", line):
                url = m.group(1)
            if m := re.match(r"sign in with the API key: (\S+)", line):
                key = m.group(1)
        assert url and key, "".join(lines)
        with httpx.Client(base_url=url, timeout=30) as browser:
            assert browser.post("/dashboard/login", json={"api_key": key}).status_code == 204
            summary = browser.get("/api/v1/spend/summary/", params={"start_date": "2000-01-01"})
            assert summary.status_code == 200
            assert summary.json()["events"] == 300
            assert float(summary.json()["total"]) > 0
            limits = browser.get("/api/v1/usage-limits/progress/").json()
            assert len(limits) == 2
            assert browser.get("/").status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
