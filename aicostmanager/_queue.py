"""The durable queue: a SQLite file through aiosqlite (the only aiosqlite importer).

Rows hold the encoded record bytes and a fingerprint of the API key that queued them (a hash;
the key itself is never stored). A row is *due* when ``next_attempt_at <= now``. Claiming a batch
sets a lease by moving ``next_attempt_at`` to the lease's end in one ``UPDATE ... RETURNING``
statement, so several processes can share one file: no row is claimed by two live workers, and
a crashed worker's rows become due again when its lease runs out. Counters are kept by triggers
in a one-row ``stats`` table, so neither ``append`` nor ``claim`` ever counts rows.

Every method turns ``sqlite3.Error`` into ``QueueError``. A damaged file (found by a bounded
``PRAGMA quick_check`` at open, or by any statement failing with "malformed" / "not a
database" later) is moved aside to ``<name>.corrupt-<UTC time>`` with its ``-wal``/``-shm``,
the rows that can still be read are copied, with their ids, into a fresh file at the same path,
and the operation is retried once on it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

import aiosqlite
import anyio
import anyio.to_thread

from ._exceptions import QueueCorruptError, QueueError
from ._queue_append import (
    BUSY_TIMEOUT,
    MAX_ROWS_PER_INSERT,
    BlockingAppender,
    LoopAppender,
    insert_sql,
)
from ._queue_files import (
    Reader,
    Row,
    create_private_file,
    identity,
    locate,
    move_aside,
    quick_check,
    readable_rows,
)

__all__ = (
    "BlockingAppender",
    "DeadRow",
    "DurableQueue",
    "LoopAppender",
    "QueueCorruptError",
    "QueueCounts",
    "QueueError",
    "QueueRow",
)

logger = logging.getLogger("aicostmanager")

SCHEMA_VERSION = 1

_QUICK_CHECK_BUDGET = 1.0  # seconds of PRAGMA quick_check at open; a deeper file is checked partly
_RECOVERY_INTERVAL = 60.0  # a file found damaged again this soon is not moved aside again
_SALVAGE_CHUNK = 500
_CORRUPTION_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB

# Each setting with the reason it is there.
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer; survives kill -9
    "PRAGMA temp_store=MEMORY",  # no temp files for the small sorts we do
    "PRAGMA cache_size=-8192",  # 8 MiB page cache: bounded memory even with a deep queue
    "PRAGMA foreign_keys=OFF",  # no foreign keys in this schema
)

# The counters' table; also re-created at open when a damaged file lost it.
_STATS_TABLE = """
    CREATE TABLE IF NOT EXISTS stats (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        pending INTEGER NOT NULL,
        bytes   INTEGER NOT NULL,
        dead    INTEGER NOT NULL
    );
"""

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS pending (
        id              INTEGER PRIMARY KEY,
        body            BLOB    NOT NULL,
        key_fp          TEXT    NOT NULL,
        enqueued_at     REAL    NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL    NOT NULL,
        lease_owner     TEXT,
        last_error      TEXT
    );
    CREATE INDEX IF NOT EXISTS pending_due ON pending (key_fp, next_attempt_at);
    CREATE INDEX IF NOT EXISTS pending_leased ON pending (lease_owner)
        WHERE lease_owner IS NOT NULL;
    CREATE TABLE IF NOT EXISTS dead_letter (
        id          INTEGER PRIMARY KEY,
        body        BLOB    NOT NULL,
        key_fp      TEXT    NOT NULL,
        enqueued_at REAL    NOT NULL,
        failed_at   REAL    NOT NULL,
        attempts    INTEGER NOT NULL,
        reason      TEXT    NOT NULL,
        errors      TEXT
    );
    CREATE TABLE IF NOT EXISTS stats (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        pending INTEGER NOT NULL,
        bytes   INTEGER NOT NULL,
        dead    INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO stats (id, pending, bytes, dead) VALUES (1, 0, 0, 0);
    CREATE TRIGGER IF NOT EXISTS pending_in AFTER INSERT ON pending BEGIN
        UPDATE stats SET pending = pending + 1, bytes = bytes + length(NEW.body) WHERE id = 1;
    END;
    CREATE TRIGGER IF NOT EXISTS pending_out AFTER DELETE ON pending BEGIN
        UPDATE stats SET pending = pending - 1, bytes = bytes - length(OLD.body) WHERE id = 1;
    END;
    CREATE TRIGGER IF NOT EXISTS dead_in AFTER INSERT ON dead_letter BEGIN
        UPDATE stats SET dead = dead + 1 WHERE id = 1;
    END;
    CREATE TRIGGER IF NOT EXISTS dead_out AFTER DELETE ON dead_letter BEGIN
        UPDATE stats SET dead = dead - 1 WHERE id = 1;
    END;
    """,
)


class _Damaged(sqlite3.DatabaseError):
    """``PRAGMA quick_check`` found damage."""


def _is_corruption(exc: BaseException) -> bool:
    if isinstance(exc, _Damaged):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _CORRUPTION_CODES
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "not a database" in text
    )


class QueueRow(NamedTuple):
    """A claimed row."""

    id: int
    body: bytes
    attempts: int
    enqueued_at: float


class DeadRow(NamedTuple):
    """A dead-lettered row."""

    id: int
    body: bytes
    enqueued_at: float
    failed_at: float
    attempts: int
    reason: str
    errors: list[str]


@dataclass(frozen=True)
class QueueCounts:
    """Counters of the whole file (every process and key sharing it)."""

    pending: int
    pending_bytes: int
    dead: int


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _serialized(
    verb: str,
) -> Callable[
    [Callable[Concatenate[DurableQueue, _P], Coroutine[Any, Any, _T]]],
    Callable[Concatenate[DurableQueue, _P], Coroutine[Any, Any, _T]],
]:
    """Run the method holding the connection's lock; translate ``sqlite3.Error``.

    The writer task and every in-flight batch share one connection; a transaction is several
    awaited statements, and a statement from another task issued in between would run inside
    it (or fail with "cannot start a transaction within a transaction" and roll it back).
    A method that finds the file damaged recovers it (see ``DurableQueue.recover``) and runs
    once more on the fresh file.
    """

    def decorate(
        method: Callable[Concatenate[DurableQueue, _P], Coroutine[Any, Any, _T]],
    ) -> Callable[Concatenate[DurableQueue, _P], Coroutine[Any, Any, _T]]:
        async def locked(self: DurableQueue, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            async with self._lock:
                try:
                    return await method(self, *args, **kwargs)
                except sqlite3.Error as exc:
                    if not (_is_corruption(exc) and self._may_recover()):
                        raise self.error(verb, exc) from exc
                    await self._recover(exc)
                try:
                    return await method(self, *args, **kwargs)
                except sqlite3.Error as exc:
                    raise self.error(verb, exc) from exc

        functools.update_wrapper(locked, method)
        return locked

    return decorate


class DurableQueue:
    """An async handle on one queue file. Create with ``await DurableQueue.open(path)``."""

    def __init__(
        self,
        path: Path,
        conn: aiosqlite.Connection,
        *,
        synchronous: str = "NORMAL",
        recover: bool = True,
    ) -> None:
        self.path = path
        self._conn = conn
        # asyncio's lock: no checkpoint and no task lookup when uncontended (aiosqlite runs on
        # asyncio only, and every method awaits the connection anyway).
        self._lock = asyncio.Lock()
        self._synchronous = synchronous
        self._recover_enabled = recover
        self._recovered_at: float | None = None
        self._identity = identity(path)
        # Held by a recovery while it moves the file aside and copies it, and by a
        # ``BlockingAppender`` while it writes: no thread writes into a file being replaced.
        self.file_lock = threading.Lock()
        self._appenders: list[BlockingAppender | LoopAppender] = []

    def __repr__(self) -> str:
        return f"DurableQueue(path={str(self.path)!r})"

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        create: bool = True,
        recover: bool = True,
    ) -> DurableQueue:
        """Open (creating with mode 0600 if needed), check and migrate a queue file.

        Args:
            path: the queue file.
            synchronous: ``NORMAL`` (survives kill -9) or ``FULL`` (survives power loss).
            create: create the file when missing; ``False`` (the maintenance tools) refuses
                a missing file or one that is not a queue instead.
            recover: move a damaged file aside and salvage its rows into a fresh one;
                ``False`` raises ``QueueCorruptError`` instead.

        Raises:
            QueueError: the file cannot be opened or is not a queue.
            QueueCorruptError: the file is damaged and ``recover`` is off (or failed).
        """
        try:
            target, was_empty = await anyio.to_thread.run_sync(locate, path, create)
            conn = await aiosqlite.connect(str(target), isolation_level=None, timeout=BUSY_TIMEOUT)
        except FileNotFoundError as exc:
            if create:
                raise QueueError(f"cannot open queue file {path}: {exc}") from exc
            raise QueueError(f"queue file {path} does not exist") from exc
        except (OSError, sqlite3.Error) as exc:
            raise QueueError(f"cannot open queue file {path}: {exc}") from exc
        if was_empty:
            logger.error(
                "queue file %s was empty (0 bytes): if it held a queue, its records are lost "
                "(was it truncated?); starting a new queue",
                target,
            )
        queue = cls(target, conn, synchronous=synchronous, recover=recover)
        try:
            await queue._prepare(check=True, migrate=create)
        except sqlite3.Error as exc:
            if not (recover and _is_corruption(exc)):
                await queue.close()
                raise queue.error("prepare", exc) from exc
            try:
                await queue._recover(exc)
            except (OSError, sqlite3.Error) as again:
                await queue.close()
                raise QueueCorruptError(
                    f"queue file {target} is damaged and could not be recovered: {again}"
                ) from again
        return queue

    async def _prepare(self, *, check: bool, migrate: bool) -> None:
        conn = self._conn
        if not migrate:
            # Before any pragma: a file that is not a queue is left exactly as it was.
            rows = list(
                await conn.execute_fetchall(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
                )
            )
            if not rows:
                raise sqlite3.DatabaseError("not an aicostmanager queue file")
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        await conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        await conn.execute(
            f"PRAGMA synchronous={'FULL' if self._synchronous == 'FULL' else 'NORMAL'}"
        )
        if check:
            problems = await anyio.to_thread.run_sync(
                quick_check, self.path, _QUICK_CHECK_BUDGET, BUSY_TIMEOUT
            )
            if problems:
                raise _Damaged("; ".join(problems)[:1000])
        await self._migrate()
        await self._repair_counters()

    async def _repair_counters(self) -> None:
        """Recount the ``stats`` row when it is missing or not numbers (a damaged file)."""
        conn = self._conn
        try:
            rows = list(await conn.execute_fetchall("SELECT pending, bytes, dead FROM stats"))
        except sqlite3.OperationalError:
            rows = []  # the table itself is gone
        if len(rows) == 1 and all(isinstance(value, int) for value in rows[0]):
            return
        logger.error("queue counters of %s were damaged; recounting the rows", self.path)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split(_STATS_TABLE):
                await conn.execute(statement)
            await conn.execute(
                "INSERT OR REPLACE INTO stats (id, pending, bytes, dead) VALUES (1, "
                "(SELECT COUNT(*) FROM pending), "
                "(SELECT COALESCE(SUM(length(body)), 0) FROM pending), "
                "(SELECT COUNT(*) FROM dead_letter))"
            )
            await conn.execute("COMMIT")
        except BaseException:
            await _rollback(conn)
            raise

    def error(self, verb: str, exc: BaseException) -> QueueError:
        """The ``QueueError`` (``QueueCorruptError`` for a damaged file) for a failed statement."""
        if _is_corruption(exc):
            return QueueCorruptError(f"queue file {self.path} is damaged ({verb}): {exc}")
        return QueueError(f"cannot {verb} {self.path}: {exc}")

    def _may_recover(self) -> bool:
        if not self._recover_enabled:
            return False
        last = self._recovered_at
        return last is None or time.monotonic() - last > _RECOVERY_INTERVAL

    async def recover(self) -> int:
        """Move the file aside and salvage its readable rows into a fresh one (see ``_recover``).

        Returns:
            How many rows (pending and dead-lettered) were salvaged.

        Raises:
            QueueError: the file could not be moved or the fresh one created.
        """
        async with self._lock:
            try:
                return await self._recover(None)
            except (OSError, sqlite3.Error) as exc:
                raise QueueError(f"cannot recover {self.path}: {exc}") from exc

    async def _recover(self, cause: BaseException | None) -> int:
        """Move the file (with ``-wal`` and ``-shm``) to ``<name>.corrupt-<time>``, create a
        fresh file at the same path, and copy into it every row of the old one that can still
        be read, in chunks, each keeping its id (so batches in flight still settle).

        If another process sharing the file moved it aside first, the path already holds its
        fresh file: nothing is moved, and the rows this connection can read are merged into it.
        """
        self._recovered_at = time.monotonic()
        salvaged = 0
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.file_lock.acquire)
            try:
                salvaged = await self._recover_locked(cause)
            finally:
                self.file_lock.release()
        return salvaged

    async def _recover_locked(self, cause: BaseException | None) -> int:
        old = self._conn
        moved_to: Path | None = None
        if await anyio.to_thread.run_sync(identity, self.path) == self._identity:
            await _close_quietly(old)
            moved_to = await anyio.to_thread.run_sync(move_aside, self.path)
            old = await aiosqlite.connect(str(moved_to), isolation_level=None, timeout=BUSY_TIMEOUT)
        await anyio.to_thread.run_sync(create_private_file, self.path)
        self._conn = await aiosqlite.connect(
            str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT
        )
        self._identity = await anyio.to_thread.run_sync(identity, self.path)
        try:
            await self._prepare(check=False, migrate=True)
            pending, dead = await _copy_readable(old, self._conn)
        finally:
            await _close_quietly(old)
        logger.error(
            "queue file %s was damaged (%s); %s; %d pending and %d dead-lettered rows "
            "recovered into a fresh file",
            self.path,
            cause if cause is not None else "recovery requested",
            f"moved to {moved_to.name}" if moved_to else "another process had moved it aside",
            pending,
            dead,
        )
        return pending + dead

    async def _migrate(self) -> None:
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            rows = list(await conn.execute_fetchall("SELECT MAX(version) FROM schema_version"))
            current = int(rows[0][0] or 0) if rows else 0
            if current > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"queue schema version {current} is newer than this SDK ({SCHEMA_VERSION})"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _split(_MIGRATIONS[version - 1]):
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    @property
    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the file this handle writes to (changes when it is recovered)."""
        return self._identity

    @property
    def synchronous(self) -> str:
        """The ``synchronous`` setting of this handle's connections."""
        return self._synchronous

    def blocking_appender(self, key_fp: str) -> BlockingAppender:
        """A ``BlockingAppender`` for ``key_fp`` on this file, closed with this handle."""
        appender = BlockingAppender(self, key_fp)
        self._appenders.append(appender)
        return appender

    def loop_appender(self, key_fp: str) -> LoopAppender:
        """A ``LoopAppender`` for ``key_fp`` (``open`` it first), closed with this handle."""
        appender = LoopAppender(self, key_fp)
        self._appenders.append(appender)
        return appender

    @_serialized("checkpoint")
    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the file and start it over (``RESTART``).

        Other writers wait meanwhile: with a steady stream of commits a ``PASSIVE`` checkpoint
        never copies the whole log, which then keeps growing. The intake runs it between its
        own commits.

        Raises:
            QueueError: the file could not be checkpointed.
        """
        await self._conn.execute("PRAGMA wal_checkpoint(RESTART)")

    async def close(self) -> None:
        """Close the connection and the appenders' (idempotent)."""
        for appender in self._appenders:
            await anyio.to_thread.run_sync(appender.close)
        try:
            await self._conn.close()
        except (sqlite3.Error, ValueError):
            pass

    @_serialized("write to")
    async def append(
        self, bodies: Sequence[bytes], key_fp: str, now: float, *, drop_oldest: int = 0
    ) -> int:
        """Commit records in one transaction; optionally delete the ``drop_oldest`` oldest rows.

        Returns:
            The largest row id now in the queue (for ``flush`` marks).

        Raises:
            QueueError: the file could not be written (nothing was stored).
        """
        conn = self._conn
        if 0 < len(bodies) <= MAX_ROWS_PER_INSERT and not drop_oldest:
            # One statement in autocommit mode is its own transaction: one trip to the
            # connection's thread, and nothing to fetch back (``lastrowid`` is the last id).
            cursor = await conn.execute(insert_sql(len(bodies)), (key_fp, now, *bodies))
            return int(cursor.lastrowid or 0)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if drop_oldest:
                await conn.execute(
                    "DELETE FROM pending WHERE id IN (SELECT id FROM pending ORDER BY id LIMIT ?)",
                    (drop_oldest,),
                )
            last = 0
            for start in range(0, len(bodies), MAX_ROWS_PER_INSERT):
                chunk = bodies[start : start + MAX_ROWS_PER_INSERT]
                cursor = await conn.execute(insert_sql(len(chunk)), (key_fp, now, *chunk))
                last = int(cursor.lastrowid or 0)
            if not last:
                rows = list(await conn.execute_fetchall("SELECT MAX(id) FROM pending"))
                last = int(rows[0][0] or 0)
            await conn.execute("COMMIT")
        except BaseException:
            await _rollback(conn)
            raise
        return last

    @_serialized("claim from")
    async def claim(
        self, key_fp: str, owner: str, *, limit: int, now: float, lease_seconds: float
    ) -> list[QueueRow]:
        """Lease up to ``limit`` due rows of this key, oldest first (one statement).

        Raises:
            QueueError: the file could not be read or written.
        """
        rows = await self._conn.execute_fetchall(
            "UPDATE pending SET lease_owner = ?, next_attempt_at = ?, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM pending WHERE key_fp = ? AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at LIMIT ?) "
            "RETURNING id, body, attempts, enqueued_at",
            (owner, now + lease_seconds, key_fp, now, limit),
        )
        # The columns are already int, bytes, int, float; ids are unique, so sorting the
        # tuples sorts by id.
        claimed = list(map(QueueRow._make, rows))
        claimed.sort()
        return claimed

    @_serialized("update")
    async def settle(
        self,
        *,
        delivered: Iterable[int] = (),
        dead: Iterable[tuple[int, str, Sequence[str]]] = (),
        retry: Iterable[tuple[int, float, str]] = (),
        now: float,
    ) -> None:
        """Apply a batch's outcome in one transaction: delete delivered rows, move rejected
        rows to the dead-letter table with their reason, reschedule the rest.

        Raises:
            QueueError: the file could not be written (nothing changed).
        """
        done = list(delivered)
        dead_rows = list(dead)
        retry_rows = list(retry)
        conn = self._conn
        if done and not dead_rows and not retry_rows:
            await conn.execute(
                "DELETE FROM pending WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(done),),
            )
            return
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if done:
                await conn.execute(
                    "DELETE FROM pending WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps(done),),
                )
            if dead_rows:
                await conn.executemany(
                    "INSERT OR REPLACE INTO dead_letter "
                    "(id, body, key_fp, enqueued_at, failed_at, attempts, reason, errors) "
                    "SELECT id, body, key_fp, enqueued_at, ?, attempts, ?, ? "
                    "FROM pending WHERE id = ?",
                    [
                        (now, reason[:2000], json.dumps(list(errors)[:20]), row_id)
                        for row_id, reason, errors in dead_rows
                    ],
                )
                await conn.executemany(
                    "DELETE FROM pending WHERE id = ?", [(row[0],) for row in dead_rows]
                )
            if retry_rows:
                await conn.executemany(
                    "UPDATE pending SET next_attempt_at = ?, lease_owner = NULL, "
                    "last_error = ? WHERE id = ?",
                    [(when, error[:2000], row_id) for row_id, when, error in retry_rows],
                )
            await conn.execute("COMMIT")
        except BaseException:
            await _rollback(conn)
            raise

    @_serialized("read")
    async def next_due(self, key_fp: str) -> float | None:
        """The earliest ``next_attempt_at`` of this key's rows (index-only), or ``None``.

        Raises:
            QueueError: the file could not be read.
        """
        rows = list(
            await self._conn.execute_fetchall(
                "SELECT MIN(next_attempt_at) FROM pending WHERE key_fp = ?", (key_fp,)
            )
        )
        value = rows[0][0] if rows else None
        return None if value is None else float(value)

    @_serialized("update")
    async def release_orphaned_leases(self, is_orphaned: Callable[[str], bool], now: float) -> int:
        """Make rows leased by a worker that no longer exists due now; returns how many.

        ``is_orphaned(owner)`` decides from the owner id; leased rows are few, and the partial
        index on ``lease_owner`` keeps this independent of queue depth.

        Raises:
            QueueError: the file could not be read or written.
        """
        owners = [
            str(row[0])
            for row in await self._conn.execute_fetchall(
                "SELECT DISTINCT lease_owner FROM pending WHERE lease_owner IS NOT NULL"
            )
        ]
        released = 0
        for owner in filter(is_orphaned, owners):
            cursor = await self._conn.execute(
                "UPDATE pending SET next_attempt_at = ?, lease_owner = NULL WHERE lease_owner = ?",
                (now, owner),
            )
            released += int(cursor.rowcount)
        return released

    @_serialized("update")
    async def adopt(self, key_fp: str, *, from_key_fp: str | None = None) -> int:
        """Give pending rows of other keys (or of ``from_key_fp``) to ``key_fp``, due now.

        Raises:
            QueueError: the file could not be written.
        """
        where = "key_fp != ?" if from_key_fp is None else "key_fp = ?"
        cursor = await self._conn.execute(
            f"UPDATE pending SET key_fp = ?, lease_owner = NULL WHERE {where}",
            (key_fp, key_fp if from_key_fp is None else from_key_fp),
        )
        return int(cursor.rowcount)

    @_serialized("read")
    async def keys(self) -> dict[str, int]:
        """Pending rows per key fingerprint (a full scan: for maintenance, not the hot path).

        Raises:
            QueueError: the file could not be read.
        """
        rows = await self._conn.execute_fetchall(
            "SELECT key_fp, COUNT(*) FROM pending GROUP BY key_fp ORDER BY 2 DESC"
        )
        return {str(fp): int(count) for fp, count in rows}

    @_serialized("read")
    async def last_id(self) -> int:
        """The largest row id pending now, any key (0 when empty; a rowid lookup).

        Raises:
            QueueError: the file could not be read.
        """
        rows = list(await self._conn.execute_fetchall("SELECT MAX(id) FROM pending"))
        return int(rows[0][0] or 0) if rows else 0

    @_serialized("read")
    async def has_pending(self, key_fp: str, up_to_id: int) -> bool:
        """True while any row of this key with ``id <= up_to_id`` is still pending.

        Raises:
            QueueError: the file could not be read.
        """
        rows = list(
            await self._conn.execute_fetchall(
                "SELECT 1 FROM pending WHERE id <= ? AND key_fp = ? LIMIT 1", (up_to_id, key_fp)
            )
        )
        return bool(rows)

    @_serialized("read")
    async def counts(self) -> QueueCounts:
        """File-wide counters (kept by triggers; constant time).

        Raises:
            QueueError: the file could not be read, or its counters are damaged.
        """
        rows = list(
            await self._conn.execute_fetchall("SELECT pending, bytes, dead FROM stats WHERE id = 1")
        )
        if not rows:
            raise sqlite3.DatabaseError("the stats row is missing")
        values = rows[0]
        if not all(isinstance(value, int) for value in values):
            raise sqlite3.DatabaseError(f"the stats row is damaged: {tuple(values)!r}")
        pending, size, dead = values
        return QueueCounts(pending, size, dead)

    @_serialized("read")
    async def list_dead(self, *, limit: int = 100, offset: int = 0) -> list[DeadRow]:
        """Dead-lettered rows, oldest first.

        Raises:
            QueueError: the file could not be read.
        """
        rows = await self._conn.execute_fetchall(
            "SELECT id, body, enqueued_at, failed_at, attempts, reason, errors "
            "FROM dead_letter ORDER BY id LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [
            DeadRow(
                int(r[0]),
                bytes(r[1]),
                float(r[2]),
                float(r[3]),
                int(r[4]),
                str(r[5]),
                _errors(r[6]),
            )
            for r in rows
        ]

    @_serialized("update")
    async def requeue_dead(self, ids: Sequence[int] | None, now: float) -> int:
        """Move dead-lettered rows (all when ``ids`` is empty/None) back to pending, due now.

        Raises:
            QueueError: the file could not be written (nothing moved).
        """
        where, params = _id_filter(ids)
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = await conn.execute(
                "INSERT INTO pending (body, key_fp, enqueued_at, next_attempt_at) "
                f"SELECT body, key_fp, ?, ? FROM dead_letter {where} ORDER BY id",
                (now, now, *params),
            )
            moved = cursor.rowcount
            await conn.execute(f"DELETE FROM dead_letter {where}", params)
            await conn.execute("COMMIT")
        except BaseException:
            await _rollback(conn)
            raise
        return int(moved)

    @_serialized("update")
    async def purge_dead(self, ids: Sequence[int] | None) -> int:
        """Delete dead-lettered rows (all when ``ids`` is empty/None).

        Raises:
            QueueError: the file could not be written.
        """
        where, params = _id_filter(ids)
        cursor = await self._conn.execute(f"DELETE FROM dead_letter {where}", params)
        return int(cursor.rowcount)


_PENDING_COLUMNS = (
    "id, body, key_fp, enqueued_at, attempts, next_attempt_at, lease_owner, last_error"
)
_DEAD_COLUMNS = "id, body, key_fp, enqueued_at, failed_at, attempts, reason, errors"


async def _copy_readable(
    source: aiosqlite.Connection, target: aiosqlite.Connection
) -> tuple[int, int]:
    """Copy the readable pending and dead-lettered rows, ids kept, in one transaction.

    Returns:
        How many pending and dead-lettered rows were copied.
    """
    copied = [0, 0]
    await target.execute("BEGIN IMMEDIATE")
    try:
        for slot, (table, columns) in enumerate(
            (("pending", _PENDING_COLUMNS), ("dead_letter", _DEAD_COLUMNS))
        ):
            insert = f"INSERT OR IGNORE INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            async for rows in readable_rows(_reader(source, table, columns), _SALVAGE_CHUNK):
                if rows:
                    await target.executemany(insert, rows)
                    copied[slot] += len(rows)
        await target.execute("COMMIT")
    except BaseException:
        await _rollback(target)
        raise
    return copied[0], copied[1]


def _reader(conn: aiosqlite.Connection, table: str, columns: str) -> Reader:
    query = f"SELECT {columns} FROM {table} WHERE id > ? ORDER BY id LIMIT ?"

    async def read(after: int, limit: int) -> list[Row] | None:
        try:
            return [tuple(row) for row in await conn.execute_fetchall(query, (after, limit))]
        except sqlite3.Error:
            return None

    return read


async def _close_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.close()
    except (sqlite3.Error, ValueError):
        pass


def _errors(text: Any) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except (TypeError, ValueError):
        return [str(text)]
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _id_filter(ids: Sequence[int] | None) -> tuple[str, tuple[Any, ...]]:
    if not ids:
        return "", ()
    return "WHERE id IN (SELECT value FROM json_each(?))", (json.dumps([int(i) for i in ids]),)


async def _rollback(conn: aiosqlite.Connection) -> None:
    # Shielded: a cancelled transaction must still end, or the next statements would join it.
    with anyio.CancelScope(shield=True):
        try:
            await conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _split(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ``;`` inside BEGIN...END)."""
    statements: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
