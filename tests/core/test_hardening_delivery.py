"""Delivery hardening (issue 7): what acknowledges a record, redirects, damaged queue files,
SQLite errors in every queue method, a supervised worker, and the queue CLI on bad files."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncTracker
from aicostmanager._api_key import key_fingerprint
from aicostmanager._config import TrackerSettings, resolve_settings
from aicostmanager._delivery._classify import Action, classify
from aicostmanager._delivery._counters import Counters
from aicostmanager._delivery._worker import DeliveryWorker
from aicostmanager._exceptions import AICMError
from aicostmanager._http import AsyncHTTP, Response
from aicostmanager._queue import DurableQueue, QueueCorruptError, QueueError
from aicostmanager._wire import TrackResponse
from aicostmanager.cli import main
from aicostmanager.server import LocalServer

from .conftest import AddFault
from .resilience_helpers import (
    SERVICE,
    USAGE,
    key_id,
    persistent_options,
    server_stats,
    wait_until,
)


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {"service_key": SERVICE, "usage": USAGE, "response_id": uuid.uuid4().hex} for _ in range(n)
    ]


def _bodies(n: int) -> list[bytes]:
    """Encoded ``/track`` records, as the tracker stores them."""
    return [
        json.dumps(
            {
                "service_key": SERVICE,
                "response_id": uuid.uuid4().hex,
                "timestamp": f"{time.time():.6f}",
                "payload": {**USAGE, "input_tokens": i},
            }
        ).encode()
        for i in range(n)
    ]


async def _wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    with anyio.fail_after(seconds):
        await wait_until(condition)


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _moved_aside(folder: Path) -> list[str]:
    """Names of the files moved aside as damaged (without their -wal / -shm)."""
    return [p.name for p in folder.glob("*.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]


def _corrupt_pages(path: Path, *, first_fraction: float = 1 / 3, pages: int = 3) -> None:
    """Overwrite whole pages in the middle of a (checkpointed) SQLite file with garbage."""
    size = path.stat().st_size
    page_size = 4096
    first = int(size // page_size * first_fraction)
    garbage = random.Random(7).randbytes(page_size * pages)
    with path.open("r+b") as handle:
        handle.seek(first * page_size)
        handle.write(garbage)


def _pending_in(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM pending").fetchone()
    return int(count)


# ---- item 1: only a well-formed /track answer acknowledges records -------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {
            "status": 200,
            "raw_body": "<html>Sign in to the hotel Wi-Fi</html>",
            "content_type": "text/html",
        },
        {"status": 204, "raw_body": ""},
        {"status": 200, "body": {"ok": True}},
        {"status": 202, "body": {"results": []}},
    ],
    ids=["captive-portal-html", "empty-204", "ok-true", "empty-results"],
)
async def test_malformed_2xx_acknowledges_nothing(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault, answer: dict[str, Any]
) -> None:
    """A 2xx that is not a /track answer settles no record: all are retried and reach the server."""
    fault(count=2, **answer)
    options = persistent_options(tmp_path, api_key, local_server.url, batch_interval=0)
    async with AsyncTracker(**options) as tracker:
        await tracker.track_batch(_records(50))
        with anyio.fail_after(30):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert stats.failed_requests >= 1
    assert "not a /track answer" in (stats.last_error or "")
    assert (stats.delivered, stats.dead_lettered) == (50, 0)
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["accepted"] == 50
    assert _pending_in(tmp_path / "queue.db") == 0


async def test_results_that_leave_records_out_settle_only_the_named(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault
) -> None:
    """A results list naming 1 of 20 records settles that one; the other 19 are sent again."""
    records = _records(20)
    named = records[0]["response_id"]
    fault(count=1, status=202, body={"results": [{"response_id": named, "status": "queued"}]})
    options = persistent_options(tmp_path, api_key, local_server.url, batch_interval=0)
    async with AsyncTracker(**options) as tracker:
        await tracker.track_batch(records)
        with anyio.fail_after(30):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert (stats.delivered, stats.dead_lettered) == (20, 0)
    assert stats.retries == 19
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["accepted"] == 19  # the named record was taken as delivered by the fake answer
    assert server["records_received"] == 19


@pytest.mark.parametrize(
    "answer",
    [
        # retried up to max_attempts (3) before spilling
        {"status": 200, "raw_body": "<html>portal</html>", "content_type": "text/html", "count": 3},
        # a configuration problem: spilled after the first attempt
        {"status": 301, "headers": {"location": "https://elsewhere.example/"}, "count": 1},
    ],
    ids=["captive-portal", "redirect"],
)
async def test_immediate_mode_spills_what_an_answer_does_not_acknowledge(
    tmp_path: Path, local_server: LocalServer, api_key: str, fault: AddFault, answer: dict[str, Any]
) -> None:
    """Immediate mode: a captive portal or a redirect is not delivery; the record spills."""
    fault(**answer)
    options = persistent_options(
        tmp_path, api_key, local_server.url, delivery_type="immediate", max_attempts=3
    )
    async with AsyncTracker(**options) as tracker:
        result = await tracker.track(SERVICE, USAGE)
        assert (result.status, result.spilled, result.delivered) == ("queued", True, False)
        with anyio.fail_after(30):
            assert await tracker.flush()
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["accepted"] == 1


def _answer(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status_code=status, content=body, url="http://x/track", headers=headers)


_OK_BOTH = b'{"results": [{"response_id": "a", "status": "queued"}, {"response_id": "b"}]}'


@pytest.mark.parametrize(
    ("answer", "action", "delivered", "unacknowledged"),
    [
        (_answer(202, _OK_BOTH), Action.SETTLE, [0, 1], []),
        (
            _answer(202, b'{"results": [{"response_id": "b", "status": "queued"}]}'),
            Action.SETTLE,
            [1],
            [0],
        ),
        (
            _answer(200, b'{"results": [{"status": "queued"}, {"status": "queued"}]}'),
            Action.RETRY,
            [],
            [],
        ),
        (_answer(200, b"<html></html>", **{"content-type": "text/html"}), Action.RETRY, [], []),
        (_answer(204), Action.RETRY, [], []),
        (_answer(200, b'{"ok": true}'), Action.RETRY, [], []),
        (_answer(200, b"[1, 2]"), Action.RETRY, [], []),
        (_answer(302, location="/login"), Action.PAUSE, [], []),
        (
            _answer(308, location="https://u:p@h.example:8443/api/v1/track?k=1#f"),
            Action.PAUSE,
            [],
            [],
        ),
    ],
    ids=["both", "one-left-out", "unnamed", "html", "204", "ok", "array", "302", "308"],
)
def test_classify_rows(
    answer: Response, action: Action, delivered: list[int], unacknowledged: list[int]
) -> None:
    """Only results naming a record by response_id acknowledge it; 3xx pauses."""
    outcome = classify(["a", "b"], answer, None)
    assert outcome.action is action
    assert list(outcome.delivered) == delivered
    assert list(outcome.unacknowledged) == unacknowledged
    assert not outcome.dead
    if action is Action.PAUSE:
        assert outcome.warn_once
        assert "u:p" not in outcome.error and "k=1" not in outcome.error
        assert ("/login" in outcome.error) or (
            "https://h.example:8443/api/v1/track" in outcome.error
        )


# ---- item 2: redirects pause delivery, never dead-letter --------------------------------------


@pytest.mark.parametrize("status", [301, 307, 308])
async def test_redirect_pauses_delivery_and_warns_once(
    tmp_path: Path,
    local_server: LocalServer,
    api_key: str,
    admin: Any,
    fault: AddFault,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    """A redirect (even to the real /track) is not followed: delivery pauses, one WARNING."""
    target = f"{local_server.api_root}/track?token=secret-in-query"
    rule = fault(status=status, headers={"location": target}, retry_after="0.2")
    options = persistent_options(tmp_path, api_key, local_server.url, batch_interval=0)
    caplog.set_level(logging.INFO, logger="aicostmanager")
    async with AsyncTracker(**options) as tracker:
        await tracker.track_batch(_records(20))
        await _wait_for(lambda: tracker.statistics().failed_requests >= 3)
        stats = tracker.statistics()
        assert stats.delivered == 0
        assert stats.dead_lettered == 0
        assert "redirect" in (stats.last_error or "")
        server = await server_stats(local_server.url, key_id(api_key))
        assert server["accepted"] == 0  # httpx did not follow the redirect
        assert _pending_in(tmp_path / "queue.db") == 20
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        message = warnings[0].getMessage()
        assert f"{local_server.api_root}/track" in message
        assert "secret-in-query" not in message
        assert api_key not in caplog.text
        admin.remove_fault(rule)
        with anyio.fail_after(30):
            assert await tracker.flush()
        assert tracker.statistics().delivered == 20


# ---- item 3: damaged queue files ------------------------------------------------------------


async def _queue_file(path: Path, api_key: str, n: int) -> list[bytes]:
    bodies = _bodies(n)
    queue = await DurableQueue.open(path)
    for start in range(0, n, 1000):
        await queue.append(bodies[start : start + 1000], key_fingerprint(api_key), time.time())
    await queue.close()  # the last connection checkpoints the WAL into the file
    return bodies


async def test_damaged_file_is_moved_aside_at_open_and_its_rows_delivered(
    tmp_path: Path, local_server: LocalServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage in pages: the file is moved aside, readable rows recovered and delivered."""
    db = tmp_path / "queue.db"
    await _queue_file(db, api_key, 3000)
    _corrupt_pages(db)
    caplog.set_level(logging.ERROR, logger="aicostmanager")
    options = persistent_options(tmp_path, api_key, local_server.url, batch_interval=0)
    async with AsyncTracker(**options) as tracker:
        assert _moved_aside(tmp_path)
        recovered = tracker.statistics().pending
        assert 2000 < recovered < 3000  # most rows survive three bad pages
        with anyio.fail_after(60):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert stats.delivered == recovered
    assert any("damaged" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["accepted"] == recovered
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


async def test_claim_that_finds_damage_recovers_the_file(tmp_path: Path) -> None:
    """Damage found by a claim at runtime: the file is recovered and the claim answers from it."""
    db = tmp_path / "queue.db"
    await _queue_file(db, "k", 3000)
    queue = await DurableQueue.open(db)  # healthy now
    try:
        _corrupt_pages(db)  # damaged under the open connection (pages it has not read yet)
        rows = await queue.claim(
            key_fingerprint("k"), "w", limit=5000, now=time.time() + 1, lease_seconds=60
        )
        assert 2000 < len(rows) < 3000
        await queue.settle(delivered=[r.id for r in rows], now=time.time())
        assert (await queue.counts()).pending == 0
        assert _moved_aside(tmp_path)
    finally:
        await queue.close()


async def test_file_that_is_not_a_database_restarts_with_an_error_logged(
    tmp_path: Path, local_server: LocalServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A queue file overwritten with garbage: moved aside, logged at ERROR, tracking goes on."""
    db = tmp_path / "queue.db"
    db.write_bytes(random.Random(3).randbytes(64 * 1024))
    caplog.set_level(logging.ERROR, logger="aicostmanager")
    options = persistent_options(tmp_path, api_key, local_server.url)
    async with AsyncTracker(**options) as tracker:
        result = await tracker.track(SERVICE, USAGE)
        assert result.status == "queued"
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert _moved_aside(tmp_path)
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_queue_file_truncated_to_zero_bytes_is_reported(
    tmp_path: Path, local_server: LocalServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An existing 0-byte queue file (a truncated queue looks like that) is logged at ERROR."""
    db = tmp_path / "queue.db"
    await _queue_file(db, api_key, 10)
    db.write_bytes(b"")
    caplog.set_level(logging.ERROR, logger="aicostmanager")
    async with AsyncTracker(**persistent_options(tmp_path, api_key, local_server.url)):
        pass
    assert any("0 bytes" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


# ---- item 5: SQLite errors never escape; the worker is supervised ----------------------------


def _lock_for_writing(path: Path) -> sqlite3.Connection:
    """Another connection holding the write lock (readers still read: the file is in WAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


_READS: dict[str, Callable[[DurableQueue], Any]] = {
    "next_due": lambda q: q.next_due("k"),
    "keys": lambda q: q.keys(),
    "last_id": lambda q: q.last_id(),
    "has_pending": lambda q: q.has_pending("k", 10),
    "counts": lambda q: q.counts(),
    "list_dead": lambda q: q.list_dead(),
}
_WRITES: dict[str, Callable[[DurableQueue], Any]] = {
    "append": lambda q: q.append([b"{}"], "k", time.time()),
    "claim": lambda q: q.claim("k", "w", limit=10, now=time.time(), lease_seconds=5),
    "settle": lambda q: q.settle(delivered=[1], now=time.time()),
    "release_orphaned_leases": lambda q: q.release_orphaned_leases(lambda _: True, time.time()),
    "adopt": lambda q: q.adopt("k2"),
    "requeue_dead": lambda q: q.requeue_dead(None, time.time()),
    "purge_dead": lambda q: q.purge_dead(None),
}


async def _queue_with_a_leased_row(path: Path) -> DurableQueue:
    queue = await DurableQueue.open(path)
    await queue.append(_bodies(2), "k", time.time())
    await queue.claim("k", "w", limit=1, now=time.time(), lease_seconds=60)
    return queue


@pytest.mark.parametrize("method", sorted({**_READS, **_WRITES}))
async def test_every_queue_method_translates_sqlite_errors(tmp_path: Path, method: str) -> None:
    """Tables dropped under an open queue: every method raises QueueError (an AICMError)."""
    db = tmp_path / "queue.db"
    queue = await _queue_with_a_leased_row(db)
    try:
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.executescript("DROP TABLE pending; DROP TABLE dead_letter; DROP TABLE stats;")
        with pytest.raises(QueueError, match="no such table") as caught:
            await {**_READS, **_WRITES}[method](queue)
        assert isinstance(caught.value, AICMError)
        assert isinstance(caught.value.__cause__, sqlite3.Error)
    finally:
        await queue.close()


@pytest.mark.parametrize("method", sorted(_WRITES))
async def test_queue_writes_translate_a_locked_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """`database is locked` past the busy timeout comes out as QueueError."""
    monkeypatch.setattr("aicostmanager._queue.BUSY_TIMEOUT", 0.05)
    db = tmp_path / "queue.db"
    queue = await _queue_with_a_leased_row(db)
    lock = _lock_for_writing(db)
    try:
        with pytest.raises(QueueError, match="locked"):
            await _WRITES[method](queue)
    finally:
        lock.close()
        await queue.close()


async def test_locked_database_never_reaches_the_host_and_tracking_resumes(
    tmp_path: Path, local_server: LocalServer, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the write lock: track says error, nothing raises; then resume."""
    monkeypatch.setattr("aicostmanager._queue.BUSY_TIMEOUT", 0.1)
    options = persistent_options(tmp_path, api_key, local_server.url, batch_interval=0)
    async with AsyncTracker(**options) as tracker:
        await tracker.track_batch(_records(5))
        with anyio.fail_after(30):
            assert await tracker.flush()
        lock = _lock_for_writing(tmp_path / "queue.db")
        try:
            locked = await tracker.track(SERVICE, USAGE)
            assert locked.status == "error"  # could not be stored, and said so
            assert "locked" in locked.errors[0]
            await tracker.flush(timeout=0.5)
        finally:
            lock.close()
        await tracker.track_batch(_records(5))
        with anyio.fail_after(30):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert stats.delivered == 10
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["accepted"] == 10


@pytest.mark.parametrize(
    ("damage", "repair"),
    [
        (
            "UPDATE stats SET pending = 'broken' WHERE id = 1",
            "UPDATE stats SET pending = (SELECT COUNT(*) FROM pending) WHERE id = 1",
        ),
        (
            "DROP TABLE stats",
            "CREATE TABLE stats (id INTEGER PRIMARY KEY CHECK (id = 1), pending INTEGER NOT NULL,"
            " bytes INTEGER NOT NULL, dead INTEGER NOT NULL);"
            " INSERT INTO stats VALUES (1, (SELECT COUNT(*) FROM pending),"
            " (SELECT COALESCE(SUM(length(body)), 0) FROM pending),"
            " (SELECT COUNT(*) FROM dead_letter));",
        ),
    ],
    ids=["text-in-stats", "stats-dropped"],
)
async def test_damaged_stats_table_never_reaches_the_host(
    tmp_path: Path, local_server: LocalServer, api_key: str, damage: str, repair: str
) -> None:
    """A damaged or dropped `stats` table: the host survives; once repaired, delivery resumes."""
    db = tmp_path / "queue.db"
    options = persistent_options(tmp_path, api_key, local_server.url, batch_interval=0)
    async with AsyncTracker(**options) as tracker:
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.executescript(damage)
        with anyio.fail_after(10):
            await tracker.flush(timeout=1.0)  # the worker reads the counters while idle
        await tracker.track_batch(_records(5))
        with anyio.fail_after(10):
            await tracker.flush(timeout=1.0)
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
            conn.executescript(repair)
        await tracker.track_batch(_records(5))
        with anyio.fail_after(30):
            assert await tracker.flush()
        stats = tracker.statistics()
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["accepted"] == stats.delivered >= 5
    assert _pending_in(db) == 0


async def test_counters_lost_while_closed_are_recounted_at_open(
    tmp_path: Path, local_server: LocalServer, api_key: str
) -> None:
    """A queue file whose `stats` table was dropped opens with the true counts and delivers."""
    db = tmp_path / "queue.db"
    await _queue_file(db, api_key, 30)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("DROP TABLE stats")
    options = persistent_options(tmp_path, api_key, local_server.url)
    async with AsyncTracker(**options) as tracker:
        assert tracker.statistics().pending == 30
        with anyio.fail_after(30):
            assert await tracker.flush()
        assert tracker.statistics().delivered == 30


async def test_a_row_that_is_not_json_is_dead_lettered_alone(
    tmp_path: Path, local_server: LocalServer, api_key: str
) -> None:
    """A damaged row among good ones: the good ones are delivered, it is dead-lettered."""
    db = tmp_path / "queue.db"
    bodies = _bodies(9)
    bodies.insert(4, b"\x00not json\xff")
    queue = await DurableQueue.open(db)
    await queue.append(bodies, key_fingerprint(api_key), time.time())
    await queue.close()
    options = persistent_options(tmp_path, api_key, local_server.url)
    async with AsyncTracker(**options) as tracker:
        with anyio.fail_after(30):
            assert await tracker.flush()
        stats = tracker.statistics()
    assert (stats.delivered, stats.dead_lettered, stats.worker_restarts) == (9, 1, 0)


async def test_worker_is_supervised_and_restarted_after_an_unexpected_error(
    tmp_path: Path, local_server: LocalServer, api_key: str
) -> None:
    """An exception inside the worker is logged, counted and followed by a restart."""
    failures = 2

    async def on_response(response: TrackResponse) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("limits store unavailable")

    settings = resolve_settings(
        TrackerSettings,
        {"api_key": api_key, "ini_path": tmp_path / "AICM.INI", "batch_interval": 0.0},
    )
    counters = Counters()
    queue = await DurableQueue.open(tmp_path / "queue.db")
    http = AsyncHTTP(api_root=local_server.api_root, api_key=api_key)
    worker = DeliveryWorker(
        queue, http, settings, key_fingerprint(api_key), counters, on_response=on_response
    )
    try:
        async with anyio.create_task_group() as host:
            host.start_soon(worker.run)
            for round_ in range(1, 4):
                await queue.append(_bodies(10), key_fingerprint(api_key), time.time())
                worker.wake()
                await _wait_for(lambda: counters.delivered == 10 * round_)  # noqa: B023
            host.cancel_scope.cancel()
    finally:
        await http.aclose()
        await queue.close()
    assert counters.worker_restarts == 2
    assert "RuntimeError: limits store unavailable" in (counters.last_error or "")
    assert counters.delivered == 30
    server = await server_stats(local_server.url, key_id(api_key))
    assert server["accepted"] == 30


# ---- item 16: the queue CLI on missing and damaged files -------------------------------------


def test_cli_on_a_missing_file_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`queue stats <typo>` exits non-zero, says the file does not exist, creates no file."""
    typo = tmp_path / "qeueu.db"
    for action in ("stats", "keys", "failed"):
        assert main(["queue", action, str(typo)]) == 1
        err = capsys.readouterr().err
        assert "does not exist" in err
        assert not typo.exists()


async def test_cli_on_a_damaged_file_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`queue keys` / `stats` on a damaged file: one clear line on stderr, no traceback."""
    damaged = tmp_path / "damaged.db"
    await _queue_file(damaged, "k", 3000)
    _corrupt_pages(damaged)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(random.Random(5).randbytes(8192))
    other = tmp_path / "other-app.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        conn.commit()
    for path in (damaged, garbage, other):
        for action in ("keys", "stats"):
            assert await anyio.to_thread.run_sync(main, ["queue", action, str(path)]) == 1
            err = capsys.readouterr().err
            assert err.count("\n") == 1, err
            assert "Traceback" not in err
            assert str(path) in err
    assert not _moved_aside(tmp_path)  # the CLI never moves a file aside
    with contextlib.closing(sqlite3.connect(other)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    assert tables == {"users"}  # not turned into a queue
    assert mode == "delete"  # nor switched to WAL


async def test_queue_manager_reports_a_damaged_file_as_queue_corrupt_error(tmp_path: Path) -> None:
    """The maintenance API raises QueueCorruptError for a damaged file and leaves it in place."""
    from aicostmanager import AsyncQueueManager

    db = tmp_path / "queue.db"
    await _queue_file(db, "k", 3000)
    _corrupt_pages(db)
    with pytest.raises(QueueCorruptError):
        async with AsyncQueueManager(db):
            pass
    assert not _moved_aside(tmp_path)
    assert "queue.db" in _files(tmp_path)  # left in place for a tracker to recover
