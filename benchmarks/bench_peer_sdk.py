"""Headline ``track()`` figures: ours vs the published ``aicostmanager==0.3.2``, same run.

Measures, for both SDKs, each in its own subprocess (``_sdk_child.py`` run by each venv's
interpreter), with delivery over real HTTP to a sink in another process (``_sink.py``, which
answers like the server: one ``queued`` result per record), as a user's app delivers:

- ``await track()`` from 100 concurrent producers (persistent queue);
- ``await track()`` from 1 producer awaiting each call (persistent queue);
- sync ``Tracker.track()`` from 1 thread (persistent queue);
- sync ``Tracker.track()`` immediate (one HTTP request per call).

Besides the rates: the p50 of one call, and the CPU time per call of the SDK's process (all its
threads, background commit and delivery included).

0.3.2's ``track_async`` is ``asyncio.to_thread(track)``, so its 100 producers share the default
thread pool. The two SDKs alternate run by run, so both see the same machine and load; the
ratio ours / 0.3.2 of each run is reported next to the rates: it is the figure that travels
between machines. Every figure carries the CPU model it was taken on. Each child warms up
before timing. The published SDK is looked for in ``/tmp/peer`` (``python -m venv /tmp/peer &&
/tmp/peer/bin/pip install aicostmanager==0.3.2``; override with ``AICM_PEER_PYTHON``); the
script skips cleanly when it is missing. No target: the ratios are reported.
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
    new_api_key,
    parse_args,
    print_header,
    report,
    sink_server,
    workdir,
)

NAME = "peer_sdk"
PEER_PYTHON = Path(os.environ.get("AICM_PEER_PYTHON", "/tmp/peer/bin/python"))
CHILD = Path(__file__).resolve().parent / "_sdk_child.py"
SDKS = ("0.3.2", "ours")

# label, mode, api, producers, calls per run (ours, 0.3.2; full run)
CASES = (
    ("await track() x100 producers", "persistent_queue", "async", 100, (50_000, 5_000)),
    ("await track() x1 producer", "persistent_queue", "async", 1, (10_000, 3_000)),
    ("Tracker.track() x1 thread", "persistent_queue", "sync", 1, (10_000, 3_000)),
    ("Tracker.track() immediate", "immediate", "sync", 1, (1_000, 1_000)),
)


def child(python: Path, *, ours: bool, **args: object) -> dict[str, object]:
    """Run ``_sdk_child.py`` with ``python``; return its figures."""
    env = dict(os.environ)
    if not ours:
        env.pop("PYTHONPATH", None)  # the peer imports its own package, not this checkout
    out = subprocess.run(
        [str(python), str(CHILD), json.dumps(args)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(args["tmp"]),  # not the project directory, for the same reason
        env=env,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(args: argparse.Namespace) -> list[Measurement]:
    """Both SDKs, every case, alternating."""
    repeat = min(args.repeat, 5)
    out: list[Measurement] = []
    key = new_api_key()
    with workdir() as tmp, sink_server() as base:
        for label, mode, api, producers, calls in CASES:
            rates = {sdk: Measurement(f"{label} [{sdk}]", "calls/s") for sdk in SDKS}
            p50s = {
                sdk: Measurement(f"{label} p50 [{sdk}]", "ms", higher_is_better=False)
                for sdk in SDKS
            }
            cpus = {
                sdk: Measurement(f"{label} CPU per call [{sdk}]", "µs", higher_is_better=False)
                for sdk in SDKS
            }
            ratio = Measurement(f"{label}: ours / 0.3.2", "x")
            for index in range(repeat):
                figures: dict[str, dict[str, object]] = {}
                for sdk, python, full in (
                    ("0.3.2", PEER_PYTHON, calls[1]),
                    ("ours", Path(sys.executable), calls[0]),
                ):
                    count = max(producers, full // 10) if args.quick else full
                    run_dir = tmp / f"{sdk}-{mode}-{api}-{producers}-{index}"
                    run_dir.mkdir()
                    figures[sdk] = child(
                        python,
                        ours=sdk == "ours",
                        base=base,
                        key=key,
                        tmp=str(run_dir),
                        mode=mode,
                        api=api,
                        producers=producers,
                        count=count,
                        warmup=max(20, count // 10),
                    )
                    rates[sdk].values.append(float(str(figures[sdk]["rate"])))
                    p50s[sdk].values.append(float(str(figures[sdk]["p50"])) * 1e3)
                    cpus[sdk].values.append(float(str(figures[sdk]["cpu_per_call"])) * 1e6)
                    rates[sdk].extra["cpu_model_child"] = figures[sdk]["cpu_model"]
                ratio.values.append(rates["ours"].values[-1] / rates["0.3.2"].values[-1])
                print(
                    f"  {label} run {index + 1}/{repeat}: "
                    + ", ".join(
                        f"{sdk} {rates[sdk].values[-1]:,.0f}/s (p50 {p50s[sdk].values[-1]:.3f} ms, "
                        f"CPU {cpus[sdk].values[-1]:.0f} µs/call)"
                        for sdk in SDKS
                    )
                    + f" -> ours / 0.3.2 = {ratio.values[-1]:.2f}x"
                )
            out += [rates["0.3.2"], rates["ours"], ratio, p50s["0.3.2"], p50s["ours"]]
            out += [cpus["0.3.2"], cpus["ours"]]
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
