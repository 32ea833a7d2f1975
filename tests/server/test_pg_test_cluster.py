"""The test suite's PostgreSQL plugin (``tests/_postgres.py``), run in pytest subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from _postgres import PostgresCluster

ROOT = Path(__file__).resolve().parents[2]

INNER = '''
import os, pathlib, threading
import psycopg

def test_inner(postgres_cluster, postgres_url):
    """Writes the cluster's directory, checks the database is empty, holds when asked."""
    pathlib.Path(os.environ["AICM_INNER_OUT"]).write_text(str(postgres_cluster.root))
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert tables == (0,)
    if os.environ.get("AICM_INNER_HOLD"):
        threading.Event().wait(120)  # until the outer test kills this session
'''

INNER_DEFAULTS = '''
import pytest
from aicostmanager.server import LocalServer

def test_default_is_a_fresh_postgresql_database():
    """Two servers made without a database get two databases on the cluster."""
    first, second = LocalServer().config.db, LocalServer().config.db
    assert first.startswith("postgresql://") and second.startswith("postgresql://")
    assert first != second

@pytest.mark.sqlite_only(reason="checks the SQLite default")
def test_sqlite_only_keeps_a_sqlite_file():
    """A sqlite_only test's server gets a temporary SQLite file."""
    assert LocalServer().config.db.endswith(".db")

def test_an_explicit_database_is_kept(tmp_path):
    """A database given explicitly is used as given."""
    assert LocalServer(db=str(tmp_path / "x.db")).config.db == str(tmp_path / "x.db")

@pytest.mark.sqlite_only
def test_sqlite_only_without_a_reason():
    """Refused: the mark needs its reason."""
'''


def _inner_session(tmp_path: Path, inner: str = INNER, **env: str) -> subprocess.Popen[str]:
    (tmp_path / "test_inner.py").write_text(inner)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CI", "AICM_REQUIRE_POSTGRES", "AICM_TEST_BACKEND", "AICM_TEST_PG_PORT")
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_postgres"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            **clean,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}",
            "AICM_INNER_OUT": str(tmp_path / "cluster-root"),
            **env,
        },
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    output, _ = proc.communicate(timeout=300)
    return proc.returncode, output


def _postgres_of(root: str) -> list[psutil.Process]:
    return [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if any(root in part for part in proc.info["cmdline"] or ())
    ]


def test_a_cluster_that_cannot_start_fails_the_session_in_ci(tmp_path: Path) -> None:
    """With CI=true a cluster that cannot start ends the session (status 1) with the reason."""
    status, output = _finish(_inner_session(tmp_path, CI="true", AICM_TEST_PG_BIN="/nonexistent"))
    assert status == 1, output
    assert "PostgreSQL test cluster could not start" in output
    assert "AICM_TEST_PG_BIN=/nonexistent: no initdb there" in output


def test_a_cluster_that_cannot_start_skips_outside_ci(tmp_path: Path) -> None:
    """Without CI or AICM_REQUIRE_POSTGRES, the tests that need the cluster are skipped."""
    status, output = _finish(_inner_session(tmp_path, AICM_TEST_PG_BIN="/nonexistent"))
    assert status == 0, output
    assert "1 skipped" in output


def test_the_cluster_is_removed_at_the_end_of_the_session(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """A session's databases start empty; its cluster is stopped and its directory removed."""
    status, output = _finish(_inner_session(tmp_path))
    assert status == 0, output
    root = (tmp_path / "cluster-root").read_text()
    assert not Path(root).exists()
    assert not _postgres_of(root)


def test_kill9_of_pytest_leaves_no_postgres_running(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """``kill -9`` of the pytest process: the watchdog stops the cluster and removes it."""
    proc = _inner_session(tmp_path, AICM_INNER_HOLD="1")
    marker = tmp_path / "cluster-root"
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, _finish(proc)[1]
        time.sleep(0.05)
    root = marker.read_text()
    assert _postgres_of(root), "no postgres running for the inner session"
    os.kill(proc.pid, signal.SIGKILL)
    _finish(proc)
    deadline = time.monotonic() + 60
    while Path(root).exists() or _postgres_of(root):
        assert time.monotonic() < deadline, "the cluster outlived its session"
        time.sleep(0.05)


def test_postgresql_mode_gives_servers_fresh_databases(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """In PostgreSQL mode a server without a database gets a fresh one; sqlite_only keeps SQLite."""
    status, output = _finish(
        _inner_session(tmp_path, INNER_DEFAULTS, AICM_TEST_BACKEND="postgresql")
    )
    assert "3 passed" in output and "1 failed" in output, output
    assert "sqlite_only needs a reason" in output
    assert status == 1
