"""What every async resource and its blocking twin share, written once.

``AsyncResource``: ``async with`` for a class with ``aclose()``. ``BlockingTwin``: the base of
the sync twins (``CostManagerClient``, the ``_limits`` managers, ``PersistentQueueManager``),
whose methods are one-line shims generated from the async signatures by
``scripts/gen_sync_twins.py`` (a test checks they are current): each is one call through the
process's anyio portal, ``iter_*`` methods pull one item per call; a property of the async
object is a ``Forward`` attribute of the twin. No logic lives in a twin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from typing import Any, Generic, ParamSpec, TypeVar, overload

from typing_extensions import Never, Self

from ._portal import get_portal

__all__ = ("AsyncResource", "BlockingTwin", "Forward")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class AsyncResource:
    """``async with`` support for a class that closes with ``aclose()``."""

    async def aclose(self) -> None:
        """Release what the object holds."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


_A = TypeVar("_A", bound=AsyncResource)


class BlockingTwin(Generic[_A]):
    """The blocking twin of an ``AsyncResource``: it holds one and calls it through the portal.

    Calling a twin from the portal's own event loop raises ``RuntimeError`` (it would deadlock).
    """

    def __init__(self, async_object: _A, *, enter: bool = False) -> None:
        self._async = async_object
        if enter:
            get_portal().call(async_object.__aenter__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._async!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Blocking twin of ``aclose()``: release what the object holds."""
        get_portal().call(self._async.aclose)

    def _call(
        self, function: Callable[_P, Awaitable[_T]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        return get_portal().call(partial(function, *args, **kwargs))

    def _iterate(
        self, function: Callable[_P, AsyncIterator[_T]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> Iterator[_T]:
        return _pull(partial(function, *args, **kwargs))


class Forward(Generic[_T]):
    """A read-only attribute of a twin: the async object's attribute of the same name.

    The generator writes ``api_root: Forward[str] = Forward()`` for each property of the async
    class; type checkers and editors see ``twin.api_root`` as a ``str``.
    """

    __slots__ = ("_name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, twin: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, twin: BlockingTwin[Any], owner: type | None = None) -> _T: ...

    def __get__(self, twin: BlockingTwin[Any] | None, owner: type | None = None) -> Self | _T:
        if twin is None:
            return self
        value: _T = getattr(twin._async, self._name)
        return value

    def __set__(self, twin: BlockingTwin[Any], value: Never) -> None:
        raise AttributeError(f"{self._name} is read-only")


def _pull(start: Callable[[], AsyncIterator[_T]]) -> Iterator[_T]:
    """Drive the async iterator made by ``start`` from this thread, one item per portal call."""
    portal = get_portal()
    iterator = start()
    try:
        while True:
            try:
                item = portal.call(iterator.__anext__)
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            portal.call(aclose)
