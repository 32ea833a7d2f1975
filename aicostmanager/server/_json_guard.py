"""JSON bodies a client may send but the server cannot store or echo: NaN, Infinity, ``1e999``
(parsed as infinity) and lone UTF-16 surrogates (``"\\ud800"``).

Python's JSON parser accepts all of them; SQLite cannot encode a lone surrogate and a strict
JSON encoder refuses NaN. :func:`reject_unsafe_json` answers such a body with a 422 in the
usual validation-error shape, and :func:`json_safe` makes any echoed input serialisable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

__all__ = ("json_safe", "reject_unsafe_json", "unsafe_json_errors")

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as their names and lone surrogates as ``\\uXXXX`` text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        if _has_surrogate(value):
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


_Loc = tuple[str | int, ...]


def _walk(value: Any, loc: _Loc) -> Iterator[tuple[_Loc, str, Any]]:
    """``(location, message, value)`` of every unsafe value, depth first."""
    if isinstance(value, float) and not math.isfinite(value):
        yield (
            loc,
            "numbers must be finite (NaN, Infinity and out-of-range values are refused)",
            value,
        )
    elif isinstance(value, str):
        if _has_surrogate(value):
            yield loc, "text must be valid Unicode (a lone surrogate is refused)", value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _has_surrogate(key):
                yield (*loc, json_safe(key)), "keys must be valid Unicode (a lone surrogate)", key
            yield from _walk(item, (*loc, json_safe(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*loc, index))


def unsafe_json_errors(body: Any) -> list[dict[str, Any]]:
    """Validation errors (FastAPI's shape) for every unsafe value in a parsed JSON body."""
    return [
        {"type": "value_error", "loc": list(loc), "msg": msg, "input": json_safe(value)}
        for loc, msg, value in _walk(body, ("body",))
    ][:20]


async def reject_unsafe_json(request: Request) -> None:
    """Router dependency: refuse a JSON body holding values the server cannot store.

    Raises:
        RequestValidationError: the body holds NaN, an infinity or a lone surrogate (422).
    """
    if request.method not in _BODY_METHODS:
        return
    if "json" not in request.headers.get("content-type", "").lower():
        return
    try:
        body = await request.json()
    except ValueError:
        return  # FastAPI answers malformed JSON itself
    errors = unsafe_json_errors(body)
    if errors:
        raise RequestValidationError(errors)
