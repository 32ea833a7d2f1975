"""The delivery worker: drains the durable queue to ``POST /track`` in batches.

It sleeps until rows are due (woken by a commit, by a timer for the next ``next_attempt_at``,
or by ``flush``), lingers up to ``batch_interval`` to fill a batch, claims a leased batch and
sends it. Outcomes per record: accepted -> deleted; rejected -> dead-letter with the server's
reason; transient failure -> released with full-jitter backoff (``Retry-After`` pauses the
whole worker); 401/403/404/3xx -> the worker pauses, rows kept; 413 -> the batch is split;
a 2xx that does not name a record leaves it pending (``_classify`` has the rules).
Transient failures dead-letter a row only once it is older than ``max_event_age``.

A server that cannot be reached at all (refused, reset, DNS) is not backed off per row: the
worker enters an "unreachable" state, sends one single-record probe per ``probe_interval()``
and, at the first answer, resumes every due row at once. ``flush`` cuts a backoff or probe
pause short (one attempt per call); a server's ``Retry-After`` and auth pauses are honoured.

The loop is supervised: an exception from any step is logged, counted and followed by a
restart with backoff, so nothing raised here ever reaches the host's task group.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import anyio
from anyio.abc import TaskGroup

from .._backoff import Backoff, probe_interval
from .._config import TrackerSettings
from .._exceptions import APIConnectionError
from .._http import AsyncHTTP
from .._queue import DurableQueue, QueueError, QueueRow
from .._wire import TrackResponse, batch_body
from ._classify import Action, classify, record_ids
from ._counters import Counters

__all__ = ("DeliveryWorker",)

logger = logging.getLogger("aicostmanager")

_AUTH_PAUSE = 30.0
_RESTART_BACKOFF = Backoff(0.1, 30.0)  # pause before restarting a failed worker (no jitter)
_HEALTHY_RUN = 60.0  # a worker that ran this long before failing starts its backoff over
_REMEMBERED = 10_000  # backed-off row ids kept so that flush() can make them due at once


class DeliveryWorker:
    """Delivers this API key's rows of one queue file."""

    def __init__(
        self,
        queue: DurableQueue,
        http: AsyncHTTP,
        settings: TrackerSettings,
        key_fp: str,
        counters: Counters,
        *,
        on_response: Callable[[TrackResponse], Awaitable[None]] | None = None,
        on_removed: Callable[[int, int], None] | None = None,
    ) -> None:
        self._queue = queue
        self._http = http
        self._settings = settings
        self._key_fp = key_fp
        self._counters = counters
        self._on_response = on_response
        self._on_removed = on_removed
        self._backoff = Backoff(settings.backoff_base, settings.backoff_max)
        self._owner = lease_owner_id()
        self._wake = anyio.Event()
        self._urgent = 0
        self._urgent_event = anyio.Event()
        self._settled = anyio.Event()
        self._slots = anyio.Semaphore(settings.max_concurrency)
        self._last_full = False
        self._failures = 0  # consecutive transient failures: the whole worker backs off
        self._claiming = False
        self._rescheduled = False  # a batch put rows back with a due time: look again
        self._warned: set[str] = set()  # configuration problems already logged
        self._probe_interval = probe_interval()
        self._unreachable = False  # no answer at all: probe with one record at a fixed pace
        self._soft_pause = False  # the current pause is ours (backoff, probe): flush may cut it
        self._cut = anyio.Event()  # set by flush: end a soft pause now
        self._backed_off: dict[int, tuple[float, str]] = {}  # row id -> (due, error)

    def wake(self) -> None:
        """Rows may be due now (called after every commit)."""
        self._wake.set()

    # ---- main loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until cancelled; supervised: no failure of a step ever leaves this method.

        Whatever a step raises (a queue file that cannot be read, a bug, a callback that
        fails) is logged, counted in ``statistics().worker_restarts`` and ``last_error``, and
        the loop starts again after a growing pause; only cancellation ends it.
        """
        failures = 0
        while True:
            started = time.monotonic()
            try:
                async with anyio.create_task_group() as tg:
                    while True:
                        await self._step(tg)
            except Exception as exc:
                if time.monotonic() - started > _HEALTHY_RUN:
                    failures = 0
                failures += 1
                cause = _leaf(exc)
                delay = _RESTART_BACKOFF.ceiling(failures)
                self._counters.worker_restarts += 1
                self._counters.last_error = (
                    f"delivery worker failed: {type(cause).__name__}: {cause}"
                )
                logger.error(
                    "delivery worker failed (%s: %s), restarting in %.1f s",
                    type(cause).__name__,
                    cause,
                    delay,
                    exc_info=cause,
                )
                await anyio.sleep(delay)

    async def _step(self, tg: TaskGroup) -> None:
        s = self._settings
        now = time.time()
        paused = self._counters.paused_until
        if paused is not None:
            if paused > now:
                await self._wait_pause(paused - now)
                return
            self._end_pause()
        probing = self._unreachable
        if not probing and not self._last_full and s.batch_interval > 0 and not self._urgent:
            with anyio.move_on_after(s.batch_interval):
                await self._urgent_event.wait()
        await self._slots.acquire()
        self._claiming = True
        try:
            self._wake = anyio.Event()
            rows = await self._queue.claim(
                self._key_fp,
                self._owner,
                limit=1 if probing else s.max_batch_size,
                now=time.time(),
                lease_seconds=s.lease_seconds,
            )
        except QueueError as exc:
            self._claiming = False
            self._slots.release()
            self._counters.last_error = str(exc)
            logger.error("cannot read the queue: %s", exc)
            await anyio.sleep(1.0)
            return
        except BaseException:
            self._claiming = False
            self._slots.release()
            raise
        # Leased rows are no longer due: count them in flight before anything can wait on it.
        self._counters.in_flight += len(rows)
        self._claiming = False
        if not rows:
            self._slots.release()
            self._last_full = False
            await self._idle()
            return
        if probing:
            # One probe at a time, whatever max_concurrency says: at most one request per
            # probe interval reaches a server that is down.
            self._last_full = False
            await self._deliver(rows)
            return
        self._last_full = len(rows) >= s.max_batch_size
        tg.start_soon(self._deliver, rows)
        if not self._last_full:
            # Everything due was claimed: claiming again now would find nothing (one write
            # transaction per lone record for nothing); sleep until a commit or a due time.
            await self._idle()

    async def _wait_pause(self, seconds: float) -> None:
        """Sleep through a pause; a soft one (backoff, probe) ends early when flush asks."""
        cut = self._cut
        with anyio.move_on_after(seconds):
            if not self._soft_pause:
                await anyio.sleep_forever()
            await cut.wait()
            self._cut = anyio.Event()
            self._end_pause()
            await self._due_now()

    def _end_pause(self) -> None:
        self._counters.paused_until = None
        self._counters.paused_reason = None
        self._soft_pause = False

    async def _due_now(self) -> None:
        """Make the rows this worker backed off due now (flush cut the pause short)."""
        now = time.time()
        due = [(i, now, error) for i, (when, error) in self._backed_off.items() if when > now]
        self._backed_off.clear()
        if due:
            try:
                await self._queue.settle(retry=due, now=now)
            except QueueError as exc:
                self._counters.last_error = str(exc)
                logger.error("cannot read the queue: %s", exc)

    async def _idle(self) -> None:
        """Sleep until a commit, a flush, or the next row's due time."""
        try:
            due = await self._queue.next_due(self._key_fp)
        except QueueError:
            due = time.time() + 1.0
        await self._refresh_pending()
        self._notify_settled()
        timeout = None if due is None else max(due - time.time(), 0.001)
        with anyio.move_on_after(timeout):
            await self._wake.wait()

    # ---- one batch ------------------------------------------------------------------------

    async def _deliver(self, rows: list[QueueRow]) -> None:
        unsettled = {row.id for row in rows}
        try:
            for chunk in _by_bytes(rows, self._settings.max_batch_bytes):
                await self._attempt(chunk, unsettled)
        except anyio.get_cancelled_exc_class():
            self._rescheduled = True
            await self._release(rows, unsettled)
            raise
        finally:
            self._counters.in_flight -= len(rows)
            self._slots.release()
            self._notify_settled()
            # The idle loop sleeps until the next due time it saw, which was this batch's lease
            # end; retried rows are due much sooner (backoff), so make it look again. A batch
            # delivered in full leaves nothing to look at (new commits wake the loop anyway).
            if self._rescheduled:
                self._rescheduled = False
                self.wake()

    def _notify_settled(self) -> None:
        self._settled.set()
        self._settled = anyio.Event()

    async def _release(self, rows: list[QueueRow], unsettled: set[int]) -> None:
        # Cancelled (shutdown deadline): make the rows due again at once, so that the next
        # start sends them without waiting for the lease to expire.
        now = time.time()
        retry = [(r.id, now, "interrupted by shutdown") for r in rows if r.id in unsettled]
        with anyio.move_on_after(0.2, shield=True):
            try:
                await self._queue.settle(retry=retry, now=now)
            except QueueError:
                pass

    async def _attempt(self, rows: Sequence[QueueRow], unsettled: set[int]) -> None:
        bodies = [row.body for row in rows]
        ids = record_ids(bodies)
        retry_after: float | None = None
        try:
            response = await self._http.request("POST", "track", content=batch_body(bodies))
            answer: object = response
            retry_after = response.retry_after()
        except APIConnectionError as exc:
            answer = exc
        outcome = classify(ids, answer, retry_after)  # type: ignore[arg-type]
        now = time.time()
        if self._unreachable and not isinstance(answer, APIConnectionError):
            self._reachable()  # an HTTP answer, whatever its status: the server is back
        if outcome.action is Action.SPLIT:
            middle = len(rows) // 2
            await self._attempt(rows[:middle], unsettled)
            await self._attempt(rows[middle:], unsettled)
            return
        if outcome.action is Action.PAUSE:
            self._counters.failed_requests += 1
            self._counters.last_error = outcome.error
            pause = outcome.retry_after or _AUTH_PAUSE
            self._pause(now + pause, outcome.error)
            if not outcome.warn_once:
                logger.error("delivery paused for %.0f s: %s", pause, outcome.error)
            elif outcome.error not in self._warned:
                self._warned.add(outcome.error)
                logger.warning("delivery paused, records kept: %s", outcome.error)
            paused = [(r.id, now + pause, outcome.error) for r in rows]
            self._rescheduled = True
            await self._settle(rows, retry=paused, now=now)
            unsettled.difference_update(r.id for r in rows)
            return
        # SETTLE (some records may be left unacknowledged) or RETRY (none acknowledged).
        delivered = [rows[i].id for i in outcome.delivered]
        dead = [(rows[i].id, reason, errors) for i, reason, errors in outcome.dead]
        for _, reason, _ in dead:
            logger.warning("record rejected by the server, dead-lettered: %s", reason)
        failed = (
            list(rows)
            if outcome.action is Action.RETRY
            else [rows[i] for i in outcome.unacknowledged]
        )
        retry, expired = self._reschedule(
            failed, outcome.error, outcome.retry_after, now, unreachable=outcome.unreachable
        )
        await self._settle(rows, delivered=delivered, dead=dead + expired, retry=retry, now=now)
        self._counters.delivered += len(delivered)
        self._counters.dead_lettered += len(dead) + len(expired)
        unsettled.difference_update(r.id for r in rows)
        if outcome.response is not None and self._on_response is not None:
            await self._on_response(outcome.response)

    def _reschedule(
        self,
        rows: Sequence[QueueRow],
        error: str,
        retry_after: float | None,
        now: float,
        *,
        unreachable: bool = False,
    ) -> tuple[list[tuple[int, float, str]], list[tuple[int, str, Sequence[str]]]]:
        """Back off after a transient failure of ``rows``: (rows to retry, rows expired).

        When the server could not be reached at all, nothing escalates: the rows are due again
        after one probe interval and the worker probes at that fixed pace.
        """
        if not rows:
            self._failures = 0
            return [], []
        self._rescheduled = True
        self._counters.failed_requests += 1
        self._counters.last_error = error
        self._counters.retries += len(rows)
        if unreachable:
            if not self._unreachable:
                logger.warning(
                    "server unreachable (%s); records kept, probing every %.1f s",
                    error,
                    self._probe_interval,
                )
            self._unreachable = True
            self._pause(now + self._probe_interval, f"server unreachable: {error}", soft=True)
        elif retry_after is not None:
            self._failures += 1
            self._pause(now + retry_after, f"Retry-After: {error}")
        else:
            # The server is failing: back off as a whole rather than walking the backlog,
            # rescheduling every row (a deep queue would keep SQLite busy for nothing).
            self._failures += 1
            delay = self._backoff.delay(self._failures)
            self._pause(now + delay, f"backing off after: {error}", soft=True)
        if not unreachable:
            logger.info("delivery of %d records failed, will retry: %s", len(rows), error)
        retry: list[tuple[int, float, str]] = []
        expired: list[tuple[int, str, Sequence[str]]] = []
        for row in rows:
            if now - row.enqueued_at > self._settings.max_event_age:
                reason = f"expired after {row.attempts} attempts; last error: {error}"
                expired.append((row.id, reason, []))
            elif unreachable:
                retry.append((row.id, now + self._probe_interval, error))
            else:
                wait = max(retry_after or 0.0, self._backoff.delay(row.attempts))
                retry.append((row.id, now + wait, error))
                if retry_after is None:
                    self._remember(row.id, now + wait, error, now)
        return retry, expired

    def _remember(self, row_id: int, due: float, error: str, now: float) -> None:
        """Note a backed-off row so that flush() can make it due at once (bounded)."""
        if len(self._backed_off) >= _REMEMBERED:
            self._backed_off = {i: v for i, v in self._backed_off.items() if v[0] > now}
        if len(self._backed_off) < _REMEMBERED:
            self._backed_off[row_id] = (due, error)

    def _reachable(self) -> None:
        """A probe got an answer: leave the unreachable state and send every due row now."""
        self._unreachable = False
        if self._soft_pause:
            self._end_pause()
        logger.info("server reachable again; resuming delivery")
        self.wake()

    def _pause(self, until: float, reason: str, *, soft: bool = False) -> None:
        current = self._counters.paused_until
        if current is None or until > current:
            self._counters.paused_until = until
            self._counters.paused_reason = reason
            self._soft_pause = soft

    async def _settle(
        self,
        rows: Sequence[QueueRow],
        *,
        delivered: Sequence[int] = (),
        dead: Sequence[tuple[int, str, Sequence[str]]] = (),
        retry: Sequence[tuple[int, float, str]] = (),
        now: float,
    ) -> None:
        try:
            await self._queue.settle(delivered=delivered, dead=dead, retry=retry, now=now)
        except QueueError as exc:
            # The rows keep their lease and are sent again when it expires (at-least-once).
            self._counters.last_error = str(exc)
            logger.error("cannot record delivery outcome: %s", exc)
            return
        removed = set(delivered) | {d[0] for d in dead}
        if removed and self._on_removed is not None:
            size = sum(len(r.body) for r in rows if r.id in removed)
            self._on_removed(len(removed), size)

    async def _refresh_pending(self) -> None:
        try:
            self._counters.pending = (await self._queue.counts()).pending
        except QueueError:
            pass

    # ---- waiting --------------------------------------------------------------------------

    async def wait_delivered(self, mark: int) -> None:
        """Wait until no row of this key with ``id <= mark`` is pending (no deadline here).

        Rows already in the file count too (left by an earlier run or another process
        sharing it): ``mark`` is raised to the file's last row id at the time of the call.
        """
        self._hurry()
        try:
            try:
                mark = max(mark, await self._queue.last_id())
            except QueueError as exc:
                logger.error("cannot read the queue: %s", exc)
            while await self._has_pending(mark):
                with anyio.move_on_after(0.25):
                    await self._settled.wait()
        finally:
            self._unhurry()
        await self._refresh_pending()

    async def _has_pending(self, mark: int) -> bool:
        try:
            return await self._queue.has_pending(self._key_fp, mark)
        except QueueError as exc:
            # A locked or damaged file is not "delivered": keep waiting (flush has a deadline).
            self._counters.last_error = str(exc)
            logger.warning("cannot read the queue: %s", exc)
            return True

    def _hurry(self) -> None:
        self._urgent += 1
        self._urgent_event.set()
        self._cut.set()
        self.wake()

    def _unhurry(self) -> None:
        self._urgent -= 1
        if not self._urgent:
            self._urgent_event = anyio.Event()
            self._cut = anyio.Event()

    async def wait_idle(self) -> None:
        """Wait until nothing of this key is due or in flight (or delivery is paused)."""
        self._hurry()
        try:
            while True:
                if self._counters.in_flight == 0 and not self._claiming:
                    paused = self._counters.paused_until
                    if paused is not None and paused > time.time():
                        return
                    try:
                        due = await self._queue.next_due(self._key_fp)
                    except QueueError:
                        due = time.time()  # cannot tell: keep waiting (callers set a deadline)
                    if due is None or due > time.time():
                        return
                with anyio.move_on_after(0.25):
                    await self._settled.wait()
        finally:
            self._unhurry()


_HOST = socket.gethostname()


def lease_owner_id() -> str:
    """``host:pid:random``: who holds a lease, so orphans of dead processes can be found."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def is_orphaned(owner: str) -> bool:
    """True when ``owner`` was a process on this host that no longer runs.

    Owners on other hosts, or in a form this SDK did not write, are never taken for orphans:
    their leases simply expire.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (possibly nested) exception groups."""
    inner = getattr(exc, "exceptions", None)  # BaseExceptionGroup (a backport on 3.10)
    while isinstance(inner, tuple) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _by_bytes(rows: list[QueueRow], limit: int) -> list[list[QueueRow]]:
    chunks: list[list[QueueRow]] = [[]]
    size = 0
    for row in rows:
        if chunks[-1] and size + len(row.body) > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += len(row.body)
    return chunks
