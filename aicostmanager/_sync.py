"""``Tracker``: the blocking shim over ``AsyncTracker``.

Records are validated and encoded in the caller's thread (so ``scope()`` applies), then
handed to the ``AsyncTracker`` running in the process's portal thread. ``track_nowait``
does not cross threads at all. The tracker starts at construction, is restarted in a child
after ``fork``, and is drained (with a deadline) at interpreter exit.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from ._exceptions import TrackerClosedError
from ._portal import add_shutdown_hook, get_portal, remove_shutdown_hook
from ._record import Anonymizer
from ._scope import Scope
from ._tracker import AsyncTracker, TrackerOptions
from ._types import TrackerStatistics, TrackResult

__all__ = ("Tracker",)


class Tracker:
    """Blocking twin of ``AsyncTracker`` (same options, same behaviour).

    ::

        with Tracker() as tracker:
            tracker.track("openai::gpt-5-mini", {"input_tokens": 10, "output_tokens": 20})

    Without ``with``, call ``close()`` when done; at interpreter exit, unsent records are
    drained for up to ``close_timeout`` seconds and the rest stays queued for the next run.

    Raises:
        MissingConfiguration: no API key in the arguments or the environment.
        ConfigurationError: an option is unknown or malformed.
    """

    def __init__(self, **options: Unpack[TrackerOptions]) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._closed = False
        self._pid = 0
        self._async: AsyncTracker | None = None
        self._cm: contextlib.AbstractContextManager[AsyncTracker] | None = None
        self._start()

    def _start(self) -> AsyncTracker:
        portal = get_portal()
        tracker = AsyncTracker(**self._options)
        cm = portal.wrap_async_context_manager(tracker)
        cm.__enter__()
        self._async, self._cm, self._pid = tracker, cm, os.getpid()
        add_shutdown_hook(self._at_exit)
        return tracker

    def _tracker(self) -> AsyncTracker:
        tracker = self._async
        if tracker is not None and self._pid == os.getpid():
            return tracker
        with self._lock:
            if self._closed:
                raise TrackerClosedError("the tracker is closed")
            if self._async is None or self._pid != os.getpid():
                # A forked child: the parent's loop thread does not exist here; start afresh.
                return self._start()
            return self._async

    def __repr__(self) -> str:
        return f"Tracker({self._async!r})"

    def __enter__(self) -> Tracker:
        self._tracker()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, timeout: float | None = None) -> None:
        """Blocking twin of ``AsyncTracker.aclose``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            tracker, cm = self._async, self._cm
            self._async = self._cm = None
        remove_shutdown_hook(self._at_exit)
        if tracker is None or cm is None or self._pid != os.getpid():
            return
        get_portal().call(tracker.drain_for_close, timeout)
        cm.__exit__(None, None, None)

    def _at_exit(self) -> None:
        self.close()

    @property
    def settings(self) -> Any:
        """The resolved options (see ``AsyncTracker.settings``)."""
        return self._tracker().settings

    def scope(
        self, *, customer_key: str | None = None, context: Mapping[str, Any] | None = None
    ) -> contextlib.AbstractContextManager[Scope]:
        """See ``AsyncTracker.scope``."""
        return self._tracker().scope(customer_key=customer_key, context=context)

    def set_customer_key(self, customer_key: str | None) -> None:
        """See ``AsyncTracker.set_customer_key``."""
        self._tracker().set_customer_key(customer_key)

    def set_context(self, context: Mapping[str, Any] | None) -> None:
        """See ``AsyncTracker.set_context``."""
        self._tracker().set_context(context)

    def track(
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
        """Blocking twin of ``AsyncTracker.track`` (returns once the record is committed)."""
        tracker = self._tracker()
        rid, body, customer = tracker.build(
            service_key,
            usage,
            response_id=response_id,
            timestamp=timestamp,
            customer_key=customer_key,
            context=context,
            anonymize_fields=anonymize_fields,
            anonymizer=anonymizer,
        )
        result = tracker.submit_threadsafe(rid, body)
        if result is None:
            result = get_portal().call(tracker.submit, [rid], [body])[0]
        tracker.check_limits(service_key, customer)
        return result

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
        """See ``AsyncTracker.track_nowait`` (never crosses threads)."""
        return self._tracker().track_nowait(
            service_key,
            usage,
            response_id=response_id,
            timestamp=timestamp,
            customer_key=customer_key,
            context=context,
            anonymize_fields=anonymize_fields,
            anonymizer=anonymizer,
        )

    def track_batch(self, records: Sequence[Mapping[str, Any]]) -> list[TrackResult]:
        """Blocking twin of ``AsyncTracker.track_batch``."""
        tracker = self._tracker()
        built = tracker.build_batch(records)
        if not built:
            return []
        results = get_portal().call(tracker.submit, [b[0] for b in built], [b[1] for b in built])
        tracker.enforce_built(built)
        return results

    def check_limits(self, service_key: str | None = None, customer_key: str | None = None) -> None:
        """See ``AsyncTracker.check_limits`` (in-memory, no network)."""
        self._tracker().check_limits(service_key, customer_key)

    def flush(self, timeout: float | None = None) -> bool:
        """Blocking twin of ``AsyncTracker.flush``."""
        return get_portal().call(self._tracker().flush, timeout)

    def statistics(self) -> TrackerStatistics:
        """See ``AsyncTracker.statistics``."""
        return self._tracker().statistics()
