"""Shared helpers of the benchmark scripts: arguments, timing, machine info, JSON results.

Every script builds a list of ``Measurement`` (one per figure, each with the values of its
repeated runs), then calls ``report()``, which prints versions, the machine and
median/min/max, and writes ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx
from _sink import answer as sink_answer

RESULTS_DIR = Path(__file__).resolve().parent / "results"

SERVICE_KEY = "openai::gpt-4o-mini"
USAGE = {"input_tokens": 120, "output_tokens": 48}

_PACKAGES = ("aicostmanager", "aiosqlite", "anyio", "httpx", "msgspec", "uvicorn", "fastapi")


# ---- arguments --------------------------------------------------------------------------------


def parse_args(doc: str | None, argv: list[str] | None = None) -> argparse.Namespace:
    """``--quick`` (smoke run: small sizes, fewer repeats) and ``--repeat N``."""
    parser = argparse.ArgumentParser(
        description=(doc or "").strip().splitlines()[0] if doc else None
    )
    parser.add_argument("--quick", action="store_true", help="fast smoke run (small sizes)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per measurement")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 3
    return args


# ---- measurements -----------------------------------------------------------------------------


@dataclass
class Measurement:
    """One figure: the values of its repeated runs, and the target it is compared with.

    ``higher_is_better`` says how ``target`` reads: a floor (throughput) or a ceiling
    (ratios, memory, latency). ``target=None`` means "reported only".
    """

    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    target: float | None = None
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        """Median of the runs (NaN when there are none)."""
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def passed(self) -> bool | None:
        """Whether the median meets the target (None without a target)."""
        if self.target is None or not self.values:
            return None
        if self.higher_is_better:
            return self.median >= self.target
        return self.median <= self.target

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form, with the summary statistics."""
        data = asdict(self)
        data.update(
            median=self.median,
            min=min(self.values) if self.values else None,
            max=max(self.values) if self.values else None,
            passed=self.passed,
        )
        return data


def repeat_runs(measurement: Measurement, runs: int, run: Any, *, warmup: int = 1) -> Measurement:
    """Call ``run()`` (returning one value) ``warmup`` times untimed, then ``runs`` times."""
    for _ in range(warmup):
        run()
    for index in range(runs):
        value = float(run())
        measurement.values.append(value)
        print(f"  {measurement.name} run {index + 1}/{runs}: {fmt(value)} {measurement.unit}")
    return measurement


def fmt(value: float) -> str:
    """A number for humans: thousands separators, 3 significant decimals for small ones."""
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# ---- environment ------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model named in ``/proc/cpuinfo`` (or ``platform.processor()``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def machine_info() -> dict[str, Any]:
    """Versions and the machine the figures come from."""
    versions = {name: _version(name) for name in _PACKAGES}
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "sqlite": sqlite3.sqlite_version,
        "versions": versions,
        "git": git_revision(),
    }


def git_revision() -> str:
    """The checkout's commit (``+dirty`` when ``aicostmanager/`` has local changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "aicostmanager"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "-"
    return rev + ("+dirty" if dirty else "")


def print_header(name: str, doc: str | None) -> dict[str, Any]:
    """Print what the script measures and the environment; return the machine info."""
    info = machine_info()
    print(f"== {name}: {(doc or '').strip().splitlines()[0] if doc else ''}")
    print(
        f"   Python {info['python']} | {info['cpu_model']} x{info['cpu_count']} | "
        f"SQLite {info['sqlite']} | load {', '.join(f'{x:.2f}' for x in info['loadavg'] or [])}"
    )
    print("   " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    print(f"   git {info['git']}")
    return info


def report(
    name: str,
    measurements: list[Measurement],
    info: dict[str, Any],
    args: argparse.Namespace,
) -> Path:
    """Print median/min/max per measurement and write ``results/<name>.json``.

    Every measurement records the CPU model it was taken on (``extra["cpu_model"]``).
    """
    print()
    print(f"CPU: {info['cpu_model']} x{info['cpu_count']}")
    print(f"{'measurement':<44} {'median':>12} {'min':>12} {'max':>12}  {'target':>10}  result")
    for m in measurements:
        m.extra.setdefault("cpu_model", info["cpu_model"])
        lo = min(m.values) if m.values else float("nan")
        hi = max(m.values) if m.values else float("nan")
        if m.target is None:
            target, verdict = "-", "-"
        else:
            target = ("≥ " if m.higher_is_better else "≤ ") + fmt(m.target)
            verdict = "PASS" if m.passed else "MISS"
        print(
            f"{m.name:<44} {fmt(m.median):>12} {fmt(lo):>12} {fmt(hi):>12}  {target:>10}  "
            f"{verdict}  ({m.unit})"
        )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}{'.quick' if args.quick else ''}.json"
    info = dict(info, loadavg_end=list(os.getloadavg()) if hasattr(os, "getloadavg") else None)
    document = {
        "benchmark": name,
        "quick": args.quick,
        "repeat": args.repeat,
        "machine": info,
        "measurements": [m.as_dict() for m in measurements],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {path}")
    return path


def run_and_report(
    name: str,
    doc: str | None,
    run: Callable[[argparse.Namespace], list[Measurement]],
    argv: list[str] | None = None,
) -> list[Measurement]:
    """The ``main()`` of a benchmark script: parse the arguments, print the header, run the
    measurements, print and write them."""
    args = parse_args(doc, argv)
    info = print_header(name, doc)
    measurements = run(args)
    report(name, measurements, info, args)
    return measurements


@contextlib.contextmanager
def workdir(prefix: str = "aicm-bench-") -> Iterator[Path]:
    """A temporary folder removed afterwards (queue files, INI files, server DBs)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def new_api_key() -> str:
    """A fresh key of the local server's shape (``sk-test-<secret>.<uuid>``).

    The same text as ``aicostmanager.server._auth.new_key_text()``, minted here so that the
    in-process benchmarks do not import the server (FastAPI, pydantic, price data): a bigger
    heap would lengthen garbage-collection pauses and skew the loop-lag figures.
    """
    import secrets
    import uuid

    return f"sk-test-{secrets.token_hex(20)}.{uuid.uuid4()}"


def unreachable_base() -> str:
    """An API base on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tracker_options(
    tmp: Path, *, api_base: str = "http://127.0.0.1:9", **extra: Any
) -> dict[str, Any]:
    """Options of a persistent-queue tracker whose files live in ``tmp``."""
    options: dict[str, Any] = {
        "aicm_api_key": extra.pop("aicm_api_key", None) or new_api_key(),
        "aicm_api_base": api_base,
        "ini_path": tmp / "AICM.INI",
        "db_path": extra.pop("db_path", None) or tmp / "queue.db",
        "delivery_type": "persistent_queue",
    }
    options.update(extra)
    return options


# ---- an in-process sink -----------------------------------------------------------------------


class SinkTransport(httpx.AsyncBaseTransport):
    """An httpx transport answering like the server, in-process: no socket, no server cost.

    Every request gets ``202`` with one ``queued`` result per record it carries (the answer of
    ``_sink.answer``), which is what acknowledges a record, so the delivery worker runs its
    full claim/POST/settle loop. Counts what it saw.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer 202 at once."""
        body = await request.aread()
        self.requests += 1
        self.bytes += len(body)
        return httpx.Response(
            202, content=sink_answer(body), headers={"content-type": "application/json"}
        )


# ---- timing -----------------------------------------------------------------------------------


def now() -> float:
    """Monotonic high-resolution clock."""
    return time.perf_counter()


def run_async(coro: Any) -> Any:
    """Run a coroutine on a fresh asyncio loop (what anyio uses with the asyncio backend)."""
    return asyncio.run(coro)


def python() -> str:
    """This interpreter (for subprocesses)."""
    return sys.executable


# ---- servers in subprocesses ------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(
    port: int, proc: subprocess.Popen[bytes], log: Any, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"server exited with {proc.returncode} before listening:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout} s")


@contextlib.contextmanager
def _process(cmd: list[str], port: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_listening(port, proc, log)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def sink_server() -> Iterator[str]:
    """The minimal asyncio sink (``_sink.py``) in a subprocess; yields its API base.

    It answers like the server (one ``queued`` result per record), at almost no cost.
    """
    port = free_port()
    script = str(Path(__file__).parent / "_sink.py")
    with _process([sys.executable, script, str(port)], port) as (url, _):
        yield url


@contextlib.contextmanager
def local_server(tmp: Path, api_key: str) -> Iterator[str]:
    """The project's local server (``aicostmanager serve``) in a subprocess; yields its base."""
    with local_server_process(tmp, api_key) as (url, _):
        yield url


@contextlib.contextmanager
def local_server_process(tmp: Path, api_key: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Like :func:`local_server`, also yielding the server's process (to read its RSS).

    ``AICM_BENCH_SERVER_DB`` in the environment (a ``postgresql://`` URL of an empty
    database) serves from it instead of a fresh SQLite file in ``tmp``.
    """
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "aicostmanager.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        os.environ.get("AICM_BENCH_SERVER_DB") or str(tmp / "server.db"),
        "--api-key",
        api_key,
    ]
    with _process(cmd, port) as running:
        yield running


async def wait_for(predicate: Callable[[], bool], timeout: float, poll: float = 0.001) -> None:
    """Poll ``predicate`` until true, failing after ``timeout`` seconds.

    Raises:
        TimeoutError: the condition did not hold in time.
    """
    import anyio

    with anyio.fail_after(timeout):
        # Statistics counters have no event to wait on: poll them.
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(poll)


# ---- filling a queue file ---------------------------------------------------------------------


def record_bodies(api_key: str, count: int) -> Iterator[bytes]:
    """``count`` encoded records, as ``track()`` would store them, each with its own id."""
    from aicostmanager._record import RecordDefaults, build_record, new_response_id

    rid, body, _ = build_record(SERVICE_KEY, USAGE, defaults=RecordDefaults())
    head, tail = body.split(rid.encode(), 1)
    for _ in range(count):
        yield head + new_response_id().encode() + tail


async def fill_queue(path: Path, api_key: str, count: int, chunk: int = 5000) -> None:
    """Append ``count`` due records of ``api_key`` to the queue file at ``path``."""
    from aicostmanager._api_key import key_fingerprint
    from aicostmanager._queue import DurableQueue

    queue = await DurableQueue.open(path)
    try:
        fp = key_fingerprint(api_key)
        batch: list[bytes] = []
        for body in record_bodies(api_key, count):
            batch.append(body)
            if len(batch) == chunk:
                await queue.append(batch, fp, time.time())
                batch = []
        if batch:
            await queue.append(batch, fp, time.time())
    finally:
        await queue.close()
