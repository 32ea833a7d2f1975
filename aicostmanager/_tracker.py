"""``AsyncTracker``: the façade users await (a thin shim over ``TrackerCore``)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from ._config import TrackerSettings
from ._record import RecordArgs
from ._scope import Scope, tracking_scope
from ._tracker_core import OpenCall, TrackerCore, TrackerOptions
from ._types import TrackerStatistics, TrackResult

__all__ = ("AsyncTracker", "TrackerOptions")


class AsyncTracker:
    """Records usage events and delivers them to AICostManager.

    Use it as an async context manager (its delivery worker lives in a task group)::

        async with AsyncTracker() as tracker:
            await tracker.track("openai::gpt-5-mini", {"input_tokens": 10, "output_tokens": 20})

    With ``delivery_type="persistent_queue"`` (the default) ``track()`` returns once the record
    is committed to the SQLite queue, which a background worker delivers in batches; with
    ``"immediate"`` it returns the server's answer (and spills into the queue file, when
    ``db_path`` is configured, if the server cannot be reached).

    Raises:
        MissingConfiguration: no API key in the arguments or the environment.
        ConfigurationError: an option is unknown or malformed.
    """

    def __init__(self, **options: Unpack[TrackerOptions]) -> None:
        self._core = TrackerCore(options)

    def __repr__(self) -> str:
        return f"AsyncTracker({self._core.describe()})"

    @property
    def settings(self) -> TrackerSettings:
        """The resolved options (the API key is hidden from its repr)."""
        return self._core.settings

    async def __aenter__(self) -> AsyncTracker:
        await self._core.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._core.aclose()

    async def aclose(self, timeout: float | None = None) -> None:
        """Stop intake, commit what is buffered, deliver what is due until the deadline, close.

        Whatever is not delivered by then stays in the queue file and is sent on the next
        start. Returns by the deadline (``close_timeout``, 5 s by default) even if the server
        never answers. Call it from the task that entered the tracker (``async with`` does).
        """
        await self._core.aclose(timeout)

    def scope(
        self, *, customer_key: str | None = None, context: Mapping[str, Any] | None = None
    ) -> contextlib.AbstractContextManager[Scope]:
        """Set the customer key / add context for everything tracked inside the block.

        The scope lives in a ``ContextVar``: concurrent tasks never see each other's.
        Precedence: the call's argument > the innermost scope > the tracker's default.
        """
        return tracking_scope(customer_key, context)

    def _register_open_call(self, call: OpenCall) -> None:
        """Internal (wrappers): settle ``call`` before this tracker closes."""
        self._core.register_open_call(call)

    def set_customer_key(self, customer_key: str | None) -> None:
        """Change the tracker-wide default customer key."""
        self._core.set_customer_key(customer_key)

    def set_context(self, context: Mapping[str, Any] | None) -> None:
        """Change the tracker-wide default context."""
        self._core.set_context(context)

    async def track(
        self, service_key: str, usage: Mapping[str, Any] | Any, **record: Unpack[RecordArgs]
    ) -> TrackResult:
        """Track one usage event.

        Args:
            service_key: ``"vendor::service"``, e.g. ``"openai::gpt-5-mini"``.
            usage: the usage payload (token counts...): a mapping of JSON values.
            **record: ``response_id``, ``timestamp``, ``customer_key``, ``context``,
                ``anonymize_fields``, ``anonymizer`` (see ``RecordArgs``).

        Returns:
            ``TrackResult``: ``queued`` once committed to the durable queue (persistent), or
            the server's outcome (immediate).

        Raises:
            InvalidRecordError: the record is invalid (nothing was enqueued or sent).
            UsageLimitExceeded: limits are enabled and a triggered limit matches.
            QueueFullError: the queue is full and the policy is ``raise`` (or ``block`` timed out
                and ``raise_on_error`` is set).
            DeliveryError: delivery or storage failed and ``raise_on_error`` is set.
            TrackerClosedError: the tracker is not running.
            TypeError: an unknown keyword argument.
        """
        return await self._core.track(service_key, usage, record)

    def track_nowait(
        self, service_key: str, usage: Mapping[str, Any] | Any, **record: Unpack[RecordArgs]
    ) -> str:
        """Track one usage event without waiting; callable from any thread or event loop.

        The record is validated now and committed by the writer task within
        ``commit_interval`` (milliseconds): unlike ``await track()``, a crash in that window
        can lose it. With a full queue it never waits: the ``block`` policy acts as ``raise``.
        With ``delivery_type="immediate"`` the send runs in the background on the tracker's
        own event loop (``flush()`` waits for it).

        Returns:
            The record's ``response_id``.

        Raises:
            InvalidRecordError: the record is invalid (nothing was enqueued).
            QueueFullError: the queue is full and the policy is ``raise`` or ``block``.
            UsageLimitExceeded: limits are enabled and a triggered limit matches.
            TrackerClosedError: the tracker is not running.
            TypeError: an unknown keyword argument.
        """
        return self._core.track_nowait(service_key, usage, record)

    async def track_batch(self, records: Sequence[Mapping[str, Any]]) -> list[TrackResult]:
        """Track up to 1000 records at once (one commit, or one request when immediate).

        Each record is a mapping with ``service_key`` and ``usage`` and optionally
        ``response_id``, ``timestamp``, ``customer_key``, ``context``. Every record is
        validated before any is enqueued: one bad record rejects the whole call.

        Raises:
            BatchSizeLimitExceeded: more than 1000 records.
            InvalidRecordError: a record is invalid (its index is in the field name).
            UsageLimitExceeded: limits are enabled and a triggered limit matches.
            TrackerClosedError: the tracker is not running.
        """
        return await self._core.track_batch(records)

    def check_limits(self, service_key: str | None = None, customer_key: str | None = None) -> None:
        """Raise ``UsageLimitExceeded`` if a cached triggered limit blocks this call.

        In-memory, no network: wrappers call it *before* the LLM request. A no-op unless
        limits are enabled. ``customer_key`` defaults to the scope's, then the tracker's.

        Raises:
            UsageLimitExceeded: a triggered limit of type ``limit`` matches.
        """
        self._core.check_limits(service_key, customer_key)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything tracked before the call is delivered or dead-lettered.

        Returns:
            True when done, False when ``timeout`` ran out first (nothing is lost: the rest
            stays queued).

        Raises:
            TrackerClosedError: the tracker is not running.
        """
        return await self._core.flush(timeout)

    def statistics(self) -> TrackerStatistics:
        """A snapshot of this tracker's counters."""
        return self._core.statistics()
