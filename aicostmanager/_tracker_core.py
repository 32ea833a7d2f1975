"""``TrackerCore``: the engine behind ``AsyncTracker`` and the sync ``Tracker``.

It wires the parts together and owns the lifecycle; every other concern lives in the module
that owns it: building and batch validation in ``_record``, the full policy and the
cross-thread commit in ``_delivery/_intake``, immediate and background sends in
``_delivery/_immediate``, delivery in ``_delivery/_worker``, limits in ``_limits``. Both
public classes are one-line-per-method façades over it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.abc

from ._config import (
    TrackerSettings,
    check_callback,
    check_headers,
    check_proxies,
    resolve_settings,
    setting_overrides,
)
from ._delivery._counters import Counters
from ._delivery._immediate import ImmediateDelivery, ImmediateSender
from ._delivery._intake import Intake
from ._delivery._worker import DeliveryWorker, is_orphaned
from ._exceptions import MissingConfiguration, TrackerClosedError
from ._http import AsyncHTTP
from ._options import CONSTRUCTOR_ONLY, TrackerOptions, check_options
from ._queue import DurableQueue
from ._queue_writer import QueueWriter
from ._record import (
    RECORD_ARG_NAMES,
    BuiltRecord,
    RecordArgs,
    RecordDefaults,
    build_batch,
    build_record,
    unknown_record_args,
)
from ._scope import current_scope
from ._types import DeliveryType, TrackerStatistics, TrackResult
from ._wire import TrackResponse

if TYPE_CHECKING:
    from ._limits import TriggeredLimitsEnforcer

__all__ = ("TrackerCore", "TrackerOptions")

logger = logging.getLogger("aicostmanager")


class OpenCall(Protocol):
    """A call still open on a tracker (a wrapped stream): closing the tracker settles it."""

    def aicm_settle(self) -> None:
        """Record what the call has seen so far (at most once; never raises)."""
        ...


class TrackerCore:
    """What ``AsyncTracker`` and the sync ``Tracker`` share: wiring, lifecycle, the track steps.

    An async context manager entered on the event loop that runs delivery; ``track_nowait``,
    ``track_blocking`` and ``track_batch_blocking`` may be called from any thread.

    Raises:
        MissingConfiguration: no API key in the arguments or the environment.
        ConfigurationError: an option is unknown or malformed.
    """

    def __init__(self, options: TrackerOptions) -> None:
        options = check_options(options, "the tracker")
        overrides = {name: value for name, value in options.items() if name not in CONSTRUCTOR_ONLY}
        self.settings = resolve_settings(TrackerSettings, setting_overrides(overrides))
        if self.settings.api_key is None:
            raise MissingConfiguration("AICM_API_KEY")
        self._defaults = RecordDefaults(
            customer_key=options.get("customer_key"),
            context=options.get("context"),
            anonymize_fields=options.get("anonymize_fields"),
            anonymizer=check_callback("anonymizer", options.get("anonymizer")),
        )
        self._http_options: dict[str, Any] = {
            "headers": check_headers(options.get("headers")),
            "proxies": check_proxies(options.get("proxies")),
            "transport": options.get("transport"),
        }
        self._key_fp = self.settings.api_key.fingerprint
        self._counters = Counters()
        self._limits: TriggeredLimitsEnforcer | None = None
        if self.settings.limits_enabled:
            from ._limits import TriggeredLimitsEnforcer

            self._limits = TriggeredLimitsEnforcer(
                ini_path=self.settings.ini_path,
                api_key=self.settings.api_key,
                on_alert=check_callback("on_alert", options.get("on_alert")),
            )
        self.state = "new"
        self._resources: AsyncExitStack | None = None
        self._background: anyio.abc.TaskGroup | None = None
        self._intake: Intake | None = None
        self._worker: DeliveryWorker | None = None
        self._immediate: ImmediateDelivery | None = None
        # Weak: an abandoned stream is still collected (and recorded by its finaliser).
        self._open_calls: weakref.WeakSet[OpenCall] = weakref.WeakSet()
        self._open_lock = threading.Lock()

    def describe(self) -> str:
        """The repr's arguments (never the API key)."""
        s = self.settings
        queue = f", queue={str(s.queue_path)!r}" if self._uses_queue else ""
        return (
            f"delivery_type={s.delivery_type.value!r}, api_root={s.api_root!r}{queue}, "
            f"state={self.state!r}"
        )

    @property
    def _uses_queue(self) -> bool:
        s = self.settings
        return s.delivery_type is DeliveryType.PERSISTENT_QUEUE or s.db_path is not None

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> TrackerCore:
        if self.state != "new":
            raise TrackerClosedError("a tracker can be started only once")
        s = self.settings
        # Files and connections are closed (shielded) after the task group has exited.
        resources = AsyncExitStack()
        group = anyio.create_task_group()
        try:
            http = AsyncHTTP(
                api_root=s.api_root,
                api_key=s.api_key,
                timeout=s.timeout,
                max_connections=max(4, s.max_concurrency * 2),
                **self._http_options,
            )
            resources.push_async_callback(http.aclose)
            if self._uses_queue:
                queue = await DurableQueue.open(s.queue_path, synchronous=s.sqlite_synchronous)
                resources.push_async_callback(queue.close)
                self._worker = DeliveryWorker(
                    queue,
                    http,
                    s,
                    self._key_fp,
                    self._counters,
                    on_response=self._on_response,
                    on_removed=self._on_removed,
                )
                writer = QueueWriter(queue, self._key_fp)
                self._intake = Intake(writer, s, self._counters, on_commit=self._worker.wake)
                # Rows a crashed process had in flight go out now, not when its lease ends.
                await queue.release_orphaned_leases(is_orphaned, time.time())
                counts = await queue.counts()
                self._intake.seed(counts.pending, counts.pending_bytes)
                self._counters.pending = counts.pending
            await group.__aenter__()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await resources.aclose()
            raise
        if s.delivery_type is DeliveryType.IMMEDIATE:
            sender = ImmediateSender(http, s, self._counters, on_response=self._on_response)
            self._immediate = ImmediateDelivery(sender, s, self._counters, group, self._intake)
            group.start_soon(self._immediate.run, name="aicostmanager-background-sends")
        if self._intake is not None and self._worker is not None:
            group.start_soon(self._intake.run, name="aicostmanager-writer")
            group.start_soon(self._worker.run, name="aicostmanager-worker")
        if self._limits is not None and not self._limits.has_public_key:
            # A server may send its public key only on a key's first /track response:
            # fetch the signed set once so a fresh process can verify it.
            from ._limits import refresh_triggered_limits

            group.start_soon(refresh_triggered_limits, http, self._limits)
        self._background = group
        self._resources = resources
        self.state = "running"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self, timeout: float | None = None) -> None:
        """Drain until the deadline (see ``drain``), then stop the tasks and close the files."""
        if self.state == "running":
            await self.drain(timeout)
        if self.state != "draining":
            self.state = "closed"
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
            self.state = "closed"

    async def drain(self, timeout: float | None = None) -> None:
        """Stop intake, then commit and deliver what is due until the deadline (shielded)."""
        if self.state != "running":
            return
        self.settle_open_calls()
        self.state = "draining"
        budget = self.settings.close_timeout if timeout is None else max(timeout, 0.0)
        # Keep a little of the budget for releasing in-flight leases and closing files.
        drain = max(budget - 0.3, budget * 0.7)
        with anyio.move_on_after(drain, shield=True):
            if self._intake is not None:
                await self._intake.commit_pending()
            if self._worker is not None:
                await self._worker.wait_idle()
            if self._immediate is not None:
                await self._immediate.wait_idle()

    def register_open_call(self, call: OpenCall) -> None:
        """Settle ``call`` when the tracker closes, if it is still alive then (any thread)."""
        with self._open_lock:
            self._open_calls.add(call)

    def settle_open_calls(self) -> None:
        """Record every open call still alive (the first step of closing)."""
        with self._open_lock:
            calls = list(self._open_calls)
            self._open_calls.clear()
        for call in calls:
            call.aicm_settle()  # never raises: a settler logs and counts its own failures

    def check_running(self) -> None:
        """Raise ``TrackerClosedError`` unless the tracker is running."""
        if self.state != "running":
            raise TrackerClosedError(
                "the tracker is not running: use `async with AsyncTracker(...) as tracker:`"
                if self.state == "new"
                else "the tracker is closed"
            )

    # ---- defaults -------------------------------------------------------------------------

    def set_customer_key(self, customer_key: str | None) -> None:
        """Change the tracker-wide default customer key."""
        self._defaults = _replace_defaults(self._defaults, customer_key=customer_key)

    def set_context(self, context: Mapping[str, Any] | None) -> None:
        """Change the tracker-wide default context."""
        self._defaults = _replace_defaults(self._defaults, context=context)

    # ---- the track steps ------------------------------------------------------------------

    def build(
        self, service_key: str, usage: object, args: RecordArgs, caller: str = "track"
    ) -> tuple[str, bytes, str | None]:
        """Validate and encode one record in the caller's scope (any thread, no I/O).

        Returns:
            ``(response_id, encoded record, effective customer key)``.

        Raises:
            InvalidRecordError: the record is invalid.
            TypeError: ``args`` has a keyword ``RecordArgs`` does not.
        """
        if args and not RECORD_ARG_NAMES.issuperset(args):
            raise unknown_record_args(args, caller)
        scope = current_scope()
        return build_record(
            service_key,
            usage,
            scope_customer_key=scope.customer_key,
            scope_context=scope.context,
            defaults=self._defaults,
            **args,
        )

    async def submit(self, ids: Sequence[str], bodies: Sequence[bytes]) -> list[TrackResult]:
        """Deliver built records: send them now (immediate) or commit them to the queue."""
        self.check_running()
        if self._immediate is not None:
            return await self._immediate.submit(ids, bodies)
        assert self._intake is not None
        return await self._intake.submit(ids, bodies)

    async def track(self, service_key: str, usage: object, args: RecordArgs) -> TrackResult:
        """``AsyncTracker.track``."""
        rid, body, customer = self.build(service_key, usage, args)
        result = (await self.submit((rid,), (body,)))[0]
        if self._limits is not None:
            self._limits.check(service_key, customer)
        return result

    def track_nowait(self, service_key: str, usage: object, args: RecordArgs) -> str:
        """``AsyncTracker.track_nowait`` (any thread, any event loop)."""
        rid, body, customer = self.build(service_key, usage, args, "track_nowait")
        self.check_running()
        if self._immediate is not None:
            self._immediate.submit_nowait(rid, body)
        else:
            assert self._intake is not None
            self._intake.submit_nowait(body)
        if self._limits is not None:
            self._limits.check(service_key, customer)
        return rid

    def track_blocking(
        self,
        service_key: str,
        usage: object,
        args: RecordArgs,
        call: Callable[..., list[TrackResult]],
    ) -> TrackResult:
        """``Tracker.track``: build here, commit from this thread when the queue has room,
        else ``call(submit, ...)`` on the loop (``call`` is the portal's)."""
        rid, body, customer = self.build(service_key, usage, args)
        result = None
        intake = self._intake
        if self.state == "running" and self._immediate is None and intake is not None:
            result = intake.submit_blocking(rid, body)
        if result is None:
            result = call(self.submit, (rid,), (body,))[0]
        if self._limits is not None:
            self._limits.check(service_key, customer)
        return result

    async def track_batch(self, records: Sequence[Mapping[str, Any]]) -> list[TrackResult]:
        """``AsyncTracker.track_batch``."""
        built = self._build_batch(records)
        if not built:
            return []
        results = await self.submit([b.response_id for b in built], [b.body for b in built])
        self._enforce_built(built)
        return results

    def track_batch_blocking(
        self, records: Sequence[Mapping[str, Any]], call: Callable[..., list[TrackResult]]
    ) -> list[TrackResult]:
        """``Tracker.track_batch``: build in this thread, submit with ``call`` on the loop."""
        built = self._build_batch(records)
        if not built:
            return []
        results = call(self.submit, [b.response_id for b in built], [b.body for b in built])
        self._enforce_built(built)
        return results

    def _build_batch(self, records: Sequence[Mapping[str, Any]]) -> list[BuiltRecord]:
        scope = current_scope()
        return build_batch(
            records,
            self._defaults,
            scope_customer_key=scope.customer_key,
            scope_context=scope.context,
        )

    def _enforce_built(self, built: Sequence[BuiltRecord]) -> None:
        if self._limits is not None:
            for record in built:
                self._limits.check(record.service_key, record.customer_key)

    # ---- limits ---------------------------------------------------------------------------

    def check_limits(self, service_key: str | None = None, customer_key: str | None = None) -> None:
        """``AsyncTracker.check_limits``."""
        if self._limits is None:
            return
        customer = customer_key or current_scope().customer_key or self._defaults.customer_key
        self._limits.check(service_key, customer)

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
        """``AsyncTracker.flush``."""
        self.check_running()
        with anyio.move_on_after(timeout):
            if self._intake is not None and self._worker is not None:
                await self._intake.put(())
                await self._worker.wait_delivered(self._intake.last_mark)
            if self._immediate is not None:
                await self._immediate.wait_idle()
            return True
        return False

    def statistics(self) -> TrackerStatistics:
        """``AsyncTracker.statistics``."""
        counters = dataclasses.asdict(self._counters)
        paused = counters["paused_until"]
        if paused is None or paused <= time.time():
            counters["paused_until"] = counters["paused_reason"] = None
        return TrackerStatistics(
            delivery_type=self.settings.delivery_type,
            buffered=self._intake.buffered if self._intake is not None else 0,
            **counters,
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
