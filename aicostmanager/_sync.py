"""``Tracker``: the blocking shim over ``TrackerCore`` (the engine ``AsyncTracker`` also uses).

The core runs in the process's portal thread. Records are validated and encoded in the
caller's thread (so ``scope()`` applies) and committed from it when the queue has room (no
portal round trip); anything else is one ``portal.call``. ``track_nowait`` hands off without
waiting. The tracker starts at construction, is restarted in a child after ``fork``, and is
drained (with a deadline) at interpreter exit.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from ._config import TrackerSettings
from ._exceptions import TrackerClosedError
from ._portal import add_shutdown_hook, get_portal, remove_shutdown_hook
from ._record import RecordArgs
from ._scope import Scope, tracking_scope
from ._tracker_core import OpenCall, TrackerCore, TrackerOptions
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
        self._core: TrackerCore | None = None
        self._cm: contextlib.AbstractContextManager[TrackerCore] | None = None
        self._start()

    def _start(self) -> TrackerCore:
        core = TrackerCore(self._options)
        cm = get_portal().wrap_async_context_manager(core)
        cm.__enter__()
        self._core, self._cm, self._pid = core, cm, os.getpid()
        add_shutdown_hook(self._at_exit)
        return core

    def _running(self) -> TrackerCore:
        core = self._core
        if core is not None and self._pid == os.getpid():
            return core
        with self._lock:
            if self._closed:
                raise TrackerClosedError("the tracker is closed")
            if self._core is None or self._pid != os.getpid():
                # A forked child: the parent's loop thread does not exist here; start afresh.
                return self._start()
            return self._core

    def __repr__(self) -> str:
        core = self._core
        return f"Tracker({core.describe() if core is not None else 'closed'})"

    def __enter__(self) -> Tracker:
        self._running()
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
        core = self._core
        if core is not None and not self._closed and self._pid == os.getpid():
            # Open streams record through this tracker's own methods: before it is closed.
            core.settle_open_calls()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            core, cm = self._core, self._cm
            self._core = self._cm = None
        remove_shutdown_hook(self._at_exit)
        if core is None or cm is None or self._pid != os.getpid():
            return
        get_portal().call(core.drain, timeout)
        cm.__exit__(None, None, None)

    def _at_exit(self) -> None:
        self.close()

    @property
    def settings(self) -> TrackerSettings:
        """The resolved options (see ``AsyncTracker.settings``)."""
        return self._running().settings

    def scope(
        self, *, customer_key: str | None = None, context: Mapping[str, Any] | None = None
    ) -> contextlib.AbstractContextManager[Scope]:
        """See ``AsyncTracker.scope`` (the scope belongs to the calling thread)."""
        return tracking_scope(customer_key, context)

    def _register_open_call(self, call: OpenCall) -> None:
        """Internal (wrappers): settle ``call`` before this tracker closes."""
        self._running().register_open_call(call)

    def set_customer_key(self, customer_key: str | None) -> None:
        """See ``AsyncTracker.set_customer_key``."""
        self._running().set_customer_key(customer_key)

    def set_context(self, context: Mapping[str, Any] | None) -> None:
        """See ``AsyncTracker.set_context``."""
        self._running().set_context(context)

    def track(
        self, service_key: str, usage: Mapping[str, Any] | Any, **record: Unpack[RecordArgs]
    ) -> TrackResult:
        """Blocking twin of ``AsyncTracker.track`` (returns once the record is committed)."""
        return self._running().track_blocking(service_key, usage, record, get_portal().call)

    def track_nowait(
        self, service_key: str, usage: Mapping[str, Any] | Any, **record: Unpack[RecordArgs]
    ) -> str:
        """See ``AsyncTracker.track_nowait`` (never waits for the portal thread)."""
        return self._running().track_nowait(service_key, usage, record)

    def track_batch(self, records: Sequence[Mapping[str, Any]]) -> list[TrackResult]:
        """Blocking twin of ``AsyncTracker.track_batch``."""
        return self._running().track_batch_blocking(records, get_portal().call)

    def check_limits(self, service_key: str | None = None, customer_key: str | None = None) -> None:
        """See ``AsyncTracker.check_limits`` (in-memory, no network)."""
        self._running().check_limits(service_key, customer_key)

    def flush(self, timeout: float | None = None) -> bool:
        """Blocking twin of ``AsyncTracker.flush``."""
        return get_portal().call(self._running().flush, timeout)

    def statistics(self) -> TrackerStatistics:
        """See ``AsyncTracker.statistics``."""
        return self._running().statistics()
