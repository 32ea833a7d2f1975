"""Shared public types: enums and the frozen records returned by the tracker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

__all__ = (
    "DeliveryType",
    "QueueFullPolicy",
    "TrackResult",
    "TrackStatus",
    "TrackerStatistics",
    "queued_result",
)


class DeliveryType(str, Enum):
    """How a tracker delivers records."""

    IMMEDIATE = "immediate"
    """POST each record now (bounded retries); spill into the durable queue on failure."""
    PERSISTENT_QUEUE = "persistent_queue"
    """Commit each record to the SQLite queue; a background worker delivers in batches."""


class QueueFullPolicy(str, Enum):
    """What ``track()`` does when the durable queue is at its bound."""

    BLOCK = "block"
    """Wait up to ``queue_full_timeout`` for room, then raise ``QueueFullError``."""
    RAISE = "raise"
    """Raise ``QueueFullError`` at once."""
    DROP_NEWEST = "drop_newest"
    """Discard the new record (counted in ``statistics().dropped``)."""
    DROP_OLDEST = "drop_oldest"
    """Delete the oldest queued records to make room (counted in ``statistics().dropped``)."""


TrackStatus = Literal[
    "queued",  # committed to the local durable queue (persistent) or accepted by the server
    "completed",  # priced by the server; cost_events present
    "service_key_unknown",  # accepted by the server, set aside for review, not priced
    "error",  # rejected by the server (see errors) or not delivered (see errors)
]


@dataclass(frozen=True)
class TrackResult:
    """The outcome of one ``track()`` call.

    Attributes:
        response_id: the record's id (the server de-duplicates on it).
        status: ``queued`` when the record is safely in the local durable queue (persistent
            mode) or the server queued it for pricing; otherwise the server's status.
        cost_events: the cost lines the server returned (immediate mode, priced servers).
        errors: reasons for an ``error`` / ``service_key_unknown`` status.
        delivered: True when the server has acknowledged the record.
        spilled: True when immediate delivery failed and the record went to the durable queue.
        triggered_limits: the raw ``triggered_limits`` envelope of the response, if any.
    """

    response_id: str
    status: TrackStatus
    cost_events: Sequence[Mapping[str, Any]] = ()
    errors: Sequence[str] = ()
    delivered: bool = False
    spilled: bool = False
    triggered_limits: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True unless the record was rejected or could not be delivered nor queued."""
        return self.status != "error"


def queued_result(response_id: str) -> TrackResult:
    """``TrackResult(response_id, "queued")`` without the frozen dataclass's ``__init__``.

    The durable ``track()``'s result, once per call: ``__init__`` sets all seven fields through
    ``object.__setattr__`` (0.57 µs); the other five are their class-level defaults anyway.
    """
    result = object.__new__(TrackResult)
    result.__dict__.update(response_id=response_id, status="queued")
    return result


@dataclass(frozen=True)
class TrackerStatistics:
    """A snapshot of a tracker's counters (``tracker.statistics()``).

    Counters are for this process since the tracker started; ``pending`` and
    ``dead_lettered_total`` are read from the queue file (all processes sharing it).
    ``worker_restarts`` counts unexpected failures of the delivery worker, each logged and
    followed by a restart (the latest is in ``last_error``).
    """

    delivery_type: DeliveryType
    enqueued: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    retries: int = 0
    failed_requests: int = 0
    pending: int = 0
    buffered: int = 0
    in_flight: int = 0
    last_error: str | None = None
    paused_until: float | None = None
    paused_reason: str | None = None
    worker_restarts: int = 0
