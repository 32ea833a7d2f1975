"""Child process of ``bench_peer_sdk.py``: times ``track()`` with whichever SDK is importable.

Run with the interpreter of the venv to measure (ours: the project's ``.venv``; the published
0.3.2: ``/tmp/peer``): ``python _sdk_child.py '<json args>'``. Standard library only besides
the SDK, so it runs in either venv. Delivery goes over real HTTP to ``args['base']`` (a sink or
server in another process) while the calls are timed. Prints one JSON line: rate (calls/s),
p50 and p99 (seconds) of one call, CPU seconds per call (the whole process, every thread: the
SDK's background commit and delivery included), and the CPU model.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
from typing import Any

SERVICE_KEY = "openai::gpt-4o-mini"
USAGE = {"input_tokens": 120, "output_tokens": 48}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _figures(latencies: list[float], elapsed: float, cpu: float) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "rate": len(latencies) / elapsed,
        "cpu_per_call": cpu / len(latencies),
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def _timed_sync(track: Any, count: int, warmup: int) -> dict[str, Any]:
    for _ in range(warmup):
        track(SERVICE_KEY, USAGE)
    latencies = []
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(count):
        t = time.perf_counter()
        track(SERVICE_KEY, USAGE)
        latencies.append(time.perf_counter() - t)
    return _figures(latencies, time.perf_counter() - start, time.process_time() - cpu)


async def _timed_async(track: Any, count: int, warmup: int, producers: int) -> dict[str, Any]:
    """``producers`` tasks share ``count`` awaited calls (after ``warmup`` untimed ones)."""
    latencies: list[float] = []

    async def produce(calls: int, timed: bool) -> None:
        for _ in range(calls):
            t = time.perf_counter()
            await track(SERVICE_KEY, USAGE)
            if timed:
                latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(produce(max(1, warmup // producers), False) for _ in range(producers)))
    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(produce(count // producers, True) for _ in range(producers)))
    return _figures(latencies, time.perf_counter() - start, time.process_time() - cpu)


def main(args: dict[str, Any]) -> dict[str, Any]:
    """Time ``args['api']`` (``sync`` or ``async``, ``args['producers']`` tasks) in ``mode``."""
    import aicostmanager

    version = getattr(aicostmanager, "__version__", "?")
    tmp, mode, api = args["tmp"], args["mode"], args["api"]
    count, warmup, producers = args["count"], args["warmup"], args.get("producers", 1)
    os.environ["AICM_API_BASE"] = args["base"]
    os.environ["AICM_DB_PATH"] = f"{tmp}/queue.db"
    options = {"aicm_api_key": args["key"], "ini_path": f"{tmp}/AICM.INI", "delivery_type": mode}
    if version.startswith("0.3"):
        tracker = aicostmanager.Tracker(**options)
        if api == "sync":
            result = _timed_sync(tracker.track, count, warmup)
        else:  # 0.3.2's track_async is asyncio.to_thread(track)
            result = asyncio.run(_timed_async(tracker.track_async, count, warmup, producers))
    elif api == "sync":
        tracker = aicostmanager.Tracker(**options, db_path=f"{tmp}/queue.db")
        result = _timed_sync(tracker.track, count, warmup)
    else:

        async def run() -> dict[str, Any]:
            options["db_path"] = f"{tmp}/queue.db"
            async with aicostmanager.AsyncTracker(**options) as tracker:
                return await _timed_async(tracker.track, count, warmup, producers)

        result = asyncio.run(run())
    result["version"] = version
    result["cpu_model"] = _cpu_model()
    return result


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
    # Do not wait for background delivery threads: only the timed calls matter here.
    os._exit(0)
