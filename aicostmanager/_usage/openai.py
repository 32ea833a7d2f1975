"""OpenAI usage (Chat Completions, Responses, Embeddings) and OpenAI-compatible APIs.

Chat: ``response.usage`` as is (``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
``*_tokens_details`` and any field the API adds), plus the response's ``service_tier`` at the
payload's top level (its price differs: flex, priority). A chat stream carries usage only on
its last chunk (empty ``choices``) when ``stream_options.include_usage`` is set; Groq sends
it without asking, in ``x_groq.usage``. Responses: ``response.usage`` (``input_tokens``,
``output_tokens``, details), ``service_tier`` and ``web_search_calls`` (the number of
``web_search_call`` output items: OpenAI bills each call, outside ``usage``), streamed on
``response.completed`` (or counted from ``response.output_item.done`` events).

A stream that ends before its usage (abandoned, broken) is recorded with the output seen
(its text estimated, never fewer than one token per content chunk) and asks the wrapper to
estimate the input from the request (``Observed.estimate_input``); both are listed in
``aicm_estimated``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._common import Observed, field, text_or_none, usage_dict
from .estimate import partial_usage

__all__ = (
    "ChatStreamAccumulator",
    "ChatStreamHelperAccumulator",
    "ResponsesStreamAccumulator",
    "chat_usage",
    "embeddings_usage",
    "responses_usage",
)


def _extra(obj: Any, name: str) -> Any:
    """A field the SDK's model does not declare (``x_groq``), without a costly miss."""
    if type(obj) is dict:
        return obj.get(name)
    extra = getattr(obj, "__pydantic_extra__", None)
    return extra.get(name) if extra else None


def _with_tier(usage: dict[str, Any], tier: Any) -> dict[str, Any]:
    if type(tier) is not str:  # an enum member (a str has no ``value``: skip the failed lookup)
        tier = getattr(tier, "value", tier)
    if isinstance(tier, str) and tier and "service_tier" not in usage:
        usage["service_tier"] = tier
    return usage


def chat_usage(response: Any) -> Observed | None:
    """Usage of a (parsed) chat completion or legacy completion; None without ``usage``.

    The payload is ``usage`` as returned, with the response's ``service_tier`` added.
    """
    usage = usage_dict(field(response, "usage"))
    if usage is None:
        return None
    _with_tier(usage, field(response, "service_tier"))
    return Observed(
        usage, text_or_none(field(response, "id")), text_or_none(field(response, "model"))
    )


def _web_search_calls(response: Any) -> int:
    """How many ``web_search_call`` items a Responses API response's ``output`` holds."""
    output = field(response, "output")
    if not isinstance(output, list):
        return 0
    return sum(1 for item in output if field(item, "type") == "web_search_call")


def _with_searches(usage: dict[str, Any], calls: int) -> dict[str, Any]:
    if calls and "web_search_calls" not in usage:
        usage["web_search_calls"] = calls
    return usage


def responses_usage(response: Any) -> Observed | None:
    """Usage of a Responses API response; None without usage.

    The payload is ``usage`` with the response's ``service_tier`` and, when the model
    searched, ``web_search_calls`` (its ``web_search_call`` output items, billed per call).
    """
    observed = chat_usage(response)
    if observed is not None and observed.usage is not None:
        _with_searches(observed.usage, _web_search_calls(response))
    return observed


def embeddings_usage(response: Any) -> Observed | None:
    """Usage of an embeddings response (``prompt_tokens``, ``total_tokens``; no id)."""
    return chat_usage(response)


class _TieredStream:
    """What the chat and Responses stream accumulators note, and their common result."""

    __slots__ = ("_id", "_model", "_pieces", "_chars", "_tier", "_usage")
    _output_field: ClassVar[str]
    _input_field: ClassVar[str]

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Any = None
        self._tier: Any = None
        self._pieces = 0
        self._chars = 0

    def result(self, source: Any) -> Observed | None:
        """The usage seen (or the estimate for an abandoned stream)."""
        usage = usage_dict(self._usage)
        if usage is not None:
            return Observed(self._completed(usage), self._id, self._model)
        if self._id is None and not self._pieces:
            return None  # nothing came back: no sign that the request was processed
        partial = self._completed(
            partial_usage(None, self._output_field, self._chars, self._pieces)
        )
        return Observed(partial, self._id, self._model, estimate_input=self._input_field)

    def _completed(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The usage with what the stream noted beside it (the service tier)."""
        return _with_tier(usage, self._tier)


class ChatStreamAccumulator(_TieredStream):
    """Chat completion chunks: id and model from any chunk, usage from the last one.

    When the wrapper added ``include_usage`` itself, the usage-only chunk is hidden. Groq's
    ``x_groq.usage`` (last chunk) counts as the usage. A stream abandoned before its usage is
    recorded with an estimate (see the module docstring).
    """

    __slots__ = ("_hide",)
    _output_field = "completion_tokens"
    _input_field = "prompt_tokens"

    def __init__(self, hide_usage_chunk: bool = False) -> None:
        super().__init__()
        self._hide = hide_usage_chunk

    def feed(self, chunk: Any) -> bool:
        """Note one chunk; True when it is the usage-only chunk the caller did not ask for."""
        if self._id is None:
            self._id = text_or_none(field(chunk, "id"))
            self._model = text_or_none(field(chunk, "model"))
            self._tier = field(chunk, "service_tier")
        usage = field(chunk, "usage")
        choices = field(chunk, "choices")
        if usage is None:
            groq = _extra(chunk, "x_groq")
            if groq is not None:
                usage = field(groq, "usage")
        if usage is not None:
            self._usage = usage
            if not choices:
                return self._hide
        if choices:
            self._pieces += 1
            try:
                text = choices[0].delta.content
            except AttributeError:  # a JSON body rather than the SDK's objects
                text = field(field(choices[0], "delta"), "content")
            if type(text) is str:
                self._chars += len(text)
        return False


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
                self._tier = self._tier or field(snapshot, "service_tier")
                self._id = self._id or text_or_none(field(snapshot, "id"))
                self._model = self._model or text_or_none(field(snapshot, "model"))
        return super().result(source)


_DONE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_START_EVENTS = frozenset({"response.created", "response.in_progress"})


class ResponsesStreamAccumulator(_TieredStream):
    """Responses API events: id from ``response.created``, usage from ``response.completed``.

    An abandoned stream is recorded with an estimate (see the module docstring).
    """

    __slots__ = ("_searches",)
    _output_field = "output_tokens"
    _input_field = "input_tokens"

    def __init__(self) -> None:
        super().__init__()
        self._searches = 0  # web_search_call items seen in output_item.done events

    def feed(self, event: Any) -> bool:
        """Note one event (never hidden)."""
        kind = field(event, "type")
        if kind == "response.output_text.delta":
            self._pieces += 1
            text = field(event, "delta")
            if type(text) is str:
                self._chars += len(text)
        elif kind == "response.output_item.done":
            if field(field(event, "item"), "type") == "web_search_call":
                self._searches += 1
        elif kind in _DONE_EVENTS or kind in _START_EVENTS:
            response = field(event, "response")
            if kind in _DONE_EVENTS:
                self._searches = max(self._searches, _web_search_calls(response))
            self._id = text_or_none(field(response, "id")) or self._id
            self._model = text_or_none(field(response, "model")) or self._model
            self._tier = field(response, "service_tier") or self._tier
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
                self._tier = self._tier or field(completed, "service_tier")
                self._id = self._id or text_or_none(field(completed, "id"))
                self._searches = max(self._searches, _web_search_calls(completed))
        return super().result(source)

    def _completed(self, usage: dict[str, Any]) -> dict[str, Any]:
        return _with_searches(_with_tier(usage, self._tier), self._searches)
