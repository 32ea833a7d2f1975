"""The server's PostgreSQL backend: psycopg 3 (async) with two connection pools.

Transactions and writes take a connection of the writer pool; reads outside a transaction
take one of the reader pool, whose connections carry ``statement_timeout`` (the read time
limit: PostgreSQL cancels the statement, the caller gets :class:`ReadTimeoutError`), a team
holding at most all but one of them (:class:`._db_readers.TeamShares`).

``transaction(team=...)`` takes ``pg_advisory_xact_lock`` on a 64-bit hash of the team, so
one transaction per team runs at a time across every process and host using the database;
different teams write in parallel. Serialization failures, deadlocks, unique violations (a
concurrent writer that bypassed the lock) and lost connections inside a transaction become
:class:`StorageBusyError`: the transaction was rolled back, and
:meth:`Database.run_transaction` runs it again.

SQL keeps SQLite's ``?`` / ``?N`` placeholders; they become ``$N`` once per statement text
(:func:`._db_dialect.numbered`) and run through psycopg's raw cursors (server-side binding).
Inside a transaction :meth:`PostgresDatabase.insert_rows` sends its rows by ``COPY ... FROM
STDIN`` (text format) instead of multi-row ``INSERT``s. ``numeric`` results come back as
``int`` when integral (``SUM`` of a ``BIGINT`` column is ``numeric`` in PostgreSQL), else
``Decimal``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.errors
from psycopg.adapt import AdaptersMap, Buffer, Loader
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ._db import (
    ConstraintError,
    Database,
    ReadTimeoutError,
    Row,
    StorageBusyError,
    UnstorableTextError,
    advisory_key,
    redact_url,
)
from ._db_dialect import POSTGRES, numbered, postgres_ddl
from ._db_readers import TeamShares

__all__ = ("PostgresDatabase",)

WRITERS = 8
"""Connections of the writer pool (transactions of different teams run in parallel)."""

_Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_current: contextvars.ContextVar[tuple[PostgresDatabase, _Connection] | None] = (
    contextvars.ContextVar("aicm_server_pg_transaction", default=None)
)

# Errors after which the transaction can simply run again.
_RETRYABLE = (
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.UniqueViolation,
    psycopg.errors.LockNotAvailable,
)


class _NumericLoader(Loader):
    """``numeric`` as ``int`` when integral, else ``Decimal`` (exact either way)."""

    def load(self, data: Buffer) -> int | Decimal:
        text = bytes(data).decode("ascii")
        try:
            return int(text)
        except ValueError:
            return Decimal(text)


_ADAPTERS = AdaptersMap(psycopg.adapters)
_ADAPTERS.register_loader("numeric", _NumericLoader)


def _is_lost(exc: BaseException) -> bool:
    """A lost connection (or a pool that could not give one in time)."""
    if isinstance(exc, PoolTimeout):
        return True
    return isinstance(exc, psycopg.OperationalError) and not isinstance(
        exc, psycopg.errors.QueryCanceled
    )


_NUL = "text values cannot contain NUL characters on this server's database (PostgreSQL)"


@contextlib.contextmanager
def _refusing_nul() -> Iterator[None]:
    """psycopg refuses a text parameter holding NUL before sending it (nothing ran)."""
    try:
        yield
    except psycopg.DataError as exc:
        if "NUL" in str(exc):
            raise UnstorableTextError(_NUL) from None
        raise


async def _run(conn: _Connection, sql: str, params: Sequence[Any]) -> int:
    with _refusing_nul():
        cursor = await conn.execute(numbered(sql), params or None)
    return cursor.rowcount


async def _fetch(conn: _Connection, sql: str, params: Sequence[Any]) -> list[Row]:
    with _refusing_nul():
        cursor = await conn.execute(numbered(sql), params or None)
    return await cursor.fetchall()


# ``INSERT INTO t (a, b, ...)`` with nothing after it: what :meth:`insert_rows` can COPY.
_PLAIN_INSERT = re.compile(r"\s*INSERT\s+INTO\s+(\w+)\s*\(([\w\s,]+)\)\s*", re.IGNORECASE)


async def _copy_rows(
    conn: _Connection,
    table: str,
    columns: str,
    rows: Sequence[Sequence[Any]],
    shared: Sequence[Any],
) -> None:
    async with conn.cursor() as cursor:
        with _refusing_nul():
            async with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    await copy.write_row((*shared, *row))


def _pool(url: str, size: int, options: str | None, name: str) -> AsyncConnectionPool[Any]:
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "cursor_factory": psycopg.AsyncRawCursor,
        "context": _ADAPTERS,
    }
    if options:
        kwargs["options"] = options
    return AsyncConnectionPool(
        url, min_size=1, max_size=size, kwargs=kwargs, open=False, name=name, timeout=10.0
    )


class PostgresDatabase(Database):
    """The :class:`Database` of a PostgreSQL server (made by :meth:`Database.open`)."""

    dialect = POSTGRES
    implicit_rowids = False

    def __init__(
        self,
        url: str,
        writers: AsyncConnectionPool[Any],
        readers: AsyncConnectionPool[Any],
        per_team: int,
        time_limit: float,
    ) -> None:
        self._url = url
        self._writers = writers
        self.readers = readers
        self._shares = TeamShares(per_team)
        self._time_limit = time_limit
        self._sequences: dict[str, str] = {}

    @property
    def target(self) -> str:
        """The URL without its password."""
        return redact_url(self._url)

    @classmethod
    async def connect(
        cls, url: str, schema: str, readers: int, read_time_limit: float
    ) -> PostgresDatabase:
        """Open both pools and apply ``schema`` (SQLite DDL, translated) under a lock.

        Raises:
            psycopg.Error: the server cannot be reached or refused the schema.
        """
        writers = _pool(url, WRITERS, None, "aicm-writers")
        # In whole milliseconds, at least 1: PostgreSQL's 0 would mean "no limit".
        timeout_ms = max(1, math.ceil(read_time_limit * 1000)) if read_time_limit > 0 else 0
        reader_pool = _pool(url, readers, f"-c statement_timeout={timeout_ms}", "aicm-readers")
        try:
            await writers.open(wait=True)
            await reader_pool.open(wait=True)
            db = cls(url, writers, reader_pool, readers - 1, read_time_limit)
            if schema:
                await db.apply_ddl(postgres_ddl(schema))
        except BaseException:
            await reader_pool.close()
            await writers.close()
            raise
        return db

    async def apply_ddl(self, ddl: str) -> None:
        """Run ``ddl`` (PostgreSQL statements) while holding the schema's advisory lock, so
        that servers starting at once do not race on ``CREATE ... IF NOT EXISTS``."""
        async with self._writers.connection() as conn:
            key = advisory_key("aicostmanager:schema")
            await conn.execute("SELECT pg_advisory_lock($1)", (key,))
            try:
                # No parameters: one simple query may hold many statements.
                await psycopg.AsyncCursor(conn).execute(ddl.encode("utf-8"))
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", (key,))

    async def close(self) -> None:
        """Close both pools."""
        await self.readers.close()
        await self._writers.close()

    async def run_checkpoints(self) -> None:
        """Nothing to do: PostgreSQL checkpoints by itself."""

    def _connection(self) -> _Connection | None:
        current = _current.get()
        if current is not None and current[0] is self:
            return current[1]
        return None

    @asynccontextmanager
    async def transaction(self, team: str | None = None) -> AsyncIterator[Database]:
        """One transaction on a writer connection; with ``team``, under that team's advisory
        lock (see the module docstring).

        Raises:
            RuntimeError: a transaction is already open in this task.
            StorageBusyError: a conflict or a lost connection: rolled back, run it again.
        """
        if _current.get() is not None:
            raise RuntimeError("nested Database.transaction()")
        try:
            async with self._writers.connection() as conn, conn.transaction():
                token = _current.set((self, conn))
                try:
                    if team is not None:
                        await conn.execute(
                            "SELECT pg_advisory_xact_lock($1)", (advisory_key(team),)
                        )
                    yield self
                finally:
                    _current.reset(token)
        except _RETRYABLE as exc:
            raise StorageBusyError(f"the transaction conflicted: {exc.sqlstate}") from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if _is_lost(exc):
                await self._check(self._writers)
                raise StorageBusyError("the database connection was lost") from exc
            raise

    @staticmethod
    async def _check(pool: AsyncConnectionPool[Any]) -> None:
        """After a lost connection (a restarted server): drop the pool's other broken idle
        connections, so that the retry does not take one of them."""
        with contextlib.suppress(psycopg.Error, PoolTimeout):
            await pool.check()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        conn = self._connection()
        if conn is not None:
            return await _run(conn, sql, params)
        try:
            async with self._writers.connection() as conn:
                return await _run(conn, sql, params)
        except psycopg.errors.IntegrityError as exc:
            raise ConstraintError(exc.diag.message_primary or "constraint violated") from exc
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if _is_lost(exc):
                await self._check(self._writers)
                raise StorageBusyError("the database connection was lost") from exc
            raise

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row (pipelined; in one transaction)."""
        conn = self._connection()
        if conn is None:
            async with self.transaction():
                await self.executemany(sql, rows)
            return
        async with conn.cursor() as cursor:
            with _refusing_nul():
                await cursor.executemany(numbered(sql), list(rows))

    async def insert_rows(
        self, insert: str, rows: Sequence[Sequence[Any]], shared: Sequence[Any] = ()
    ) -> None:
        """Insert ``rows`` with ``insert`` (see :meth:`Database.insert_rows`); inside a
        transaction through one ``COPY ... FROM STDIN`` (text format), cheaper than multi-row
        ``INSERT`` for both the client and the server. A row that breaks a constraint fails
        the whole ``COPY`` and the transaction (a unique violation: :class:`StorageBusyError`,
        retried by :meth:`Database.run_transaction`), so callers insert rows they already
        checked, as ``/track`` does under the team's lock.

        Raises:
            UnstorableTextError: a text value holds a NUL character.
        """
        conn = self._connection()
        match = _PLAIN_INSERT.fullmatch(insert)
        if not rows or conn is None or match is None:
            await super().insert_rows(insert, rows, shared)
            return
        table, columns = match.group(1), " ".join(match.group(2).split())
        await _copy_rows(conn, table, columns, rows, shared)

    async def reserve_rowids(self, table: str, count: int) -> list[int]:
        """``count`` values of the table's identity sequence, increasing (not necessarily
        consecutive: other transactions draw from it meanwhile)."""
        if count == 0:
            return []
        sequence = self._sequences.get(table)
        if sequence is None:
            row = await self.fetchone("SELECT pg_get_serial_sequence(?, 'rowid')", (table,))
            assert row is not None and row[0] is not None, table
            sequence = self._sequences[table] = str(row[0])
        rows = await self.fetchall(
            "SELECT nextval(?::regclass) AS n FROM generate_series(1, ?) ORDER BY n",
            (sequence, count),
        )
        return [int(r[0]) for r in rows]

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row.

        Raises:
            ReadTimeoutError: outside a transaction, the query ran longer than the time limit.
            StorageBusyError: outside a transaction, the connection was lost twice.
        """
        conn = self._connection()
        if conn is not None:
            return await _fetch(conn, sql, params)
        async with self._shares.hold():
            for attempt in (1, 2):
                try:
                    async with self.readers.connection() as conn:
                        return await _fetch(conn, sql, params)
                except psycopg.errors.QueryCanceled:  # noqa: PERF203 - the retry loop
                    raise ReadTimeoutError(self._time_limit) from None
                except (psycopg.OperationalError, PoolTimeout) as exc:
                    if attempt == 2 or not _is_lost(exc):
                        raise StorageBusyError("the database connection was lost") from exc
                    await self._check(self.readers)
        raise AssertionError("unreachable")  # pragma: no cover
