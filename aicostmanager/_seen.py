"""Response ids recorded in this process lately, with how complete their usage was.

One provider call can be seen by several paths: a wrapper around the client, a framework
callback (LangChain, LiteLLM, the Agents SDK), a span processor. They all record under the
provider's response id, so the server keeps one event; this registry makes sure the record
that is *sent* is the most complete one whenever the richer path finishes first (the usual
order: a wrapper records when the SDK call returns, before the framework's callback runs).

- Wrappers call :func:`note` after recording. Until an integration calls :func:`enable` (every
  callback-style integration does when it is built), nobody will ask, so ``note`` only counts
  (a wrapper-only process pays nothing more per call).
- Integrations call :func:`claim` before recording: False when this process already recorded
  that response id with usage at least as complete (nothing to send).
- The opposite order (an instrumentation *inside* the wrapper, such as an OpenTelemetry
  instrumentation that patches the SDK's methods, whose span ends before the wrapper records):
  wrappers mark the SDK call with :data:`in_wrapper` while it runs, and a span processor skips
  a span that started under that mark, since the wrapper records that call itself.

Bounded (oldest entries dropped past ``_MAX`` ids, and entries expire after ``_TTL`` seconds),
thread-safe, a few hundred nanoseconds per call.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from ._usage.genai import richness

__all__ = ("claim", "clear", "enable", "in_wrapper", "note", "wrapper_records")

_MAX = 20_000
_TTL = 600.0

in_wrapper: ContextVar[bool] = ContextVar("aicostmanager_in_wrapper", default=False)
"""True while a wrapper's intercepted SDK call runs (the wrapper records that call)."""

wrapper_records: ContextVar[int] = ContextVar("aicostmanager_wrapper_records", default=0)
"""How many calls wrappers recorded in this context: a framework that hides the provider's
response id (LangChain streams) compares it before and after its model call and skips the call
when a wrapper beneath recorded it."""

_lock = threading.Lock()
_seen: OrderedDict[str, tuple[int, float]] = OrderedDict()
_enabled = False


def enable() -> None:
    """Start remembering what wrappers record (an integration that calls :func:`claim` exists)."""
    global _enabled
    _enabled = True


def _remember(response_id: str, score: int, now: float) -> None:
    _seen[response_id] = (score, now)
    _seen.move_to_end(response_id)
    while len(_seen) > _MAX:
        _seen.popitem(last=False)


def note(response_id: str | None, usage: Mapping[str, Any] | None) -> None:
    """Remember that a wrapper recorded ``response_id`` with ``usage``."""
    wrapper_records.set(wrapper_records.get() + 1)
    if not _enabled or not response_id:
        return
    score = richness(usage)
    now = time.monotonic()
    with _lock:
        previous = _seen.get(response_id)
        if previous is None or previous[0] < score or now - previous[1] > _TTL:
            _remember(response_id, score, now)


def claim(response_id: str | None, usage: Mapping[str, Any] | None) -> bool:
    """Whether to record ``usage`` for ``response_id``; remembers it when the answer is True.

    False only when the id was recorded in this process within ``_TTL`` seconds with usage
    at least as complete. Without an id the answer is always True.
    """
    if not response_id:
        return True
    score = richness(usage)
    now = time.monotonic()
    with _lock:
        previous = _seen.get(response_id)
        if previous is not None and previous[0] >= score and now - previous[1] <= _TTL:
            return False
        _remember(response_id, score, now)
        return True


def clear() -> None:
    """Forget every id (tests)."""
    with _lock:
        _seen.clear()
