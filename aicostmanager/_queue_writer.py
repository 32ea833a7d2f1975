"""The write seam: the one way a tracker commits records to its queue file.

``QueueWriter`` decides, in one place, which connection commits a group:

- on the event loop: a small group (up to ``LOOP_MAX_ROWS``) on the loop's own thread through
  the ``LoopAppender`` (``commit_nowait``), which never waits (it declines when another writer
  holds the lock, under ``synchronous=FULL``, or when the file was replaced); anything else, and
  whatever it declines, through the queue's aiosqlite connection, on its thread, retried a few
  times (``commit``);
- on a caller thread (``commit_blocking``): through the ``BlockingAppender``, with group commit
  across threads, no trip through the event loop.

It also runs the checkpoints the loop's connection never does (``checkpoint``), on the
queue's connection, so no ``fsync`` ever happens on the loop's thread. The SQL and the
settings of every connection live in ``_queue_sql``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import anyio

from ._exceptions import QueueError
from ._queue import BlockingAppender, DurableQueue, LoopAppender, QueueCounts

__all__ = ("QueueWriter",)

logger = logging.getLogger("aicostmanager")

_RETRY_DELAYS = (0.05, 0.25, 1.0)
"""Pauses between attempts of a commit through aiosqlite's thread (a busy or full disk)."""


class QueueWriter:
    """Commits records of one API key to one queue file (see the module docstring).

    ``commit_nowait``, ``commit`` and ``checkpoint`` run on the tracker's event loop, one at a
    time (the intake serialises them); ``commit_blocking`` may be called from any other thread.
    """

    def __init__(self, queue: DurableQueue, key_fp: str) -> None:
        self._queue = queue
        self._key_fp = key_fp
        self._on_loop: LoopAppender = queue.loop_appender(key_fp)
        self._from_threads: BlockingAppender | None = None
        self._threads_lock = threading.Lock()  # creates the thread appender once

    def __repr__(self) -> str:
        return f"QueueWriter(path={str(self._queue.path)!r})"

    async def open(self) -> None:
        """Open the loop's connection (in a worker thread; declining is the fallback)."""
        await self._on_loop.open()

    def commit_nowait(self, bodies: Sequence[bytes]) -> int | None:
        """Commit ``bodies`` on the loop's own thread now, or decline (``None``) without waiting.

        It declines a group over ``LOOP_MAX_ROWS``, a lock held by another writer, a file being
        replaced, ``synchronous=FULL``, or a failed statement: then ``commit`` it.
        """
        return self._on_loop.try_append(bodies, time.time())

    async def commit(self, bodies: Sequence[bytes], *, drop_oldest: int = 0) -> int:
        """Commit ``bodies`` (and delete the ``drop_oldest`` oldest rows) in one transaction,
        through aiosqlite's thread, waiting for the lock and retrying a few times.

        Returns:
            The row id that marks the commit (for ``flush``).

        Raises:
            QueueError: the file could not be written, after retries (nothing was stored).
        """
        for delay in (*_RETRY_DELAYS, None):
            try:
                stored = await self._queue.append(
                    bodies, self._key_fp, time.time(), drop_oldest=drop_oldest
                )
            except QueueError:
                if delay is None:
                    raise
                await anyio.sleep(delay)
                continue
            if not self._on_loop.usable:
                await self._on_loop.open()
            return stored
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def commit_blocking(self, body: bytes) -> int:
        """Commit one record from a thread other than the loop's, grouped with other threads'.

        Returns:
            The row id that marks the commit (for ``flush``).

        Raises:
            QueueError: the file could not be written this way (nothing was stored).
        """
        appender = self._from_threads
        if appender is None:
            with self._threads_lock:
                if self._from_threads is None:
                    self._from_threads = self._queue.blocking_appender(self._key_fp)
                appender = self._from_threads
        return appender.append(body)

    async def counts(self) -> QueueCounts:
        """The queue file's counters (see ``DurableQueue.counts``).

        Raises:
            QueueError: the file could not be read.
        """
        return await self._queue.counts()

    @property
    def checkpoint_due(self) -> bool:
        """Whether the commits made on the loop filled a log's worth of pages since the last."""
        return self._on_loop.checkpoint_due

    async def checkpoint(self) -> None:
        """Checkpoint the log for the commits made on the loop (whose connection never does).

        Run between commits (as SQLite's automatic checkpoint runs in the commit that fills
        the log): a checkpoint that had to compete with the loop's commits for the write lock
        could be starved by them while the log kept growing. A failure is logged, not raised.
        """
        self._on_loop.checkpoint_requested()
        try:
            await self._queue.checkpoint()
        except QueueError as exc:
            logger.warning("cannot checkpoint the queue: %s", exc)
