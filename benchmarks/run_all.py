"""Run every benchmark script (each in its own interpreter) and print a summary table.

Usage: ``python benchmarks/run_all.py [--quick] [--repeat N] [--only NAME ...] [--markdown]``.
Each script writes ``benchmarks/results/<name>.json``; this script reads them back, prints
one row per measurement (median, min, max, target, pass/miss, CPU model) and writes
``results/summary.json``; ``--markdown`` also prints the table as Markdown (for the README).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import RESULTS_DIR, fmt, machine_info

SCRIPTS = (
    "track_async",
    "track_nowait",
    "track_sync",
    "delivery",
    "queue_depth",
    "loop_lag",
    "sparse_track",
    "peer_sdk",
    "server_ingest",
    "server_body_cap",
)


Row = tuple[str, str, str, str, str, str, str]


def _row(m: dict[str, Any], cpu: str) -> Row:
    target = m["target"]
    if target is None:
        target_text, verdict = "-", "-"
    else:
        target_text = ("≥ " if m["higher_is_better"] else "≤ ") + fmt(target)
        verdict = "pass" if m["passed"] else "MISS"
    span = f"{fmt(m['min'])} – {fmt(m['max'])}" if m["values"] else "-"
    cpu = m.get("extra", {}).get("cpu_model", cpu)
    return (m["name"], m["unit"], target_text, fmt(m["median"]), span, verdict, cpu)


def main(argv: list[str] | None = None) -> int:
    """Run the scripts, then summarise."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--only", nargs="*", choices=SCRIPTS, default=None)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--no-run", action="store_true", help="only summarise existing results")
    args = parser.parse_args(argv)
    names = args.only or list(SCRIPTS)
    here = Path(__file__).resolve().parent
    failed: list[str] = []
    durations: dict[str, float] = {}
    started = time.monotonic()
    for name in names:
        if args.no_run:
            break
        cmd = [sys.executable, str(here / f"bench_{name}.py")]
        if args.quick:
            cmd.append("--quick")
        if args.repeat is not None:
            cmd += ["--repeat", str(args.repeat)]
        print(f"\n$ {' '.join(cmd[1:])}", flush=True)
        began = time.monotonic()
        if subprocess.run(cmd, check=False).returncode != 0:
            failed.append(name)
        durations[name] = time.monotonic() - began
    elapsed = time.monotonic() - started
    rows: list[Row] = []
    documents: dict[str, Any] = {}
    suffix = ".quick.json" if args.quick else ".json"
    for name in names:
        path = RESULTS_DIR / f"{name}{suffix}"
        if not path.exists():
            continue
        document = json.loads(path.read_text())
        documents[name] = document
        cpu = document["machine"]["cpu_model"]
        rows += [_row(m, cpu) for m in document["measurements"]]
    info = machine_info()
    print(
        f"\n== summary ({'quick' if args.quick else 'full'} run, {elapsed:.0f} s) "
        f"Python {info['python']}, {info['cpu_model']} x{info['cpu_count']}"
    )
    header = ("measurement", "unit", "target", "median", "min – max", "result", "CPU")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    if durations:
        print("seconds per script: " + ", ".join(f"{k} {v:.0f}" for k, v in durations.items()))
    if args.markdown:
        print("\n| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    if not args.no_run:
        summary = {
            "machine": info,
            "seconds": elapsed,
            "seconds_per_script": durations,
            "failed": failed,
            "results": documents,
        }
        (RESULTS_DIR / f"summary{suffix}").write_text(json.dumps(summary, indent=2) + "\n")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
