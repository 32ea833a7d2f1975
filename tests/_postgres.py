"""A throw-away PostgreSQL cluster for the test session (pytest plugin, see docs/testing.md).

``AICM_TEST_BACKEND=postgresql`` runs the suite on PostgreSQL: one cluster is made with the
OS packages' ``initdb`` and started with ``pg_ctl`` for the session, and every
:class:`~aicostmanager.server.LocalServer` made without an explicit database gets a fresh,
empty database on it (``CREATE DATABASE aicm_t<N>``). Tests marked ``sqlite_only`` keep the
temporary SQLite file. The default, ``AICM_TEST_BACKEND=sqlite``, starts no cluster unless a
test asks for one through the ``postgres_cluster`` fixture.

A cluster that cannot start skips the tests that need it, except under ``CI=true`` or
``AICM_REQUIRE_POSTGRES=1``, where it ends the session with the initdb / pg_ctl log.
A watchdog process stops the cluster and removes its directory when the session ends, however
it ends (Ctrl-C, a crash, ``kill -9`` of pytest).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aicostmanager.server import _runner
from aicostmanager.server._db import is_postgres_url

__all__ = (
    "ClusterError",
    "PostgresCluster",
    "backend",
    "find_bin_dir",
    "postgres_required",
    "stored_bytes",
)

_BACKENDS = ("sqlite", "postgresql")
_OS_USER = "postgres"  # initdb refuses to run as root: the cluster belongs to this user
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    # Throw-away data: durability only costs time here.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Every LocalServer of the session keeps a pool; acceptance runs add N workers each.
    "max_connections": "400",
    "shared_buffers": "64MB",
    "max_wal_size": "1GB",
}
_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"

# Runs apart from pytest (its own session, so Ctrl-C does not reach it): waits for the end of
# its stdin, which comes when pytest closes it or dies, then stops the cluster and removes it.
_WATCHDOG = """
import shutil, subprocess, sys
pg_ctl, data, root, user = sys.argv[1:5]
sys.stdin.read()
subprocess.run([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], user=user or None,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
shutil.rmtree(root, ignore_errors=True)
"""


def backend() -> str:
    """The backend the session runs the server on: ``sqlite`` (default) or ``postgresql``.

    Raises:
        pytest.UsageError: ``AICM_TEST_BACKEND`` names another backend.
    """
    value = os.environ.get("AICM_TEST_BACKEND", "sqlite").strip().lower() or "sqlite"
    if value not in _BACKENDS:
        raise pytest.UsageError(f"AICM_TEST_BACKEND={value!r}: expected one of {_BACKENDS}")
    return value


def postgres_required() -> bool:
    """Whether a cluster that cannot start must fail the session (CI) rather than skip."""
    return (
        os.environ.get("CI", "").lower() in ("1", "true", "yes")
        or os.environ.get("AICM_REQUIRE_POSTGRES", "") == "1"
    )


class ClusterError(RuntimeError):
    """The cluster could not be made or started; the message carries the tools' output."""


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name)) or (0,)


def find_bin_dir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: ``AICM_TEST_PG_BIN``, else on PATH, else the
    newest OS package's.

    Raises:
        ClusterError: no PostgreSQL server binaries on this machine.
    """
    chosen = os.environ.get("AICM_TEST_PG_BIN")
    if chosen:
        if not (Path(chosen) / "initdb").exists():
            raise ClusterError(f"AICM_TEST_PG_BIN={chosen}: no initdb there")
        return Path(chosen)
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
    if found:
        return found[-1].parent
    raise ClusterError(
        "initdb not found on PATH nor in /usr/lib/postgresql/*/bin:"
        " install PostgreSQL (Debian: apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """One throw-away PostgreSQL cluster in a temporary directory, on 127.0.0.1, trust auth.

    Args:
        port: TCP port; None takes ``AICM_TEST_PG_PORT`` or a free one.
    """

    def __init__(self, port: int | None = None) -> None:
        env_port = os.environ.get("AICM_TEST_PG_PORT")
        self._pinned = bool(port or env_port)
        self.port = port or (int(env_port) if env_port else _free_port())
        self._bin = find_bin_dir()
        self._user = _OS_USER if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="aicm-pg-"))
        self.data = self.root / "data"
        self.log_file = self.root / "postgres.log"
        self._transcript: list[str] = []
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._admin: Any = None
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        try:
            done = subprocess.run(
                command,
                user=self._user,
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"{' '.join(command)}: {exc}\n{self.log()}") from exc
        self._transcript.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise ClusterError(f"{' '.join(command)} exited {done.returncode}\n{self.log()}")

    def log(self) -> str:
        """What initdb and pg_ctl printed, and the server's log."""
        server_log = ""
        with contextlib.suppress(OSError):
            server_log = self.log_file.read_text(errors="replace")
        return "\n".join([*self._transcript, f"--- {self.log_file}", server_log])

    def start(self) -> PostgresCluster:
        """Make the cluster and start it; returns once it accepts connections.

        Raises:
            ClusterError: initdb or pg_ctl failed (the message has their output and the log).
        """
        if self._user is not None:
            try:
                account = pwd.getpwnam(self._user)
            except KeyError as exc:
                raise ClusterError(
                    f"running as root needs the OS user {self._user!r} (initdb refuses root);"
                    " the Debian postgresql package creates it"
                ) from exc
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self._bin / "pg_ctl"), str(self.data),
             str(self.root), self._user or ""],
            stdin=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        atexit.register(self.stop)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        settings = {
            **_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        (self.data / "pg_hba.conf").write_text(_HBA)
        for attempt in range(3):
            try:
                self._pg_ctl("start")
                return self
            except ClusterError as exc:
                # A free port may be taken between choosing it and binding it: take another.
                if self._pinned or attempt == 2 or "could not bind" not in str(exc):
                    raise
            self.port = _free_port()
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {self.port}\n")  # the last setting of a name wins
        raise AssertionError("unreachable")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "60",
            *extra, action,
        )  # fmt: skip

    def restart(self) -> None:
        """Restart the server (``pg_ctl restart -m fast``): every open connection is cut.

        Raises:
            ClusterError: pg_ctl failed.
        """
        self._pg_ctl("restart", "-m", "fast")

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` on this cluster (``postgresql://postgres@127.0.0.1:P/DB``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a fresh, empty database (``aicm_t<N>``); returns its URL."""
        import psycopg  # the postgres extra; only needed once a cluster is in use

        with self._lock:
            name = f"aicm_t{next(self._numbers)}"
            for attempt in (1, 2):
                if self._admin is None or self._admin.closed:
                    self._admin = psycopg.connect(self.url(), autocommit=True)
                try:
                    self._admin.execute(f"CREATE DATABASE {name}")
                    break
                except psycopg.OperationalError:
                    # The cluster was restarted since: reconnect once.
                    self._admin.close()
                    if attempt == 2:
                        raise
        return self.url(name)

    def stop(self) -> None:
        """Stop the cluster and remove its directory; waits for both (idempotent)."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None:
            return
        if watchdog.stdin is not None:
            watchdog.stdin.close()
        try:
            watchdog.wait(120)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()


class _Session:
    """The session's cluster, started at most once, and the test being run."""

    cluster: PostgresCluster | None = None
    error: ClusterError | None = None
    sqlite_only = False

    @classmethod
    def get(cls) -> PostgresCluster:
        """The session cluster, started on first use; skips or fails when it cannot start."""
        if cls.cluster is None and cls.error is None:
            cluster = None
            try:
                cluster = PostgresCluster()
                cls.cluster = cluster.start()
            except ClusterError as exc:
                cls.error = exc
                if cluster is not None:
                    cluster.stop()
        if cls.cluster is not None:
            return cls.cluster
        message = f"PostgreSQL test cluster could not start:\n{cls.error}"
        if postgres_required():
            pytest.exit(message, returncode=1)
        pytest.skip(message.splitlines()[0] + " " + str(cls.error).splitlines()[0])


def _default_database(owner: object) -> str:
    if _Session.sqlite_only:
        return _sqlite_default(owner)
    return _Session.get().create_database()


_sqlite_default = _runner._default_database


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers; in PostgreSQL mode, point LocalServer's default database here."""
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): the test is about SQLite itself; its servers use SQLite files"
        " even when AICM_TEST_BACKEND=postgresql",
    )
    config.addinivalue_line(
        "markers", "postgres: the test needs a PostgreSQL cluster (started for it if need be)"
    )
    if backend() == "postgresql":
        _runner._default_database = _default_database


def pytest_sessionstart(session: pytest.Session) -> None:
    """In PostgreSQL mode, start the cluster before the first test (failing early in CI)."""
    if backend() == "postgresql":
        with contextlib.suppress(pytest.skip.Exception):
            _Session.get()


def pytest_report_header(config: pytest.Config) -> str:
    """Say which backend the server tests run on."""
    if backend() == "postgresql" and _Session.cluster is not None:
        return f"server backend: postgresql ({_Session.cluster.url()}, {_Session.cluster.root})"
    return f"server backend: {backend()}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Servers made in the body of a ``sqlite_only`` test get SQLite files in PostgreSQL mode.

    Only the body: a session fixture first requested by such a test stays on PostgreSQL.
    """
    marker = item.get_closest_marker("sqlite_only")
    if marker is not None and not (marker.args or marker.kwargs.get("reason")):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.sqlite_only needs a reason")
    _Session.sqlite_only = marker is not None
    try:
        return (yield)
    finally:
        _Session.sqlite_only = False


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the session's cluster and remove it."""
    _runner._default_database = _sqlite_default
    if _Session.cluster is not None:
        _Session.cluster.stop()
        _Session.cluster = None


@pytest.fixture(scope="session")
def postgres_cluster() -> PostgresCluster:
    """The session's PostgreSQL cluster (started on first use, in either backend mode)."""
    return _Session.get()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """The URL of a fresh, empty database on the session's cluster."""
    return postgres_cluster.create_database()


@pytest.fixture
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database for a server of the session's backend: a URL, or a SQLite file path."""
    if backend() == "postgresql" and request.node.get_closest_marker("sqlite_only") is None:
        return _Session.get().create_database()
    return str(tmp_path / "server.db")


def stored_bytes(db: str) -> bytes:
    """Everything a server's database holds, as bytes to search (secrets at rest).

    A SQLite file is read raw with its ``-wal``; a PostgreSQL database is every row of every
    table of its ``public`` schema as text.
    """
    if not is_postgres_url(db):
        data = b""
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError), open(db + suffix, "rb") as handle:
                data += handle.read()
        return data
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        return b"\n".join(
            str(row[0]).encode()
            for (table,) in tables
            for row in conn.execute(f'SELECT CAST(t AS text) FROM "{table}" t').fetchall()
        )
