"""Turning filter models and dicts into query parameters (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

__all__ = ("render_query",)


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send a value of type {type(value).__name__} as a query parameter")


def render_query(
    filters: BaseModel | Mapping[str, Any] | None, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Merge ``filters`` and ``params`` into query parameters.

    ``None`` values are dropped; lists become repeated keys; dates become ``YYYY-MM-DD``; a
    ``context`` mapping becomes ``context.<key>=<value>`` entries; booleans are rendered
    ``true``/``false`` by the HTTP layer.

    Raises:
        TypeError: a value cannot be sent in a query string.
    """
    merged: dict[str, Any] = {}
    if isinstance(filters, BaseModel):
        merged.update(filters.model_dump(exclude_none=True))
    elif filters is not None:
        merged.update(filters)
    if params:
        merged.update(params)
    query: dict[str, Any] = {}
    for key, value in merged.items():
        if value is None:
            continue
        if key == "context" and isinstance(value, Mapping):
            for ctx_key, ctx_value in value.items():
                if ctx_value is not None:
                    query[f"context.{ctx_key}"] = _scalar(ctx_value)
        elif isinstance(value, list | tuple | set | frozenset):
            query[key] = [_scalar(item) for item in value if item is not None]
        else:
            query[key] = _scalar(value)
    return query
