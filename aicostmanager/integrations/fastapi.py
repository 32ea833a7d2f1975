"""FastAPI / Starlette: one ``AsyncTracker`` per worker process, started by the app's lifespan.

::

    from fastapi import FastAPI
    from aicostmanager.integrations.fastapi import AICMMiddleware, TrackerDep, aicm_lifespan

    app = FastAPI(lifespan=aicm_lifespan())
    app.add_middleware(AICMMiddleware, customer_key=lambda request: request.headers.get("x-org"))

    @app.post("/chat")
    async def chat(tracker: TrackerDep) -> dict[str, str]:
        result = await tracker.track("openai::gpt-5-mini", {"input_tokens": 10})
        return {"id": result.response_id}

The tracker is created when the app starts (in each worker, after any ``fork``: nothing is
started at import, so ``gunicorn --preload`` is safe), lives in the lifespan state
(``request.state.aicm_tracker``, also ``app.state.aicm_tracker``) and is drained for up to
``close_timeout`` seconds when the app shuts down; what is not delivered by then stays in the
queue file and goes out on the next start. Needs ``pip install 'aicostmanager[fastapi]'``;
plain Starlette apps may use everything but the ``Depends`` aliases' FastAPI magic.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, TypeAlias, TypeVar

from typing_extensions import Unpack

from ._extra import requires_extra

with requires_extra("fastapi", "FastAPI or Starlette", "fastapi"):
    from starlette.requests import HTTPConnection, Request
    from starlette.types import ASGIApp, Receive, Scope, Send

from .. import AsyncTracker, TrackerClosedError, TrackerOptions, tracking_scope
from .._options import check_options

__all__ = (
    "AICMMiddleware",
    "ClientsDep",
    "TrackerDep",
    "aicm_lifespan",
    "get_client",
    "get_clients",
    "get_tracker",
    "tracking_scope_dependency",
)

logger = logging.getLogger("aicostmanager")

TRACKER_STATE_KEY = "aicm_tracker"
CLIENTS_STATE_KEY = "aicm_clients"

_T = TypeVar("_T")
_MaybeAwaitable: TypeAlias = _T | Awaitable[_T]
CustomerKeyFn: TypeAlias = Callable[[Request], _MaybeAwaitable[str | None]]
ContextFn: TypeAlias = Callable[[Request], _MaybeAwaitable[Mapping[str, Any] | None]]
Lifespan: TypeAlias = Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]
ClientsFactory: TypeAlias = Callable[[AsyncTracker], Mapping[str, Any]]


# ---- lifespan ---------------------------------------------------------------------------------


def aicm_lifespan(
    inner: Lifespan | None = None,
    *,
    clients: Mapping[str, Any] | ClientsFactory | None = None,
    **options: Unpack[TrackerOptions],
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[dict[str, Any]]]:
    """A lifespan that runs an ``AsyncTracker`` for the app: ``FastAPI(lifespan=aicm_lifespan())``.

    Args:
        inner: the app's own lifespan (``app -> async context manager``), entered after the
            tracker has started (``app.state.aicm_tracker`` is set) and exited before the
            tracker is drained; the state it yields is merged into the lifespan state.
        clients: provider clients (typically wrapped ones) handed to routes by ``get_clients``
            / ``ClientsDep``: a ``name -> client`` mapping, or a function of the running
            tracker returning one. Clients built by such a function are closed at shutdown
            (their ``aclose()`` or ``close()``, awaited when async).
        **options: ``AsyncTracker`` options (see ``docs/configuration.md``); the rest comes from
            the ``AICM_*`` environment and ``AICM.INI`` when the app starts.

    Returns:
        A lifespan function for ``FastAPI(lifespan=...)`` / ``Starlette(lifespan=...)``.

    Raises:
        TypeError: ``inner`` or ``clients`` is not of an accepted kind.
        ConfigurationError: an option name is unknown (values are checked at startup, where a
            bad value or a missing API key stops the app from starting).
    """
    if inner is not None and not callable(inner):
        raise TypeError("inner must be a lifespan function (app -> async context manager)")
    if clients is not None and not isinstance(clients, Mapping) and not callable(clients):
        raise TypeError("clients must be a mapping of name -> client, or a function returning one")
    check_options(options, "aicm_lifespan()")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        async with contextlib.AsyncExitStack() as stack:
            tracker = await stack.enter_async_context(AsyncTracker(**options))
            built: Mapping[str, Any] = {}
            if isinstance(clients, Mapping):
                built = clients
            elif clients is not None:
                built = clients(tracker)
                if not isinstance(built, Mapping):
                    raise TypeError("the clients function must return a mapping of name -> client")
                stack.push_async_callback(_close_clients, dict(built))
            state: dict[str, Any] = {
                TRACKER_STATE_KEY: tracker,
                CLIENTS_STATE_KEY: MappingProxyType(dict(built)),
            }
            app_state = getattr(app, "state", None)
            if app_state is not None:
                for key, value in state.items():
                    setattr(app_state, key, value)
                stack.callback(_forget, app_state)
            if inner is not None:
                inner_state = await stack.enter_async_context(inner(app))
                if inner_state:
                    state = {**inner_state, **state}
            yield state

    return lifespan


def _forget(app_state: Any) -> None:
    for key in (TRACKER_STATE_KEY, CLIENTS_STATE_KEY):
        with contextlib.suppress(AttributeError):
            delattr(app_state, key)


async def _close_clients(clients: Mapping[str, Any]) -> None:
    for name, client in clients.items():
        close = getattr(client, "aclose", None) or getattr(client, "close", None)
        if not callable(close):
            continue
        try:
            result = close()
            if inspect.isawaitable(result):
                await result
        except Exception:  # one failing client must not keep the others open
            logger.exception("closing the %r client at shutdown failed", name)


# ---- dependencies -----------------------------------------------------------------------------


def _from_state(connection: HTTPConnection, key: str) -> Any:
    value = getattr(connection.state, key, None)
    if value is None:
        app = connection.scope.get("app")
        value = getattr(getattr(app, "state", None), key, None)
    if value is None:
        raise TrackerClosedError(
            "no aicostmanager tracker in this app: create it with "
            "FastAPI(lifespan=aicm_lifespan()), and run it under a server that runs lifespans"
        )
    return value


def get_tracker(request: HTTPConnection) -> AsyncTracker:
    """The app's ``AsyncTracker``, for code that has the request (e.g. a Starlette endpoint).

    In FastAPI routes prefer ``TrackerDep``: ``Depends(get_tracker)`` works too, but FastAPI
    runs a plain function dependency in its thread pool.

    Raises:
        TrackerClosedError: the app was not started with ``aicm_lifespan``.
    """
    tracker: AsyncTracker = _from_state(request, TRACKER_STATE_KEY)
    return tracker


def get_clients(request: HTTPConnection) -> Mapping[str, Any]:
    """The ``name -> client`` mapping registered with ``aicm_lifespan(clients=...)``.

    In FastAPI routes prefer ``ClientsDep`` (see ``get_tracker``).

    Raises:
        TrackerClosedError: the app was not started with ``aicm_lifespan``.
    """
    clients: Mapping[str, Any] = _from_state(request, CLIENTS_STATE_KEY)
    return clients


def get_client(name: str) -> Callable[[HTTPConnection], Awaitable[Any]]:
    """A dependency handing a route one registered client: ``Depends(get_client("openai"))``.

    Raises:
        TypeError: ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise TypeError("the client name must be a string")

    async def dependency(request: HTTPConnection) -> Any:
        clients = get_clients(request)
        if name not in clients:
            raise KeyError(f"no client named {name!r} was registered with aicm_lifespan()")
        return clients[name]

    return dependency


# FastAPI runs a plain `def` dependency in its thread pool (a thread hop per request):
# the aliases use these coroutine twins, which it awaits on the event loop.
async def _tracker_dependency(request: HTTPConnection) -> AsyncTracker:
    return get_tracker(request)


async def _clients_dependency(request: HTTPConnection) -> Mapping[str, Any]:
    return get_clients(request)


def _marker(dependency: Callable[..., Any]) -> Any:
    try:
        from fastapi import Depends
    except ImportError:  # plain Starlette: the alias is still a valid annotation
        return dependency
    return Depends(dependency)


TrackerDep: TypeAlias = Annotated[AsyncTracker, _marker(_tracker_dependency)]
"""``tracker: TrackerDep`` in a FastAPI route's parameters receives the app's tracker."""

ClientsDep: TypeAlias = Annotated[Mapping[str, Any], _marker(_clients_dependency)]
"""``clients: ClientsDep`` in a FastAPI route's parameters receives the registered clients."""


# ---- per-request customer ---------------------------------------------------------------------


async def _resolve(
    request: Request, customer_key: CustomerKeyFn | None, context: ContextFn | None
) -> tuple[str | None, Mapping[str, Any] | None]:
    """Call the user's functions; a failing function is logged, never breaks the request."""
    try:
        customer = await _call(customer_key, request, str, "customer_key")
        ctx = await _call(context, request, Mapping, "context")
    except Exception:
        logger.exception("the customer_key/context function failed; request not bound")
        return None, None
    return customer, ctx


async def _call(fn: Callable[[Request], Any] | None, request: Request, kind: Any, name: str) -> Any:
    if fn is None:
        return None
    value = fn(request)
    if inspect.isawaitable(value):
        value = await value
    if value is not None and not isinstance(value, kind):
        logger.error("the %s function returned %s, ignored", name, type(value).__name__)
        return None
    return value


def _check_functions(customer_key: object, context: object) -> None:
    if customer_key is None and context is None:
        raise TypeError("give customer_key= and/or context= (functions of the request)")
    for name, fn in (("customer_key", customer_key), ("context", context)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be a function of the request")


class AICMMiddleware:
    """Pure ASGI middleware binding ``customer_key`` / ``context`` for each HTTP request.

    ``app.add_middleware(AICMMiddleware, customer_key=lambda request: request.headers["x-org"])``

    Both functions receive the ``Request`` (its body unread) and may be async. Everything the
    request tracks inside the app records that customer and context (through
    ``tracking_scope``, a ``ContextVar``: concurrent requests never see each other's).
    The middleware runs before routing, so ``request.path_params`` is empty here: for a
    customer in the path, use ``tracking_scope_dependency``. A function that raises is logged
    and the request goes on unbound. WebSocket and lifespan messages pass through untouched.

    Raises:
        TypeError: neither function is given, or one is not callable.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        customer_key: CustomerKeyFn | None = None,
        context: ContextFn | None = None,
    ) -> None:
        _check_functions(customer_key, context)
        self.app = app
        self._customer_key = customer_key
        self._context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        customer, ctx = await _resolve(Request(scope), self._customer_key, self._context)
        with tracking_scope(customer, ctx):
            await self.app(scope, receive, send)


def tracking_scope_dependency(
    *, customer_key: CustomerKeyFn | None = None, context: ContextFn | None = None
) -> Callable[[Request], AsyncIterator[None]]:
    """A FastAPI dependency binding ``customer_key`` / ``context`` after routing.

    Unlike ``AICMMiddleware`` its functions see ``request.path_params``::

        bind = tracking_scope_dependency(customer_key=lambda r: r.path_params["org"])
        app.include_router(router, dependencies=[Depends(bind)])

    Raises:
        TypeError: neither function is given, or one is not callable.
    """
    _check_functions(customer_key, context)

    async def dependency(request: Request) -> AsyncIterator[None]:
        customer, ctx = await _resolve(request, customer_key, context)
        with tracking_scope(customer, ctx):
            yield

    return dependency
