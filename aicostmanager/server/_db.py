"""The server's storage interface: one :class:`Database` API over SQLite or PostgreSQL.

Feature modules use only this API (and ``db.dialect`` for the few SQL fragments the engines
write differently), with SQLite's ``?`` / ``?N`` placeholders. :meth:`Database.open` picks the
backend: a ``postgresql://`` / ``postgres://`` URL opens :mod:`._db_postgres` (psycopg, imported
only then), anything else is a SQLite file (:mod:`._db_sqlite`).

Writes that read what they then change run in :meth:`Database.transaction`; one given a
``team`` is serialised with every other transaction of that team, in every process using the
database. Reads outside a transaction use reader connections that see committed data, each
statement bounded by a time limit (:class:`ReadTimeoutError`), a team never holding them all.
"""

from __future__ import annotations

import abc
import functools
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from itertools import chain
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ._db_dialect import Dialect
from ._db_readers import ReadTimeoutError

__all__ = (
    "DEFAULT_READERS",
    "DEFAULT_READ_TIME_LIMIT",
    "IN_LIST_CHUNK",
    "PAGE_SIZE",
    "ROWS_PER_STATEMENT",
    "TRANSACTION_ATTEMPTS",
    "ConstraintError",
    "Database",
    "ReadTimeoutError",
    "Row",
    "StorageBusyError",
    "advisory_key",
    "is_postgres_url",
    "redact_url",
)

DEFAULT_READERS = 4
"""Reader connections of a server (one team may hold all but one)."""
DEFAULT_READ_TIME_LIMIT = 10.0
"""Seconds a read statement may run before it is interrupted."""

# Only a new (empty) file takes it; an existing file keeps its page size. 16 KiB pages make
# ingest's commits write fewer WAL frames and split b-tree pages less often: about a fifth
# less SQLite CPU per stored record than the default 4 KiB (benchmarks/README.md).
PAGE_SIZE = 16384
"""Page size of a SQLite database file the server creates."""

IN_LIST_CHUNK = 900
"""Values per ``IN (...)`` list: below SQLite's 999 host parameters of older builds."""

ROWS_PER_STATEMENT = 100
"""Rows per multi-row ``INSERT`` (fewer gains little; SQLite 3.32+ allows 32766 parameters)."""

TRANSACTION_ATTEMPTS = 4
"""Attempts of :meth:`Database.run_transaction` before :class:`StorageBusyError` reaches the
caller."""

Row = tuple[Any, ...]
_T = TypeVar("_T")


class StorageBusyError(Exception):
    """The database could not complete a transaction now (a conflict with another writer that
    outlasted the retries, or a lost connection); nothing of it was stored. Retry later."""


class ConstraintError(Exception):
    """A statement run outside a transaction broke a constraint (a UNIQUE key already used)."""


def is_postgres_url(db: str) -> bool:
    """Whether ``db`` names a PostgreSQL database (else it is a SQLite file path)."""
    return db.startswith(("postgresql://", "postgres://"))


def advisory_key(name: str) -> int:
    """The signed 64-bit advisory-lock key of ``name`` (a team uuid, or a job's name)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def redact_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + host))


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


class Database(abc.ABC):
    """Async access to the server's database (SQLite file or PostgreSQL).

    Use :meth:`open` to create one; :meth:`close` when done.

    Attributes:
        dialect: the SQL fragments of this engine.
        readers: the reader connections (their per-team share and time limit).
    """

    dialect: Dialect
    readers: Any
    implicit_rowids: bool
    """Whether rows inserted without a rowid get exactly the ones :meth:`reserve_rowids` gave
    (SQLite, one writer: the next ones in insertion order); else insert them explicitly."""

    @classmethod
    async def open(
        cls,
        db: str,
        schema: str = "",
        *,
        readers: int = DEFAULT_READERS,
        read_time_limit: float = DEFAULT_READ_TIME_LIMIT,
    ) -> Database:
        """Open the database ``db`` (a SQLite file path, created when missing, or a
        ``postgresql://`` URL) and apply ``schema`` (SQLite DDL, ``IF NOT EXISTS``) when given.

        ``readers`` read connections serve reads, each statement interrupted after
        ``read_time_limit`` seconds (0: no limit).

        Raises:
            ValueError: ``readers`` is below 1.
            OSError: the SQLite file cannot be created.
            sqlite3.Error: the SQLite file cannot be opened or the schema is invalid.
            psycopg.Error: the PostgreSQL server cannot be reached or refused the schema.
        """
        if readers < 1:
            raise ValueError("readers must be at least 1")
        if is_postgres_url(db):
            from ._db_postgres import PostgresDatabase

            return await PostgresDatabase.connect(db, schema, readers, read_time_limit)
        from ._db_sqlite import SqliteDatabase

        return await SqliteDatabase.connect(db, schema, readers, read_time_limit)

    @property
    @abc.abstractmethod
    def target(self) -> str:
        """What the database is, for messages: the SQLite path or the URL without password."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending maintenance, then close every connection."""

    @abc.abstractmethod
    async def run_checkpoints(self) -> None:
        """Background maintenance the engine needs, until cancelled (SQLite: WAL checkpoints;
        PostgreSQL: none, it returns at once)."""

    @abc.abstractmethod
    def transaction(self, team: str | None = None) -> AbstractAsyncContextManager[Database]:
        """Run the body in one transaction, committed on success, rolled back on an error.

        With ``team``, the transaction is serialised with every other transaction of that team
        (SQLite: all writes are serialised anyway; PostgreSQL: a transaction-level advisory
        lock, held by one connection of any process at a time). Not reentrant.

        Raises:
            RuntimeError: a transaction is already open in this task.
            StorageBusyError: a conflict or a lost connection (PostgreSQL): rolled back.
        """

    @abc.abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it changed (in the open
        transaction, else in a transaction of its own).

        Raises:
            ConstraintError: outside a transaction, the statement broke a constraint.
        """

    @abc.abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row (inside a transaction when one is open)."""

    @abc.abstractmethod
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row as a tuple (inside a transaction on its
        connection, which reads its own writes; else on a reader).

        Raises:
            ReadTimeoutError: outside a transaction, the query ran longer than the time limit.
        """

    @abc.abstractmethod
    async def reserve_rowids(self, table: str, count: int) -> Sequence[int]:
        """``count`` increasing new rowids for rows of ``table`` (``usage_events`` or
        ``cost_events``) that the open transaction inserts with them explicitly."""

    async def run_transaction(
        self, body: Callable[[], Awaitable[_T]], team: str | None = None
    ) -> _T:
        """``await body()`` inside :meth:`transaction`; again (from the start) when the
        transaction failed with :class:`StorageBusyError`, up to :data:`TRANSACTION_ATTEMPTS`
        attempts. ``body`` must not keep state from one attempt to the next.

        Raises:
            StorageBusyError: every attempt failed.
        """
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                async with self.transaction(team):
                    return await body()
            except StorageBusyError:  # noqa: PERF203 - the retry loop
                if attempt == TRANSACTION_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query (of one row, or a few) and return its first row, or None.

        Raises:
            ReadTimeoutError: outside a transaction, the query ran longer than the time limit.
        """
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

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
