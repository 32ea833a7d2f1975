"""Event-loop lag while 100 producers ``await track()`` at full speed (persistent queue).

Measures: the overshoot of a task sleeping 1 ms in a loop (``asyncio.sleep(0.001)``; lag =
actual - requested), as p50/p99/max in milliseconds, first on an idle loop (baseline), then
while 100 producers track as fast as they can with the delivery worker running, once against an
in-process sink transport and once over real HTTP to a sink in another process (``_sink.py``,
as a user's app delivers). Lag shows how long the SDK holds the loop between yields (encoding,
buffering, waking waiters, committing groups of records, parsing responses).
Each run uses a fresh tracker and queue file, after a warm-up. Reported p99 under load over
real HTTP is the figure the test suite used to assert (< 10 ms); no target here: reported only.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import anyio
from _common import (
    SERVICE_KEY,
    USAGE,
    Measurement,
    SinkTransport,
    now,
    percentile,
    run_and_report,
    run_async,
    sink_server,
    tracker_options,
    workdir,
)

from aicostmanager import AsyncTracker

NAME = "loop_lag"
_PRODUCERS = 100


async def _sleeper(lags: list[float], stop: anyio.Event) -> None:
    while not stop.is_set():
        start = now()
        await asyncio.sleep(0.001)
        lags.append(now() - start - 0.001)


async def lag_under_load(
    tmp: Path, seconds: float, load: bool, base: str | None = None
) -> tuple[list[float], float]:
    """Sleeper overshoots (s) over ``seconds``, with or without 100 producers; and their rate.

    Delivery goes to ``base`` over HTTP when given, else to an in-process sink transport.
    """
    lags: list[float] = []
    count = 0
    if base is None:
        options = tracker_options(tmp, transport=SinkTransport())
    else:
        options = tracker_options(tmp, api_base=base)
    async with AsyncTracker(**options) as tracker:
        for _ in range(2000):
            await tracker.track(SERVICE_KEY, USAGE)
        stop = anyio.Event()

        async def produce() -> None:
            nonlocal count
            while not stop.is_set():
                await tracker.track(SERVICE_KEY, USAGE)
                count += 1

        async with anyio.create_task_group() as tg:
            tg.start_soon(_sleeper, lags, stop)
            if load:
                for _ in range(_PRODUCERS):
                    tg.start_soon(produce)
            await anyio.sleep(seconds)
            stop.set()
    return lags, count / seconds


def run(args: argparse.Namespace) -> list[Measurement]:
    """Idle baseline and loaded figures (in-process sink, HTTP sink), in milliseconds."""
    seconds = 1.0 if args.quick else 3.0
    out: list[Measurement] = []
    with sink_server() as sink:
        for tag, load, base in (
            ("idle loop", False, None),
            (f"{_PRODUCERS} producers", True, None),
            (f"{_PRODUCERS} producers, HTTP sink", True, sink),
        ):
            out += _case(args, seconds, tag, load, base)
    return out


def _case(
    args: argparse.Namespace, seconds: float, tag: str, load: bool, base: str | None
) -> list[Measurement]:
    """p50/p99/max lag (and the track rate under load) of one case, over the repeats."""
    p50 = Measurement(f"loop lag p50 ({tag})", "ms", higher_is_better=False)
    p99 = Measurement(f"loop lag p99 ({tag})", "ms", higher_is_better=False)
    worst = Measurement(f"loop lag max ({tag})", "ms", higher_is_better=False)
    rate = Measurement(f"track() rate during lag run ({tag})", "events/s")
    for index in range(args.repeat):
        with workdir() as tmp:
            lags, events = run_async(lag_under_load(tmp, seconds, load, base))
        p50.values.append(percentile(lags, 0.5) * 1e3)
        p99.values.append(percentile(lags, 0.99) * 1e3)
        worst.values.append(max(lags) * 1e3)
        rate.values.append(events)
        print(
            f"  {tag} run {index + 1}/{args.repeat}: p50 {p50.values[-1]:.3f} ms, "
            f"p99 {p99.values[-1]:.3f} ms, max {worst.values[-1]:.3f} ms "
            f"({len(lags):,} samples, {events:,.0f} events/s)"
        )
    return [p50, p99, worst] + ([rate] if load else [])


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report."""
    return run_and_report(NAME, __doc__, run, argv)


if __name__ == "__main__":
    main()
