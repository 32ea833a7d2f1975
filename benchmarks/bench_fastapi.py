"""Latency a FastAPI route pays for tracking: p50/p99 with ``aicm_lifespan`` vs without.

Measures: one client sends keep-alive ``POST /chat`` requests one after another to a uvicorn
process serving ``_fastapi_app.py`` (one worker, access log off) and times each answer. The
same route is served four ways, each by its own server process: ``plain`` (no aicostmanager),
``bind`` (lifespan tracker + ``AICMMiddleware`` + ``TrackerDep``, nothing tracked), ``track``
(the same + ``await tracker.track()``, committed to the SQLite queue before the answer) and
``nowait`` (``track_nowait()``). The trackers deliver to
the minimal asyncio sink (``_sink.py``) meanwhile. The four servers run side by side and the
requests go round-robin between them (one at a time), so load drift on a shared machine hits
every mode alike. Warm-up requests are not timed.
Then, without HTTP or a server, each mode's app is called in-process (``_fastapi_inproc.py``)
to show the SDK's own share, and ``AICMMiddleware`` alone is timed around a bare ASGI app.
Target: p99 with ``await track()`` within 1 ms of the plain route's p99.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import (
    Measurement,
    fmt,
    free_port,
    new_api_key,
    now,
    percentile,
    run_and_report,
    run_async,
    sink_server,
    workdir,
)

NAME = "fastapi"
MODES = ("plain", "bind", "track", "nowait")
HERE = Path(__file__).resolve().parent


def latencies(tmp: Path, sink: str, requests: int, warmup: int) -> dict[str, list[float]]:
    """Per-request latencies (ms) per mode: one server per mode, requests interleaved."""
    with contextlib.ExitStack() as stack:
        clients: dict[str, httpx.Client] = {}
        for mode in MODES:
            url = stack.enter_context(_serve(mode, tmp, sink))
            clients[mode] = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        headers = {"x-customer": "acme"}
        for client in clients.values():
            for _ in range(warmup):
                client.post("/chat", headers=headers).raise_for_status()
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        for index in range(requests):
            # Round-robin, rotating who goes first, so machine noise hits every mode alike.
            for offset in range(len(MODES)):
                mode = MODES[(index + offset) % len(MODES)]
                start = now()
                clients[mode].post("/chat", headers=headers).raise_for_status()
                times[mode].append((now() - start) * 1000)
    return times


def inproc_latencies(tmp: Path, mode: str, calls: int, warmup: int) -> list[float]:
    """Latencies (µs) of the app called in-process (``_fastapi_inproc.py``): no HTTP, no server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    env.update(
        AICM_BENCH_MODE=mode,
        AICM_API_KEY=new_api_key(),
        AICM_API_BASE="http://127.0.0.1:9",
        AICM_BATCH_INTERVAL="60",
        AICM_INI_PATH=str(tmp / f"{mode}-inproc.ini"),
        AICM_DB_PATH=str(tmp / f"{mode}-inproc.db"),
        PYTHONPATH=os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, str(HERE / "_fastapi_inproc.py"), str(calls), str(warmup)],
        env=env,
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    times: list[float] = json.loads(done.stdout)
    return times


def middleware_cost(calls: int) -> float:
    """µs per request that ``AICMMiddleware`` adds around a bare ASGI app (in-process)."""
    from aicostmanager.integrations.fastapi import AICMMiddleware

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        return None

    wrapped = AICMMiddleware(bare, customer_key=lambda request: request.headers.get("x-customer"))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/chat",
        "headers": [(b"x-customer", b"acme"), (b"content-type", b"application/json")],
        "query_string": b"",
    }

    async def measure(app: Any) -> float:
        start = now()
        for _ in range(calls):
            await app(scope, None, None)
        return (now() - start) / calls * 1e6

    async def both() -> float:
        await measure(wrapped)  # warm-up
        return await measure(wrapped) - await measure(bare)

    return float(run_async(both()))


@contextlib.contextmanager
def _serve(mode: str, tmp: Path, sink: str) -> Iterator[str]:
    """Serve ``_fastapi_app.py`` in ``mode`` until the block ends (SIGTERM: the lifespan drains)."""
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
            with workdir() as tmp:
                runs = latencies(tmp, sink, requests, warmup)
            for mode, times in runs.items():
                p50[mode].values.append(percentile(times, 0.50))
                p99[mode].values.append(percentile(times, 0.99))
                print(
                    f"  run {index + 1}/{args.repeat} {mode:<7} p50 {fmt(p50[mode].values[-1])} ms"
                    f"  p99 {fmt(p99[mode].values[-1])} ms"
                )
            for mode, m in overhead.items():
                m.values.append(p99[mode].values[-1] - p99["plain"].values[-1])
    inproc = {
        mode: Measurement(f"in-process p50 {mode}", "µs", higher_is_better=False) for mode in MODES
    }
    inproc99 = {
        mode: Measurement(f"in-process p99 {mode}", "µs", higher_is_better=False) for mode in MODES
    }
    calls = 2_000 if args.quick else 20_000
    for index in range(args.repeat):
        for mode in MODES:
            with workdir() as tmp:
                times = inproc_latencies(tmp, mode, calls, warmup=calls // 10)
            inproc[mode].values.append(percentile(times, 0.50))
            inproc99[mode].values.append(percentile(times, 0.99))
            print(
                f"  in-process run {index + 1}/{args.repeat} {mode:<7} "
                f"p50 {fmt(inproc[mode].values[-1])} µs  p99 {fmt(inproc99[mode].values[-1])} µs"
            )
    middleware = Measurement("AICMMiddleware cost per request", "µs", higher_is_better=False)
    calls = 20_000 if args.quick else 200_000
    middleware.extra = {"calls_per_run": calls}
    for _ in range(args.repeat):
        middleware.values.append(middleware_cost(calls))
    return [
        *p50.values(),
        *p99.values(),
        *overhead.values(),
        *inproc.values(),
        *inproc99.values(),
        middleware,
    ]


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
