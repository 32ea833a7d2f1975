"""Mutable counters shared by the intake, the worker and immediate delivery."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ("Counters",)


@dataclass
class Counters:
    """Per-process counters; ``TrackerStatistics`` is a frozen snapshot of them."""

    enqueued: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    retries: int = 0
    failed_requests: int = 0
    pending: int = 0
    in_flight: int = 0
    last_error: str | None = None
    paused_until: float | None = None
    paused_reason: str | None = None
    worker_restarts: int = 0
