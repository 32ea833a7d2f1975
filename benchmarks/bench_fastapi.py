"""Latency a FastAPI route pays for tracking: p50/p99 with ``aicm_lifespan`` vs without.

Measures: one client sends keep-alive ``POST /chat`` requests one after another to a uvicorn
process serving ``_fastapi_app.py`` (one worker, access log off) and times each answer. The
same route is served four ways, each in a fresh server process: ``plain`` (no aicostmanager),
``bind`` (lifespan tracker + ``AICMMiddleware`` + ``TrackerDep``, nothing tracked), ``track``
(the same + ``await tracker.track()``, committed to the SQLite queue before the answer) and
``nowait`` (``track_nowait()``). The trackers deliver to
the minimal asyncio sink (``_sink.py``) meanwhile. Modes alternate within each repeat, so load
drift hits all of them alike. Warm-up requests are not timed.
Target: p99 with ``await track()`` within 1 ms of the plain route's p99.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from _common import (
    Measurement,
    fmt,
    free_port,
    new_api_key,
    now,
    parse_args,
    percentile,
    print_header,
    report,
    sink_server,
    workdir,
)

NAME = "fastapi"
MODES = ("plain", "bind", "track", "nowait")
HERE = Path(__file__).resolve().parent


def latencies(tmp: Path, sink: str, mode: str, requests: int, warmup: int) -> list[float]:
    """Per-request latencies (ms) of ``requests`` sequential POSTs to a fresh server."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    env.update(
        AICM_BENCH_MODE=mode,
        AICM_API_KEY=new_api_key(),
        AICM_API_BASE=sink,
        AICM_INI_PATH=str(tmp / f"{mode}.ini"),
        AICM_DB_PATH=str(tmp / f"{mode}.db"),
        PYTHONPATH=os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")]),
    )
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "_fastapi_app:app"]
    cmd += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    with _serve(cmd, env, port) as url, httpx.Client(base_url=url, timeout=30) as client:
        headers = {"x-customer": "acme"}
        for _ in range(warmup):
            client.post("/chat", headers=headers).raise_for_status()
        times: list[float] = []
        for _ in range(requests):
            start = now()
            client.post("/chat", headers=headers).raise_for_status()
            times.append((now() - start) * 1000)
    return times


@contextlib.contextmanager
def _serve(cmd: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Run the server until the block ends; SIGTERM lets its lifespan drain."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with {proc.returncode} before listening")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the app is not listening after 60 s") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(args: argparse.Namespace) -> list[Measurement]:
    """p50/p99 per mode, and the p99 overhead of tracking, per repeat."""
    requests = 500 if args.quick else 5_000
    warmup = 100 if args.quick else 500
    p50 = {mode: Measurement(f"p50 {mode}", "ms", higher_is_better=False) for mode in MODES}
    p99 = {mode: Measurement(f"p99 {mode}", "ms", higher_is_better=False) for mode in MODES}
    overhead = {
        "bind": Measurement("p99 overhead lifespan+middleware", "ms", higher_is_better=False),
        "track": Measurement(
            "p99 overhead await track()", "ms", target=1.0, higher_is_better=False
        ),
        "nowait": Measurement("p99 overhead track_nowait()", "ms", higher_is_better=False),
    }
    for m in (*p50.values(), *p99.values(), *overhead.values()):
        m.extra = {"requests_per_run": requests, "warmup": warmup}
    with sink_server() as sink:
        for index in range(args.repeat):
            for mode in MODES:
                with workdir() as tmp:
                    times = latencies(tmp, sink, mode, requests, warmup)
                p50[mode].values.append(percentile(times, 0.50))
                p99[mode].values.append(percentile(times, 0.99))
                print(
                    f"  run {index + 1}/{args.repeat} {mode:<7} p50 {fmt(p50[mode].values[-1])} ms"
                    f"  p99 {fmt(p99[mode].values[-1])} ms"
                )
            for mode, m in overhead.items():
                m.values.append(p99[mode].values[-1] - p99["plain"].values[-1])
    return [*p50.values(), *p99.values(), *overhead.values()]


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    args = parse_args(__doc__, argv)
    info = print_header(NAME, __doc__)
    measurements = run(args)
    report(NAME, measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
