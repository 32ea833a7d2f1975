"""Outage soak: how fast delivery resumes after the server returns, and that nothing is lost.

Runs N producer processes (default 4, 50 events/s each) sharing one queue file for
``--duration`` seconds (default 3600) while the local server (a subprocess, same port and
database) is killed with SIGKILL every ``--period`` seconds (30) and started again 3-8 s later.
Reports, per (process, outage), the time from the server answering again to that process's
next delivery (p50/p95/max; targets p95 <= 5 s, max <= 15 s), the requests per second a
process sent while the server was down (target <= 1), events lost and stored twice (target 0),
and each process's resident memory at the start and the end.

Usage: ``python benchmarks/bench_outage_soak.py [--duration 600] [--processes 4]``.
"""

from __future__ import annotations

import argparse
import json

from _common import Measurement, percentile, print_header, report, workdir
from _outage import soak

NAME = "outage_soak"


def main(argv: list[str] | None = None) -> None:
    """Run the soak and write ``results/outage_soak.json``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds (3600)")
    parser.add_argument("--processes", type=int, default=4, help="producer processes (4)")
    parser.add_argument("--rate", type=float, default=50.0, help="events/s per process (50)")
    parser.add_argument("--period", type=float, default=30.0, help="seconds between kills (30)")
    args = parser.parse_args(argv)
    info = print_header(NAME, __doc__)
    with workdir("aicm-soak-") as tmp:
        result = soak(
            tmp,
            duration=args.duration,
            processes=args.processes,
            rate=args.rate,
            period=args.period,
        )
    summary = result.as_dict()
    print(json.dumps({k: v for k, v in summary.items() if k != "resume_s"}))
    extra = {"duration_s": args.duration, "processes": args.processes, "rate": args.rate}
    resume = result.resume
    measurements = [
        Measurement("resume p50", "s", [percentile(resume, 0.5)], None, False, extra),
        Measurement("resume p95", "s", [percentile(resume, 0.95)], 5.0, False, extra),
        Measurement("resume max", "s", [max(resume, default=float("nan"))], 15.0, False, extra),
        Measurement(
            "requests/s per process while down",
            "req/s",
            [max(result.requests_per_second_down, default=0.0)],
            1.0,
            False,
            extra,
        ),
        Measurement("events lost", "events", [float(result.lost)], 0.0, False, extra),
        Measurement("events stored twice", "events", [float(result.duplicates)], 0.0, False),
        Measurement("events committed", "events", [float(result.committed)]),
        Measurement("outages", "count", [float(len(result.outages))]),
        Measurement("not resumed before the next kill", "count", [float(result.not_resumed)]),
        Measurement("RSS at start (max)", "MB", [max(result.rss_start) / 2**20]),
        Measurement("RSS at end (max)", "MB", [max(result.rss_end) / 2**20]),
    ]
    report(NAME, measurements, info, argparse.Namespace(quick=False, repeat=1))


if __name__ == "__main__":
    main()
