"""Anthropic usage: a Message, or the raw events of a stream -> the usage payload.

Pure functions over either the SDK's objects or the decoded JSON bodies (no SDK import).
The payload keeps Anthropic's own field names (api-contract §7.3): ``input_tokens``,
``output_tokens``, ``cache_creation_input_tokens``, ``cache_read_input_tokens`` and any newer
field the API adds, with null fields dropped.

A stream reports usage twice: ``message_start`` carries the input and cache counts (and a
placeholder output count), ``message_delta`` carries *cumulative* counts. They are merged, a
later non-null value replacing an earlier one, never added, so nothing is counted twice.
Everything in ``usage`` is kept as sent: ``iterations`` (compaction steps),
``server_tool_use`` (web search / fetch requests), ``cache_creation`` (5-minute and 1-hour
writes), ``service_tier``. A stream that ends before ``message_delta`` keeps the exact input
counts of ``message_start``; its output is estimated from the text seen (``aicm_estimated``).
If it ends before ``message_start``, the wrapper estimates the input from the request.
"""

from __future__ import annotations

from typing import Any

from ._common import Observed, field, text_or_none, usage_dict
from .estimate import partial_usage

__all__ = ("AnthropicStreamAccumulator", "message_usage")


def message_usage(message: Any) -> Observed | None:
    """Usage, id and model of a ``Message`` (SDK object or JSON body); None without usage."""
    usage = usage_dict(field(message, "usage"))
    if usage is None:
        return None
    return Observed(
        usage, text_or_none(field(message, "id")), text_or_none(field(message, "model"))
    )


# Where the text of each kind of content_block_delta is (looking up absent fields is slow).
_DELTA_TEXT = {"input_json_delta": "partial_json", "thinking_delta": "thinking"}


def _snapshot_chars(message: Any) -> int:
    chars = 0
    for block in field(message, "content") or ():
        text = field(block, "text") or field(block, "thinking")
        if isinstance(text, str):
            chars += len(text)
    return chars


class AnthropicStreamAccumulator:
    """Merges the usage of one stream's raw events (``message_start``, ``message_delta``).

    Complete once ``message_delta`` has arrived; after only ``message_start`` (a stream broken
    early) it holds the input and cache counts. For the ``messages.stream()`` helper, whose
    ``text_stream`` and ``get_final_message()`` consume events out of the wrapper's sight,
    :meth:`result` reads the helper's own merged snapshot instead.
    """

    __slots__ = ("_final", "_id", "_model", "_pieces", "_chars", "_usage")

    def __init__(self) -> None:
        self._usage: dict[str, Any] | None = None
        self._id: str | None = None
        self._model: str | None = None
        self._final = False
        self._pieces = 0
        self._chars = 0

    def feed(self, event: Any) -> bool:
        """Note one raw event; never hides it."""
        kind = field(event, "type")
        if kind == "content_block_delta":
            self._pieces += 1
            delta = field(event, "delta")
            text = field(delta, _DELTA_TEXT.get(field(delta, "type"), "text"))
            if type(text) is str:
                self._chars += len(text)
        elif kind == "message_delta":
            self._final = True
            self._merge(field(event, "usage"))
        elif kind == "message_start":
            message = field(event, "message")
            self._id = text_or_none(field(message, "id")) or self._id
            self._model = text_or_none(field(message, "model")) or self._model
            self._merge(field(message, "usage"))
        return False

    def _merge(self, usage: Any) -> None:
        update = usage_dict(usage)
        if update is None:
            return
        if self._usage is None:
            self._usage = update
        else:
            # Counts on message_delta are cumulative: they replace, never add.
            self._usage.update(update)

    def result(self, source: Any) -> Observed | None:
        """The merged usage (a copy); a ``MessageStream`` helper's snapshot when there is one."""
        snapshot = None
        if source is not None and hasattr(source, "current_message_snapshot"):
            try:
                snapshot = source.current_message_snapshot
            except Exception:  # the helper has not seen message_start
                snapshot = None
        final = self._final or field(snapshot, "stop_reason") is not None
        if snapshot is not None:
            observed = message_usage(snapshot)
            if observed is not None:
                if final:
                    return observed
                # The helper may have consumed the events out of sight: read its content.
                chars = self._chars or _snapshot_chars(snapshot)
                usage = partial_usage(observed.usage, "output_tokens", chars, self._pieces)
                return observed._replace(usage=usage)
        if final and self._usage is not None:
            return Observed(dict(self._usage), self._id, self._model)
        if self._usage is None and self._id is None and not self._pieces:
            return None  # nothing came back: no sign that the request was processed
        usage = partial_usage(self._usage, "output_tokens", self._chars, self._pieces)
        missing = None if "input_tokens" in usage else "input_tokens"
        return Observed(usage, self._id, self._model, estimate_input=missing)
