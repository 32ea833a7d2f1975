"""Ours vs the published ``aicostmanager==0.3.2``, on the same machine, in one run.

Measures: ``track()`` calls per second and p50/p99 latency of one producer awaiting (or
blocking on) each call, for both SDKs, each in its own subprocess (``_sdk_child.py`` run by
each venv's interpreter) against the same local server (``aicostmanager serve``, a
subprocess): sync ``Tracker.track()`` with the persistent queue, sync ``track()`` immediate
(one HTTP request per call), and the async API with the persistent queue (0.3.2's
``track_async`` is ``asyncio.to_thread(track)``). Each child warms up before timing.
The published SDK is looked for in ``/tmp/peer`` (``python -m venv /tmp/peer &&
/tmp/peer/bin/pip install aicostmanager==0.3.2``; override with ``AICM_PEER_PYTHON``);
the script skips cleanly when it is missing. No target: the ratio is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import (
    Measurement,
    local_server,
    new_api_key,
    parse_args,
    print_header,
    report,
    workdir,
)

NAME = "peer_sdk"
PEER_PYTHON = Path(os.environ.get("AICM_PEER_PYTHON", "/tmp/peer/bin/python"))
CHILD = Path(__file__).resolve().parent / "_sdk_child.py"


def child(python: Path, **args: object) -> dict[str, float]:
    """Run ``_sdk_child.py`` with ``python``; return its figures."""
    out = subprocess.run(
        [str(python), str(CHILD), json.dumps(args)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(args["tmp"]),
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(args: argparse.Namespace) -> list[Measurement]:
    """Both SDKs, three cases each."""
    cases = (
        # label, mode, api, calls (full run)
        ("sync track() persistent", "persistent_queue", "sync", 2_000),
        ("sync track() immediate", "immediate", "sync", 1_000),
        ("await track() persistent", "persistent_queue", "async", 2_000),
    )
    repeat = min(args.repeat, 3)
    out: list[Measurement] = []
    key = new_api_key()
    with workdir() as tmp:
        server_dir = tmp / "server"
        server_dir.mkdir()
        with local_server(server_dir, key) as base:
            for label, mode, api, calls in cases:
                count = 200 if args.quick else calls
                rates: dict[str, Measurement] = {}
                p50s: dict[str, Measurement] = {}
                for sdk in ("0.3.2", "ours"):
                    rates[sdk] = Measurement(f"{label} [{sdk}]", "calls/s")
                    p50s[sdk] = Measurement(f"{label} p50 [{sdk}]", "ms", higher_is_better=False)
                speedup = Measurement(f"{label}: ours / 0.3.2", "x")
                for index in range(repeat):
                    figures = {}
                    for sdk, python in (("0.3.2", PEER_PYTHON), ("ours", Path(sys.executable))):
                        run_dir = tmp / f"{sdk}-{mode}-{api}-{index}"
                        run_dir.mkdir()
                        figures[sdk] = child(
                            python,
                            base=base,
                            key=key,
                            tmp=str(run_dir),
                            mode=mode,
                            api=api,
                            count=count,
                            warmup=max(20, count // 10),
                        )
                        rates[sdk].values.append(figures[sdk]["rate"])
                        p50s[sdk].values.append(figures[sdk]["p50"] * 1e3)
                    speedup.values.append(figures["ours"]["rate"] / figures["0.3.2"]["rate"])
                    print(
                        f"  {label} run {index + 1}/{repeat}: "
                        + ", ".join(
                            f"{sdk} {f['rate']:,.0f}/s (p50 {f['p50'] * 1e3:.3f} ms, "
                            f"p99 {f['p99'] * 1e3:.3f} ms)"
                            for sdk, f in figures.items()
                        )
                    )
                out += [rates["0.3.2"], rates["ours"], p50s["0.3.2"], p50s["ours"], speedup]
    return out


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Run and report (or skip when the peer venv is missing)."""
    args = parse_args(__doc__, argv)
    info = print_header(NAME, __doc__)
    if not PEER_PYTHON.exists():
        print(
            f"skipped: {PEER_PYTHON} not found (python -m venv /tmp/peer && "
            "/tmp/peer/bin/pip install aicostmanager==0.3.2)"
        )
        return []
    measurements = run(args)
    report(NAME, measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
