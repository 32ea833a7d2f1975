"""Celery integration: one ``Tracker`` per worker process, and tasks bound to their customer.

::

    from aicostmanager.integrations.celery import TrackedTask, setup

    app = Celery("proj")
    setup()  # Tracker options as keywords; the AICM_* environment fills the rest

    @app.task(base=TrackedTask, bind=True)
    def summarize(self, text):
        self.tracker.track("openai::gpt-5-mini", usage)

Prefork: the tracker starts in each child after the fork (``worker_process_init``), never in
the parent. Threads and solo pools: in the worker's own process at ``worker_init``. Either
way it is drained with its ``close_timeout`` deadline at shutdown (``worker_process_shutdown``,
``worker_shutdown``); what is left stays in the queue file and goes out on the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from typing_extensions import Unpack

from ._extra import requires_extra

with requires_extra("celery", "Celery", "celery"):
    from celery import Task, signals
    from celery.concurrency import get_implementation

from .. import Tracker, TrackerOptions, tracking_scope
from .._options import check_options
from .._process_tracker import (
    close_process_tracker,
    configure_process_tracker,
    process_tracker,
)

__all__ = ("CONTEXT_HEADER", "CUSTOMER_HEADER", "TrackedTask", "get_tracker", "setup", "shutdown")

CUSTOMER_HEADER = "customer_key"
"""Message header (``apply_async(headers=...)``) naming the task's customer."""
CONTEXT_HEADER = "aicm_context"
"""Message header carrying the task's context (a dict)."""

logger = logging.getLogger("aicostmanager")

_connected = False


def setup(**options: Unpack[TrackerOptions]) -> None:
    """Configure the worker's tracker and connect the worker signals (idempotent).

    Call it where the Celery app is defined, so that workers and producers both run it. The
    tracker is the process tracker: wrappers built without ``tracker=`` in a task use it too.
    Without options it leaves the process tracker's configuration as it is (in a Django
    project, ``settings.AICM``).

    Raises:
        UnknownOptionError: an unknown option (a ``ConfigurationError``).
    """
    checked = check_options(options, "setup()")
    if checked:
        configure_process_tracker(checked, where="setup()")
    _connect()


def _connect() -> None:
    global _connected
    for signal, handler in (
        (signals.worker_init, _on_worker_init),
        (signals.worker_process_init, _on_process_init),
        (signals.worker_process_shutdown, _on_shutdown),
        (signals.worker_shutdown, _on_shutdown),
    ):
        signal.connect(handler, weak=False, dispatch_uid=f"aicostmanager.{signal.name}")
    _connected = True


def get_tracker() -> Tracker:
    """This process's ``Tracker``, created on first use (thread-safe; a new one after fork).

    Creating it connects the shutdown drain too, so a worker that never called ``setup()``
    still drains at exit.

    Raises:
        MissingConfiguration: no API key in the options or the environment.
        ConfigurationError: an option is malformed.
    """
    tracker = process_tracker()
    if not _connected:
        _connect()
    return tracker


def shutdown(timeout: float | None = None) -> None:
    """Drain and close this process's tracker (``close_timeout`` by default); idempotent."""
    close_process_tracker(timeout=timeout)


def _start() -> None:
    # Eagerly, so rows a crashed predecessor left in the queue file go out now. A bad
    # configuration must not kill the worker (prefork would respawn children forever): the
    # error is logged here and raised again by the first task that tracks.
    try:
        get_tracker()
    except Exception:
        logger.exception("aicostmanager: could not start the tracker")


def _on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    pool = get_implementation(getattr(sender, "pool_cls", None) or "prefork")
    # A prefork parent must not start one: its children get theirs after the fork.
    if "prefork" not in getattr(pool, "__module__", ""):
        _start()


def _on_process_init(**kwargs: Any) -> None:
    _start()


def _on_shutdown(**kwargs: Any) -> None:
    shutdown()


def _header(request: Any, name: str) -> Any:
    # A worker puts custom headers on the request itself; `Task.apply()` under `.headers`.
    value = getattr(request, name, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(name)
    return value


class TrackedTask(Task):  # type: ignore[misc]  # Celery ships no types
    """Task base class that runs each task inside ``tracking_scope(customer_key, context)``.

    The customer is the task's ``customer_key`` keyword argument if it has one, else the
    ``customer_key`` message header; the context is the ``aicm_context`` header. Sending a
    task from inside a tracking scope (a Django request, a FastAPI route...) puts that scope's
    customer and context in the headers, so they follow the work to the worker.
    """

    @property
    def tracker(self) -> Tracker:
        """This worker process's tracker (``get_tracker()``)."""
        return get_tracker()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task in the scope of its customer and context."""
        customer = kwargs.get("customer_key") or _header(self.request, CUSTOMER_HEADER)
        context = _header(self.request, CONTEXT_HEADER)
        with tracking_scope(customer, context if isinstance(context, Mapping) else None):
            return super().__call__(*args, **kwargs)

    def apply_async(self, *args: Any, **options: Any) -> Any:
        """``Task.apply_async``, adding the current scope's customer and context as headers."""
        headers = dict(options.get("headers") or {})
        with tracking_scope() as scope:
            if scope.customer_key is not None:
                headers.setdefault(CUSTOMER_HEADER, scope.customer_key)
            if scope.context:
                headers.setdefault(CONTEXT_HEADER, dict(scope.context))
        if headers:
            options["headers"] = headers
        return super().apply_async(*args, **options)
