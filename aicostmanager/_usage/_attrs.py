"""A fast dump of SDK usage objects: their attributes, read directly (no ``model_dump``).

Usage objects of the pydantic-based SDKs (Anthropic, google-genai) keep their fields in
``__dict__`` and unknown fields in ``__pydantic_extra__``; reading those is several times
faster than ``model_dump()`` and gives the same data: None values and private keys dropped,
enums as their values, nested objects dumped the same way. Anything else falls back on
``_common.plain``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from ._common import plain

__all__ = ("attrs_dict",)

_LEAVES = frozenset({int, float, str, bool})


def _value(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in _LEAVES:
        return value
    if isinstance(value, Enum):
        return value.value
    if kind is list or kind is tuple:
        return [_value(item, depth + 1) for item in value]
    if depth > 8 or isinstance(value, Mapping) or not hasattr(value, "__dict__"):
        return plain(value)
    return _dump(value, depth + 1)


def _dump(obj: Any, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source in (obj.__dict__, getattr(obj, "__pydantic_extra__", None)):
        if not source:
            continue
        for key, value in source.items():
            if value is not None and not key.startswith("_"):
                out[key] = _value(value, depth)
    return out


def attrs_dict(obj: Any) -> dict[str, Any] | None:
    """The usage object ``obj`` as a JSON-able dict; None when absent or empty."""
    if obj is None:
        return None
    if isinstance(obj, Mapping) or not hasattr(obj, "__dict__"):
        data = plain(obj)
        return data if isinstance(data, dict) and data else None
    return _dump(obj, 0) or None
