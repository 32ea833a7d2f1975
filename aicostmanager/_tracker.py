"""``AsyncTracker``: the façade users await."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict

import anyio
from typing_extensions import Unpack

from ._config import TrackerSettings, resolve_tracker_settings
from ._delivery._counters import Counters
from ._delivery._immediate import ImmediateSender
from ._delivery._intake import CommitFailed, Intake
from ._delivery._worker import DeliveryWorker, is_orphaned
from ._exceptions import (
    BatchSizeLimitExceeded,
    DeliveryError,
    InvalidRecordError,
    MissingConfiguration,
    QueueFullError,
    TrackerClosedError,
)
from ._http import AsyncHTTP
from ._queue import DurableQueue, key_fingerprint
from ._record import Anonymizer, RecordDefaults, build_record
from ._scope import Scope, current_scope, tracking_scope
from ._types import DeliveryType, QueueFullPolicy, TrackerStatistics, TrackResult
from ._wire import ResultItem, TrackResponse

if TYPE_CHECKING:
    from ._limits import TriggeredLimitsEnforcer

__all__ = ("MAX_BATCH_RECORDS", "AsyncTracker", "TrackerOptions")

logger = logging.getLogger("aicostmanager")

MAX_BATCH_RECORDS = 1000
"""Most records ``track_batch`` accepts in one call (one ``/track`` request)."""

_BLOCKING_COMMIT_TIMEOUT = 60.0


class TrackerOptions(TypedDict, total=False):
    """Keyword options of ``AsyncTracker`` and ``Tracker`` (see ``docs/configuration.md``).

    Every option left out (or ``None``) comes from the ``AICM_*`` environment, then the
    ``[tracker]`` section of ``AICM.INI``, then the default.
    """

    aicm_api_key: str | None
    aicm_api_base: str | None
    aicm_api_url: str | None
    ini_path: str | os.PathLike[str] | None
    delivery_type: DeliveryType | str | None
    db_path: str | os.PathLike[str] | None
    customer_key: str | None
    context: Mapping[str, Any] | None
    anonymize_fields: Collection[str] | None
    anonymizer: Anonymizer | None
    raise_on_error: bool | None
    limits_enabled: bool | None
    on_alert: Callable[[list[Any]], None] | None
    timeout: float | None
    max_attempts: int | None
    batch_interval: float | None
    max_batch_size: int | None
    max_concurrency: int | None
    commit_interval: float | None
    max_queue_events: int | None
    max_queue_bytes: int | None
    queue_full_policy: str | None
    queue_full_timeout: float | None
    max_event_age: float | None
    lease_seconds: float | None
    backoff_base: float | None
    backoff_max: float | None
    sqlite_synchronous: str | None
    close_timeout: float | None
    headers: Mapping[str, str] | None
    proxies: str | Mapping[str, str] | None
    transport: Any


_SETTING_NAMES = {
    "aicm_api_key": "api_key",
    "aicm_api_base": "api_base",
    "aicm_api_url": "api_url",
}
_NON_SETTINGS = frozenset(
    {"customer_key", "context", "anonymize_fields", "anonymizer", "on_alert", "headers"}
    | {"proxies", "transport"}
)


def api_key_id(api_key: str) -> str | None:
    """The key's id: the text after its last ``.`` (``None`` when it has no ``.``)."""
    return api_key.rsplit(".", 1)[1] if "." in api_key else None


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
        overrides = {
            _SETTING_NAMES.get(name, name): value
            for name, value in options.items()
            if name not in _NON_SETTINGS
        }
        self._settings: TrackerSettings = resolve_tracker_settings(overrides)
        if not self._settings.api_key:
            raise MissingConfiguration("AICM_API_KEY")
        self._defaults = RecordDefaults(
            customer_key=options.get("customer_key"),
            context=options.get("context"),
            anonymize_fields=options.get("anonymize_fields"),
            anonymizer=options.get("anonymizer"),
        )
        self._http_options: dict[str, Any] = {
            "headers": options.get("headers"),
            "proxies": options.get("proxies"),
            "transport": options.get("transport"),
        }
        self._key_fp = key_fingerprint(self._settings.api_key)
        self._counters = Counters()
        self._limits: TriggeredLimitsEnforcer | None = None
        if self._settings.limits_enabled:
            from ._limits import TriggeredLimitsEnforcer

            self._limits = TriggeredLimitsEnforcer(
                ini_path=self._settings.ini_path,
                api_key=self._settings.api_key,
                on_alert=options.get("on_alert"),
            )
        self._state = "new"
        self._resources: AsyncExitStack | None = None
        self._http: AsyncHTTP | None = None
        self._queue: DurableQueue | None = None
        self._intake: Intake | None = None
        self._worker: DeliveryWorker | None = None
        self._sender: ImmediateSender | None = None
        self._background: anyio.abc.TaskGroup | None = None
        self._nowait_sends = 0
        self._sends_done: anyio.Event | None = None

    def __repr__(self) -> str:
        s = self._settings
        queue = f", queue={str(s.queue_path)!r}" if self._uses_queue else ""
        return (
            f"AsyncTracker(delivery_type={s.delivery_type.value!r}, "
            f"api_root={s.api_root!r}{queue}, state={self._state!r})"
        )

    @property
    def settings(self) -> TrackerSettings:
        """The resolved options (the API key is hidden from its repr)."""
        return self._settings

    @property
    def _uses_queue(self) -> bool:
        s = self._settings
        return s.delivery_type is DeliveryType.PERSISTENT_QUEUE or s.db_path is not None

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncTracker:
        if self._state != "new":
            raise TrackerClosedError("an AsyncTracker can be started only once")
        s = self._settings
        # Files and connections are closed (shielded) after the task group has exited.
        resources = AsyncExitStack()
        group = anyio.create_task_group()
        try:
            self._http = AsyncHTTP(
                api_root=s.api_root,
                api_key=s.api_key,
                timeout=s.timeout,
                max_connections=max(4, s.max_concurrency * 2),
                **self._http_options,
            )
            resources.push_async_callback(self._http.aclose)
            if s.delivery_type is DeliveryType.IMMEDIATE:
                self._sender = ImmediateSender(
                    self._http, s, self._counters, on_response=self._on_response
                )
            if self._uses_queue:
                self._queue = await DurableQueue.open(
                    s.queue_path, synchronous=s.sqlite_synchronous
                )
                resources.push_async_callback(self._queue.close)
                self._worker = DeliveryWorker(
                    self._queue,
                    self._http,
                    s,
                    self._key_fp,
                    self._counters,
                    on_response=self._on_response,
                    on_removed=self._on_removed,
                )
                self._intake = Intake(
                    self._queue, self._key_fp, s, self._counters, on_commit=self._worker.wake
                )
                # Rows a crashed process had in flight go out now, not when its lease ends.
                await self._queue.release_orphaned_leases(is_orphaned, time.time())
                counts = await self._queue.counts()
                self._intake.seed(counts.pending, counts.pending_bytes)
                self._counters.pending = counts.pending
            await group.__aenter__()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await resources.aclose()
            raise
        if self._intake is not None and self._worker is not None:
            group.start_soon(self._intake.run, name="aicostmanager-writer")
            group.start_soon(self._worker.run, name="aicostmanager-worker")
        if self._limits is not None and not self._limits.has_public_key:
            # A server may send its public key only on a key's first /track response:
            # fetch the signed set once so a fresh process can verify it.
            from ._limits import refresh_triggered_limits

            group.start_soon(refresh_triggered_limits, self._http, self._limits)
        self._background = group
        self._resources = resources
        self._state = "running"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self, timeout: float | None = None) -> None:
        """Stop intake, commit what is buffered, deliver what is due until the deadline, close.

        Whatever is not delivered by then stays in the queue file and is sent on the next
        start. Returns by the deadline (``close_timeout``, 5 s by default) even if the server
        never answers. Call it from the task that entered the tracker (``async with`` does).
        """
        if self._state == "running":
            await self.drain_for_close(timeout)
        if self._state != "draining":
            self._state = "closed"
            return
        group, self._background = self._background, None
        try:
            if group is not None:
                group.cancel_scope.cancel()
                await group.__aexit__(None, None, None)
        finally:
            resources, self._resources = self._resources, None
            if resources is not None:
                with anyio.CancelScope(shield=True):
                    await resources.aclose()
            self._state = "closed"

    async def drain_for_close(self, timeout: float | None = None) -> None:
        """Stop intake, then commit and deliver what is due until the deadline (shielded).

        ``aclose`` calls it; the sync shim calls it through the portal before exiting.
        """
        if self._state != "running":
            return
        self._state = "draining"
        budget = self._settings.close_timeout if timeout is None else max(timeout, 0.0)
        # Keep a little of the budget for releasing in-flight leases and closing files.
        drain = max(budget - 0.3, budget * 0.7)
        with anyio.move_on_after(drain, shield=True):
            if self._intake is not None:
                await self._intake.commit_pending()
            if self._worker is not None:
                await self._worker.wait_idle()
            await self._wait_background_sends()

    def _check_running(self) -> None:
        if self._state != "running":
            raise TrackerClosedError(
                "the tracker is not running: use `async with AsyncTracker(...) as tracker:`"
                if self._state == "new"
                else "the tracker is closed"
            )

    # ---- tracking -------------------------------------------------------------------------

    def scope(
        self, *, customer_key: str | None = None, context: Mapping[str, Any] | None = None
    ) -> contextlib.AbstractContextManager[Scope]:
        """Set the customer key / add context for everything tracked inside the block.

        The scope lives in a ``ContextVar``: concurrent tasks never see each other's.
        Precedence: the call's argument > the innermost scope > the tracker's default.
        """
        return tracking_scope(customer_key, context)

    def set_customer_key(self, customer_key: str | None) -> None:
        """Change the tracker-wide default customer key."""
        self._defaults = _replace_defaults(self._defaults, customer_key=customer_key)

    def set_context(self, context: Mapping[str, Any] | None) -> None:
        """Change the tracker-wide default context."""
        self._defaults = _replace_defaults(self._defaults, context=context)

    def build(
        self,
        service_key: str,
        usage: Mapping[str, Any] | Any,
        *,
        response_id: str | None = None,
        timestamp: Any = None,
        customer_key: str | None = None,
        context: Mapping[str, Any] | None = None,
        anonymize_fields: Collection[str] | None = None,
        anonymizer: Anonymizer | None = None,
    ) -> tuple[str, bytes, str | None]:
        """Validate and encode a record without tracking it (thread-safe, no I/O).

        Returns:
            ``(response_id, encoded record, effective customer key)``.

        Raises:
            InvalidRecordError: the record is invalid.
        """
        scope = current_scope()
        return build_record(
            service_key,
            usage,
            response_id=response_id,
            timestamp=timestamp,
            customer_key=customer_key,
            context=context,
            scope_customer_key=scope.customer_key,
            scope_context=scope.context,
            defaults=self._defaults,
            anonymize_fields=anonymize_fields,
            anonymizer=anonymizer,
        )

    async def track(
        self,
        service_key: str,
        usage: Mapping[str, Any] | Any,
        *,
        response_id: str | None = None,
        timestamp: Any = None,
        customer_key: str | None = None,
        context: Mapping[str, Any] | None = None,
        anonymize_fields: Collection[str] | None = None,
        anonymizer: Anonymizer | None = None,
    ) -> TrackResult:
        """Track one usage event.

        Args:
            service_key: ``"vendor::service"``, e.g. ``"openai::gpt-5-mini"``.
            usage: the usage payload (token counts...): a mapping of JSON values.
            response_id: the event's id (a uuid4 hex by default); the server de-duplicates on it.
            timestamp: ``datetime``, ISO 8601 text or epoch seconds (default: now).
            customer_key: the customer (default: the scope's, then the tracker's).
            context: extra metadata (merged over the scope's and the tracker's).
            anonymize_fields: usage field names to anonymize, added to the tracker's.
            anonymizer: the function applied to those fields (default: redact text).

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
        """
        rid, body, customer = self.build(
            service_key,
            usage,
            response_id=response_id,
            timestamp=timestamp,
            customer_key=customer_key,
            context=context,
            anonymize_fields=anonymize_fields,
            anonymizer=anonymizer,
        )
        results = await self.submit([rid], [body])
        self._enforce(service_key, customer)
        return results[0]

    def track_nowait(
        self,
        service_key: str,
        usage: Mapping[str, Any] | Any,
        *,
        response_id: str | None = None,
        timestamp: Any = None,
        customer_key: str | None = None,
        context: Mapping[str, Any] | None = None,
        anonymize_fields: Collection[str] | None = None,
        anonymizer: Anonymizer | None = None,
    ) -> str:
        """Track one usage event without waiting; callable from any thread.

        The record is validated now and committed by the writer task within
        ``commit_interval`` (milliseconds): unlike ``await track()``, a crash in that window
        can lose it. With a full queue it never waits: the ``block`` policy acts as ``raise``.

        Returns:
            The record's ``response_id``.

        Raises:
            InvalidRecordError: the record is invalid (nothing was enqueued).
            QueueFullError: the queue is full and the policy is ``raise`` or ``block``.
            UsageLimitExceeded: limits are enabled and a triggered limit matches.
            TrackerClosedError: the tracker is not running.
        """
        rid, body, customer = self.build(
            service_key,
            usage,
            response_id=response_id,
            timestamp=timestamp,
            customer_key=customer_key,
            context=context,
            anonymize_fields=anonymize_fields,
            anonymizer=anonymizer,
        )
        self.submit_nowait(rid, body)
        self._enforce(service_key, customer)
        return rid

    async def track_batch(self, records: Sequence[Mapping[str, Any]]) -> list[TrackResult]:
        """Track up to 1000 records at once (one commit, or one request when immediate).

        Each record is a mapping with ``service_key`` and ``usage`` and optionally
        ``response_id``, ``timestamp``, ``customer_key``, ``context``. Every record is
        validated before any is enqueued: one bad record rejects the whole call.

        Raises:
            BatchSizeLimitExceeded: more than 1000 records.
            InvalidRecordError: a record is invalid (its index is in the field name).
        """
        built = self.build_batch(records)
        if not built:
            return []
        results = await self.submit([b[0] for b in built], [b[1] for b in built])
        self.enforce_built(built)
        return results

    def build_batch(
        self, records: Sequence[Mapping[str, Any]]
    ) -> list[tuple[str, bytes, str | None, str]]:
        """Validate and encode ``track_batch`` records (thread-safe, no I/O).

        Returns:
            ``(response_id, encoded record, customer key, service key)`` per record.

        Raises:
            BatchSizeLimitExceeded: more than 1000 records.
            InvalidRecordError: a record is invalid.
        """
        if len(records) > MAX_BATCH_RECORDS:
            raise BatchSizeLimitExceeded(len(records), MAX_BATCH_RECORDS)
        built: list[tuple[str, bytes, str | None, str]] = []
        for index, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise InvalidRecordError(f"records[{index}]", "must be a mapping")
            unknown = set(record) - _BATCH_FIELDS
            if unknown:
                raise InvalidRecordError(
                    f"records[{index}]", f"unknown field(s): {', '.join(sorted(map(str, unknown)))}"
                )
            for required in ("service_key", "usage"):
                if required not in record:
                    raise InvalidRecordError(f"records[{index}].{required}", "is required")
            try:
                rid, body, customer = self.build(
                    record["service_key"],
                    record["usage"],
                    response_id=record.get("response_id"),
                    timestamp=record.get("timestamp"),
                    customer_key=record.get("customer_key"),
                    context=record.get("context"),
                )
            except InvalidRecordError as exc:
                raise InvalidRecordError(f"records[{index}].{exc.field}", str(exc)) from None
            built.append((rid, body, customer, record["service_key"]))
        return built

    async def submit(self, ids: Sequence[str], bodies: Sequence[bytes]) -> list[TrackResult]:
        """Deliver already-built records (see ``build``); the core of ``track``."""
        self._check_running()
        if self._sender is not None:
            return await self._send_immediately(ids, bodies)
        assert self._intake is not None
        try:
            admitted = await self._intake.admit(len(bodies), sum(map(len, bodies)))
        except QueueFullError:
            # The `raise` policy is an explicit request to fail; `block` timing out is not.
            if self._settings.raise_on_error or (
                self._settings.queue_full_policy is QueueFullPolicy.RAISE
            ):
                raise
            self._counters.dropped += len(bodies)
            return [_error(rid, "queue full; record dropped") for rid in ids]
        if not admitted:
            return [_error(rid, "queue full; record dropped (drop_newest)") for rid in ids]
        try:
            await self._intake.put(bodies)
        except CommitFailed as exc:
            if self._settings.raise_on_error:
                raise DeliveryError(f"could not store the record: {exc}") from exc
            return [_error(rid, f"could not store the record: {exc}") for rid in ids]
        return [TrackResult(rid, "queued") for rid in ids]

    def submit_threadsafe(self, rid: str, body: bytes) -> TrackResult | None:
        """Commit a built record from a thread other than the tracker's loop, blocking.

        The sync shim's fast path: no task is spawned on the loop. Returns ``None`` when the
        record must go through ``submit`` instead (immediate delivery, a full queue, or a
        tracker that is not running).
        """
        intake = self._intake
        if self._state != "running" or self._sender is not None or intake is None:
            return None
        if not intake.has_room(1, len(body)):
            return None
        try:
            intake.put_blocking(body, timeout=_BLOCKING_COMMIT_TIMEOUT)
        except CommitFailed as exc:
            if self._settings.raise_on_error:
                raise DeliveryError(f"could not store the record: {exc}") from exc
            return _error(rid, f"could not store the record: {exc}")
        return TrackResult(rid, "queued")

    def submit_nowait(self, rid: str, body: bytes) -> None:
        """Buffer an already-built record without waiting (any thread)."""
        self._check_running()
        if self._intake is not None and self._sender is None:
            if self._intake.admit_nowait(1, len(body)):
                self._intake.put_nowait(body)
            return
        assert self._background is not None
        self._nowait_sends += 1
        group = self._background

        def start() -> None:
            group.start_soon(self._send_in_background, rid, body)

        try:
            import asyncio

            asyncio.get_running_loop()
            start()
        except RuntimeError:
            anyio.from_thread.run_sync(start)

    async def _send_in_background(self, rid: str, body: bytes) -> None:
        try:
            await self._send_immediately([rid], [body])
        except Exception:
            logger.exception("background delivery failed")
        finally:
            self._nowait_sends -= 1
            if not self._nowait_sends and self._sends_done is not None:
                self._sends_done.set()

    async def _wait_background_sends(self) -> None:
        while self._nowait_sends:
            self._sends_done = anyio.Event()
            await self._sends_done.wait()

    async def _send_immediately(
        self, ids: Sequence[str], bodies: Sequence[bytes]
    ) -> list[TrackResult]:
        assert self._sender is not None
        outcome = await self._sender.send(ids, bodies)
        results: list[TrackResult] = []
        spill: list[int] = []
        for index, rid in enumerate(ids):
            if index in outcome.delivered:
                results.append(_from_item(rid, outcome.delivered[index]))
            elif index in outcome.rejected:
                errors = outcome.rejected[index]
                if self._settings.raise_on_error:
                    raise DeliveryError(f"record {rid} rejected by the server: {'; '.join(errors)}")
                results.append(TrackResult(rid, "error", errors=tuple(errors)))
            else:
                spill.append(index)
                results.append(_error(rid, outcome.error or "not delivered"))
        if spill:
            if self._intake is not None:
                try:
                    await self._intake.put([bodies[i] for i in spill])
                except CommitFailed:
                    pass
                else:
                    for i in spill:
                        results[i] = TrackResult(ids[i], "queued", spilled=True)
                    return results
            self._counters.dropped += len(spill)
            logger.error("immediate delivery failed, %d record(s) not delivered", len(spill))
            if self._settings.raise_on_error:
                raise DeliveryError(f"delivery failed: {outcome.error}")
        return results

    # ---- limits ---------------------------------------------------------------------------

    def check_limits(self, service_key: str | None = None, customer_key: str | None = None) -> None:
        """Raise ``UsageLimitExceeded`` if a cached triggered limit blocks this call.

        In-memory, no network: wrappers call it *before* the LLM request. A no-op unless
        limits are enabled. ``customer_key`` defaults to the scope's, then the tracker's.

        Raises:
            UsageLimitExceeded: a triggered limit of type ``limit`` matches.
        """
        if self._limits is None:
            return
        customer = customer_key or current_scope().customer_key or self._defaults.customer_key
        self._limits.check(service_key, customer)

    def _enforce(self, service_key: str, customer: str | None) -> None:
        if self._limits is not None:
            self._limits.check(service_key, customer)

    def enforce_built(self, built: Sequence[tuple[str, bytes, str | None, str]]) -> None:
        """Apply the limits check to records returned by ``build_batch``."""
        for _, _, customer, service_key in built:
            self._enforce(service_key, customer)

    async def _on_response(self, response: TrackResponse) -> None:
        if self._limits is not None and response.triggered_limits is not None:
            try:
                await self._limits.aupdate_from_envelope(response.triggered_limits)
            except Exception:
                logger.exception("could not apply triggered limits")

    def _on_removed(self, count: int, size: int) -> None:
        if self._intake is not None:
            self._intake.note_removed(count, size)

    # ---- waiting and statistics -----------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything tracked before the call is delivered or dead-lettered.

        Returns:
            True when done, False when ``timeout`` ran out first (nothing is lost: the rest
            stays queued).
        """
        self._check_running()
        with anyio.move_on_after(timeout):
            if self._intake is not None and self._worker is not None:
                await self._intake.put(())
                await self._worker.wait_delivered(self._intake.last_mark)
            await self._wait_background_sends()
            return True
        return False

    async def wait_drained(self) -> None:
        """``flush()`` without a deadline (wrap it in ``anyio.fail_after``)."""
        await self.flush(None)

    def statistics(self) -> TrackerStatistics:
        """A snapshot of this tracker's counters."""
        counters = dataclasses.asdict(self._counters)
        paused = counters["paused_until"]
        if paused is None or paused <= time.time():
            counters["paused_until"] = counters["paused_reason"] = None
        return TrackerStatistics(
            delivery_type=self._settings.delivery_type,
            buffered=self._intake.buffered if self._intake is not None else 0,
            **counters,
        )

    @property
    def queue_path(self) -> Path | None:
        """The durable queue file, when this tracker uses one."""
        return self._settings.queue_path if self._uses_queue else None


_BATCH_FIELDS = frozenset(
    {"service_key", "usage", "response_id", "timestamp", "customer_key", "context"}
)


def _error(rid: str, message: str) -> TrackResult:
    return TrackResult(rid, "error", errors=(message,))


def _from_item(rid: str, item: ResultItem | None) -> TrackResult:
    if item is None:
        return TrackResult(rid, "queued", delivered=True)
    status = item.status if item.status in ("queued", "completed", "service_key_unknown") else None
    if status is None:
        status = "completed" if item.cost_events else "queued"
    return TrackResult(
        rid,
        status,  # type: ignore[arg-type]
        cost_events=tuple(item.cost_events or ()),
        errors=tuple(item.errors or ()),
        delivered=True,
    )


def _replace_defaults(defaults: RecordDefaults, **changes: Any) -> RecordDefaults:
    values: dict[str, Any] = {
        "customer_key": defaults.customer_key,
        "context": defaults.context,
        "anonymize_fields": defaults.anonymize_fields,
        "anonymizer": defaults.anonymizer,
    }
    values.update(changes)
    return RecordDefaults(**values)
