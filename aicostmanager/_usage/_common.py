"""Shared pieces of usage extraction: the observed result, SDK object -> plain data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

__all__ = (
    "ESTIMATED",
    "Observed",
    "StreamAccumulator",
    "add_estimate",
    "field",
    "first_field",
    "genai_usage",
    "int_or_none",
    "plain",
    "text_or_none",
    "token_count",
    "usage_dict",
)

ESTIMATED = "aicm_estimated"
"""The payload key listing the usage fields that were estimated, not reported by the provider
(agreed with the server: such an event is stored and shown as estimated spend)."""

_SCALARS = (str, int, float, bool)
_ABSENT = object()
_LEAVES = frozenset({str, int, float, bool, type(None)})


class Observed(NamedTuple):
    """What one finished call tells about itself.

    Attributes:
        usage: the usage payload in the provider's own field names (None: nothing known).
        response_id: the provider's response id (None: one is generated).
        model: the model the provider reported (used when the call named none).
        estimate_input: the input-token field the provider never reported (a stream that
            ended before its usage): the wrapper fills it with an estimate from the request.
    """

    usage: dict[str, Any] | None
    response_id: str | None = None
    model: str | None = None
    estimate_input: str | None = None


class StreamAccumulator(Protocol):
    """Collects usage from the events of one stream (one instance per stream)."""

    def feed(self, event: Any) -> bool:
        """Look at one event; return True to hide it from the caller."""
        ...

    def result(self, source: Any) -> Observed | None:
        """What was learnt; ``source`` is the SDK stream object (for snapshots)."""
        ...


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, else ``getattr(obj, name, None)``."""
    if type(obj) is dict:
        return obj.get(name)
    # Attributes first: the isinstance check against the Mapping ABC costs more than the
    # attribute lookup on the SDK objects read on every streamed chunk.
    value = getattr(obj, name, _ABSENT)
    if value is not _ABSENT:
        return value
    return obj.get(name) if isinstance(obj, Mapping) else None


def first_field(obj: Any, *names: str) -> Any:
    """The first of ``names`` present (not None) on ``obj``."""
    for name in names:
        value = field(obj, name)
        if value is not None:
            return value
    return None


def plain(obj: Any, _depth: int = 0) -> Any:
    """Turn an SDK object into JSON-able data.

    Pydantic models are read from their field values (``__dict__`` plus extra fields: what
    ``model_dump()`` returns, several times faster); other objects through ``model_dump()``,
    else ``to_dict()``, else ``vars()``. Keys starting with ``_`` and None values are dropped;
    unknown leaves become text.
    """
    kind = type(obj)
    if kind in _LEAVES:
        return obj
    if _depth > 8:
        return str(obj)
    if kind is dict:
        return _plain_items(obj, _depth + 1)
    model = _IS_MODEL.get(kind)
    if model is None:
        model = _is_model_class(kind)
    if model and type(attrs := getattr(obj, "__dict__", None)) is dict:
        # A model's ``__dict__`` holds its fields, named by identifiers: only the values
        # need looking at (the usage of every wrapped call comes through here).
        depth = _depth + 1
        out: dict[str, Any] = {}
        for key, value in attrs.items():
            if value is not None and key[:1] != "_":
                out[key] = value if type(value) in _LEAVES else plain(value, depth)
        extra = getattr(obj, "__pydantic_extra__", None)
        if extra:
            out.update(_plain_items(extra, depth))
        return out
    if isinstance(obj, Mapping):
        return _plain_items(obj, _depth + 1)
    if isinstance(obj, (list, tuple)):
        return [plain(v, _depth + 1) for v in obj]
    if isinstance(obj, _SCALARS):
        return obj
    return _plain_object(obj, _depth)


def _plain_items(items: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    """``plain`` of a mapping's entries (keys as text; ``_`` keys and None values dropped)."""
    out: dict[str, Any] = {}
    for key, value in items.items():
        if value is None:
            continue
        name = key if type(key) is str else str(key)
        if name[:1] == "_":
            continue
        out[name] = value if type(value) in _LEAVES else plain(value, depth)
    return out


_IS_MODEL: dict[type, bool] = {}
"""Whether a class is a pydantic model, per class (asked once; bounded like ``_COUNT_NAMES``)."""


def _is_model_class(kind: type) -> bool:
    model = hasattr(kind, "__pydantic_fields__")
    if len(_IS_MODEL) < 4096:
        _IS_MODEL[kind] = model
    return model


def _plain_object(obj: Any, depth: int) -> Any:
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        try:
            return plain(dump(exclude_none=True), depth + 1)
        except TypeError:
            return plain(dump(), depth + 1)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return plain(to_dict(), depth + 1)
    try:
        attrs = vars(obj)
    except TypeError:
        return str(obj)
    return plain(attrs, depth + 1)


def usage_dict(obj: Any) -> dict[str, Any] | None:
    """``plain(obj)`` when it is a non-empty mapping, else None."""
    if obj is None:
        return None
    data = plain(obj)
    return data if isinstance(data, dict) and data else None


def token_count(value: Any) -> int | None:
    """``value`` as a count: an int, a whole float or a digit string (JSON int64); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def int_or_none(value: Any) -> int | None:
    """``value`` when it is an ``int`` (not a ``bool``), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text_or_none(value: Any) -> str | None:
    """``value`` when it is a non-empty ``str``, else None."""
    return value if isinstance(value, str) and value else None


def genai_usage(
    input_tokens: int | None,
    output_tokens: int | None,
    *,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
) -> dict[str, Any] | None:
    """A usage payload in genai-prices keys holding the counts that are known (not None);
    None when neither the input nor the output count is known."""
    if input_tokens is None and output_tokens is None:
        return None
    counts = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
    }
    usage: dict[str, Any] = {key: value for key, value in counts.items() if value is not None}
    if reasoning_tokens is not None:
        usage["output_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return usage


def add_estimate(usage: dict[str, Any], name: str, guess: int) -> dict[str, Any]:
    """A copy of ``usage`` whose field ``name`` is at least ``guess``, marked as estimated.

    A count the provider reported that is already as large is kept and not marked: an
    estimate never lowers what was observed.
    """
    out = dict(usage)
    seen = out.get(name)
    if type(seen) is int and seen >= guess:
        return out
    out[name] = guess
    marked = out.get(ESTIMATED)
    names = [n for n in marked if n != name] if isinstance(marked, list) else []
    out[ESTIMATED] = [*names, name]
    return out
