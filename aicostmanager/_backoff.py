"""Retry timing as pure functions: exponential backoff with full jitter, and ``Retry-After``."""

from __future__ import annotations

import email.utils
import math
import os
import random
from dataclasses import dataclass, field

__all__ = (
    "MIN_RETRY_DELAY",
    "PROBE_INTERVAL",
    "Backoff",
    "parse_retry_after",
    "probe_interval",
    "retry_floor",
)

MIN_RETRY_DELAY = 0.05
"""Shortest wait between two attempts, whatever the options say (outside tests)."""

INSTANT_RETRIES_ENV = "AICM_TESTING_INSTANT_RETRIES"


PROBE_INTERVAL = 1.0
"""Seconds between two probes of a server that cannot be reached (refused, reset, DNS)."""


def _instant() -> bool:
    flag = os.environ.get(INSTANT_RETRIES_ENV, "").strip().lower()
    return flag in {"1", "true", "yes", "on"}


def retry_floor() -> float:
    """``MIN_RETRY_DELAY``, or 0 when ``AICM_TESTING_INSTANT_RETRIES`` is set (tests only).

    Without a floor, ``backoff_base=0`` against a dead port retries in a tight loop
    (hundreds of requests a second); the switch is for test suites that want no waiting.
    """
    return 0.0 if _instant() else MIN_RETRY_DELAY


def probe_interval() -> float:
    """``PROBE_INTERVAL``, or ``MIN_RETRY_DELAY`` when ``AICM_TESTING_INSTANT_RETRIES`` is set.

    A connection that is refused fails in microseconds, so exponential backoff would count
    dozens of "attempts" in a short outage and then wait up to its cap after the server came
    back. Instead the pace is fixed: one small request per interval until one gets an answer.
    """
    return MIN_RETRY_DELAY if _instant() else PROBE_INTERVAL


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, capped, and floored.

    ``delay(n)`` for the n-th retry (1-based) is uniform in ``[0, min(cap, base * 2**(n-1))]``,
    but never less than ``floor`` (``MIN_RETRY_DELAY``, read from the environment when the
    ``Backoff`` is made; ``AICM_TESTING_INSTANT_RETRIES=1`` with ``base=0`` turns waiting off,
    which is what tests want).
    """

    base: float = 0.5
    cap: float = 60.0
    floor: float = field(default_factory=retry_floor)

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay before retry number ``attempt`` (1-based)."""
        if self.base <= 0:
            return 0.0
        exponent = min(max(attempt, 1) - 1, 62)
        return min(self.cap, self.base * math.ldexp(1.0, exponent))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A jittered delay before retry number ``attempt`` (1-based)."""
        high = self.ceiling(attempt)
        if high <= self.floor:
            return max(high, self.floor)
        return max(self.floor, (rng or random).uniform(0.0, high))


def parse_retry_after(value: str | None, now: float, *, limit: float = 3600.0) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date).

    Args:
        value: the header value, or ``None``.
        now: the current wall-clock time (epoch seconds), used for HTTP dates.
        limit: the largest wait honoured; longer values are clamped to it.

    Returns:
        The wait in seconds (never negative), or ``None`` when the header is absent or unusable.
    """
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), limit)
