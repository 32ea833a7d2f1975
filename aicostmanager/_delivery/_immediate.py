"""Immediate delivery: ``POST /track`` now, with a bounded number of attempts.

``ImmediateSender`` sends and retries; ``ImmediateDelivery`` turns its outcome into one
``TrackResult`` per record, spills what could not be sent into the durable queue (when there
is one), and runs ``track_nowait()`` sends in the background on the tracker's own loop,
whichever thread or event loop called it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
import anyio.abc

from .._backoff import Backoff
from .._config import TrackerSettings
from .._exceptions import APIConnectionError, DeliveryError, TrackerClosedError
from .._http import AsyncHTTP
from .._types import TrackResult
from .._wire import ResultItem, TrackResponse, batch_body
from ._classify import Action, classify
from ._counters import Counters
from ._intake import CommitFailed, Intake

__all__ = ("ImmediateDelivery", "ImmediateOutcome", "ImmediateSender")

logger = logging.getLogger("aicostmanager")

_MAX_WAIT = 5.0  # longest single wait between immediate attempts (Retry-After included)


@dataclass(frozen=True)
class ImmediateOutcome:
    """Per-record results of an immediate send.

    ``delivered[i]`` is the server's result for record ``i`` when it accepted it;
    ``rejected[i]`` the server's errors when it refused it; records in neither were not
    delivered (``error`` says why) and may be spilled into the durable queue.
    """

    delivered: dict[int, ResultItem | None]
    rejected: dict[int, list[str]]
    error: str | None = None
    response: TrackResponse | None = None


class ImmediateSender:
    """Sends records right away, retrying transient failures a bounded number of times."""

    def __init__(
        self,
        http: AsyncHTTP,
        settings: TrackerSettings,
        counters: Counters,
        on_response: Callable[[TrackResponse], Awaitable[None]] | None = None,
    ) -> None:
        self._http = http
        self._settings = settings
        self._counters = counters
        self._on_response = on_response
        self._backoff = Backoff(settings.backoff_base, min(settings.backoff_max, _MAX_WAIT))

    async def send(self, ids: Sequence[str], bodies: Sequence[bytes]) -> ImmediateOutcome:
        """Send records (one request, split on 413) and return what happened to each."""
        delivered: dict[int, ResultItem | None] = {}
        rejected: dict[int, list[str]] = {}
        error = await self._send(list(range(len(ids))), ids, bodies, delivered, rejected)
        return ImmediateOutcome(delivered, rejected, error)

    async def _send(
        self,
        indexes: list[int],
        ids: Sequence[str],
        bodies: Sequence[bytes],
        delivered: dict[int, ResultItem | None],
        rejected: dict[int, list[str]],
    ) -> str | None:
        sub_ids = [ids[i] for i in indexes]
        body = batch_body([bodies[i] for i in indexes])
        error: str | None = None
        for attempt in range(1, self._settings.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = await self._http.request("POST", "track", content=body)
                answer: object = response
                retry_after = response.retry_after()
            except APIConnectionError as exc:
                answer = exc
            outcome = classify(sub_ids, answer, retry_after)  # type: ignore[arg-type]
            if outcome.action is Action.SETTLE:
                for i in outcome.delivered:
                    delivered[indexes[i]] = outcome.results[i] if outcome.results else None
                for i, reason, errors in outcome.dead:
                    rejected[indexes[i]] = list(errors) or [reason]
                self._counters.delivered += len(outcome.delivered)
                if outcome.response is not None and self._on_response is not None:
                    await self._on_response(outcome.response)
                return outcome.error or None  # set when some records were not acknowledged
            if outcome.action is Action.SPLIT:
                middle = len(indexes) // 2
                first = await self._send(indexes[:middle], ids, bodies, delivered, rejected)
                second = await self._send(indexes[middle:], ids, bodies, delivered, rejected)
                return first or second
            self._counters.failed_requests += 1
            self._counters.last_error = error = outcome.error
            if outcome.action is Action.PAUSE or attempt == self._settings.max_attempts:
                break
            wait = outcome.retry_after
            if wait is None:
                wait = self._backoff.delay(attempt)
            if wait > _MAX_WAIT:
                break
            self._counters.retries += len(indexes)
            await anyio.sleep(wait)
        return error or "delivery failed"


class ImmediateDelivery:
    """Immediate delivery as a tracker uses it: per-record results, spilling, background sends.

    Created on the tracker's event loop, inside its task group; ``submit_nowait`` may be
    called from any thread or any other event loop.
    """

    def __init__(
        self,
        sender: ImmediateSender,
        settings: TrackerSettings,
        counters: Counters,
        group: anyio.abc.TaskGroup,
        spill: Intake | None = None,
    ) -> None:
        self._sender = sender
        self._settings = settings
        self._counters = counters
        self._group = group
        self._spill = spill
        self._loop = asyncio.get_running_loop()
        self._waiting: deque[tuple[str, bytes]] = deque()
        self._wake = anyio.Event()
        # Counted when handed over (in the caller's thread), so that a flush() right after
        # track_nowait() waits for it even before the loop has picked it up.
        self._lock = threading.Lock()
        self._handed = 0
        self._finished = 0
        self._idle: anyio.Event | None = None

    async def submit(self, ids: Sequence[str], bodies: Sequence[bytes]) -> list[TrackResult]:
        """Send records now and return one result per record (spilled ones are ``queued``).

        Raises:
            DeliveryError: a record was rejected or not delivered and ``raise_on_error`` is set.
        """
        outcome = await self._sender.send(ids, bodies)
        raise_on_error = self._settings.raise_on_error
        results: list[TrackResult] = []
        spill: list[int] = []
        for index, rid in enumerate(ids):
            if index in outcome.delivered:
                results.append(_from_item(rid, outcome.delivered[index]))
            elif index in outcome.rejected:
                errors = outcome.rejected[index]
                if raise_on_error:
                    raise DeliveryError(f"record {rid} rejected by the server: {'; '.join(errors)}")
                results.append(TrackResult(rid, "error", errors=tuple(errors)))
            else:
                spill.append(index)
                results.append(_error(rid, outcome.error or "not delivered"))
        if not spill:
            return results
        if self._spill is not None:
            try:
                await self._spill.put([bodies[i] for i in spill])
            except CommitFailed:
                pass
            else:
                for i in spill:
                    results[i] = TrackResult(ids[i], "queued", spilled=True)
                return results
        self._counters.dropped += len(spill)
        logger.error("immediate delivery failed, %d record(s) not delivered", len(spill))
        if raise_on_error:
            raise DeliveryError(f"delivery failed: {outcome.error}")
        return results

    def submit_nowait(self, rid: str, body: bytes) -> None:
        """Send one record in the background, on the tracker's loop (any thread, any loop).

        Raises:
            TrackerClosedError: the tracker's event loop has stopped.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        with self._lock:
            self._handed += 1
        if running is self._loop:
            self._enqueue(rid, body)
            return
        try:
            self._loop.call_soon_threadsafe(self._enqueue, rid, body)
        except RuntimeError:
            with self._lock:
                self._handed -= 1
            raise TrackerClosedError("the tracker's event loop has stopped") from None

    def _enqueue(self, rid: str, body: bytes) -> None:
        # A plain callback on the tracker's loop; it makes no anyio call that needs a task
        # (anyio cannot tell its backend from a bare callback of a plain asyncio loop).
        self._waiting.append((rid, body))
        self._wake.set()

    async def run(self) -> None:
        """Start a send task for every record ``submit_nowait`` hands over, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._waiting:
                rid, body = self._waiting.popleft()
                self._group.start_soon(self._send_in_background, rid, body)

    async def _send_in_background(self, rid: str, body: bytes) -> None:
        try:
            await self.submit([rid], [body])
        except Exception:
            logger.exception("background delivery failed")
        finally:
            self._finished += 1
            if self._idle is not None:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until every record handed over before the call has been sent (or failed)."""
        target = self._handed
        while self._finished < target:
            self._idle = anyio.Event()
            await self._idle.wait()


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
