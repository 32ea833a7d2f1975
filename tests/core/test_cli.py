"""The command line: queue maintenance, queue-monitor and the demo."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import pytest

from aicostmanager._queue import DurableQueue
from aicostmanager.cli import main, queue_monitor_main

BODY = (
    b'{"service_key":"openai::gpt-5-mini","response_id":"dead-1",'
    b'"timestamp":"1.0","payload":{"n":1}}'
)


async def _queue_with_dead_row(path: Path) -> None:
    queue = await DurableQueue.open(path)
    now = time.time()
    await queue.append([BODY, BODY], "k", now)
    rows = await queue.claim("k", "w", limit=1, now=now, lease_seconds=60)
    await queue.settle(dead=[(rows[0].id, "HTTP 422: bad usage", ["bad usage"])], now=now)
    await queue.close()


def test_queue_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """stats, failed, requeue and purge report and change the file."""
    db = tmp_path / "q.db"
    anyio.run(_queue_with_dead_row, db)
    assert main(["queue", "stats", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "pending": 1,
        "pending_bytes": len(BODY),
        "dead": 1,
    }
    assert main(["queue", "failed", str(db)]) == 0
    out = capsys.readouterr().out
    assert "dead-1" in out and "HTTP 422: bad usage" in out
    assert main(["queue", "requeue", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "requeued 1"
    assert main(["queue", "purge", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "purged 0"


def test_queue_monitor_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`queue-monitor DB_PATH` shows counts and dead-lettered rows."""
    db = tmp_path / "q.db"
    anyio.run(_queue_with_dead_row, db)
    assert queue_monitor_main([str(db), "-i", "0", "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("pending:       1") == 2 and "HTTP 422" in out


def test_unknown_command_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown commands exit 2 with a message; no arguments prints help."""
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
    assert main([]) == 2


def test_demo_runs_against_the_embedded_server(capsys: pytest.CaptureFixture[str]) -> None:
    """`aicostmanager demo` tracks, delivers and prints costs per customer and service."""
    assert main(["demo", "--events", "300", "--concurrency", "10"]) == 0
    captured = capsys.readouterr()
    assert "delivered 300" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].split() == ["customer", "service", "quantity", "cost", "(USD)"]
    assert any(line.startswith("acme") and "openai::gpt-5-mini" in line for line in lines)
    total = float(lines[-1].split()[-1])
    assert total > 0
