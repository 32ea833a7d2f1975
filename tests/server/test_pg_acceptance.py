"""Acceptance of the PostgreSQL backend (issue 18): real SDK processes into ``serve --workers 4``.

Each run: 8 producer processes (the SDK's durable queue, ``_scripts/acceptance_producer.py``)
track ``AICM_PG_ACCEPTANCE_EVENTS`` events each (1,000 by default; the issue's figure is 10,000)
and re-send 10% of the ids, into ``aicostmanager serve`` in a subprocess. The reference is the
same workload against one ``serve`` process on a SQLite file. These tests start their own
PostgreSQL cluster when the session has none (see ``tests/_postgres.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
import pytest
from _postgres import PostgresCluster
from server_helpers import Api, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]

EVENTS = int(os.environ.get("AICM_PG_ACCEPTANCE_EVENTS", "1000"))
PRODUCERS = 8
KEY = "sk-test-accept.5b7e2c10-4d1a-4f8e-9c3b-7a6d5e4f3a2b"
ROOT = Path(__file__).resolve().parents[2]
PRODUCER = Path(__file__).parent / "_scripts" / "acceptance_producer.py"
PEER_CHECK = Path(__file__).parent / "peer_compat_check.py"
PEER_PYTHON = os.environ.get("AICM_PEER_PYTHON", "/work/venv-peer/bin/python")

Totals = dict[str | None, tuple[Decimal, int]]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


class Serve:
    """``aicostmanager serve`` in a subprocess, ready once its API answers."""

    def __init__(self, db: str, workers: int, tmp: Path) -> None:
        key_file = tmp / "keys.txt"
        key_file.write_text(KEY + "\n")
        port = free_port()
        args = ["--db", db, "--port", str(port), "--api-key-file", str(key_file)]
        if workers > 1:
            args += ["--workers", str(workers)]
        self.log = tmp / f"serve-{port}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aicostmanager.server._cli", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(),
            )
        self.url = f"http://127.0.0.1:{port}"
        self.api = Api(self.url + "/api/v1", KEY)
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, f"serve exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"serve did not answer:\n{self.output()}"
            try:
                if self.api.http.get("/spend/summary/").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)

    def output(self) -> str:
        """What the server printed so far."""
        return self.log.read_text(errors="replace")

    def workers(self) -> list[psutil.Process]:
        """The worker processes (children that are not multiprocessing helpers)."""
        return [
            child
            for child in psutil.Process(self.proc.pid).children(recursive=True)
            if not any("tracker" in part for part in child.cmdline())
        ]

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 30 s) and its workers."""
        children = psutil.Process(self.proc.pid).children(recursive=True)
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for child in children:
            if child.is_running():
                child.kill()
        self.api.close()


@contextmanager
def serving(db: str, workers: int, tmp: Path) -> Iterator[Serve]:
    """Run ``serve`` on ``db`` with ``workers`` processes for the block."""
    server = Serve(db, workers, tmp)
    try:
        yield server
    finally:
        server.close()


def _customers(api: Api) -> Totals:
    """Cost and event count per customer, from ``/spend/customers/`` (the rollups)."""
    results = api.get("/spend/customers/")["results"]
    return {r["customer_key"]: (Decimal(r["cost"]), int(r["events"])) for r in results}


def _stored_ids(api: Api) -> Counter[str]:
    """How many times each response id is stored, reading every page through ``next``."""
    ids: Counter[str] = Counter()
    response = api.http.get("/usage/events/", params={"limit": 200})
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        ids.update(e["response_id"] for e in page["results"])
        if not page["next"]:
            return ids
        response = api.http.get(page["next"])


def _expected_events() -> Counter[str | None]:
    return Counter(f"cust-{i % 7}" for i in range(EVENTS) for _ in range(PRODUCERS))


def run_load(
    server: Serve, tmp: Path, midway: Callable[[], None] | None = None
) -> tuple[Totals, int]:
    """Run the producers to the end (calling ``midway`` once 30% is stored); check the ids.

    Returns the per-customer totals and how many events were stored when ``midway`` ran.
    """
    producers = []
    for n in range(PRODUCERS):
        work = tmp / f"producer-{n}"
        work.mkdir()
        out = (work / "out.txt").open("wb")
        producers.append(
            subprocess.Popen(
                [sys.executable, str(PRODUCER), server.url, str(work / "queue.db"),
                 str(work / "AICM.INI"), f"p{n}", str(EVENTS)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(AICM_API_KEY=KEY),
            )
        )  # fmt: skip
        out.close()
    unique = PRODUCERS * EVENTS
    stored_at_midway = -1
    try:
        if midway is not None:
            deadline = time.monotonic() + 300
            while (stored := sum(e for _, e in _customers(server.api).values())) < unique * 0.3:
                assert time.monotonic() < deadline, f"only {stored} events stored"
                time.sleep(0.05)
            stored_at_midway = stored
            midway()
        for n, proc in enumerate(producers):
            status = proc.wait(600)
            output = (tmp / f"producer-{n}" / "out.txt").read_text(errors="replace")
            assert status == 0, f"producer {n} failed:\n{output[-3000:]}\n{server.output()}"
    finally:
        for proc in producers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stored = _stored_ids(server.api)
    expected = {f"p{n}-{i}" for n in range(PRODUCERS) for i in range(EVENTS)}
    assert set(stored) == expected, f"{len(expected - set(stored))} ids missing"
    assert max(stored.values()) == 1, "an id is stored twice"
    totals = _customers(server.api)
    assert {c: e for c, (_, e) in totals.items()} == _expected_events()
    assert all(cost > 0 for cost, _ in totals.values()), totals
    return totals, stored_at_midway


@pytest.fixture(scope="module")
def sqlite_reference(tmp_path_factory: pytest.TempPathFactory) -> Totals:
    """The per-customer totals of the workload against one ``serve`` on a SQLite file."""
    tmp = tmp_path_factory.mktemp("sqlite-reference")
    with serving(str(tmp / "server.db"), 1, tmp) as server:
        return run_load(server, tmp)[0]


def test_four_workers_count_each_id_once_and_match_sqlite(
    postgres_url: str, sqlite_reference: Totals, tmp_path: Path
) -> None:
    """4 workers on PostgreSQL store each unique id once; customer totals equal SQLite's."""
    with serving(postgres_url, 4, tmp_path) as server:
        assert len(server.workers()) >= 4, server.output()
        totals, _ = run_load(server, tmp_path)
    assert totals == sqlite_reference


def test_kill9_of_a_worker_mid_load_loses_nothing(
    postgres_url: str, sqlite_reference: Totals, tmp_path: Path
) -> None:
    """``kill -9`` of one worker mid-load: every id stored once, totals equal SQLite's."""
    with serving(postgres_url, 4, tmp_path) as server:
        killed: list[int] = []

        def kill_one_worker() -> None:
            victim = server.workers()[0]
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)

        totals, stored_at_kill = run_load(server, tmp_path, midway=kill_one_worker)
    assert killed and stored_at_kill < PRODUCERS * EVENTS
    assert totals == sqlite_reference


def test_postgres_restart_mid_load_loses_nothing(
    postgres_cluster: PostgresCluster, sqlite_reference: Totals, tmp_path: Path
) -> None:
    """``pg_ctl restart -m fast`` mid-load: every id stored once, totals equal SQLite's.

    On a cluster of its own (``postgres_cluster`` only tells whether one can start here).
    """
    cluster = PostgresCluster(port=free_port()).start()
    try:
        with serving(cluster.create_database(), 4, tmp_path) as server:
            totals, stored_at_restart = run_load(server, tmp_path, midway=cluster.restart)
            assert server.proc.poll() is None, server.output()
        server_log = cluster.log()
    finally:
        cluster.stop()
    assert stored_at_restart < PRODUCERS * EVENTS
    assert "received fast shutdown request" in server_log
    assert totals == sqlite_reference


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_published_sdk_032_works_unchanged(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The published SDK 0.3.2 tracks, de-duplicates and verifies limits on either backend."""
    if not Path(PEER_PYTHON).exists():
        pytest.skip(f"no peer interpreter at {PEER_PYTHON} (set AICM_PEER_PYTHON)")
    db = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else str(tmp_path / "peer.db")
    )
    done = subprocess.run(
        [sys.executable, str(PEER_CHECK), "--peer-python", PEER_PYTHON, "--db", db],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0 and "OK:" in done.stdout, done.stdout + done.stderr
