"""The tracking scope: customer and context for everything tracked inside a ``with`` block.

A ``ContextVar``, so concurrent requests (tasks) never see each other's customer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, NamedTuple

from . import _record  # module, not names: _record imports this module back

__all__ = ("Scope", "current_scope", "tracking_scope")


class Scope(NamedTuple):
    """The customer key and context in force."""

    customer_key: str | None
    context: Mapping[str, Any] | None


_EMPTY = Scope(None, None)
_scope: ContextVar[Scope] = ContextVar("aicostmanager_scope", default=_EMPTY)


def current_scope() -> Scope:
    """The scope of the running task/thread."""
    return _scope.get()


@contextlib.contextmanager
def tracking_scope(
    customer_key: str | None = None, context: Mapping[str, Any] | None = None
) -> Iterator[Scope]:
    """Set the customer key and/or add context keys for records tracked inside the block.

    Scopes nest: an inner customer key wins, inner context keys update the outer ones.

    Raises:
        InvalidRecordError: the customer key or the context is invalid (checked here, once,
            rather than at every record tracked inside the block).
    """
    if customer_key is not None:
        customer_key = _record.check_text("customer_key", customer_key)
    outer = _scope.get()
    merged = dict(outer.context or {})
    if context is not None:
        merged.update(_record.checked_context(context))
    scope = Scope(customer_key if customer_key is not None else outer.customer_key, merged or None)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)
