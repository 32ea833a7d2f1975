"""Usage of an unknown SDK's responses (``ServiceWrapper`` without custom extractors).

Non-streaming: ``.usage``, else ``.usage_metadata`` / ``.usageMetadata``, else
``["usage"]``, else the mapping itself when it has token-count keys. Streaming: each chunk's
``.usage``, ``.response.usage``, ``.message.usage``, ``.usage_metadata``, ``["usage"]`` or
``["metadata"]["usage"]``; later non-null values win.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._common import Observed, field, first_field, usage_dict

__all__ = ("GenericStreamAccumulator", "generic_usage", "response_id_of")


def _is_token_key(key: str) -> bool:
    lowered = key.lower()
    return lowered.endswith(("tokens", "tokencount", "token_count"))


def response_id_of(response: Any) -> str | None:
    """The response's ``id`` / ``response_id`` / ``responseId`` (None when absent)."""
    if isinstance(response, (str, bytes, int, float)) or response is None:
        return None
    found = first_field(response, "id", "response_id", "responseId")
    return found if isinstance(found, str) and found else None


def generic_usage(response: Any) -> dict[str, Any] | None:
    """The usage payload of a response of any SDK (None when none is found)."""
    if response is None or isinstance(response, (str, bytes, int, float, bool)):
        return None
    found = first_field(response, "usage", "usage_metadata", "usageMetadata")
    if found is not None:
        return usage_dict(found)
    if isinstance(response, Mapping) and any(
        isinstance(k, str) and _is_token_key(k) for k in response
    ):
        return usage_dict(response)
    return None


def _chunk_usage(chunk: Any) -> Any:
    if chunk is None or isinstance(chunk, (str, bytes, int, float, bool)):
        return None
    found = first_field(chunk, "usage", "usage_metadata", "usageMetadata")
    if found is None:
        found = field(field(chunk, "response"), "usage") or field(field(chunk, "message"), "usage")
    if found is None:
        found = field(field(chunk, "metadata"), "usage")
    return found


class GenericStreamAccumulator:
    """Merges the usage found on any chunk; the id of the first chunk that has one."""

    __slots__ = ("_extract", "_id", "_usage")

    def __init__(self, extract: Callable[[Any], Any] | None = None) -> None:
        self._extract = extract or _chunk_usage
        self._id: str | None = None
        self._usage: dict[str, Any] = {}

    def feed(self, chunk: Any) -> bool:
        """Merge this chunk's usage (never hides a chunk)."""
        if self._id is None:
            self._id = response_id_of(chunk)
        found = self._extract(chunk)
        if found is not None:
            data = usage_dict(found)
            if data:
                self._usage.update(data)
        return False

    def result(self, source: Any) -> Observed | None:
        """The merged usage (None when no chunk had any)."""
        return Observed(dict(self._usage) if self._usage else None, self._id)
