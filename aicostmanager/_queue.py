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
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import aiosqlite
import anyio
import anyio.to_thread

from ._exceptions import QueueCorruptError, QueueError
from ._queue_append import BlockingAppender, LoopAppender
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
from ._queue_sql import (
    BUSY_TIMEOUT,
    DEAD_COLUMNS,
    MIGRATIONS,
    PENDING_COLUMNS,
    SCHEMA_VERSION,
    STATS_TABLE,
    Role,
    connection_settings,
    insert_chunks,
    split_script,
)
from ._queue_statements import (
    Damaged,
    DeadRow,
    QueueCounts,
    QueueRow,
    QueueStatements,
    is_corruption,
    rollback,
    serialized,
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

_QUICK_CHECK_BUDGET = 1.0  # seconds of PRAGMA quick_check at open; a deeper file is checked partly
_RECOVERY_INTERVAL = 60.0  # a file found damaged again this soon is not moved aside again
_SALVAGE_CHUNK = 500


class DurableQueue(QueueStatements):
    """An async handle on one queue file. Create with ``await DurableQueue.open(path)``."""

    _conn: aiosqlite.Connection

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
            if not (recover and is_corruption(exc)):
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
        for pragma in connection_settings(Role.QUEUE, self._synchronous, BUSY_TIMEOUT):
            await conn.execute(pragma)
        if check:
            problems = await anyio.to_thread.run_sync(
                quick_check, self.path, _QUICK_CHECK_BUDGET, BUSY_TIMEOUT
            )
            if problems:
                raise Damaged("; ".join(problems)[:1000])
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
            for statement in split_script(STATS_TABLE):
                await conn.execute(statement)
            await conn.execute(
                "INSERT OR REPLACE INTO stats (id, pending, bytes, dead) VALUES (1, "
                "(SELECT COUNT(*) FROM pending), "
                "(SELECT COALESCE(SUM(length(body)), 0) FROM pending), "
                "(SELECT COUNT(*) FROM dead_letter))"
            )
            await conn.execute("COMMIT")
        except BaseException:
            await rollback(conn)
            raise

    def error(self, verb: str, exc: BaseException) -> QueueError:
        """The ``QueueError`` (``QueueCorruptError`` for a damaged file) for a failed statement."""
        if is_corruption(exc):
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
                for statement in split_script(MIGRATIONS[version - 1]):
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

    @serialized("checkpoint")
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

    @serialized("write to")
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
        statements = list(insert_chunks(bodies, key_fp, now))
        if len(statements) == 1 and not drop_oldest:
            # One statement in autocommit mode is its own transaction: one trip to the
            # connection's thread, and nothing to fetch back (``lastrowid`` is the last id).
            cursor = await conn.execute(*statements[0])
            return int(cursor.lastrowid or 0)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if drop_oldest:
                await conn.execute(
                    "DELETE FROM pending WHERE id IN (SELECT id FROM pending ORDER BY id LIMIT ?)",
                    (drop_oldest,),
                )
            last = 0
            for sql, params in statements:
                cursor = await conn.execute(sql, params)
                last = int(cursor.lastrowid or 0)
            if not last:
                rows = list(await conn.execute_fetchall("SELECT MAX(id) FROM pending"))
                last = int(rows[0][0] or 0)
            await conn.execute("COMMIT")
        except BaseException:
            await rollback(conn)
            raise
        return last


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
            (("pending", PENDING_COLUMNS), ("dead_letter", DEAD_COLUMNS))
        ):
            insert = f"INSERT OR IGNORE INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            async for rows in readable_rows(_reader(source, table, columns), _SALVAGE_CHUNK):
                if rows:
                    await target.executemany(insert, rows)
                    copied[slot] += len(rows)
        await target.execute("COMMIT")
    except BaseException:
        await rollback(target)
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
