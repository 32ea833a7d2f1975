"""Throughput of ``AsyncTracker.track_nowait()`` (persistent queue).

Measures: calls per second of a single task calling ``tracker.track_nowait(...)`` in a loop
(validation, encoding and buffering; it yields to the event loop every 1,000 calls, as an
application would, so the writer task commits meanwhile), and the rate at which those records
are then committed to the SQLite queue (time until ``statistics().enqueued`` reaches the total).
The delivery worker runs against an in-process sink transport. Each run uses a fresh tracker
and queue file and is warmed up first. Target: ``track_nowait`` >= 200,000 calls/s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio.lowlevel
from _common import (
    SERVICE_KEY,
    USAGE,
    Measurement,
    SinkTransport,
    now,
    run_and_report,
    run_async,
    tracker_options,
    wait_for,
    workdir,
)

from aicostmanager import AsyncTracker

NAME = "track_nowait"
_YIELD_EVERY = 1000


async def nowait_rates(tmp: Path, total: int, warmup: int) -> tuple[float, float]:
    """(calls/s of the loop, committed records/s until every record is in the queue)."""
    async with AsyncTracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        for _ in range(warmup):
            tracker.track_nowait(SERVICE_KEY, USAGE)
        await wait_for(lambda: tracker.statistics().enqueued >= warmup, 60)
        start = now()
        for index in range(total):
            tracker.track_nowait(SERVICE_KEY, USAGE)
            if index % _YIELD_EVERY == 0:
                await anyio.lowlevel.checkpoint()
        calls = now() - start
        await wait_for(lambda: tracker.statistics().enqueued >= warmup + total, 120)
        committed = now() - start
    return total / calls, total / committed


def run(args: argparse.Namespace) -> list[Measurement]:
    """Calls/s (target) and committed/s (reported)."""
    total = 20_000 if args.quick else 300_000
    calls = Measurement("track_nowait() calls", "calls/s", target=200_000.0)
    committed = Measurement("track_nowait() committed to the queue", "events/s")
    for m in (calls, committed):
        m.extra = {"events_per_run": total}
    for index in range(args.repeat):
        with workdir() as tmp:
            call_rate, commit_rate = run_async(nowait_rates(tmp, total, warmup=5_000))
        calls.values.append(call_rate)
        committed.values.append(commit_rate)
        print(
            f"  run {index + 1}/{args.repeat}: {call_rate:,.0f} calls/s, "
            f"{commit_rate:,.0f} committed/s"
        )
    return [calls, committed]


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
