"""Throughput of ``await AsyncTracker.track()`` with the persistent queue (1, 10, 100 producers).

Measures: events per second that N concurrent asyncio tasks get through
``await tracker.track(...)``, each call returning only once its record is committed to the
SQLite queue (group commit). The delivery worker runs meanwhile against an in-process sink
transport (one ``queued`` result per record, like the server), so commits compete with claims
and deletes as in real use. Each run uses a fresh tracker and queue file and is warmed up
(untimed tracks) first. These are the in-process figures; ``bench_peer_sdk.py`` takes the
headline ones with delivery over real HTTP to a sink in another process.
Targets: 100 producers >= 50,000/s; 1 producer (awaiting each call) >= 5,000/s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio
from _common import (
    SERVICE_KEY,
    USAGE,
    Measurement,
    SinkTransport,
    now,
    run_and_report,
    run_async,
    tracker_options,
    workdir,
)

from aicostmanager import AsyncTracker

NAME = "track_async"


async def track_rate(tmp: Path, producers: int, total: int, warmup: int) -> float:
    """Events/s for ``producers`` tasks sharing ``total`` awaited tracks on one tracker."""
    per_task = total // producers
    options = tracker_options(tmp, transport=SinkTransport())
    async with AsyncTracker(**options) as tracker:

        async def produce(count: int) -> None:
            for _ in range(count):
                await tracker.track(SERVICE_KEY, USAGE)

        async with anyio.create_task_group() as tg:
            for _ in range(producers):
                tg.start_soon(produce, max(1, warmup // producers))
        start = now()
        async with anyio.create_task_group() as tg:
            for _ in range(producers):
                tg.start_soon(produce, per_task)
        elapsed = now() - start
        stats = tracker.statistics()
    assert stats.dropped == 0, stats
    return per_task * producers / elapsed


def run(args: argparse.Namespace) -> list[Measurement]:
    """One measurement per producer count."""
    plan = (
        # producers, events per run, target
        (1, 2_000 if args.quick else 20_000, 5_000.0),
        (10, 5_000 if args.quick else 50_000, None),
        (100, 20_000 if args.quick else 200_000, 50_000.0),
    )
    results: list[Measurement] = []
    for producers, total, target in plan:
        m = Measurement(f"await track() x{producers} producers", "events/s", target=target)
        m.extra = {"events_per_run": total}
        for index in range(args.repeat):
            with workdir() as tmp:
                value = run_async(track_rate(tmp, producers, total, warmup=min(total // 10, 5000)))
            m.values.append(value)
            print(f"  {m.name} run {index + 1}/{args.repeat}: {value:,.0f} {m.unit}")
        results.append(m)
    return results


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
