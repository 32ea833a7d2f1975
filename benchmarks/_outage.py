"""Outages on demand: the local server as a subprocess that can be killed and brought back.

Used by ``bench_outage_soak.py`` and by ``tests/core/test_outage_resume.py`` /
``test_outage_soak.py`` (which put this directory on ``sys.path``). ``soak()`` runs N
producer processes sharing one queue file while the server is killed every ``period`` seconds
and comes back ``down_min``..``down_max`` seconds later, then checks every committed event
arrived once and reports how fast delivery resumed after each return.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import new_api_key

CHILD = Path(__file__).resolve().parent / "_soak_child.py"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``aicostmanager serve --testing`` in a subprocess, on a fixed port and database."""

    def __init__(self, db_path: Path, api_key: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_root = f"{self.url}/api/v1"
        self._db = db_path
        self._key = api_key
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = db_path.with_suffix(".log")

    def start(self, deadline: float = 60.0) -> float:
        """Start the server and wait until it answers; returns the time (epoch) it did.

        Raises:
            RuntimeError: it exited or did not answer within ``deadline`` seconds.
        """
        command = [
            sys.executable,
            "-m",
            "aicostmanager.cli",
            "serve",
            "--testing",
            "--port",
            str(self.port),
            "--db",
            str(self._db),
            "--api-key",
            self._key,
        ]
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(command, stdout=log, stderr=log)
        limit = time.monotonic() + deadline
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < limit:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"the server exited: see {self._log}")
                try:
                    client.get(f"{self.url}/_testing/stats")
                except httpx.TransportError:
                    time.sleep(0.02)
                    continue
                return time.time()
        raise RuntimeError(f"the server did not answer within {deadline} s: see {self._log}")

    def kill(self) -> float:
        """``kill -9`` the server; returns the time (epoch) it was gone."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
            self._proc = None
        return time.time()

    def stats(self) -> dict[str, int]:
        """The server's ``/track`` counters (testing API)."""
        response = httpx.get(f"{self.url}/_testing/stats", timeout=30)
        data: dict[str, int] = response.raise_for_status().json()
        return data

    def response_ids(self) -> list[str]:
        """Every stored event's ``response_id`` (an event stored twice shows twice)."""
        ids: list[str] = []
        headers = {"Authorization": f"Bearer {self._key}"}
        with httpx.Client(base_url=self.api_root, headers=headers, timeout=60) as client:
            # Pages follow ``next`` (a cursor): a plain offset may be at most 10,000.
            url: str | None = "/usage/events/?limit=1000"
            while url:
                data = client.get(url).raise_for_status().json()
                ids.extend(e["response_id"] for e in data["results"] if e["status"] != "error")
                url = data.get("next") if data["results"] else None
            return ids


@dataclass
class SoakResult:
    """What a soak measured (seconds, counts, bytes)."""

    duration: float
    processes: int
    outages: list[tuple[float, float]] = field(default_factory=list)  # (down, up) epochs
    committed: int = 0
    stored: int = 0
    lost: int = 0
    duplicates: int = 0
    resume: list[float] = field(default_factory=list)  # per (process, outage)
    not_resumed: int = 0  # (process, outage) pairs with no delivery before the next kill
    requests_per_second_down: list[float] = field(default_factory=list)  # per (process, outage)
    rss_start: list[int] = field(default_factory=list)
    rss_end: list[int] = field(default_factory=list)
    flushed: bool = True

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "duration_s": self.duration,
            "processes": self.processes,
            "outages": len(self.outages),
            "committed": self.committed,
            "stored": self.stored,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "resume_s": sorted(self.resume),
            "not_resumed": self.not_resumed,
            "max_requests_per_second_down": max(self.requests_per_second_down, default=0.0),
            "rss_start": self.rss_start,
            "rss_end": self.rss_end,
            "flushed": self.flushed,
        }


def soak(
    workdir: Path,
    *,
    duration: float,
    processes: int = 4,
    rate: float = 50.0,
    period: float = 30.0,
    down_min: float = 3.0,
    down_max: float = 8.0,
    seed: int = 1,
) -> SoakResult:
    """Run the soak in ``workdir``; every producer tracks ``rate`` events a second.

    The server is killed ``period`` seconds after each return (the first time ``period``
    seconds after the start) and started again on the same port and database
    ``down_min``..``down_max`` seconds later.
    """
    rng = random.Random(seed)
    key = new_api_key()
    server = ServerProcess(workdir / "server.db", key)
    server.start()
    env = {**os.environ, "AICM_API_KEY": key}
    children = []
    for index in range(processes):
        out = workdir / f"child{index}.json"
        command = [
            sys.executable,
            str(CHILD),
            server.url,
            str(workdir / "queue.db"),
            str(out),
            str(duration),
            str(rate),
        ]
        err = (workdir / f"child{index}.err").open("wb")
        children.append((subprocess.Popen(command, env=env, stderr=err), out, err))
    result = SoakResult(duration=duration, processes=processes)
    started = time.monotonic()
    try:
        # The last outage must end, with time to deliver after it, before the producers stop.
        while time.monotonic() - started + period + down_max + 5.0 < duration:
            time.sleep(period)
            down = server.kill()
            time.sleep(rng.uniform(down_min, down_max))
            up = server.start()
            result.outages.append((down, up))
        for proc, _, err in children:
            proc.wait(timeout=duration + 300)
            err.close()
        reports = [json.loads(out.read_text()) for _, out, _ in children]
        _measure(result, reports, server)
    finally:
        for proc, _, err in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err.close()
        server.kill()
    return result


def _measure(result: SoakResult, reports: list[dict[str, Any]], server: ServerProcess) -> None:
    committed: list[str] = []
    for report in reports:
        committed.extend(report["committed"])
        result.flushed &= bool(report["flushed"])
        result.rss_start.append(int(report["rss_start"]))
        result.rss_end.append(int(report["rss_end"]))
        delivered_at: list[float] = report["delivered_at"]
        failures: list[tuple[float, int]] = report["failures"]
        for index, (down, up) in enumerate(result.outages):
            next_down = (
                result.outages[index + 1][0] if index + 1 < len(result.outages) else float("inf")
            )
            after = [t for t in delivered_at if up <= t < next_down]
            if after:
                result.resume.append(min(after) - up)
            else:
                result.not_resumed += 1
            # Requests while down: failures counted from 1 s after the kill (the batches in
            # flight at the kill fail at once) until the return.
            window = [n for t, n in failures if down + 1.0 <= t <= up]
            if len(window) >= 2 and up - down > 1.0:
                result.requests_per_second_down.append((window[-1] - window[0]) / (up - down - 1))
    stored = server.response_ids()
    result.committed = len(committed)
    result.stored = len(stored)
    result.lost = len(set(committed) - set(stored))
    result.duplicates = len(stored) - len(set(stored))
