"""OpenAI usage (Chat Completions, Responses, Embeddings) and OpenAI-compatible APIs.

Chat: ``response.usage`` as is (``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
``*_tokens_details``). A chat stream carries usage only on its last chunk (empty
``choices``) when ``stream_options.include_usage`` is set. Responses: ``response.usage``
(``input_tokens``, ``output_tokens``, ...), streamed on ``response.completed``.
"""

from __future__ import annotations

from typing import Any

from ._common import Observed, field, usage_dict

__all__ = (
    "ChatStreamAccumulator",
    "ChatStreamHelperAccumulator",
    "ResponsesStreamAccumulator",
    "chat_usage",
    "embeddings_usage",
    "responses_usage",
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def chat_usage(response: Any) -> Observed | None:
    """Usage of a (parsed) chat completion or legacy completion; None without ``usage``."""
    usage = usage_dict(field(response, "usage"))
    if usage is None:
        return None
    return Observed(usage, _text(field(response, "id")), _text(field(response, "model")))


def responses_usage(response: Any) -> Observed | None:
    """Usage of a Responses API response; None without ``usage``."""
    return chat_usage(response)


def embeddings_usage(response: Any) -> Observed | None:
    """Usage of an embeddings response (``prompt_tokens``, ``total_tokens``; no id)."""
    return chat_usage(response)


class ChatStreamAccumulator:
    """Chat completion chunks: id and model from any chunk, usage from the last one.

    When the wrapper added ``include_usage`` itself, the usage-only chunk is hidden. A stream
    abandoned before its usage chunk is recorded with the content chunks seen as
    ``completion_tokens`` (about one token per chunk) and no prompt tokens: all that is known.
    """

    __slots__ = ("_hide", "_id", "_model", "_pieces", "_usage")

    def __init__(self, hide_usage_chunk: bool = False) -> None:
        self._hide = hide_usage_chunk
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Any = None
        self._pieces = 0

    def feed(self, chunk: Any) -> bool:
        """Note one chunk; True when it is the usage-only chunk the caller did not ask for."""
        if self._id is None:
            self._id = _text(field(chunk, "id"))
            self._model = _text(field(chunk, "model"))
        usage = field(chunk, "usage")
        choices = field(chunk, "choices")
        if usage is not None:
            self._usage = usage
            if not choices:
                return self._hide
        if choices:
            self._pieces += 1
        return False

    def result(self, source: Any) -> Observed | None:
        """The usage seen (or the estimate for an abandoned stream)."""
        usage = usage_dict(self._usage)
        if usage is None:
            if not self._pieces:
                return None if self._id is None else Observed(None, self._id, self._model)
            usage = {"completion_tokens": self._pieces}
        return Observed(usage, self._id, self._model)


class ChatStreamHelperAccumulator(ChatStreamAccumulator):
    """Events of ``chat.completions.stream()``: the raw chunk rides on ``chunk`` events.

    Events consumed inside the helper (``get_final_completion()``) never reach the wrapper,
    so ``result`` falls back on the helper's accumulated snapshot.
    """

    __slots__ = ()

    def feed(self, event: Any) -> bool:
        """Note a ``chunk`` event's chunk; other events pass."""
        if field(event, "type") == "chunk":
            return super().feed(field(event, "chunk"))
        return False

    def result(self, source: Any) -> Observed | None:
        """Usage from the chunks, else from ``current_completion_snapshot``."""
        if self._usage is None and source is not None:
            try:
                snapshot = source.current_completion_snapshot
            except Exception:  # the helper saw no chunk at all
                snapshot = None
            if snapshot is not None:
                self._usage = field(snapshot, "usage")
                self._id = self._id or _text(field(snapshot, "id"))
                self._model = self._model or _text(field(snapshot, "model"))
        return super().result(source)


_DONE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_START_EVENTS = frozenset({"response.created", "response.in_progress"})


class ResponsesStreamAccumulator:
    """Responses API events: id from ``response.created``, usage from ``response.completed``.

    An abandoned stream is recorded with the text deltas seen as ``output_tokens``.
    """

    __slots__ = ("_id", "_model", "_pieces", "_usage")

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Any = None
        self._pieces = 0

    def feed(self, event: Any) -> bool:
        """Note one event (never hidden)."""
        kind = field(event, "type")
        if kind == "response.output_text.delta":
            self._pieces += 1
        elif kind in _DONE_EVENTS or kind in _START_EVENTS:
            response = field(event, "response")
            self._id = _text(field(response, "id")) or self._id
            self._model = _text(field(response, "model")) or self._model
            usage = field(response, "usage")
            if usage is not None:
                self._usage = usage
        return False

    def result(self, source: Any) -> Observed | None:
        """The final usage; falls back on a helper stream's completed response."""
        if self._usage is None and source is not None:
            state = getattr(source, "_state", None)
            completed = getattr(state, "_completed_response", None)
            if completed is not None:
                self._usage = field(completed, "usage")
                self._id = self._id or _text(field(completed, "id"))
        usage = usage_dict(self._usage)
        if usage is None:
            if not self._pieces:
                return None if self._id is None else Observed(None, self._id, self._model)
            usage = {"output_tokens": self._pieces}
        return Observed(usage, self._id, self._model)
