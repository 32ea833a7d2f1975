"""The durable queue: a SQLite file through aiosqlite (the only aiosqlite importer).

Rows hold the encoded record bytes and a fingerprint of the API key that queued them (a hash;
the key itself is never stored). A row is *due* when ``next_attempt_at <= now``. Claiming a batch
sets a lease by moving ``next_attempt_at`` to the lease's end in one ``UPDATE ... RETURNING``
statement, so several processes can share one file: no row is claimed by two live workers, and
a crashed worker's rows become due again when its lease runs out. Counters are kept by triggers
in a one-row ``stats`` table, so neither ``append`` nor ``claim`` ever counts rows.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

import aiosqlite
import anyio
import anyio.to_thread

from ._exceptions import QueueError

__all__ = (
    "DeadRow",
    "DurableQueue",
    "QueueCounts",
    "QueueError",
    "QueueRow",
    "key_fingerprint",
)

SCHEMA_VERSION = 1

# Each setting with the reason it is there.
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer; survives kill -9
    "PRAGMA busy_timeout=15000",  # several processes share the file: wait for the lock
    "PRAGMA temp_store=MEMORY",  # no temp files for the small sorts we do
    "PRAGMA cache_size=-8192",  # 8 MiB page cache: bounded memory even with a deep queue
    "PRAGMA foreign_keys=OFF",  # no foreign keys in this schema
)

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


def key_fingerprint(api_key: str | None) -> str:
    """A short, non-reversible fingerprint of an API key (what the queue stores)."""
    if not api_key:
        return "-"
    return hashlib.sha256(api_key.encode()).hexdigest()[:24]


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
    method: Callable[Concatenate[DurableQueue, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[DurableQueue, _P], Coroutine[Any, Any, _T]]:
    """Run the method holding the connection's lock.

    The writer task and every in-flight batch share one connection; a transaction is several
    awaited statements, and a statement from another task issued in between would run inside
    it (or fail with "cannot start a transaction within a transaction" and roll it back).
    """

    async def locked(self: DurableQueue, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        async with self._lock:
            return await method(self, *args, **kwargs)

    functools.update_wrapper(locked, method)
    return locked


class DurableQueue:
    """An async handle on one queue file. Create with ``await DurableQueue.open(path)``."""

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"DurableQueue(path={str(self.path)!r})"

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, synchronous: str = "NORMAL"
    ) -> DurableQueue:
        """Open (creating with mode 0600 if needed) and migrate a queue file.

        Raises:
            QueueError: the file cannot be opened or is not a queue.
        """
        try:
            target = await anyio.to_thread.run_sync(_create_private_file, path)
            conn = await aiosqlite.connect(str(target), isolation_level=None, timeout=15.0)
        except (OSError, sqlite3.Error) as exc:
            raise QueueError(f"cannot open queue file {path}: {exc}") from exc
        queue = cls(target, conn)
        try:
            for pragma in _PRAGMAS:
                await conn.execute(pragma)
            await conn.execute(
                f"PRAGMA synchronous={'FULL' if synchronous == 'FULL' else 'NORMAL'}"
            )
            await queue._migrate()
        except sqlite3.Error as exc:
            await conn.close()
            raise QueueError(f"cannot prepare queue file {target}: {exc}") from exc
        return queue

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

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        try:
            await self._conn.close()
        except (sqlite3.Error, ValueError):
            pass

    @_serialized
    async def append(
        self, bodies: Sequence[bytes], key_fp: str, now: float, *, drop_oldest: int = 0
    ) -> int:
        """Commit records in one transaction; optionally delete the ``drop_oldest`` oldest rows.

        Returns:
            The largest row id now in the queue (for ``flush`` marks).
        """
        conn = self._conn
        try:
            if len(bodies) == 1 and not drop_oldest:
                cursor = await conn.execute(
                    "INSERT INTO pending (body, key_fp, enqueued_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?)",
                    (bodies[0], key_fp, now, now),
                )
                return int(cursor.lastrowid or 0)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                if drop_oldest:
                    await conn.execute(
                        "DELETE FROM pending WHERE id IN "
                        "(SELECT id FROM pending ORDER BY id LIMIT ?)",
                        (drop_oldest,),
                    )
                await conn.executemany(
                    "INSERT INTO pending (body, key_fp, enqueued_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(body, key_fp, now, now) for body in bodies],
                )
                rows = list(await conn.execute_fetchall("SELECT MAX(id) FROM pending"))
                await conn.execute("COMMIT")
            except BaseException:
                await _rollback(conn)
                raise
        except sqlite3.Error as exc:
            raise QueueError(f"cannot write to {self.path}: {exc}") from exc
        return int(rows[0][0] or 0)

    @_serialized
    async def claim(
        self, key_fp: str, owner: str, *, limit: int, now: float, lease_seconds: float
    ) -> list[QueueRow]:
        """Lease up to ``limit`` due rows of this key, oldest first (one statement)."""
        try:
            rows = await self._conn.execute_fetchall(
                "UPDATE pending SET lease_owner = ?, next_attempt_at = ?, attempts = attempts + 1 "
                "WHERE id IN (SELECT id FROM pending WHERE key_fp = ? AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?) "
                "RETURNING id, body, attempts, enqueued_at",
                (owner, now + lease_seconds, key_fp, now, limit),
            )
        except sqlite3.Error as exc:
            raise QueueError(f"cannot claim from {self.path}: {exc}") from exc
        claimed = [QueueRow(int(r[0]), bytes(r[1]), int(r[2]), float(r[3])) for r in rows]
        claimed.sort(key=lambda row: row.id)
        return claimed

    @_serialized
    async def settle(
        self,
        *,
        delivered: Iterable[int] = (),
        dead: Iterable[tuple[int, str, Sequence[str]]] = (),
        retry: Iterable[tuple[int, float, str]] = (),
        now: float,
    ) -> None:
        """Apply a batch's outcome in one transaction: delete delivered rows, move rejected
        rows to the dead-letter table with their reason, reschedule the rest."""
        done = list(delivered)
        dead_rows = list(dead)
        retry_rows = list(retry)
        conn = self._conn
        try:
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
        except sqlite3.Error as exc:
            raise QueueError(f"cannot update {self.path}: {exc}") from exc

    @_serialized
    async def next_due(self, key_fp: str) -> float | None:
        """The earliest ``next_attempt_at`` of this key's rows (index-only), or ``None``."""
        rows = list(
            await self._conn.execute_fetchall(
                "SELECT MIN(next_attempt_at) FROM pending WHERE key_fp = ?", (key_fp,)
            )
        )
        value = rows[0][0] if rows else None
        return None if value is None else float(value)

    @_serialized
    async def release_orphaned_leases(self, is_orphaned: Callable[[str], bool], now: float) -> int:
        """Make rows leased by a worker that no longer exists due now; returns how many.

        ``is_orphaned(owner)`` decides from the owner id; leased rows are few, and the partial
        index on ``lease_owner`` keeps this independent of queue depth.
        """
        try:
            owners = [
                str(row[0])
                for row in await self._conn.execute_fetchall(
                    "SELECT DISTINCT lease_owner FROM pending WHERE lease_owner IS NOT NULL"
                )
            ]
            released = 0
            for owner in filter(is_orphaned, owners):
                cursor = await self._conn.execute(
                    "UPDATE pending SET next_attempt_at = ?, lease_owner = NULL "
                    "WHERE lease_owner = ?",
                    (now, owner),
                )
                released += int(cursor.rowcount)
        except sqlite3.Error as exc:
            raise QueueError(f"cannot update {self.path}: {exc}") from exc
        return released

    @_serialized
    async def adopt(self, key_fp: str, *, from_key_fp: str | None = None) -> int:
        """Give pending rows of other keys (or of ``from_key_fp``) to ``key_fp``, due now."""
        where = "key_fp != ?" if from_key_fp is None else "key_fp = ?"
        cursor = await self._conn.execute(
            f"UPDATE pending SET key_fp = ?, lease_owner = NULL WHERE {where}",
            (key_fp, key_fp if from_key_fp is None else from_key_fp),
        )
        return int(cursor.rowcount)

    @_serialized
    async def keys(self) -> dict[str, int]:
        """Pending rows per key fingerprint (a full scan: for maintenance, not the hot path)."""
        rows = await self._conn.execute_fetchall(
            "SELECT key_fp, COUNT(*) FROM pending GROUP BY key_fp ORDER BY 2 DESC"
        )
        return {str(fp): int(count) for fp, count in rows}

    @_serialized
    async def last_id(self) -> int:
        """The largest row id pending now, any key (0 when empty; a rowid lookup)."""
        try:
            rows = list(await self._conn.execute_fetchall("SELECT MAX(id) FROM pending"))
        except sqlite3.Error as exc:
            raise QueueError(f"cannot read {self.path}: {exc}") from exc
        return int(rows[0][0] or 0) if rows else 0

    @_serialized
    async def has_pending(self, key_fp: str, up_to_id: int) -> bool:
        """True while any row of this key with ``id <= up_to_id`` is still pending."""
        rows = list(
            await self._conn.execute_fetchall(
                "SELECT 1 FROM pending WHERE id <= ? AND key_fp = ? LIMIT 1", (up_to_id, key_fp)
            )
        )
        return bool(rows)

    @_serialized
    async def counts(self) -> QueueCounts:
        """File-wide counters (kept by triggers; constant time)."""
        rows = list(
            await self._conn.execute_fetchall("SELECT pending, bytes, dead FROM stats WHERE id = 1")
        )
        if not rows:
            return QueueCounts(0, 0, 0)
        pending, size, dead = rows[0]
        return QueueCounts(int(pending), int(size), int(dead))

    @_serialized
    async def list_dead(self, *, limit: int = 100, offset: int = 0) -> list[DeadRow]:
        """Dead-lettered rows, oldest first."""
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
                list(json.loads(r[6] or "[]")),
            )
            for r in rows
        ]

    @_serialized
    async def requeue_dead(self, ids: Sequence[int] | None, now: float) -> int:
        """Move dead-lettered rows (all when ``ids`` is empty/None) back to pending, due now."""
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

    @_serialized
    async def purge_dead(self, ids: Sequence[int] | None) -> int:
        """Delete dead-lettered rows (all when ``ids`` is empty/None)."""
        where, params = _id_filter(ids)
        cursor = await self._conn.execute(f"DELETE FROM dead_letter {where}", params)
        return int(cursor.rowcount)


def _create_private_file(path: str | os.PathLike[str]) -> Path:
    """Create the queue file (and its folder) readable by its owner only."""
    target = Path(path).expanduser()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(target, os.O_CREAT | os.O_RDWR, 0o600))
    return target


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
