"""Gemini (google-genai) usage: a response, or the chunks of a stream -> the usage payload.

Pure functions over the SDK's objects (snake_case attributes) or the REST JSON (camelCase);
no SDK import. The payload uses the REST API's camelCase names (api-contract §7.3):
``promptTokenCount``, ``candidatesTokenCount``, ``totalTokenCount``, ``cachedContentTokenCount``,
``toolUsePromptTokenCount``, ``thoughtsTokenCount``, and the ``*TokensDetails`` lists as
``{"modality", "tokenCount"}`` items: every field the SDK parsed, as the provider named it;
null fields dropped.

While streaming, every chunk may carry ``usageMetadata`` but only the last one (the finish chunk)
has the complete counts, so :class:`GeminiStreamAccumulator` keeps the latest it has seen.
A stream that ends before its finish chunk is recorded with its output estimated from the text
seen and, if no chunk carried usage, its input estimated from the request (``aicm_estimated``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from ._common import Observed, field, first_field, plain, text_or_none, usage_dict
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


def _camel_keys(value: Any) -> Any:
    """JSON data with every mapping key in camelCase (REST JSON passes through unchanged)."""
    if type(value) is dict:
        return {
            _camel(key): _camel_keys(item)
            for key, item in value.items()
            if item is not None and key[:1] != "_"
        }
    if type(value) is list:
        return [_camel_keys(item) for item in value]
    return _scalar(value)


def _dump(metadata: Any) -> Any:
    """The JSON form of a usage metadata object or mapping, as the provider names it."""
    if isinstance(metadata, dict):
        return metadata
    dump = getattr(metadata, "model_dump", None)
    if callable(dump):  # the SDK's pydantic model: its aliases are the REST names
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except (TypeError, ValueError):
            pass
    return usage_dict(metadata) or {}


def usage_metadata_payload(metadata: Any) -> dict[str, Any] | None:
    """The payload of one ``usage_metadata`` / ``usageMetadata`` value (object or JSON).

    Every field the provider sent, under its REST (camelCase) name: the ``*TokensDetails``
    items keep ``{"modality", "tokenCount"}``; null fields are dropped.
    """
    if metadata is None:
        return None
    payload = _camel_keys(plain(_dump(metadata)))
    return payload if type(payload) is dict and payload else None


def gemini_usage(response: Any) -> Observed | None:
    """Usage of a ``generate_content`` / ``embed_content`` response; None without any.

    The id is ``responseId`` (embeddings have none); the model is ``modelVersion``.
    """
    usage = usage_metadata_payload(first_field(response, "usage_metadata", "usageMetadata"))
    if usage is None:
        return None
    return Observed(
        usage,
        text_or_none(first_field(response, "response_id", "responseId")),
        text_or_none(first_field(response, "model_version", "modelVersion")),
    )


class GeminiStreamAccumulator:
    """Keeps the latest ``usage_metadata`` seen (the final chunk's is complete).

    The final chunk is the one whose candidate carries a ``finish_reason`` (or whose
    ``prompt_feedback`` has a ``block_reason``: a blocked prompt); a stream that
    ended before it (abandoned) has only a running usage: its output count is estimated from
    the text seen (never below what the provider reported) and marked ``aicm_estimated``.
    """

    __slots__ = ("_id", "_metadata", "_model", "_pieces", "_chars", "_finished")

    def __init__(self) -> None:
        self._metadata: Any = None
        self._id: str | None = None
        self._model: str | None = None
        self._pieces = 0
        self._chars = 0
        self._finished = False

    def feed(self, chunk: Any) -> bool:
        """Note one streamed ``GenerateContentResponse``; never hides it."""
        metadata = first_field(chunk, "usage_metadata", "usageMetadata")
        if metadata is not None:
            self._metadata = metadata
        self._note_chunk(chunk)
        if self._id is None:
            self._id = text_or_none(first_field(chunk, "response_id", "responseId"))
            self._model = text_or_none(first_field(chunk, "model_version", "modelVersion"))
        return False

    def _note_chunk(self, chunk: Any) -> None:
        # The text is kept as a count only, for the estimate of an unfinished stream.
        self._pieces += 1
        candidates = field(chunk, "candidates")
        if not candidates:
            # A blocked prompt ends the stream without a candidate: its usage is final.
            feedback = first_field(chunk, "prompt_feedback", "promptFeedback")
            if first_field(feedback, "block_reason", "blockReason") is not None:
                self._finished = True
            return
        first = candidates[0]
        if first_field(first, "finish_reason", "finishReason") is not None:
            self._finished = True
        for part in field(field(first, "content"), "parts") or ():
            text = field(part, "text")
            if type(text) is str:
                self._chars += len(text)

    def result(self, source: Any) -> Observed | None:
        """The latest usage seen, with the stream's response id (or an estimate)."""
        usage = usage_metadata_payload(self._metadata)
        if usage is not None and self._finished:
            return Observed(usage, self._id, self._model)
        if usage is None and self._id is None and not self._pieces:
            return None  # nothing came back: no sign that the request was processed
        partial = partial_usage(usage, "candidatesTokenCount", self._chars, self._pieces)
        estimate_input = None if "promptTokenCount" in partial else "promptTokenCount"
        return Observed(partial, self._id, self._model, estimate_input=estimate_input)
