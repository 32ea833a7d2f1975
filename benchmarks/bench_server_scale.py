"""Ingest from 8 SDK processes into the server on PostgreSQL (1, 2, 4 workers) and on SQLite.

In one run, for each target (``--targets``, default ``sqlite pg1 pg2 pg4``): a fresh database
(a SQLite file, or a new database on the PostgreSQL server), ``aicostmanager serve --db ...``
(``--workers N`` for ``pgN``) in a subprocess, then 8 SDK processes (``_scale_child.py``: real
``AsyncTracker`` s, each with its own durable queue and batch delivery) each tracking 10,000
events, 10% of which re-send, from another process, response ids a neighbour also sends
(identical records, so the server must count each id once). Timed from the moment every
tracker is open until every process has flushed its queue.

Figures per target: records/s (records tracked / wall time), the server's CPU per 1000
records (every ``serve`` process, workers included, plus PostgreSQL's postmaster and backends,
from ``/proc``; also given apart), the SDK processes' CPU. Checks per target: the unique events
stored (paging ``/usage/events/``: each id once, none missing) and the event count of
``/spend/summary/``; then the per-customer totals of ``/spend/customers/`` of every target are
compared to the SQLite run's to the cent and printed. Everything runs on this machine: the
SDK processes, the server and PostgreSQL share its cores, so read the CPU figures first.
``--dsn`` (or ``AICM_BENCH_PG``) names a PostgreSQL server to make the databases on; by default
a throw-away cluster is started. ``--quick``: 8 x 1,000 events.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from _common import (
    Measurement,
    cpu_model,
    free_port,
    new_api_key,
    parse_args,
    print_header,
    report,
    workdir,
)
from _pg_cluster import cluster_cpu, postgres_url, postmaster_pid, process_tree_cpu, server_code

NAME = "server_scale"
CHILD = Path(__file__).resolve().parent / "_scale_child.py"
SERVE_DB = Path(__file__).resolve().parent / "_serve_db.py"
PROCESSES = 8
TARGETS = ("sqlite", "pg1", "pg2", "pg4")


class Skipped(RuntimeError):
    """This revision's server cannot run the target (reported, not fatal)."""


def _database_url(admin: str, name: str) -> str:
    """``admin`` with its database replaced by ``name``, after creating it."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path="/" + name))


def _serve_help() -> str:
    return subprocess.run(
        [sys.executable, "-m", "aicostmanager.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout


def _serve_takes_urls() -> bool:
    """Whether this revision's ``serve --db`` takes a ``postgresql://`` URL."""
    return "postgres" in _serve_help()


class Server:
    """``aicostmanager serve`` in a subprocess (all its workers under one process)."""

    def __init__(
        self, db: str, key: str, workers: int | None, log: Path, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.root = f"http://127.0.0.1:{self.port}/api/v1"
        if "://" in db and not _serve_takes_urls():
            if workers not in (None, 1):
                raise Skipped("`serve` takes no database URL on this revision")
            command = [sys.executable, str(SERVE_DB), db, key, str(self.port)]
        else:
            command = [sys.executable, "-m", "aicostmanager.cli", "serve"]
            command += ["--port", str(self.port), "--db", db, "--api-key", key]
            if workers is not None:
                command += ["--workers", str(workers)]
        self._log = log
        self._key = key
        with log.open("ab") as out:
            # A session of its own: kill() ends the workers with their parent.
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until an authenticated request succeeds.

        Raises:
            Skipped: the server exited (the log's tail says why).
            TimeoutError: it did not answer in time.
        """
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self._key}"}
        with httpx.Client(timeout=5, headers=headers) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self._log.read_text(errors="replace")[-1500:]
                    raise Skipped(f"serve exited with {self.proc.returncode}:\n{tail}")
                try:
                    if http.get(self.root + "/spend/summary/").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"the server did not answer in {timeout} s (see {self._log})")

    def kill(self) -> None:
        """SIGKILL to the server and every worker process it started."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _children(base: str, key: str, tmp: Path, count: int, run: str) -> list[Any]:
    # The hour before this one: inside the default period of /spend/*, never in the future.
    hour_start = time.time() // 3600 * 3600 - 3600
    env = {**os.environ, "AICM_API_KEY": key}
    procs = []
    for index in range(PROCESSES):
        folder = tmp / f"sdk{index}"
        folder.mkdir()
        args = {
            "base": base,
            "dir": str(folder),
            "index": index,
            "processes": PROCESSES,
            "count": count,
            "resend": count // 10,
            "run": run,
            "hour_start": hour_start,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, str(CHILD), json.dumps(args)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                text=True,
            )
        )
    return procs


def _stored(root: str, key: str) -> tuple[list[str], dict[str, Decimal], int]:
    """(response ids of stored events, cost per customer, events counted by the rollups)."""
    ids: list[str] = []
    with httpx.Client(
        base_url=root, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as http:
        url: str | None = "/usage/events/?limit=1000"
        while url:
            data = http.get(url).raise_for_status().json()
            ids.extend(e["response_id"] for e in data["results"] if e["status"] != "error")
            url = data.get("next") if data["results"] else None
        customers = http.get("/spend/customers/").raise_for_status().json()["results"]
        summary = http.get("/spend/summary/").raise_for_status().json()
    totals = {str(c["customer_key"]): Decimal(c["cost"]) for c in customers}
    return ids, totals, int(summary["events"])


def _one(
    target: str, admin: str | None, postmaster: int | None, tmp: Path, count: int
) -> dict[str, Any]:
    """Run one target; its figures and what it stored."""
    key = new_api_key()
    run = uuid.uuid4().hex[:8]
    folder = tmp / f"{target}-{run}"
    folder.mkdir()
    if target == "sqlite":
        db, workers, pg = str(folder / "server.db"), None, None
    else:
        if admin is None or postmaster is None:
            raise Skipped("no PostgreSQL server")
        workers = int(target[2:])
        if workers > 1 and "--workers" not in _serve_help():
            raise Skipped("`serve` has no --workers option on this revision")
        db, pg = _database_url(admin, f"aicm_scale_{run}_{target}"), postmaster
    server = Server(db, key, workers, folder / "server.log")
    children: list[Any] = []
    try:
        server.wait_ready()
        children = _children(server.root, key, folder, count, run)
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"an SDK process failed to start (exit {child.wait()})")
        server_cpu = process_tree_cpu([server.proc.pid])
        pg_cpu = cluster_cpu(pg) if pg else 0.0
        started = time.perf_counter()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = [json.loads(child.stdout.readline()) for child in children]
        elapsed = time.perf_counter() - started
        server_cpu = process_tree_cpu([server.proc.pid]) - server_cpu
        pg_cpu = (cluster_cpu(pg) if pg else 0.0) - pg_cpu
        for child in children:
            child.wait(60)
        ids, totals, counted = _stored(server.root, key)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        server.stop()
    tracked = sum(r["tracked"] for r in reports)
    expected = {f"{run}-{i}-{n}" for i in range(PROCESSES) for n in range(count - count // 10)}
    return {
        "target": target,
        "tracked": tracked,
        "rate": tracked / elapsed,
        "server_cpu_ms": server_cpu / tracked * 1e6,
        "pg_cpu_ms": pg_cpu / tracked * 1e6,
        "sdk_cpu_ms": sum(r["cpu"] for r in reports) / tracked * 1e6,
        "flushed": all(r["flushed"] for r in reports),
        "dead_lettered": sum(r["dead_lettered"] for r in reports),
        "stored": len(ids),
        "unique": len(set(ids)),
        "missing": len(expected - set(ids)),
        "unexpected": len(set(ids) - expected),
        "counted": counted,
        "totals": totals,
    }


def _print_totals(results: list[dict[str, Any]]) -> bool:
    """Print the per-customer totals of every target side by side; True when all equal."""
    names = [r["target"] for r in results]
    customers = sorted({c for r in results for c in r["totals"]})
    print("\nper-customer totals (USD) of each target:")
    print(f"{'customer':<14}" + "".join(f"{n:>18}" for n in names))
    same = True
    for customer in customers:
        values = [r["totals"].get(customer, Decimal(0)) for r in results]
        cents = {v.quantize(Decimal("0.01")) for v in values}
        same &= len(cents) == 1
        print(f"{customer:<14}" + "".join(f"{v:>18.6f}" for v in values))
    grand = [sum(r["totals"].values(), Decimal(0)) for r in results]
    print(f"{'total':<14}" + "".join(f"{v:>18.6f}" for v in grand))
    print("equal to the cent on every target:", "YES" if same else "NO")
    return same


def run(args: argparse.Namespace, info: dict[str, Any]) -> list[Measurement]:
    """Every target ``args.repeat`` times, alternating the order."""
    count = 1_000 if args.quick else args.events
    targets = list(args.targets)
    wants_pg = any(t != "sqlite" for t in targets)
    measurements: dict[str, list[Measurement]] = {}
    skipped: dict[str, str] = {}
    last: dict[str, dict[str, Any]] = {}
    checks: dict[str, dict[str, Any]] = {}
    pg_server = postgres_url(args.dsn) if wants_pg else contextlib.nullcontext(None)
    with workdir("aicm-scale-") as tmp, pg_server as admin:
        postmaster = None
        if wants_pg:
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                row = conn.execute("SELECT pg_backend_pid(), current_setting('server_version')")
                pid, version = row.fetchone() or (0, "?")
            postmaster = postmaster_pid(int(pid))
            info["postgresql"] = version
            print(f"   PostgreSQL {version}")
        for index in range(args.repeat):
            order = targets if index % 2 == 0 else targets[::-1]
            for target in order:
                if target in skipped:
                    continue
                print(f"  run {index + 1}/{args.repeat} {target}: {PROCESSES} x {count:,} events")
                try:
                    result = _one(target, admin, postmaster, tmp, count)
                except Skipped as exc:
                    skipped[target] = str(exc)
                    print(f"  {target} skipped: {exc}")
                    continue
                last[target] = result
                print(
                    f"    {result['rate']:,.0f} records/s; CPU per 1000 records: server "
                    f"{result['server_cpu_ms']:.1f} ms + PostgreSQL {result['pg_cpu_ms']:.1f} ms"
                    f", SDK processes {result['sdk_cpu_ms']:.1f} ms; stored {result['stored']:,}"
                    f" ({result['unique']:,} unique, {result['missing']} missing), rollups count"
                    f" {result['counted']:,}; dead-lettered {result['dead_lettered']}"
                )
                ms = measurements.setdefault(
                    target,
                    [
                        Measurement(f"{target}: 8 SDK processes into the server", "records/s"),
                        Measurement(
                            f"{target}: server CPU per 1000 records (serve + PostgreSQL)",
                            "ms",
                            higher_is_better=False,
                        ),
                        Measurement(f"{target}: of which PostgreSQL", "ms", higher_is_better=False),
                        Measurement(
                            f"{target}: SDK processes' CPU per 1000 records",
                            "ms",
                            higher_is_better=False,
                        ),
                    ],
                )
                ms[0].values.append(result["rate"])
                ms[1].values.append(result["server_cpu_ms"] + result["pg_cpu_ms"])
                ms[2].values.append(result["pg_cpu_ms"])
                ms[3].values.append(result["sdk_cpu_ms"])
                check = checks.setdefault(target, {"runs": []})
                check["runs"].append(
                    {k: v for k, v in result.items() if k not in ("totals", "rate")}
                )
    out = [m for target in targets for m in measurements.get(target, [])]
    results = [last[t] for t in targets if t in last]
    same = _print_totals(results) if results else False
    model = cpu_model()
    for m in out:
        m.extra["cpu_model"] = model
        m.extra["events_per_process"] = count
    if out:
        out[0].extra["checks"] = checks
        out[0].extra["skipped"] = skipped
        out[0].extra["totals_equal_to_the_cent"] = same
        out[0].extra["totals"] = {
            r["target"]: {c: str(v) for c, v in r["totals"].items()} for r in results
        }
    for target, reason in skipped.items():
        print(f"skipped {target}: {reason.splitlines()[0]}")
    return out


def main(argv: list[str] | None = None) -> list[Measurement]:
    """Parse the arguments, run, print and write ``results/server_scale.json``."""
    argv = sys.argv[1:] if argv is None else argv
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--dsn", default=None)
    extra.add_argument("--events", type=int, default=10_000, help="events per SDK process")
    extra.add_argument("--targets", nargs="*", choices=TARGETS, default=list(TARGETS))
    own, rest = extra.parse_known_args(argv)
    args = parse_args(__doc__, rest + (["--repeat", "1"] if "--repeat" not in rest else []))
    args.dsn, args.events, args.targets = own.dsn, own.events, own.targets
    info = print_header(NAME, __doc__)
    info["server_code"] = server_code()
    measurements = run(args, info)
    report(NAME, measurements, info, args)
    return measurements


if __name__ == "__main__":
    main()
