"""What every callback-style integration shares: its tracker, and how it records one call.

``Emitter.emit`` runs in the framework's thread (a span's, a callback's): it never blocks
(``track_nowait``) and never raises into the host; failures are logged and counted in
``wrapper_statistics()``. Before recording it asks the process's response-id registry
(``aicostmanager._seen``) whether a richer record of the same provider call (a wrapper's) was
already made; then the event is skipped, since the server would keep only one of them anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _seen
from .._exceptions import UsageLimitExceeded
from .._scope import Scope
from ..wrappers._recorder import TrackerLike, default_tracker, note_failure

if TYPE_CHECKING:
    from .._record import RecordArgs

__all__ = ("Emitter", "merged_context", "resolve_tracker")

logger = logging.getLogger("aicostmanager.integrations")


def resolve_tracker(tracker: TrackerLike | None) -> TrackerLike:
    """``tracker`` checked, or the process's default tracker when None.

    Raises:
        TypeError: ``tracker`` is not an ``AsyncTracker`` or a ``Tracker``.
        MissingConfiguration: None was given and no API key is configured.
    """
    if tracker is None:
        return default_tracker()
    if not callable(getattr(tracker, "track_nowait", None)):
        raise TypeError(
            f"tracker must be an AsyncTracker or a Tracker, not {type(tracker).__name__}"
        )
    return tracker


def merged_context(*parts: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The union of context mappings, later ones winning (None when all are empty)."""
    out: dict[str, Any] = {}
    for part in parts:
        if part:
            out.update(part)
    return out or None


class Emitter:
    """Records finished model calls on one tracker (shared by the integration classes)."""

    __slots__ = ("_blocking", "tracker")

    def __init__(self, tracker: TrackerLike | None) -> None:
        from ..wrappers._recorder import _is_blocking_immediate

        self.tracker = resolve_tracker(tracker)
        self._blocking = _is_blocking_immediate(self.tracker)
        _seen.enable()  # from now on wrappers note what they record, for claim() to consult

    def emit(
        self,
        service_key: str,
        usage: dict[str, Any],
        response_id: str | None,
        *,
        scope: Scope | None = None,
        customer_key: str | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: float | None = None,
    ) -> bool:
        """Record one model call; True when it was handed to the tracker. Never raises.

        ``customer_key`` (from the framework's metadata) wins over ``scope``'s; ``context``
        is merged over ``scope``'s. ``scope`` is the tracking scope captured where the call
        started (None: the current one, applied by the tracker).
        """
        if not _seen.claim(response_id, usage):
            return False
        if scope is not None:
            customer_key = customer_key if customer_key is not None else scope.customer_key
            context = merged_context(scope.context, context)
        tracker = self.tracker
        send = tracker.track if self._blocking else tracker.track_nowait
        # Only the arguments that are set: each one passed is checked again by the tracker.
        record: RecordArgs = {"response_id": response_id}
        if customer_key is not None:
            record["customer_key"] = customer_key
        if context is not None:
            record["context"] = context
        if timestamp is not None:
            record["timestamp"] = timestamp
        try:
            send(service_key, usage, **record)
        except UsageLimitExceeded:
            return True  # recorded; the limit applies to the next call
        except Exception as exc:
            note_failure("tracking", exc, service_key)
            return False
        return True
