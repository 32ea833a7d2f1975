"""The server's SQLite storage: one writer connection, a small pool of reader connections.

Writes go through :meth:`Database.transaction`, serialised by a lock, so a ``/track`` batch is
checked for duplicates and inserted atomically. Reads outside a transaction use the reader
pool (:mod:`._db_readers`): connections that (thanks to WAL) see only committed data and never
wait for the writer, each statement bounded by a time limit, a team never holding them all.
Inside a transaction every call uses the writer connection, so a task reads its own writes.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from itertools import chain
from typing import Any

import aiosqlite
import anyio

from ._db_readers import ReadConnection, ReaderPool, ReadTimeoutError

__all__ = (
    "DEFAULT_READERS",
    "DEFAULT_READ_TIME_LIMIT",
    "PAGE_SIZE",
    "IN_LIST_CHUNK",
    "ROWS_PER_STATEMENT",
    "Database",
    "ReadTimeoutError",
    "Row",
)

DEFAULT_READERS = 4
"""Reader connections of a server (one team may hold all but one)."""
DEFAULT_READ_TIME_LIMIT = 10.0
"""Seconds a read statement may run before it is interrupted."""

Row = tuple[Any, ...]

# Only a new (empty) file takes it; an existing file keeps its page size. 16 KiB pages make
# ingest's commits write fewer WAL frames and split b-tree pages less often: about a fifth
# less SQLite CPU per stored record than the default 4 KiB (benchmarks/README.md).
PAGE_SIZE = 16384
"""Page size of a database file the server creates."""

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


def _create_private(path: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite would use 0644)."""
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


IN_LIST_CHUNK = 900
"""Values per ``IN (...)`` list: below SQLite's 999 host parameters of older builds."""

ROWS_PER_STATEMENT = 100
"""Rows per multi-row ``INSERT`` (fewer gains little; SQLite 3.32+ allows 32766 parameters)."""


@functools.lru_cache(maxsize=64)
def _multi_row(insert: str, shared: int, width: int, count: int) -> str:
    """``count`` rows of ``shared`` parameters common to all rows (?1 ... ?shared), then
    ``width`` of their own."""
    common = [f"?{i}" for i in range(1, shared + 1)]
    rows = (
        "(" + ",".join(common + [f"?{shared + r * width + i}" for i in range(1, width + 1)]) + ")"
        for r in range(count)
    )
    return f"{insert} VALUES {','.join(rows)}"


_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "aicm_server_in_transaction", default=False
)


class Database:
    """Async access to the server's SQLite file.

    Use :meth:`open` to create one; :meth:`close` when done.
    """

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

    @classmethod
    async def open(
        cls,
        path: str,
        schema: str,
        *,
        readers: int = DEFAULT_READERS,
        read_time_limit: float = DEFAULT_READ_TIME_LIMIT,
    ) -> Database:
        """Open (and create when missing) the database at ``path`` and apply ``schema``.

        A new file is created with mode 0600 (owner only); SQLite gives its ``-wal`` and
        ``-shm`` files the mode of the database file. ``readers`` read connections serve
        reads, each statement interrupted after ``read_time_limit`` seconds (0: no limit).

        Raises:
            OSError: the file cannot be created.
            sqlite3.Error: the file cannot be opened or the schema is invalid.
        """
        _create_private(path)
        if readers < 1:
            raise ValueError("readers must be at least 1")
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
    async def transaction(self) -> AsyncIterator[Database]:
        """Run the body in one ``BEGIN IMMEDIATE`` transaction, committed on success.

        Transactions are serialised; nesting in the same task is not allowed.

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
            return await _run(self._writer, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row (inside a transaction when one is open)."""
        if _in_transaction.get():
            await _run_many(self._writer, sql, rows)
            return
        async with self.transaction():
            await _run_many(self._writer, sql, rows)

    async def insert_rows(
        self, insert: str, rows: Sequence[Sequence[Any]], shared: Sequence[Any] = ()
    ) -> None:
        """Insert ``rows`` with ``insert`` (``INSERT INTO t (a, b, ...)``, no ``VALUES``).

        ``shared`` are the values of the first columns of ``insert``, the same in every row,
        bound once per statement; each row holds the values of the other columns. Rows go
        :data:`ROWS_PER_STATEMENT` per statement (one multi-row ``VALUES``), all in one or two
        trips: far fewer statement steps and parameter bindings than one statement per row.
        """
        if not rows:
            return
        per, width, common = ROWS_PER_STATEMENT, len(rows[0]), len(shared)
        full = len(rows) - len(rows) % per
        if full:
            await self.executemany(
                _multi_row(insert, common, width, per),
                [[*shared, *chain.from_iterable(rows[i : i + per])] for i in range(0, full, per)],
            )
        if full < len(rows):
            rest = rows[full:]
            await self.execute(
                _multi_row(insert, common, width, len(rest)),
                [*shared, *chain.from_iterable(rest)],
            )

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

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query (of one row, or a few) and return its first row, or None.

        Raises:
            ReadTimeoutError: outside a transaction, the query ran longer than the time limit.
        """
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None
