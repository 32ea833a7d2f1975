"""Committing records without aiosqlite's thread: from caller threads, or on the event loop.

``DurableQueue.append`` commits through aiosqlite: a trip to its thread and back, two
cross-thread wake-ups that cost more than the commit itself. The appenders here commit over
plain ``sqlite3`` connections of their own instead:

- ``BlockingAppender``: the sync ``Tracker``'s calling threads, with group commit across them;
- ``LoopAppender``: ``await track()``'s writer task, on the event loop's own thread, only when
  that cannot wait (it declines instead, and the record goes the aiosqlite way).

``QueueWriter`` (``_queue_writer``) decides which one commits; ``_queue_sql`` holds their settings
and the insert.

Both follow the file when the queue recovers it (moves it aside and starts a fresh one), and
hold the queue's ``file_lock`` while they write, so nothing is written into a file being replaced.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import anyio.to_thread

from ._exceptions import QueueError
from ._queue_sql import BUSY_TIMEOUT, Role, connection_settings, insert_chunks, insert_sql

__all__ = (
    "LOOP_MAX_ROWS",
    "AppendTarget",
    "BlockingAppender",
    "LoopAppender",
)

logger = logging.getLogger("aicostmanager")

_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
_CHECKPOINT_PAGES = 1000  # SQLite's own wal_autocheckpoint default
_PAGE = 4096
_REOPEN_INTERVAL = 1.0

LOOP_MAX_ROWS = 16
"""Largest group ``LoopAppender`` commits. A bigger group goes to aiosqlite's thread: one trip
there costs less than its rows' SQLite work (~2.3 µs each), which then runs beside the loop's own
work instead of in it (with 100 producers, all on the loop: loop lag p99 5.4 ms, rate no better;
groups over 16 off it: 1.3 ms)."""


class AppendTarget(Protocol):
    """What an appender needs of the queue it writes to (``DurableQueue``)."""

    @property
    def path(self) -> Path:
        """The queue file."""

    @property
    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the file the queue writes to now."""

    @property
    def synchronous(self) -> str:
        """``NORMAL`` or ``FULL``."""

    @property
    def file_lock(self) -> threading.Lock:
        """Held while the file is replaced, and by an appender while it writes."""

    def error(self, verb: str, exc: BaseException) -> QueueError:
        """The ``QueueError`` (or ``QueueCorruptError``) for a failed statement."""


class _Group:
    """The records of one commit of a ``BlockingAppender`` and how it ended."""

    __slots__ = ("done", "error", "mark")

    def __init__(self) -> None:
        self.done = False
        self.error: QueueError | None = None
        self.mark = 0


class BlockingAppender:
    """Commits records from threads other than the event loop's, blocking the caller.

    The sync ``Tracker``'s hot path: a plain ``sqlite3`` connection of its own (no trip through
    the event loop or aiosqlite's thread), shared by every calling thread with group commit
    across them: a caller that finds no commit running commits everything waiting, and the
    callers whose records it took return when it is done. Create with
    ``DurableQueue.blocking_appender``; it follows the file when the queue recovers it.
    """

    def __init__(self, queue: AppendTarget, key_fp: str) -> None:
        self._queue = queue
        self._key_fp = key_fp
        self._mutex = threading.Lock()  # guards the waiting list and the open group
        self._commit_lock = threading.Lock()  # one commit at a time
        self._waiting: list[bytes] = []
        self._group = _Group()
        self._conn: sqlite3.Connection | None = None
        self._conn_identity: tuple[int, int] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"BlockingAppender(path={str(self._queue.path)!r})"

    def append(self, body: bytes) -> int:
        """Commit one record; returns once it is committed (with the records of other threads).

        Returns:
            The last row id of the commit that stored it (for ``flush`` marks).

        Raises:
            QueueError: the file could not be written (the record was not stored), or the
                appender is closed.
        """
        with self._mutex:
            if self._closed:
                raise QueueError(f"the queue {self._queue.path} is closed")
            self._waiting.append(body)
            group = self._group
        with self._commit_lock:
            if not group.done:
                # Every record waiting now was added while ``group`` was open: commit them all.
                with self._mutex:
                    bodies, self._waiting = self._waiting, []
                    self._group = _Group()
                try:
                    group.mark = self._insert(bodies)
                except QueueError as exc:
                    group.error = exc
                group.done = True
        if group.error is not None:
            raise group.error
        return group.mark

    def _insert(self, bodies: list[bytes]) -> int:
        queue = self._queue
        with queue.file_lock:
            try:
                conn = self._connection()
                statements = list(insert_chunks(bodies, self._key_fp, time.time()))
                if len(statements) == 1:
                    return int(conn.execute(*statements[0]).lastrowid or 0)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in statements:
                        cursor = conn.execute(sql, params)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return int(cursor.lastrowid or 0)
            except sqlite3.Error as exc:
                self._drop_connection()
                raise queue.error("write to", exc) from exc

    def _connection(self) -> sqlite3.Connection:
        """The connection, (re)opened when the queue's file was replaced (recovered)."""
        queue = self._queue
        if self._conn is not None and self._conn_identity == queue.identity:
            return self._conn
        self._drop_connection()
        if self._closed:
            raise sqlite3.ProgrammingError("the appender is closed")
        conn = _connect(queue, Role.THREAD)
        self._conn, self._conn_identity = conn, queue.identity
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        _close_quietly(conn)

    def close(self) -> None:
        """Refuse further records and close the connection once no commit is running."""
        with self._mutex:
            self._closed = True
        with self._commit_lock:
            self._drop_connection()


class LoopAppender:
    """Commits small groups on the event loop's own thread, or declines without waiting.

    ``await track()``'s hot path (through ``QueueWriter``). It never waits on anything: its
    ``busy_timeout`` is 0 (another writer holding the lock, in this process or another, makes it
    decline at once), it never checkpoints nor syncs (``wal_autocheckpoint=0``,
    ``synchronous=OFF``, see ``_queue_sql.connection_settings``: when ``checkpoint_due`` the
    writer asks the queue's own connection, on aiosqlite's thread), it takes at most
    ``LOOP_MAX_ROWS`` rows (one statement, tens of microseconds), and it declines everything
    under ``synchronous=FULL``, whose commits wait for the disk. What it declines
    (``try_append`` returns ``None``) the caller commits through ``DurableQueue.append``.
    """

    def __init__(self, queue: AppendTarget, key_fp: str) -> None:
        self._queue = queue
        self._key_fp = key_fp
        self._conn: sqlite3.Connection | None = None
        self._conn_identity: tuple[int, int] | None = None
        self._pages = 0
        self._failed_at = -_REOPEN_INTERVAL
        self._closed = False

    def __repr__(self) -> str:
        return f"LoopAppender(path={str(self._queue.path)!r})"

    @property
    def usable(self) -> bool:
        """Whether the connection is open on the file the queue writes to now."""
        return self._conn is not None and self._conn_identity == self._queue.identity

    @property
    def checkpoint_due(self) -> bool:
        """Whether this connection wrote about a checkpoint's worth of pages since the last."""
        return self._pages >= _CHECKPOINT_PAGES

    def checkpoint_requested(self) -> None:
        """The caller asked the queue for a checkpoint: start counting again."""
        self._pages = 0

    async def open(self) -> None:
        """(Re)open the connection, in a worker thread (opening reads the file).

        After a failure, not again for a second: a file that cannot be opened this way is not
        retried per commit.
        """
        if self._closed or self._queue.synchronous == "FULL" or self.usable:
            return
        if time.monotonic() - self._failed_at < _REOPEN_INTERVAL:
            return
        self._drop_connection()
        identity = self._queue.identity
        try:
            conn = await anyio.to_thread.run_sync(_connect, self._queue, Role.LOOP)
        except sqlite3.Error as exc:
            self._failed_at = time.monotonic()
            logger.debug("committing on the event loop is off for now: %s", exc)
            return
        if self._closed:
            _close_quietly(conn)
            return
        self._conn, self._conn_identity = conn, identity

    def try_append(self, bodies: Sequence[bytes], now: float) -> int | None:
        """Commit ``bodies`` in one statement now, or decline (``None``) without waiting.

        Returns:
            The last row id of the commit (for ``flush`` marks), or ``None``: nothing was
            written (the connection is not open on the current file, another writer holds the
            lock, the group is too big, or a statement failed).
        """
        conn = self._conn
        if (
            conn is None
            or not 0 < len(bodies) <= LOOP_MAX_ROWS
            or self._conn_identity != self._queue.identity
        ):
            return None
        lock = self._queue.file_lock
        if not lock.acquire(blocking=False):
            return None  # the file is being replaced, or a caller thread is writing
        try:
            cursor = conn.execute(insert_sql(len(bodies)), (self._key_fp, now, *bodies))
            mark = int(cursor.lastrowid or 0)
        except sqlite3.Error as exc:
            if not _is_busy(exc):
                # Whatever it is, the aiosqlite path meets it too, and reports or recovers it.
                logger.debug("declined a commit on the event loop: %s", exc)
                self._failed_at = time.monotonic()
                self._drop_connection()
            return None
        finally:
            lock.release()
        self._pages += 3 + sum(map(len, bodies)) // _PAGE
        return mark

    def close(self) -> None:
        """Close the connection (any thread, once the loop no longer commits)."""
        self._closed = True
        self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        _close_quietly(conn)


def _close_quietly(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if isinstance(code, int):
        return code & 0xFF in _BUSY_CODES
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _connect(queue: AppendTarget, role: Role) -> sqlite3.Connection:
    """A connection of an appender to the queue's file (usable from any thread)."""
    busy_timeout = BUSY_TIMEOUT if role is Role.THREAD else 0.0
    conn = sqlite3.connect(
        str(queue.path), isolation_level=None, timeout=busy_timeout, check_same_thread=False
    )
    try:
        for pragma in connection_settings(role, queue.synchronous, busy_timeout):
            conn.execute(pragma)
        conn.execute("SELECT 1 FROM pending LIMIT 0").fetchall()  # reads the schema now
    except BaseException:
        conn.close()
        raise
    return conn
