"""The group-commit intake: records are buffered, and one writer task commits everything
pending in one transaction, then wakes every caller waiting on that commit.

How a group is committed (which connection, which thread, retries, checkpoints) is the
``QueueWriter``'s business; the intake holds no SQL and no connection. It owns the buffer, the
waiters, what a tracker does when the queue is full (``submit`` / ``submit_nowait`` apply
``queue_full_policy``) and the commit of the sync ``Tracker`` (``submit_blocking``), which the
calling thread makes itself through the writer, falling back to the loop when that fails.

``put_nowait``, ``submit_nowait`` and ``submit_blocking`` may be called from any thread; ``put``
and ``submit`` run on the tracker's event loop. What those threads share (the wake-up flags,
the capacity estimate, the rows to drop) is guarded by one lock; the buffer is a ``deque``,
whose ``append`` and ``popleft`` are thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import anyio

from .._config import TrackerSettings
from .._exceptions import DeliveryError, QueueFullError
from .._queue import QueueError
from .._queue_writer import QueueWriter
from .._types import QueueFullPolicy, TrackResult, queued_result
from ._counters import Counters

__all__ = ("CommitFailed", "Intake")

logger = logging.getLogger("aicostmanager")

_MAX_ROWS_PER_COMMIT = 5000


class CommitFailed(Exception):
    """The queue file could not be written; the records of that commit were not stored."""


class _Generation:
    """The callers waiting for one commit."""

    __slots__ = ("error", "waiters")

    def __init__(self) -> None:
        # A future per caller rather than an ``asyncio.Event``: no loop lookup and no
        # removal from the waiters' list per caller (a tenth of 100 producers' wake-up cost).
        self.waiters: list[asyncio.Future[None]] = []
        self.error: BaseException | None = None

    def finish(self) -> None:
        """Wake every waiter of this commit (a cancelled one is already done)."""
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)


class Intake:
    """Buffers encoded records and commits them in groups to the durable queue."""

    def __init__(
        self,
        writer: QueueWriter,
        settings: TrackerSettings,
        counters: Counters,
        on_commit: Callable[[], None],
    ) -> None:
        self._writer, self._settings, self._counters = writer, settings, counters
        self._on_commit = on_commit  # wakes the delivery worker
        self._buffer: deque[bytes] = deque()
        self._gen = _Generation()
        # asyncio primitives on the hot path: anyio's look up the running backend and task on
        # every construction and acquire (16% of the loop's time with one producer); the
        # intake is asyncio-bound anyway (aiosqlite, call_soon_threadsafe).
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._room = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        # Shared with caller threads: everything below, read and written under ``_shared``.
        self._shared = threading.Lock()
        self._signalled = False  # a wake-up of the writer task is set or on its way
        self._wake_posted = False  # a wake-up of the worker is on its way from a thread
        self._drop_oldest = 0  # rows the next commit deletes (``drop_oldest`` policy)
        self._estimate = 0
        self._estimate_bytes = 0
        self._estimate_at = 0.0
        self.last_mark = 0

    @property
    def buffered(self) -> int:
        """Records accepted but not committed yet."""
        return len(self._buffer)

    def seed(self, pending: int, pending_bytes: int) -> None:
        """Start the capacity estimate from the file's counters."""
        with self._shared:
            self._estimate, self._estimate_bytes = pending, pending_bytes
            self._estimate_at = time.monotonic()

    def note_removed(self, count: int, size: int = 0) -> None:
        """The worker removed rows (delivered or dead-lettered): there may be room again."""
        with self._shared:
            self._estimate = max(0, self._estimate - count)
            self._estimate_bytes = max(0, self._estimate_bytes - size)
        if not self._room.is_set():
            self._room.set()

    # ---- capacity -------------------------------------------------------------------------

    def _overflow(self, count: int, size: int) -> int:
        """How many records over the bound adding ``count`` records would be (0 = fits)."""
        s = self._settings
        over = 0
        queued = self._estimate + len(self._buffer)
        if s.max_queue_events is not None and queued + count > s.max_queue_events:
            over = queued + count - s.max_queue_events
        if s.max_queue_bytes is not None and self._estimate_bytes + size > s.max_queue_bytes:
            over = max(over, count)
        return min(over, count) if over else 0

    def admit_nowait(self, count: int, size: int) -> bool:
        """Apply the full policy without waiting. False: drop the new records.

        Raises:
            QueueFullError: the policy is ``raise`` or ``block`` (which cannot wait here).
        """
        over = self._overflow(count, size)
        if not over:
            return True
        policy = self._settings.queue_full_policy
        if policy is QueueFullPolicy.DROP_OLDEST:
            with self._shared:
                self._drop_oldest += over
                self._counters.dropped += over
            return True
        if policy is QueueFullPolicy.DROP_NEWEST:
            with self._shared:
                self._counters.dropped += count
            return False
        raise QueueFullError(f"the queue is full ({self._describe_bound()})")

    async def admit(self, count: int, size: int) -> bool:
        """Apply the full policy, waiting up to ``queue_full_timeout`` under ``block``.

        Raises:
            QueueFullError: policy ``raise``, or ``block`` timed out.
        """
        if not self._overflow(count, size):
            return True
        if self._settings.queue_full_policy is not QueueFullPolicy.BLOCK:
            return self.admit_nowait(count, size)
        with anyio.move_on_after(self._settings.queue_full_timeout):
            while self._overflow(count, size):
                self._room = asyncio.Event()
                await self._refresh_estimate(force=True)
                if not self._overflow(count, size):
                    break
                with anyio.move_on_after(0.5):
                    await self._room.wait()
            return True
        raise QueueFullError(
            f"the queue stayed full for {self._settings.queue_full_timeout} s "
            f"({self._describe_bound()})"
        )

    def _describe_bound(self) -> str:
        s = self._settings
        return f"max_queue_events={s.max_queue_events}, max_queue_bytes={s.max_queue_bytes}"

    async def _refresh_estimate(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._estimate_at < 1.0:
            return
        try:
            counts = await self._writer.counts()
        except QueueError as exc:
            # Keep the estimate: an unreadable counter must not fail a commit or a track().
            logger.warning("cannot read the queue counters: %s", exc)
            return
        with self._shared:
            self._estimate, self._estimate_bytes = counts.pending, counts.pending_bytes
            self._estimate_at = now

    # ---- submitting: the full policy, then the commit ---------------------------------------

    async def submit(self, ids: Sequence[str], bodies: Sequence[bytes]) -> list[TrackResult]:
        """Admit records under the full policy, commit them, and say what became of each.

        Raises:
            QueueFullError: the policy is ``raise`` (or ``block`` timed out and
                ``raise_on_error`` is set).
            DeliveryError: the queue file could not be written and ``raise_on_error`` is set.
        """
        size = sum(map(len, bodies))
        try:
            # The queue has room almost always: skip the coroutine of ``admit`` then.
            admitted = not self._overflow(len(bodies), size) or await self.admit(len(bodies), size)
        except QueueFullError:
            # The `raise` policy is an explicit request to fail; `block` timing out is not.
            s = self._settings
            if s.raise_on_error or s.queue_full_policy is QueueFullPolicy.RAISE:
                raise
            with self._shared:
                self._counters.dropped += len(bodies)
            return [_error(rid, "queue full; record dropped") for rid in ids]
        if not admitted:
            return [_error(rid, "queue full; record dropped (drop_newest)") for rid in ids]
        try:
            await self.put(bodies)
        except CommitFailed as exc:
            return [self._commit_failed(rid, exc) for rid in ids]
        return list(map(queued_result, ids))

    def submit_blocking(self, rid: str, body: bytes) -> TrackResult | None:
        """Commit one record from a thread other than the loop's, blocking until committed.

        The sync ``Tracker``'s fast path: the calling thread commits through the queue's
        ``BlockingAppender`` (grouped with other threads' records), without the event loop.
        Returns ``None`` when the queue is (about to be) full, or the file could not be written
        this way: the caller then goes through ``submit`` on the loop, where the ``block``
        policy can wait and a failed write is retried (and a damaged file recovered).
        """
        if self._drop_oldest or self._overflow(1, len(body)):
            return None
        try:
            mark = self._writer.commit_blocking(body)
        except QueueError as exc:
            logger.warning("could not commit from this thread, retrying on the loop: %s", exc)
            return None
        if self._committed(1, len(body), 0, mark, from_thread=True):
            self._loop.call_soon_threadsafe(self._wake_worker)
        return queued_result(rid)

    def _wake_worker(self) -> None:
        with self._shared:
            self._wake_posted = False
        self._on_commit()

    def _committed(
        self, count: int, size: int, dropped: int, mark: int, *, from_thread: bool = False
    ) -> bool:
        """Count a commit; from a thread, True when it must post the worker's wake-up (at
        most one in flight: a commit that finds one posted is covered by it)."""
        with self._shared:
            self.last_mark = max(self.last_mark, mark)
            self._counters.enqueued += count
            self._estimate += count - dropped
            self._estimate_bytes += size
            post = from_thread and not self._wake_posted
            if post:
                self._wake_posted = True
        return post

    def submit_nowait(self, body: bytes) -> None:
        """Buffer one record under the full policy, without waiting (any thread).

        Raises:
            QueueFullError: the policy is ``raise`` or ``block`` (which cannot wait here).
        """
        if self.admit_nowait(1, len(body)):
            self.put_nowait(body)

    def _commit_failed(self, rid: str, exc: CommitFailed) -> TrackResult:
        if self._settings.raise_on_error:
            raise DeliveryError(f"could not store the record: {exc}") from exc
        return _error(rid, f"could not store the record: {exc}")

    # ---- intake ---------------------------------------------------------------------------

    def put_nowait(self, body: bytes) -> None:
        """Buffer one record; the writer commits it within ``commit_interval`` (any thread)."""
        self._buffer.append(body)
        self._signal()

    def _signal(self) -> None:
        with self._shared:
            if self._signalled:
                return
            self._signalled = True
            wake = self._wake
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            wake.set()
        else:
            self._loop.call_soon_threadsafe(wake.set)

    async def put(self, bodies: Sequence[bytes]) -> None:
        """Buffer records and wait until they are committed.

        Raises:
            CommitFailed: the queue file could not be written.
        """
        self._buffer.extend(bodies)
        gen = self._gen
        self._signal()
        waiter = self._loop.create_future()
        gen.waiters.append(waiter)
        await waiter
        if gen.error is not None:
            raise CommitFailed(str(gen.error)) from gen.error

    async def run(self) -> None:
        """The writer task: commit whatever is buffered, forever."""
        await self._writer.open()
        while True:
            await self._wake.wait()
            if self._settings.commit_interval:
                await anyio.sleep(self._settings.commit_interval)
            await self.commit_pending()

    async def commit_pending(self) -> None:
        """Commit everything buffered now (also used at shutdown).

        Serialised: a caller arriving while the writer commits waits for that commit, so at
        shutdown nothing the writer has taken out of the buffer can be left uncommitted.
        """
        async with self._commit_lock:
            await self._commit_buffer()

    async def _commit_buffer(self) -> None:
        with self._shared:
            # Before taking the buffer: a record buffered after this signals the new event.
            self._wake = asyncio.Event()
            self._signalled = False
        while True:
            # Every record buffered now belongs to ``gen``: its waiters wake only after all
            # of it is committed, possibly over several transactions.
            gen, self._gen = self._gen, _Generation()
            records = [self._buffer.popleft() for _ in range(len(self._buffer))]
            for start in range(0, len(records), _MAX_ROWS_PER_COMMIT):
                await self._commit(records[start : start + _MAX_ROWS_PER_COMMIT], gen)
            gen.finish()
            if self._writer.checkpoint_due:
                await self._writer.checkpoint()
            if not self._buffer:
                return
            # Records from other threads arrived meanwhile; let the loop run before the next.
            await asyncio.sleep(0)

    async def _commit(self, batch: list[bytes], gen: _Generation) -> None:
        with self._shared:
            drop, self._drop_oldest = self._drop_oldest, 0
        writer = self._writer
        mark = None if drop else writer.commit_nowait(batch)
        try:
            if mark is None:
                mark = await writer.commit(batch, drop_oldest=drop)
        except QueueError as exc:
            gen.error = exc
            with self._shared:
                self._counters.dropped += len(batch)
                self._counters.last_error = str(exc)
            logger.error("could not commit %d records to the queue: %s", len(batch), exc)
            return
        self._committed(len(batch), sum(map(len, batch)), drop, mark)
        if self._settings.max_queue_events is not None and (
            self._estimate > 0.9 * self._settings.max_queue_events
        ):
            await self._refresh_estimate()
        self._on_commit()


def _error(rid: str, message: str) -> TrackResult:
    return TrackResult(rid, "error", errors=(message,))
