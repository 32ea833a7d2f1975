"""Gemini (google-genai) usage: a response, or the chunks of a stream -> the usage payload.

Pure functions over the SDK's objects (snake_case attributes) or the REST JSON (camelCase);
no SDK import. The payload uses the REST API's camelCase names (api-contract §7.3):
``promptTokenCount``, ``candidatesTokenCount``, ``totalTokenCount``, ``cachedContentTokenCount``,
``toolUsePromptTokenCount``, ``thoughtsTokenCount``, and the ``*TokensDetails`` lists as
``{"modality", "token_count"}`` items; null fields dropped.

While streaming, every chunk may carry ``usageMetadata`` but only the last one (the finish chunk)
has the complete counts, so :class:`GeminiStreamAccumulator` keeps the latest it has seen.
A stream that ends before any chunk carried usage is recorded with its output estimated from
the text seen and its input estimated from the request (``aicm_estimated``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from ._common import Observed, field, first_field, plain, usage_dict
from .estimate import partial_usage

__all__ = ("GeminiStreamAccumulator", "gemini_usage", "usage_metadata_payload")

_camel_cache: dict[str, str] = {}


def _camel(name: str) -> str:
    found = _camel_cache.get(name)
    if found is None:
        head, *rest = name.split("_")
        found = head + "".join(part[:1].upper() + part[1:] for part in rest)
        if len(_camel_cache) < 256:
            _camel_cache[name] = found
    return found


def _scalar(value: Any) -> Any:
    # The SDK's enums (MediaModality, TrafficType) subclass str; send their plain value.
    return value.value if isinstance(value, Enum) else value


def _detail(item: Any) -> dict[str, Any]:
    """One ``{"modality", "token_count"}`` item, from an SDK object or JSON."""
    if isinstance(item, dict):
        modality = item.get("modality")
        count = item.get("token_count", item.get("tokenCount"))
    else:
        modality = getattr(item, "modality", None)
        count = getattr(item, "token_count", None)
    entry: dict[str, Any] = {}
    if modality is not None:
        entry["modality"] = _scalar(modality)
    if count is not None:
        entry["token_count"] = count
    return entry


def _fields(metadata: Any) -> Any:
    """The (name, value) pairs of a usage metadata object or mapping; None if neither."""
    if isinstance(metadata, dict):
        return metadata.items()
    values = getattr(metadata, "__dict__", None)
    if type(values) is not dict:
        return None
    extra = getattr(metadata, "__pydantic_extra__", None)
    return {**values, **extra}.items() if extra else values.items()


def usage_metadata_payload(metadata: Any) -> dict[str, Any] | None:
    """The payload of one ``usage_metadata`` / ``usageMetadata`` value (object or JSON)."""
    if metadata is None:
        return None
    items = _fields(metadata)
    if items is None:  # an unexpected shape: the generic dump
        items = (usage_dict(metadata) or {}).items()
    payload: dict[str, Any] = {}
    for key, value in items:
        if value is None or key[:1] == "_":
            continue
        name = _camel(key)
        if type(value) is int:
            payload[name] = value
        elif type(value) is list and name.endswith("Details"):
            payload[name] = [_detail(item) for item in value]
        else:
            payload[name] = _scalar(plain(value))
    return payload or None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def gemini_usage(response: Any) -> Observed | None:
    """Usage of a ``generate_content`` / ``embed_content`` response; None without any.

    The id is ``responseId`` (embeddings have none); the model is ``modelVersion``.
    """
    usage = usage_metadata_payload(first_field(response, "usage_metadata", "usageMetadata"))
    if usage is None:
        return None
    return Observed(
        usage,
        _text(first_field(response, "response_id", "responseId")),
        _text(first_field(response, "model_version", "modelVersion")),
    )


class GeminiStreamAccumulator:
    """Keeps the latest ``usage_metadata`` seen (the final chunk's is complete)."""

    __slots__ = ("_id", "_metadata", "_model", "_pieces", "_chars")

    def __init__(self) -> None:
        self._metadata: Any = None
        self._id: str | None = None
        self._model: str | None = None
        self._pieces = 0
        self._chars = 0

    def feed(self, chunk: Any) -> bool:
        """Note one streamed ``GenerateContentResponse``; never hides it."""
        metadata = first_field(chunk, "usage_metadata", "usageMetadata")
        if metadata is not None:
            self._metadata = metadata
        elif self._metadata is None:
            self._note_text(chunk)
        if self._id is None:
            self._id = _text(first_field(chunk, "response_id", "responseId"))
            self._model = _text(first_field(chunk, "model_version", "modelVersion"))
        return False

    def _note_text(self, chunk: Any) -> None:
        # Only until usage arrives: the text is needed only for an estimate.
        self._pieces += 1
        candidates = field(chunk, "candidates")
        if candidates:
            for part in field(field(candidates[0], "content"), "parts") or ():
                text = field(part, "text")
                if type(text) is str:
                    self._chars += len(text)

    def result(self, source: Any) -> Observed | None:
        """The latest usage seen, with the stream's response id (or an estimate)."""
        usage = usage_metadata_payload(self._metadata)
        if usage is not None:
            return Observed(usage, self._id, self._model)
        if self._id is None and not self._pieces:
            return None  # nothing came back: no sign that the request was processed
        partial = partial_usage(None, "candidatesTokenCount", self._chars, self._pieces)
        return Observed(partial, self._id, self._model, estimate_input="promptTokenCount")
