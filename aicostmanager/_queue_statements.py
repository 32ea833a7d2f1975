"""The statements of the durable queue: claiming, settling, counting, maintenance.

``QueueStatements`` is the base of ``DurableQueue``, which supplies the connection (aiosqlite's,
typed here by the few methods used, so that ``_queue.py`` stays the only aiosqlite importer),
its lock and the recovery of a damaged file. Every method holds the lock and turns
``sqlite3.Error`` into ``QueueError`` (``serialized``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, NamedTuple, ParamSpec, Protocol, TypeVar

import anyio

from ._exceptions import QueueError
from ._queue_sql import decode_errors, id_filter

__all__ = (
    "Connection",
    "Damaged",
    "DeadRow",
    "QueueCounts",
    "QueueRow",
    "QueueStatements",
    "is_corruption",
    "rollback",
    "serialized",
)

_CORRUPTION_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


class _Cursor(Protocol):
    @property
    def lastrowid(self) -> int | None: ...

    @property
    def rowcount(self) -> int: ...


class Connection(Protocol):
    """What the statements use of an ``aiosqlite.Connection``."""

    def execute(self, sql: str, parameters: Iterable[Any] | None = None, /) -> Awaitable[Any]:
        """Run one statement."""

    def executemany(self, sql: str, parameters: Iterable[Iterable[Any]], /) -> Awaitable[Any]:
        """Run one statement per parameter row."""

    def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None, /
    ) -> Awaitable[Iterable[Any]]:
        """Run one statement and return its rows."""


class Damaged(sqlite3.DatabaseError):
    """``PRAGMA quick_check`` found damage."""


def is_corruption(exc: BaseException) -> bool:
    """Whether ``exc`` says the file is damaged (not merely busy or full)."""
    if isinstance(exc, Damaged):
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
_S = TypeVar("_S", bound="QueueStatements")


def serialized(
    verb: str,
) -> Callable[
    [Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]],
    Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
]:
    """Run the method holding the connection's lock; translate ``sqlite3.Error``.

    The writer task and every in-flight batch share one connection; a transaction is several
    awaited statements, and a statement from another task issued in between would run inside
    it (or fail with "cannot start a transaction within a transaction" and roll it back).
    A method that finds the file damaged recovers it (see ``DurableQueue.recover``) and runs
    once more on the fresh file.
    """

    def decorate(
        method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
    ) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
        async def locked(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
            async with self._lock:
                try:
                    return await method(self, *args, **kwargs)
                except sqlite3.Error as exc:
                    if not (is_corruption(exc) and self._may_recover()):
                        raise self.error(verb, exc) from exc
                    await self._recover(exc)
                try:
                    return await method(self, *args, **kwargs)
                except sqlite3.Error as exc:
                    raise self.error(verb, exc) from exc

        functools.update_wrapper(locked, method)
        return locked

    return decorate


class QueueStatements:
    """Claiming, settling, counting and maintenance statements (the base of ``DurableQueue``)."""

    _conn: Connection
    _lock: asyncio.Lock

    def error(self, verb: str, exc: BaseException) -> QueueError:
        """The ``QueueError`` (``QueueCorruptError`` for a damaged file) for a failed statement."""
        raise NotImplementedError

    def _may_recover(self) -> bool:
        raise NotImplementedError

    async def _recover(self, cause: BaseException | None) -> int:
        raise NotImplementedError

    @serialized("claim from")
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

    @serialized("update")
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
            await rollback(conn)
            raise

    @serialized("read")
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

    @serialized("update")
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

    @serialized("update")
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

    @serialized("read")
    async def keys(self) -> dict[str, int]:
        """Pending rows per key fingerprint (a full scan: for maintenance, not the hot path).

        Raises:
            QueueError: the file could not be read.
        """
        rows = await self._conn.execute_fetchall(
            "SELECT key_fp, COUNT(*) FROM pending GROUP BY key_fp ORDER BY 2 DESC"
        )
        return {str(fp): int(count) for fp, count in rows}

    @serialized("read")
    async def last_id(self) -> int:
        """The largest row id pending now, any key (0 when empty; a rowid lookup).

        Raises:
            QueueError: the file could not be read.
        """
        rows = list(await self._conn.execute_fetchall("SELECT MAX(id) FROM pending"))
        return int(rows[0][0] or 0) if rows else 0

    @serialized("read")
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

    @serialized("read")
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

    @serialized("read")
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
                decode_errors(r[6]),
            )
            for r in rows
        ]

    @serialized("update")
    async def requeue_dead(self, ids: Sequence[int] | None, now: float) -> int:
        """Move dead-lettered rows (all when ``ids`` is empty/None) back to pending, due now.

        Raises:
            QueueError: the file could not be written (nothing moved).
        """
        where, params = id_filter(ids)
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
            await rollback(conn)
            raise
        return int(moved)

    @serialized("update")
    async def purge_dead(self, ids: Sequence[int] | None) -> int:
        """Delete dead-lettered rows (all when ``ids`` is empty/None).

        Raises:
            QueueError: the file could not be written.
        """
        where, params = id_filter(ids)
        cursor = await self._conn.execute(f"DELETE FROM dead_letter {where}", params)
        return int(cursor.rowcount)


async def rollback(conn: Connection) -> None:
    """End the open transaction, even when cancelled (else the next statements would join it)."""
    with anyio.CancelScope(shield=True):
        try:
            await conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
