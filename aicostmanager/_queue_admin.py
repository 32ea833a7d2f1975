"""Queue maintenance: counts, dead-lettered rows, requeue and purge (async, plus sync shim)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import msgspec

from ._api_key import ApiKey, as_api_key
from ._exceptions import ConfigurationError
from ._portal import get_portal
from ._queue import DeadRow, DurableQueue, QueueCounts
from ._wire import decode_record

__all__ = ("AsyncQueueManager", "DeadLetter", "PersistentQueueManager")


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


class AsyncQueueManager:
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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

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


class PersistentQueueManager:
    """Blocking twin of ``AsyncQueueManager`` (the 0.3 SDK's name)."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self._async = AsyncQueueManager(db_path)
        get_portal().call(self._async.__aenter__)

    def __enter__(self) -> PersistentQueueManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        get_portal().call(self._async.aclose)

    def stats(self) -> QueueCounts:
        """See ``AsyncQueueManager.stats``."""
        return get_portal().call(self._async.stats)

    def list_failed(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """See ``AsyncQueueManager.list_failed``."""
        return get_portal().call(self._async.list_failed, limit, offset)

    def requeue_failed(self, ids: Sequence[int] | None = None) -> int:
        """See ``AsyncQueueManager.requeue_failed``."""
        return get_portal().call(self._async.requeue_failed, ids)

    def purge_failed(self, ids: Sequence[int] | None = None) -> int:
        """See ``AsyncQueueManager.purge_failed``."""
        return get_portal().call(self._async.purge_failed, ids)

    def keys(self) -> dict[str, int]:
        """See ``AsyncQueueManager.keys``."""
        return get_portal().call(self._async.keys)

    def adopt(self, api_key: ApiKey | str, from_fingerprint: str | None = None) -> int:
        """See ``AsyncQueueManager.adopt``."""
        return get_portal().call(self._async.adopt, api_key, from_fingerprint)
