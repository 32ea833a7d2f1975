"""CPU cost of a sparsely tracked event: one ``await track()`` now and then.

An LLM wrapper tracks one event per model call, seconds apart: each event is committed,
claimed, delivered and settled on its own. Measures the CPU time of the tracker's process
(every thread: the commit, the delivery worker's SQL statements, the HTTP request) per event,
for events ``--gap`` seconds apart (longer than ``batch_interval``, so each goes alone),
delivering over real HTTP to the minimal sink (``_sink.py``) in another process. The idle
tracker's own CPU per second is measured first and subtracted. Reported only, no target.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anyio
from _common import (
    SERVICE_KEY,
    USAGE,
    Measurement,
    run_and_report,
    run_async,
    sink_server,
    tracker_options,
    wait_for,
    workdir,
)

from aicostmanager import AsyncTracker

NAME = "sparse_track"
_GAP = 0.2  # seconds between events: each is delivered (batch_interval is 0.05) before the next
_IDLE = 2.0


async def cpu_per_event(tmp: Path, base: str, events: int) -> tuple[float, float]:
    """(CPU µs per sparse event, net of idling; CPU µs per second of idling)."""
    async with AsyncTracker(**tracker_options(tmp, api_base=base)) as tracker:
        await tracker.track(SERVICE_KEY, USAGE)  # warm up: connection, statements
        await wait_for(lambda: tracker.statistics().delivered >= 1, 30)
        cpu = time.process_time()
        await anyio.sleep(_IDLE)
        idle = (time.process_time() - cpu) / _IDLE
        cpu = time.process_time()
        for _ in range(events):
            await tracker.track(SERVICE_KEY, USAGE)
            await anyio.sleep(_GAP)  # not polling for delivery: that would cost CPU too
        spent = time.process_time() - cpu
        delivered = tracker.statistics().delivered
        if delivered != events + 1:
            raise RuntimeError(f"{delivered} of {events + 1} events delivered")
    return (spent - idle * events * _GAP) / events * 1e6, idle * 1e6


def run(args: argparse.Namespace) -> list[Measurement]:
    """CPU per sparse event (reported)."""
    events = 10 if args.quick else 50
    per_event = Measurement("CPU per sparse track() event", "µs", higher_is_better=False)
    idle = Measurement("CPU of an idle tracker", "µs/s", higher_is_better=False)
    per_event.extra = {"events_per_run": events, "gap_seconds": _GAP}
    with sink_server() as base:
        for index in range(args.repeat):
            with workdir() as tmp:
                cost, idling = run_async(cpu_per_event(tmp, base, events))
            per_event.values.append(cost)
            idle.values.append(idling)
            print(
                f"  run {index + 1}/{args.repeat}: {cost:,.0f} µs CPU per event "
                f"(idle tracker: {idling:,.0f} µs per second)"
            )
    return [per_event, idle]


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
