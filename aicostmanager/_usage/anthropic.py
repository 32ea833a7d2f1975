"""Anthropic usage: a Message, or the raw events of a stream -> the usage payload.

Pure functions over either the SDK's objects or the decoded JSON bodies (no SDK import).
The payload keeps Anthropic's own field names (api-contract §7.3): ``input_tokens``,
``output_tokens``, ``cache_creation_input_tokens``, ``cache_read_input_tokens`` and any newer
field the API adds, with null fields dropped.

A stream reports usage twice: ``message_start`` carries the input and cache counts (and a
placeholder output count), ``message_delta`` carries *cumulative* counts. They are merged, a
later non-null value replacing an earlier one, never added, so nothing is counted twice.
"""

from __future__ import annotations

from typing import Any

from ._common import Observed, field, usage_dict

__all__ = ("AnthropicStreamAccumulator", "message_usage")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def message_usage(message: Any) -> Observed | None:
    """Usage, id and model of a ``Message`` (SDK object or JSON body); None without usage."""
    usage = usage_dict(field(message, "usage"))
    if usage is None:
        return None
    return Observed(usage, _text(field(message, "id")), _text(field(message, "model")))


class AnthropicStreamAccumulator:
    """Merges the usage of one stream's raw events (``message_start``, ``message_delta``).

    Complete once ``message_delta`` has arrived; after only ``message_start`` (a stream broken
    early) it holds the input and cache counts. For the ``messages.stream()`` helper, whose
    ``text_stream`` and ``get_final_message()`` consume events out of the wrapper's sight,
    :meth:`result` reads the helper's own merged snapshot instead.
    """

    __slots__ = ("_id", "_model", "_usage")

    def __init__(self) -> None:
        self._usage: dict[str, Any] | None = None
        self._id: str | None = None
        self._model: str | None = None

    def feed(self, event: Any) -> bool:
        """Note one raw event; never hides it."""
        kind = field(event, "type")
        if kind == "message_delta":
            self._merge(field(event, "usage"))
        elif kind == "message_start":
            message = field(event, "message")
            self._id = _text(field(message, "id")) or self._id
            self._model = _text(field(message, "model")) or self._model
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
        if snapshot is not None:
            observed = message_usage(snapshot)
            if observed is not None:
                return observed
        if self._usage is None:
            return None if self._id is None else Observed(None, self._id, self._model)
        return Observed(dict(self._usage), self._id, self._model)
