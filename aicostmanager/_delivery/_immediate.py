"""Immediate delivery: ``POST /track`` now, with a bounded number of attempts.

``ImmediateSender`` sends and retries; ``ImmediateDelivery`` turns its outcome into one
``TrackResult`` per record, spills what could not be sent into the durable queue (when there
is one), and runs ``track_nowait()`` sends in the background on the tracker's own loop,
whichever thread or event loop called it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
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
                return None
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
        # Callbacks from other threads run in this context, so anyio sees its own loop there.
        self._context = contextvars.copy_context()
        self._in_flight = 0
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
        if running is self._loop:
            self._start(rid, body)
            return
        try:
            self._loop.call_soon_threadsafe(self._start, rid, body, context=self._context)
        except RuntimeError:
            raise TrackerClosedError("the tracker's event loop has stopped") from None

    def _start(self, rid: str, body: bytes) -> None:
        # Runs on the tracker's loop, so the count is only ever changed there.
        self._in_flight += 1
        try:
            self._group.start_soon(self._send_in_background, rid, body)
        except RuntimeError:
            self._finished()
            self._counters.dropped += 1
            logger.error("the tracker closed before a track_nowait() record could be sent")

    async def _send_in_background(self, rid: str, body: bytes) -> None:
        try:
            await self.submit([rid], [body])
        except Exception:
            logger.exception("background delivery failed")
        finally:
            self._finished()

    def _finished(self) -> None:
        self._in_flight -= 1
        if not self._in_flight and self._idle is not None:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until no background send is in flight."""
        while self._in_flight:
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
