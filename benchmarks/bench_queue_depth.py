"""Enqueue cost with 1,000,000 records queued vs an empty queue, and RSS with that backlog.

Measures: the cost of ``await tracker.track()`` (one producer awaiting each call, and 100
concurrent producers) on an empty queue file and on one already holding 1,000,000 due records
of the same API key, while the API is unreachable (connection refused), which is how such a
backlog forms; the delivery worker keeps claiming and rescheduling batches meanwhile.
A second deep phase runs a tracker with *another* API key on the same 1M-row file (several
trackers sharing one file): its worker has nothing to claim, so only the depth itself differs.
The 1M-row file is filled once, directly through ``DurableQueue.append`` (5,000 rows per
transaction), and copied afresh for each phase (a phase reschedules rows). Each phase runs
in a fresh subprocess (so RSS belongs to that tracker alone): open the tracker, warm up
(2,000 calls or 0.5 s), track for a fixed time per mode, then read RSS (psutil) and peak RSS
(``ru_maxrss``); the tracker closes with a 0.5 s deadline (the API is down).
Targets: mean cost at 1M / mean cost empty <= 1.3; RSS with the 1M backlog <= 100 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
from _common import (
    SERVICE_KEY,
    USAGE,
    Measurement,
    fill_queue,
    new_api_key,
    now,
    percentile,
    run_and_report,
    run_async,
    tracker_options,
    unreachable_base,
    workdir,
)

from aicostmanager import AsyncTracker

NAME = "queue_depth"
_MB = 1024 * 1024


async def child(queue: Path, key: str, seconds: float) -> dict[str, float]:
    """Track against ``queue`` for ``seconds`` (per mode); return costs and memory."""
    import psutil

    tmp = queue.parent
    options = tracker_options(
        tmp, api_base=unreachable_base(), aicm_api_key=key, db_path=queue, close_timeout=0.5
    )
    async with AsyncTracker(**options) as tracker:
        pending_at_start = tracker.statistics().pending
        warm_until = now() + 0.5
        for _ in range(2000):
            await tracker.track(SERVICE_KEY, USAGE)
            if now() > warm_until:
                break
        latencies: list[float] = []
        deadline = now() + seconds
        while now() < deadline:
            start = now()
            await tracker.track(SERVICE_KEY, USAGE)
            latencies.append(now() - start)
        count = 0
        end = now() + seconds

        async def produce() -> None:
            nonlocal count
            while now() < end:
                await tracker.track(SERVICE_KEY, USAGE)
                count += 1

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(produce)
        rate100 = count / seconds
        rss = psutil.Process().memory_info().rss
        stats = tracker.statistics()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {
        "pending_at_start": pending_at_start,
        "mean_s": sum(latencies) / len(latencies),
        "p50_s": percentile(latencies, 0.5),
        "p99_s": percentile(latencies, 0.99),
        "rate100": rate100,
        "rss": rss,
        "peak_rss": peak,
        "failed_requests": stats.failed_requests,
        "retries": stats.retries,
    }


def run_child(queue: Path, key: str, seconds: float) -> dict[str, float]:
    """Run ``child`` in a fresh interpreter; return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(queue), key, str(seconds)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(args: argparse.Namespace) -> list[Measurement]:
    """Fill once; per repeat run the empty phase and both deep phases on fresh copies."""
    depth = 50_000 if args.quick else 1_000_000
    seconds = 1.0 if args.quick else 2.0
    repeat = min(args.repeat, 3)
    label = f"{depth // 1000:,}k" if depth < 1_000_000 else "1M"
    scenarios = {"own": "own backlog, API down", "other": "other key's backlog"}
    ms: dict[str, Measurement] = {}
    for tag, text in scenarios.items():
        ms[f"{tag}.ratio"] = Measurement(
            f"track() mean cost {label}/empty ({text})", "ratio", target=1.3
        )
        ms[f"{tag}.p50"] = Measurement(f"track() p50 cost {label}/empty ({text})", "ratio")
        ms[f"{tag}.rate100"] = Measurement(f"100 producers rate empty/{label} ({text})", "ratio")
        ms[f"{tag}.mean"] = Measurement(f"track() mean cost, {label} ({text})", "µs")
    ms["empty.mean"] = Measurement("track() mean cost, empty queue", "µs")
    ms["rss"] = Measurement(f"RSS with {label} backlog", "MB", target=100.0)
    ms["peak"] = Measurement(f"peak RSS with {label} backlog", "MB")
    for m in ms.values():
        m.higher_is_better = False
    key, other_key = new_api_key(), new_api_key()
    with workdir() as tmp:
        pristine = tmp / "pristine.db"
        start = now()
        run_async(fill_queue(pristine, key, depth))
        fill_s = now() - start
        size = pristine.stat().st_size / _MB
        print(f"  filled {depth:,} rows in {fill_s:.1f} s ({size:.0f} MB)")
        for index in range(repeat):
            run_dir = tmp / f"run{index}"
            run_dir.mkdir()
            empty = run_child(run_dir / "empty.db", key, seconds)
            ms["empty.mean"].values.append(empty["mean_s"] * 1e6)
            line = f"  run {index + 1}/{repeat}: empty {_describe(empty)}"
            for tag, phase_key in (("own", key), ("other", other_key)):
                deep = run_dir / f"{tag}.db"
                shutil.copyfile(pristine, deep)
                d = run_child(deep, phase_key, seconds)
                deep.unlink()
                ms[f"{tag}.ratio"].values.append(d["mean_s"] / empty["mean_s"])
                ms[f"{tag}.p50"].values.append(d["p50_s"] / empty["p50_s"])
                ms[f"{tag}.rate100"].values.append(empty["rate100"] / d["rate100"])
                ms[f"{tag}.mean"].values.append(d["mean_s"] * 1e6)
                if tag == "own":
                    ms["rss"].values.append(d["rss"] / _MB)
                    ms["peak"].values.append(d["peak_rss"] / _MB)
                line += f"\n      {scenarios[tag]}: {_describe(d)}"
            shutil.rmtree(run_dir)
            print(line)
    for m in ms.values():
        m.extra = {"depth": depth, "seconds_per_mode": seconds, "fill_seconds": fill_s}
    return list(ms.values())


def _describe(figures: dict[str, float]) -> str:
    return (
        f"{figures['pending_at_start']:,.0f} queued, mean {figures['mean_s'] * 1e6:.0f} µs, "
        f"p50 {figures['p50_s'] * 1e6:.0f} µs, p99 {figures['p99_s'] * 1e6:.0f} µs, "
        f"100 producers {figures['rate100']:,.0f}/s, RSS {figures['rss'] / _MB:.0f} MB "
        f"(peak {figures['peak_rss'] / _MB:.0f}); worker: {figures['failed_requests']:,.0f} "
        f"failed requests, {figures['retries']:,.0f} rows rescheduled"
    )


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        queue_path, api_key, secs = Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
        print(json.dumps(run_async(child(queue_path, api_key, secs))))
    else:
        main()
