"""Immediate delivery: ``POST /track`` now, with a bounded number of attempts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from .._backoff import Backoff
from .._config import TrackerSettings
from .._exceptions import APIConnectionError
from .._http import AsyncHTTP
from .._wire import ResultItem, TrackResponse, batch_body
from ._classify import Action, classify
from ._counters import Counters

__all__ = ("ImmediateOutcome", "ImmediateSender")

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
