"""A PostgreSQL server for the ``bench_pg_*`` scripts, and the CPU time of its processes.

``postgres_url(dsn)`` yields ``dsn`` when given (an existing server: ``--dsn`` or the
environment variable ``AICM_BENCH_PG``), else starts a throw-away cluster with the OS
packages' ``initdb`` / ``pg_ctl`` in a temporary folder (as the OS user ``postgres`` when run
as root, since ``initdb`` refuses root) and removes it afterwards. ``cluster_cpu()`` sums the
user + system CPU seconds of the postmaster and every process it forked (backends, WAL writer,
checkpointer...), read from ``/proc``: the database's share of a benchmark's work. Standard
library only.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/bin")
_TICKS = os.sysconf("SC_CLK_TCK")

# Settings of the throw-away cluster: durable commits (fsync on, as in production), enough
# connections for 4 workers x a pool each, memory a small server would give it.
_CONF = """
listen_addresses = '127.0.0.1'
max_connections = 300
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 15min
"""


def _tool(name: str) -> str:
    for folder in _BIN_DIRS:
        path = Path(folder, name)
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install PostgreSQL (apt-get install postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def postgres_url(dsn: str | None = None, port: int | None = None) -> Iterator[str]:
    """A ``postgresql://`` URL of a server to benchmark (see the module docstring).

    Raises:
        RuntimeError: the throw-away cluster could not be made or started.
    """
    dsn = dsn or os.environ.get("AICM_BENCH_PG")
    if dsn:
        yield dsn
        return
    root = Path(tempfile.mkdtemp(prefix="aicm-bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = port or _free_port()
    try:
        subprocess.run(
            _as_postgres(
                [_tool("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]
            ),
            check=True,
            capture_output=True,
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(_CONF + f"port = {port}\nunix_socket_directories = '{root}'\n")
        subprocess.run(
            _as_postgres(
                [_tool("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode()[-2000:]}") from exc
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([_tool("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def server_code() -> str:
    """Where the ``aicostmanager`` the server subprocesses import comes from (``PYTHONPATH``
    may point at another checkout than the one the scripts run from), with its git commit."""
    found = subprocess.run(
        [sys.executable, "-c", "import aicostmanager; print(aicostmanager.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    root = Path(found).parent.parent if found else Path(".")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    return f"{root} ({commit or 'not a git checkout'})"


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of ``pid`` from ``/proc``; None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def process_tree_cpu(root_pids: list[int]) -> float:
    """CPU seconds (user + system) of ``root_pids`` and every live descendant of them.

    A descendant that exited is not counted (its CPU went to its parent's "children" times,
    which this does not read): measure while the processes run.
    """
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, stack, seen = 0.0, list(root_pids), set()
    while stack:
        pid = stack.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        stack.extend(children.get(pid, ()))
    return total


def postmaster_pid(backend_pid: int) -> int:
    """The postmaster of a backend (its parent), from ``SELECT pg_backend_pid()`` on a local
    server.

    Raises:
        RuntimeError: no such process here (the server runs on another machine).
    """
    stat = _stat(backend_pid)
    if stat is None:
        raise RuntimeError("the PostgreSQL server does not run on this machine")
    return stat[0]


def cluster_cpu(postmaster: int) -> float:
    """CPU seconds of a PostgreSQL cluster's processes (postmaster and its children)."""
    return process_tree_cpu([postmaster])


def wait_gone(pid: int, timeout: float = 30.0) -> None:
    """Wait until ``pid`` has exited (reaped or not).

    Raises:
        TimeoutError: still running after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while _stat(pid) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still running")
        time.sleep(0.05)
