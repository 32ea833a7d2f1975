"""Throughput of the blocking ``Tracker.track()`` (persistent queue), 1 and 4 threads.

Measures: calls per second of ``tracker.track(...)`` from plain threads. Each call validates
and encodes the record in the caller's thread, then waits (through the process's blocking
portal) until the record is committed to the SQLite queue. The delivery worker runs against
an in-process sink transport. Each run uses a fresh tracker and queue file, warmed up first.
Target: one thread >= 5,000 calls/s (4 threads reported).
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from _common import (
    SERVICE_KEY,
    USAGE,
    Measurement,
    SinkTransport,
    now,
    run_and_report,
    tracker_options,
    workdir,
)

from aicostmanager import Tracker

NAME = "track_sync"


def sync_rate(tmp: Path, threads: int, total: int, warmup: int) -> float:
    """Calls/s of ``threads`` threads sharing ``total`` blocking tracks."""
    per_thread = total // threads
    with Tracker(**tracker_options(tmp, transport=SinkTransport())) as tracker:
        for _ in range(warmup):
            tracker.track(SERVICE_KEY, USAGE)

        def produce() -> None:
            for _ in range(per_thread):
                tracker.track(SERVICE_KEY, USAGE)

        workers = [threading.Thread(target=produce) for _ in range(threads)]
        start = now()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = now() - start
    return per_thread * threads / elapsed


def run(args: argparse.Namespace) -> list[Measurement]:
    """One measurement per thread count."""
    total = 2_000 if args.quick else 15_000
    results = []
    for threads, target in ((1, 5_000.0), (4, None)):
        m = Measurement(f"Tracker.track() x{threads} threads", "events/s", target=target)
        m.extra = {"events_per_run": total}
        for index in range(args.repeat):
            with workdir() as tmp:
                value = sync_rate(tmp, threads, total, warmup=1_000)
            m.values.append(value)
            print(f"  {m.name} run {index + 1}/{args.repeat}: {value:,.0f} {m.unit}")
        results.append(m)
    return results


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
