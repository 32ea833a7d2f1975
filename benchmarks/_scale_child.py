"""One SDK process of ``bench_server_scale.py``: a real ``AsyncTracker`` with its own durable
queue, tracking a fixed set of events as fast as it can, then flushing.

Usage: ``AICM_API_KEY=... _scale_child.py '<json args>'`` with ``base`` (API root), ``dir``
(its queue and INI folder), ``index``, ``processes``, ``count``, ``resend`` and ``run`` (a
prefix of the response ids). Event ``n`` of process ``i`` has the response id
``{run}-{i}-{n}`` and usage, customer and timestamp derived from ``(i, n)`` alone, so any
process can re-send it identically. The process tracks its ``count - resend`` own events, then
re-sends events ``0 .. resend-1`` of the next process (``(i + 1) % processes``): the same ids
from another process, in other batches, reaching whichever worker answers. It prints
``ready`` once its tracker is open, waits for a line on stdin, then prints one JSON line:
tracked, delivered, dead-lettered, flushed, and the seconds (wall and this process's CPU)
from the go line to the flush.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from aicostmanager import AsyncTracker

SERVICES = ("openai::gpt-4o-mini", "anthropic::claude-sonnet-4-5", "openai::gpt-4o")
CUSTOMERS = 20
PRODUCERS = 20


def event(run: str, process: int, n: int, hour_start: float) -> dict[str, Any]:
    """The arguments of ``track()`` for event ``n`` of ``process`` (deterministic)."""
    seed = process * 1_000_003 + n
    service = SERVICES[seed % len(SERVICES)]
    usage = {"input_tokens": 100 + seed % 9_000, "output_tokens": 10 + seed % 1_000}
    return {
        "service_key": service,
        "usage": usage,
        "response_id": f"{run}-{process}-{n}",
        "customer_key": f"customer-{seed % CUSTOMERS:02d}",
        # Spread over one hour (the same for every process).
        "timestamp": hour_start + (seed % 3600),
    }


async def main(args: dict[str, Any]) -> dict[str, Any]:
    """Track, flush, report (see the module docstring)."""
    index, processes, count, resend = (
        args["index"],
        args["processes"],
        args["count"],
        args["resend"],
    )
    run, hour_start = args["run"], args["hour_start"]
    events = [event(run, index, n, hour_start) for n in range(count - resend)]
    events += [event(run, (index + 1) % processes, n, hour_start) for n in range(resend)]
    folder = Path(args["dir"])
    async with AsyncTracker(
        aicm_api_base=args["base"],
        ini_path=folder / "AICM.INI",
        db_path=folder / "queue.db",
        delivery_type="persistent_queue",
        timeout=60,
    ) as tracker:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        started, cpu = time.perf_counter(), time.process_time()

        async def produce(share: list[dict[str, Any]]) -> None:
            for item in share:
                await tracker.track(
                    item["service_key"],
                    item["usage"],
                    response_id=item["response_id"],
                    customer_key=item["customer_key"],
                    timestamp=item["timestamp"],
                )

        await asyncio.gather(*(produce(events[p::PRODUCERS]) for p in range(PRODUCERS)))
        flushed = await tracker.flush(timeout=args.get("flush_timeout", 900))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        stats = tracker.statistics()
    return {
        "tracked": len(events),
        "delivered": stats.delivered,
        "dead_lettered": stats.dead_lettered,
        "flushed": bool(flushed),
        "elapsed": elapsed,
        "cpu": cpu,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
