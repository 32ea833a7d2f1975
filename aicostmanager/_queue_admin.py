"""Queue maintenance: counts, dead-lettered rows, requeue and purge (async, plus sync shim)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from ._api_key import ApiKey, as_api_key
from ._blocking import AsyncResource, BlockingTwin
from ._exceptions import ConfigurationError
from ._queue import DeadRow, DurableQueue, QueueCounts
from ._wire import decode_record

__all__ = ("AsyncQueueManager", "DeadLetter", "PersistentQueueManager", "QueueSnapshot")


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered record: why it was refused and what it was."""

    id: int
    record: dict[str, Any]
    reason: str
    errors: list[str]
    attempts: int
    enqueued_at: float
    failed_at: float


@dataclass(frozen=True)
class QueueSnapshot:
    """The state of a queue file at one moment (what ``aicostmanager queue monitor`` shows).

    ``next_attempt_at`` is the earliest time a pending record may be sent (any key): when it
    is in the future, every pending record is waiting (a backoff, a paused or unreachable
    server, or a batch in flight). ``oldest_*`` and ``last_error`` describe the oldest pending
    record, the one that has waited longest.
    """

    taken_at: float
    pending: int
    pending_bytes: int
    dead: int
    oldest_enqueued_at: float | None
    oldest_attempts: int
    last_error: str | None
    next_attempt_at: float | None


async def _oldest(queue: DurableQueue) -> tuple[float, int, str | None] | None:
    # A rowid lookup on the queue's connection: the queue module has no such read yet.
    try:
        rows = list(
            await queue._conn.execute_fetchall(
                "SELECT enqueued_at, attempts, last_error FROM pending ORDER BY id LIMIT 1"
            )
        )
    except sqlite3.Error as exc:
        raise queue.error("read", exc) from exc
    if not rows:
        return None
    enqueued_at, attempts, error = rows[0]
    return float(enqueued_at), int(attempts), None if error is None else str(error)


def _dead_letter(row: DeadRow) -> DeadLetter:
    try:
        record = decode_record(row.body)
    except msgspec.DecodeError:
        # A damaged row is still listed (and can be purged): show its bytes as text.
        record = {"undecodable": row.body[:2000].decode("utf-8", "replace")}
    return DeadLetter(
        id=row.id,
        record=record,
        reason=row.reason,
        errors=row.errors,
        attempts=row.attempts,
        enqueued_at=row.enqueued_at,
        failed_at=row.failed_at,
    )


class AsyncQueueManager(AsyncResource):
    """Inspect and repair a queue file (safe while trackers are using it).

    ::

        async with AsyncQueueManager("~/.config/aicostmanager/queue.db") as manager:
            print(await manager.stats())

    It never creates a file, and never moves a damaged one aside (a tracker does that when it
    starts): every method raises ``QueueError`` (``QueueCorruptError`` for a damaged file).

    Raises:
        QueueError: on entering, the file does not exist or is not a queue file.
        QueueCorruptError: on entering, the file is damaged.
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self._path = db_path
        self._queue: DurableQueue | None = None

    async def __aenter__(self) -> AsyncQueueManager:
        self._queue = await DurableQueue.open(self._path, create=False, recover=False)
        return self

    async def aclose(self) -> None:
        """Close the file."""
        if self._queue is not None:
            await self._queue.close()
            self._queue = None

    def _q(self) -> DurableQueue:
        if self._queue is None:
            raise RuntimeError("use `async with AsyncQueueManager(path) as manager:`")
        return self._queue

    async def stats(self) -> QueueCounts:
        """Pending rows, their bytes, and dead-lettered rows (constant time)."""
        return await self._q().counts()

    async def snapshot(self) -> QueueSnapshot:
        """Counts, the oldest pending record and the next due time (index lookups only)."""
        queue = self._q()
        now = time.time()
        counts = await queue.counts()
        oldest = await _oldest(queue) if counts.pending else None
        due: list[float] = []
        if counts.pending:
            for fingerprint in await queue.keys():
                when = await queue.next_due(fingerprint)
                if when is not None:
                    due.append(when)
        return QueueSnapshot(
            taken_at=now,
            pending=counts.pending,
            pending_bytes=counts.pending_bytes,
            dead=counts.dead,
            oldest_enqueued_at=oldest[0] if oldest else None,
            oldest_attempts=oldest[1] if oldest else 0,
            last_error=oldest[2] if oldest else None,
            next_attempt_at=min(due, default=None),
        )

    async def list_failed(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Dead-lettered records, oldest first."""
        return [_dead_letter(row) for row in await self._q().list_dead(limit=limit, offset=offset)]

    async def requeue_failed(self, ids: Sequence[int] | None = None) -> int:
        """Send dead-lettered records again (all when ``ids`` is empty); returns how many."""
        return await self._q().requeue_dead(ids, time.time())

    async def purge_failed(self, ids: Sequence[int] | None = None) -> int:
        """Delete dead-lettered records (all when ``ids`` is empty); returns how many."""
        return await self._q().purge_dead(ids)

    async def keys(self) -> dict[str, int]:
        """Pending records per API-key fingerprint (``ApiKey.fingerprint``)."""
        return await self._q().keys()

    async def adopt(self, api_key: ApiKey | str, from_fingerprint: str | None = None) -> int:
        """Hand pending records queued with other keys (or one fingerprint) to ``api_key``.

        For records queued with a mistyped or rotated key: a tracker only sends the records
        of its own key. The key is cleaned as the tracker cleans it (a trailing newline does
        not change its fingerprint). Returns how many records changed hands.

        Raises:
            ConfigurationError: ``api_key`` is blank or cannot be a key.
        """
        key = as_api_key(api_key)
        if key is None:
            raise ConfigurationError("AICM_API_KEY", "must be a non-empty string")
        return await self._q().adopt(key.fingerprint, from_key_fp=from_fingerprint)


# ---- generated by scripts/gen_sync_twins.py from AsyncQueueManager: do not edit ----
class PersistentQueueManager(BlockingTwin[AsyncQueueManager]):
    """Blocking twin of ``AsyncQueueManager`` (the 0.3 SDK's name); opens the file at once.

    Raises:
        QueueError: the file does not exist or is not a queue file.
        QueueCorruptError: the file is damaged.
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        super().__init__(AsyncQueueManager(db_path), enter=True)

    def adopt(self, api_key: ApiKey | str, from_fingerprint: str | None = None) -> int:
        """Blocking twin of ``AsyncQueueManager.adopt``."""
        return self._call(self._async.adopt, api_key, from_fingerprint)

    def keys(self) -> dict[str, int]:
        """Blocking twin of ``AsyncQueueManager.keys``."""
        return self._call(self._async.keys)

    def list_failed(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Blocking twin of ``AsyncQueueManager.list_failed``."""
        return self._call(self._async.list_failed, limit, offset)

    def purge_failed(self, ids: Sequence[int] | None = None) -> int:
        """Blocking twin of ``AsyncQueueManager.purge_failed``."""
        return self._call(self._async.purge_failed, ids)

    def requeue_failed(self, ids: Sequence[int] | None = None) -> int:
        """Blocking twin of ``AsyncQueueManager.requeue_failed``."""
        return self._call(self._async.requeue_failed, ids)

    def snapshot(self) -> QueueSnapshot:
        """Blocking twin of ``AsyncQueueManager.snapshot``."""
        return self._call(self._async.snapshot)

    def stats(self) -> QueueCounts:
        """Blocking twin of ``AsyncQueueManager.stats``."""
        return self._call(self._async.stats)


# ---- end of generated code ----
