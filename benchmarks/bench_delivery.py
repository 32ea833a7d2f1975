"""End-to-end delivery rate of 100,000 events, to a minimal sink and to the real local server.

Measures, for each receiver (both in a subprocess, so they do not share this process's GIL):
- *track + deliver*: 100 producers ``await track()`` 100,000 events in total; the clock runs
  from the first call until every record is acknowledged by the receiver and deleted from the
  queue (``statistics().delivered``);
- *backlog drain*: a queue file pre-filled with 100,000 due records; the clock runs from
  entering the tracker until all are delivered.
Receivers: ``_sink.py`` (raw asyncio HTTP, one ``queued`` result per record) and the project's
local server (``aicostmanager serve``: FastAPI + SQLite, prices every record). Each run uses a
fresh queue file (and a fresh server database); a short untimed run warms up the receiver first.
Target: >= 30,000 events/s end to end.
"""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager
from pathlib import Path

import anyio
from _common import (
    SERVICE_KEY,
    USAGE,
    Measurement,
    fill_queue,
    local_server,
    new_api_key,
    now,
    run_and_report,
    run_async,
    sink_server,
    tracker_options,
    wait_for,
    workdir,
)

from aicostmanager import AsyncTracker

NAME = "delivery"
_PRODUCERS = 100


async def track_and_deliver(tmp: Path, base: str, key: str, total: int) -> float:
    """Events/s from the first ``track()`` until all ``total`` records are delivered."""
    per_task = total // _PRODUCERS
    async with AsyncTracker(**tracker_options(tmp, api_base=base, aicm_api_key=key)) as tracker:

        async def produce() -> None:
            for _ in range(per_task):
                await tracker.track(SERVICE_KEY, USAGE)

        start = now()
        async with anyio.create_task_group() as tg:
            for _ in range(_PRODUCERS):
                tg.start_soon(produce)
        await wait_for(lambda: tracker.statistics().delivered >= per_task * _PRODUCERS, 300)
        elapsed = now() - start
        stats = tracker.statistics()
    assert stats.dead_lettered == 0 and stats.dropped == 0, stats
    return per_task * _PRODUCERS / elapsed


async def drain_backlog(tmp: Path, base: str, key: str, total: int) -> float:
    """Events/s delivering a pre-filled backlog of ``total`` records."""
    queue = tmp / "queue.db"
    await fill_queue(queue, key, total)
    start = now()
    options = tracker_options(tmp, api_base=base, aicm_api_key=key, db_path=queue)
    async with AsyncTracker(**options) as tracker:
        await wait_for(lambda: tracker.statistics().delivered >= total, 300)
        elapsed = now() - start
        stats = tracker.statistics()
    assert stats.dead_lettered == 0, stats
    return total / elapsed


def _receiver(label: str, tmp: Path, key: str) -> AbstractContextManager[str]:
    if label == "minimal sink":
        return sink_server()
    server_tmp = tmp / "server"
    server_tmp.mkdir()
    return local_server(server_tmp, key)


def run(args: argparse.Namespace) -> list[Measurement]:
    """Two measurements per receiver."""
    total = 10_000 if args.quick else 100_000
    repeat = min(args.repeat, 3)
    results: list[Measurement] = []
    for label in ("minimal sink", "local server"):
        tracked = Measurement(f"track + deliver -> {label}", "events/s", target=30_000.0)
        drained = Measurement(f"backlog drain -> {label}", "events/s", target=30_000.0)
        for m in (tracked, drained):
            m.extra = {"events_per_run": total, "producers": _PRODUCERS}
        for index in range(repeat):
            key = new_api_key()
            with workdir() as tmp, _receiver(label, tmp, key) as base:
                with workdir() as warm:
                    run_async(track_and_deliver(warm, base, key, 2_000))
                with workdir() as run_tmp:
                    rate = run_async(track_and_deliver(run_tmp, base, key, total))
                tracked.values.append(rate)
                with workdir() as run_tmp:
                    drain = run_async(drain_backlog(run_tmp, base, key, total))
                drained.values.append(drain)
            print(
                f"  {label} run {index + 1}/{repeat}: track+deliver {rate:,.0f}/s, "
                f"drain {drain:,.0f}/s"
            )
        results += [tracked, drained]
    return results


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
