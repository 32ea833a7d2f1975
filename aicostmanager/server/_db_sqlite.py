"""The server's SQLite backend: one writer connection, a small pool of reader connections.

Writes go through :meth:`SqliteDatabase.transaction`, serialised by a lock, so a ``/track``
batch is checked for duplicates and inserted atomically. Reads outside a transaction use the
reader pool (:mod:`._db_readers`): connections that (thanks to WAL) see only committed data
and never wait for the writer, each statement bounded by a time limit, a team never holding
them all. Inside a transaction every call uses the writer connection, so a task reads its own
writes.
"""

from __future__ import annotations

import contextvars
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import anyio

from ._db import PAGE_SIZE, ConstraintError, Database, Row
from ._db_dialect import SQLITE
from ._db_readers import ReadConnection, ReaderPool

__all__ = ("SqliteDatabase", "create_private")

# One line per setting, with the reason.
_PRAGMAS = (
    # Readers never block the writer and the writer never blocks readers.
    "PRAGMA journal_mode=WAL",
    # With WAL, NORMAL cannot corrupt the file; a power loss may drop only the last commits.
    "PRAGMA synchronous=NORMAL",
    # Wait instead of failing when another connection holds the lock briefly.
    "PRAGMA busy_timeout=5000",
    # 64 MiB page cache: keeps the indexes hot while ingesting large batches.
    "PRAGMA cache_size=-65536",
    # Temporary b-trees (sorts, GROUP BY) in memory: the data sets are small.
    "PRAGMA temp_store=MEMORY",
    # The schema has no foreign keys today; keep enforcement explicit for the ones added later.
    "PRAGMA foreign_keys=ON",
)


async def _run(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Execute one statement and close its cursor at once (an open cursor can pin a read
    snapshot, which keeps the WAL from being restarted); returns the changed row count."""
    async with conn.execute(sql, params) as cursor:
        return cursor.rowcount


async def _run_many(conn: aiosqlite.Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    async with conn.executemany(sql, rows):
        pass


def create_private(path: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite would use 0644)."""
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "aicm_server_in_transaction", default=False
)


class SqliteDatabase(Database):
    """The :class:`Database` of a SQLite file (made by :meth:`Database.open`)."""

    dialect = SQLITE
    implicit_rowids = True
    readers: ReaderPool

    def __init__(
        self,
        path: str,
        writer: aiosqlite.Connection,
        readers: ReaderPool,
        checkpointer: aiosqlite.Connection,
    ):
        self.path = path
        self._writer = writer
        self.readers = readers
        self._checkpointer = checkpointer
        self._lock = anyio.Lock()

    @property
    def target(self) -> str:
        """The file's path."""
        return self.path

    @classmethod
    async def connect(
        cls, path: str, schema: str, readers: int, read_time_limit: float
    ) -> SqliteDatabase:
        """Open (and create when missing) the database at ``path`` and apply ``schema``.

        A new file is created with mode 0600 (owner only); SQLite gives its ``-wal`` and
        ``-shm`` files the mode of the database file. ``readers`` read connections serve
        reads, each statement interrupted after ``read_time_limit`` seconds (0: no limit).

        Raises:
            OSError: the file cannot be created.
            sqlite3.Error: the file cannot be opened or the schema is invalid.
        """
        create_private(path)
        writer = await aiosqlite.connect(path, isolation_level=None, factory=ReadConnection)
        others: list[aiosqlite.Connection] = []
        try:
            # Before anything writes the file's first page (journal_mode=WAL does).
            await _run(writer, f"PRAGMA page_size={PAGE_SIZE}")
            for pragma in _PRAGMAS:
                await _run(writer, pragma)
            # Commits never checkpoint (that made big batches stall); run_checkpoints() does it
            # from its own connection and thread, off the request path.
            await _run(writer, "PRAGMA wal_autocheckpoint=0")
            if schema:
                await writer.executescript(schema)
            for _ in range(readers + 1):
                conn = await aiosqlite.connect(path, isolation_level=None, factory=ReadConnection)
                others.append(conn)
                for pragma in _PRAGMAS[1:]:
                    await _run(conn, pragma)
            pool = ReaderPool(others[1:], per_team=readers - 1, time_limit=read_time_limit)
            await pool.install()
        except BaseException:
            for conn in (writer, *others):
                await conn.close()
            raise
        return cls(path, writer, pool, others[0])

    async def run_checkpoints(self, interval: float = 0.25, restart_pages: int = 2048) -> None:
        """Copy the WAL into the database file every ``interval`` seconds, until cancelled.

        The bulk of the copy is a passive checkpoint, which blocks nobody. Under sustained
        writes a passive checkpoint never catches up with the writer, so the WAL would grow
        forever; once it holds ``restart_pages`` pages, a truncating checkpoint runs while
        holding the write lock: it copies the few frames written meanwhile and empties the WAL.
        """
        while True:
            await anyio.sleep(interval)
            log = await self._checkpoint("PASSIVE")
            if log >= restart_pages:
                async with self._lock:
                    await self._checkpoint("TRUNCATE")

    async def _checkpoint(self, mode: str) -> int:
        """One checkpoint; returns the WAL's size in pages."""
        async with self._checkpointer.execute(f"PRAGMA wal_checkpoint({mode})") as cursor:
            row = await cursor.fetchone()
        return int(row[1]) if row is not None else 0

    async def close(self) -> None:
        """Checkpoint what is left, then close the connections."""
        with anyio.CancelScope(shield=True):
            await self.readers.close()
            await _run(self._checkpointer, "PRAGMA wal_checkpoint(TRUNCATE)")
            await self._checkpointer.close()
            await self._writer.close()

    @asynccontextmanager
    async def transaction(self, team: str | None = None) -> AsyncIterator[Database]:
        """Run the body in one ``BEGIN IMMEDIATE`` transaction, committed on success.

        Transactions are serialised (whatever their ``team``: SQLite has one writer); nesting
        in the same task is not allowed.

        Raises:
            RuntimeError: a transaction is already open in this task.
        """
        if _in_transaction.get():
            raise RuntimeError("nested Database.transaction()")
        async with self._lock:
            token = _in_transaction.set(True)
            try:
                await _run(self._writer, "BEGIN IMMEDIATE")
                try:
                    yield self
                except BaseException:
                    with anyio.CancelScope(shield=True):
                        await _run(self._writer, "ROLLBACK")
                    raise
                with anyio.CancelScope(shield=True):
                    await _run(self._writer, "COMMIT")
            finally:
                _in_transaction.reset(token)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it changed.

        Outside a transaction the statement runs in its own transaction (autocommit) on the
        writer connection, serialised with the other writes.
        """
        if _in_transaction.get():
            return await _run(self._writer, sql, params)
        async with self._lock:
            try:
                return await _run(self._writer, sql, params)
            except sqlite3.IntegrityError as exc:
                raise ConstraintError(str(exc)) from exc

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row (inside a transaction when one is open)."""
        if _in_transaction.get():
            await _run_many(self._writer, sql, rows)
            return
        async with self.transaction():
            await _run_many(self._writer, sql, rows)

    async def reserve_rowids(self, table: str, count: int) -> range:
        """The rowids after the largest one (SQLite's rule for a table without
        AUTOINCREMENT): this transaction is the only writer."""
        row = await self.fetchone(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}")
        first = (int(row[0]) if row else 0) + 1
        return range(first, first + count)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row as a tuple.

        The query runs to its end in one trip to the connection's thread. Run as a cursor
        (execute, fetch, close: three trips), its unfinished statement kept a read snapshot
        open between trips, and another task reading on the same connection meanwhile saw
        that older snapshot: it missed rows committed just before (a key it had just stored).

        Raises:
            ReadTimeoutError: outside a transaction, the query ran longer than the time limit.
        """
        if _in_transaction.get():
            return [tuple(row) for row in await self._writer.execute_fetchall(sql, params)]
        return await self.readers.fetchall(sql, params)
