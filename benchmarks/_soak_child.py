"""One producer of the outage soak: track at a steady rate, watch delivery, flush, report.

Usage: ``AICM_API_KEY=... _soak_child.py BASE_URL QUEUE_FILE OUT_JSON DURATION RATE``.
Writes ``{"committed", "delivered_at", "failures", "flushed", "rss_start", "rss_end"}`` to
OUT_JSON: the ids whose ``track()`` returned, the times ``statistics().delivered`` grew, the
``(time, failed_requests)`` changes, and the resident memory before and after.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from aicostmanager import AsyncTracker


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def main(base_url: str, queue_file: str, duration: float, rate: float) -> dict[str, Any]:
    """Track ``rate`` events a second for ``duration`` seconds, then flush and report."""
    committed: list[str] = []
    delivered_at: list[float] = []
    failures: list[tuple[float, int]] = []
    rss_start = _rss()
    async with AsyncTracker(
        aicm_api_base=base_url,
        ini_path=Path(queue_file).with_name("AICM.INI"),
        db_path=queue_file,
        delivery_type="persistent_queue",
        timeout=10,
    ) as tracker:
        done = anyio.Event()

        async def watch() -> None:
            delivered, failed = 0, 0
            while not done.is_set():
                stats = tracker.statistics()
                now = time.time()
                if stats.delivered > delivered:
                    delivered_at.append(now)
                    delivered = stats.delivered
                if stats.failed_requests != failed:
                    failed = stats.failed_requests
                    failures.append((now, failed))
                await anyio.sleep(0.05)

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            start = time.monotonic()
            sent = 0
            while (elapsed := time.monotonic() - start) < duration:
                while sent < elapsed * rate:
                    result = await tracker.track(
                        "openai::gpt-5-mini", {"input_tokens": sent, "output_tokens": 1}
                    )
                    committed.append(result.response_id)
                    sent += 1
                await anyio.sleep(0.02)
            flushed = await tracker.flush(timeout=120)
            done.set()
    return {
        "committed": committed,
        "delivered_at": delivered_at,
        "failures": failures,
        "flushed": flushed,
        "rss_start": rss_start,
        "rss_end": _rss(),
    }


if __name__ == "__main__":
    base, queue, out_path, seconds, per_second = sys.argv[1:6]
    report = anyio.run(main, base, queue, float(seconds), float(per_second))
    Path(out_path).write_text(json.dumps(report))
