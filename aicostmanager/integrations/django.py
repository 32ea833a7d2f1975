"""Django integration: one ``Tracker`` per process, started lazily, and a customer middleware.

::

    INSTALLED_APPS = [..., "aicostmanager.integrations.django.AICMConfig"]
    MIDDLEWARE = [..., "aicostmanager.integrations.django.AICMMiddleware"]
    AICM = {"delivery_type": "persistent_queue"}  # Tracker options (AICM_* env fills the rest)
    AICM_CUSTOMER_KEY = "myapp.billing.customer_of"  # request -> customer key (optional)

Views call ``get_tracker().track(...)`` (sync) or ``await atrack(...)`` (async). The tracker
is created on first use in the process that serves requests, never in ``ready()``: the
``runserver`` reloader parent and a ``gunicorn --preload`` master start nothing, and each
forked worker starts its own on the shared queue file. It is drained at interpreter exit,
or, under an ASGI server, at lifespan shutdown (``wrap_asgi``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._extra import requires_extra

with requires_extra("django", "Django", "django"):
    from asgiref.sync import (
        async_to_sync,
        iscoroutinefunction,
        markcoroutinefunction,
        sync_to_async,
    )
    from django.apps import AppConfig
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.http import HttpRequest, HttpResponseBase
    from django.utils.module_loading import import_string

from .. import Tracker, TrackerOptions, TrackResult, tracking_scope
from .._options import check_options
from .._process_tracker import (
    close_process_tracker,
    configure_process_tracker,
    process_tracker,
)

__all__ = (
    "AICMConfig",
    "AICMMiddleware",
    "atrack",
    "customer_from_header",
    "customer_from_user",
    "get_tracker",
    "shutdown",
    "tracker_options",
    "wrap_asgi",
)

logger = logging.getLogger("aicostmanager")

_configured = False


def tracker_options() -> TrackerOptions:
    """The ``Tracker`` options of ``settings.AICM`` (a dict; absent means none).

    Raises:
        ConfigurationError: ``AICM`` is not a dict (``UnknownOptionError``: it names an
            unknown option).
    """
    return check_options(getattr(settings, "AICM", None) or {}, "settings.AICM")


def _configure() -> None:
    global _configured
    # A function: the settings are read when the tracker is created (override_settings works).
    configure_process_tracker(tracker_options, where="settings.AICM")
    _configured = True


def get_tracker() -> Tracker:
    """This process's ``Tracker``, created from ``settings.AICM`` on first use (thread-safe).

    It is the process tracker: wrappers built without ``tracker=`` (in a view, say) use this
    same tracker. A forked child (gunicorn, multiprocessing) gets its own tracker on the same
    queue file.

    Raises:
        MissingConfiguration: no API key in ``settings.AICM`` or the environment.
        ConfigurationError: ``settings.AICM`` is malformed.
    """
    if not _configured:
        _configure()
    return process_tracker()


def shutdown(timeout: float | None = None) -> None:
    """Drain and close this process's tracker (``close_timeout`` by default); idempotent.

    Not needed in production (the tracker drains itself at exit); the next ``get_tracker()``
    starts a new one, re-reading the settings.
    """
    close_process_tracker(timeout=timeout)


async def atrack(service_key: str, usage: Mapping[str, Any] | Any, **kwargs: Any) -> TrackResult:
    """``get_tracker().track(...)`` for async views: awaits the commit off the event loop.

    Runs in a worker thread (the scope of the request is copied there), so the loop is never
    blocked. ``get_tracker().track_nowait(...)`` is cheaper and never blocks either, but a
    crash within ``commit_interval`` can lose its record.

    Raises:
        InvalidRecordError: the record is invalid (see ``Tracker.track`` for the rest).
    """

    def track() -> TrackResult:
        return get_tracker().track(service_key, usage, **kwargs)

    return await sync_to_async(track, thread_sensitive=False)()


def customer_from_user(request: HttpRequest) -> str | None:
    """The default customer: the authenticated user's primary key, else none."""
    user = getattr(request, "user", None)
    return str(user.pk) if user is not None and user.is_authenticated else None


async def _acustomer_from_user(request: HttpRequest) -> str | None:
    auser = getattr(request, "auser", None)  # Django >= 5.0 loads the user without blocking
    user = await auser() if auser is not None else getattr(request, "user", None)
    return str(user.pk) if user is not None and user.is_authenticated else None


def customer_from_header(request: HttpRequest) -> str | None:
    """The customer from the header named by ``settings.AICM_CUSTOMER_HEADER``.

    ``X-Customer-Key`` by default. Use it only behind a proxy that sets the header itself:
    a client could otherwise charge its usage to anyone.
    """
    name = getattr(settings, "AICM_CUSTOMER_HEADER", "X-Customer-Key")
    value: str | None = request.headers.get(name)
    return value or None


async def _acustomer_from_header(request: HttpRequest) -> str | None:
    return customer_from_header(request)


_Func = Callable[[HttpRequest], Any]
_TWINS: dict[Any, Callable[[HttpRequest], Awaitable[Any]]] = {
    customer_from_user: _acustomer_from_user,
    customer_from_header: _acustomer_from_header,
}


def _load(name: str, default: _Func | None) -> tuple[_Func, Callable[..., Awaitable[Any]]] | None:
    """A setting's function of the request, as a ``(sync, async)`` pair (``None``: unset)."""
    value = getattr(settings, name, None) or default
    if value is None:
        return None
    try:
        func = import_string(value) if isinstance(value, str) else value
    except ImportError as exc:
        raise ImproperlyConfigured(f"settings.{name}: {exc}") from exc
    if not callable(func):
        raise ImproperlyConfigured(f"settings.{name} must be a function of the request")
    if iscoroutinefunction(func):
        return async_to_sync(func), func
    # A user's sync function may touch the database: run it the way Django runs sync code.
    return func, _TWINS.get(func) or sync_to_async(func)


class AICMMiddleware:
    """Binds ``customer_key`` (and ``context``) for each request through ``tracking_scope``.

    ``settings.AICM_CUSTOMER_KEY``: a function (or its dotted path) of the request returning
    the customer key; ``customer_from_user`` by default. ``settings.AICM_CONTEXT``: optional,
    returns a dict of context. Either may be ``async def``. Works as sync and async middleware;
    a failing function is logged and the request goes on without a customer.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._customer = _load("AICM_CUSTOMER_KEY", customer_from_user)
        self._context = _load("AICM_CONTEXT", None)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self._acall(request)
        customer = context = None
        try:
            customer = self._customer[0](request) if self._customer else None
            context = self._context[0](request) if self._context else None
        except Exception:
            logger.exception("AICMMiddleware: could not read the customer of the request")
        with tracking_scope(customer, context):
            return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        customer = context = None
        try:
            customer = await self._customer[1](request) if self._customer else None
            context = await self._context[1](request) if self._context else None
        except Exception:
            logger.exception("AICMMiddleware: could not read the customer of the request")
        with tracking_scope(customer, context):
            response: HttpResponseBase = await self.get_response(request)
            return response


_ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def wrap_asgi(application: _ASGIApp) -> _ASGIApp:
    """Give Django's ASGI application the ``lifespan`` protocol it lacks.

    ``application = wrap_asgi(get_asgi_application())``: ASGI servers (uvicorn, hypercorn)
    then start the tracker when a worker starts and drain it when it stops. Needed because
    uvicorn ends with the default SIGTERM action, which skips ``atexit``.
    """

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await application(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await sync_to_async(get_tracker, thread_sensitive=False)()
                except Exception:  # a bad setup must not stop the site; track() will raise
                    logger.exception("aicostmanager: could not start the tracker")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await sync_to_async(shutdown, thread_sensitive=False)()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return app


class AICMConfig(AppConfig):  # type: ignore[misc]  # Django ships no types
    """The app to add to ``INSTALLED_APPS``: checks the settings in ``ready()``.

    It starts nothing (see the module docstring); a bad ``AICM`` fails at startup.
    """

    name = "aicostmanager.integrations.django"
    label = "aicostmanager"
    verbose_name = "AICostManager"

    def ready(self) -> None:
        """Check ``settings.AICM`` and the customer/context functions; configure the tracker."""
        tracker_options()
        _configure()
        _load("AICM_CUSTOMER_KEY", customer_from_user)
        _load("AICM_CONTEXT", None)
