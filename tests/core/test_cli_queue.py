"""The queue commands and ``queue-monitor`` driven in subprocesses on real queue files."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import anyio

from aicostmanager import __version__
from aicostmanager._queue import DurableQueue

BODY = (
    b'{"service_key":"openai::gpt-5-mini","response_id":"r-1","timestamp":"1.0","payload":{"n":1}}'
)
CLI = [sys.executable, "-m", "aicostmanager.cli"]
MONITOR = [sys.executable, "-c", "from aicostmanager.cli import queue_monitor_main as m; m()"]


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    return subprocess.run(
        command, env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False
    )


async def _fill(path: Path, *, dead: bool = True, error: str | None = None) -> None:
    queue = await DurableQueue.open(path)
    now = time.time()
    await queue.append([BODY, BODY], "k", now - 90)
    rows = await queue.claim("k", "w", limit=2, now=now, lease_seconds=60)
    retry = [(rows[1].id, now + 30, error or "ConnectError: refused")]
    bad = [(rows[0].id, "HTTP 422: bad usage", ["bad usage"])] if dead else []
    await queue.settle(dead=bad, retry=retry, now=now)
    await queue.close()


async def _empty(path: Path) -> None:
    await (await DurableQueue.open(path)).close()


def test_queue_commands_read_aicm_db_path(tmp_path: Path) -> None:
    """Without DB_PATH the commands use $AICM_DB_PATH (as the tracker does)."""
    db = tmp_path / "env-queue.db"
    anyio.run(_fill, db)
    done = _run([*CLI, "queue", "stats", "--json"], AICM_DB_PATH=str(db))
    assert done.returncode == 0, done.stderr
    assert '"pending": 1' in done.stdout and '"dead": 1' in done.stdout


def test_queue_without_a_file_says_which_one(tmp_path: Path) -> None:
    """A queue file that does not exist: exit 1 and one line naming it, no traceback."""
    missing = tmp_path / "nope.db"
    done = _run([*CLI, "queue", "stats"], AICM_DB_PATH=str(missing))
    assert done.returncode == 1
    assert str(missing) in done.stderr and "Traceback" not in done.stderr


def test_empty_failed_and_keys_say_so(tmp_path: Path) -> None:
    """`queue failed` and `queue keys` on an empty file print what they found: nothing."""
    db = tmp_path / "q.db"
    anyio.run(_empty, db)
    assert _run([*CLI, "queue", "failed", str(db)]).stdout.strip() == "no failed records"
    assert _run([*CLI, "queue", "keys", str(db)]).stdout.strip() == "no keys: nothing pending"


def test_version_and_help_texts() -> None:
    """--version prints the version; queue-monitor names itself; --limit has help."""
    assert _run([*CLI, "--version"]).stdout.strip() == f"aicostmanager {__version__}"
    assert "--version" in _run([*CLI, "--help"]).stdout
    monitor_help = _run([*MONITOR, "--help"]).stdout
    assert monitor_help.startswith("usage: queue-monitor ")
    assert "--once" in monitor_help
    assert "show at most N records" in _run([*CLI, "queue", "failed", "-h"]).stdout


def test_monitor_once_prints_one_snapshot(tmp_path: Path) -> None:
    """--once: depth, oldest record's age, last error, why records wait, last rejection."""
    db = tmp_path / "q.db"
    anyio.run(_fill, db)
    done = _run([*MONITOR, str(db), "--once"])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "pending:       1 records" in out
    assert "oldest record: 1 min 3" in out and "(1 attempt(s))" in out
    assert "last error:    ConnectError: refused" in out
    assert "state:         waiting" in out
    assert "last rejection:#1 HTTP 422: bad usage" in out
    assert out.count("pending:") == 1


def _on_terminal(command: list[str], **env: str) -> str:
    """Run ``command`` with a pseudo-terminal as stdout; return what it printed."""
    leader, follower = pty.openpty()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    proc = subprocess.Popen(
        command, stdout=follower, stderr=subprocess.PIPE, env={**clean, **env, "COLUMNS": "120"}
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, err = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, err
    return b"".join(chunks).decode("utf-8", "replace") + err.decode()


def test_monitor_is_a_rich_table_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal the monitor draws a live rich table titled with the file."""
    db = tmp_path / "q.db"
    anyio.run(_fill, db)
    out = _on_terminal([*MONITOR, str(db), "-i", "0", "--count", "2"])
    assert f"aicostmanager queue: {db}" in out
    assert "time to empty" in out and "ConnectError: refused" in out


def test_monitor_without_rich_falls_back_with_a_hint(tmp_path: Path) -> None:
    """Without rich the terminal gets plain text and the exact install line."""
    db = tmp_path / "q.db"
    anyio.run(_fill, db)
    blocked = [
        sys.executable,
        "-c",
        "import sys; sys.modules['rich'] = None; "
        "from aicostmanager.cli import queue_monitor_main as m; sys.exit(m())",
    ]
    out = _on_terminal([*blocked, str(db), "-i", "0", "--count", "1"])
    assert "pip install 'aicostmanager[cli]'" in out
    assert "pending:       1 records" in out
