"""OpenTelemetry: a span processor that records every GenAI model-call span as a usage event.

Usage::

    from opentelemetry.sdk.trace import TracerProvider
    from aicostmanager.integrations.otel import AICMSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(AICMSpanProcessor())  # tracker=None: the process's tracker

Any instrumentation that follows the GenAI semantic conventions works: the official
``opentelemetry-instrumentation-openai-v2``, PydanticAI's ``instrument=True``, Logfire,
OpenLIT, OpenLLMetry. Which attributes are read is described in
``aicostmanager._usage.genai``; spans without GenAI token counts cost one dictionary look-up.

Customer and context, first found wins: the span's ``aicm.customer_key`` attribute, the
``aicm.customer_key`` baggage entry, the ``tracking_scope`` in force when the span started.
Context: ``aicm.context.<name>`` attributes and baggage entries, over the scope's context.
The event's ``response_id`` is ``gen_ai.response.id``, else ``otel-<trace id>-<span id>``.

Install with ``pip install 'aicostmanager[otel]'``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ._extra import requires_extra

with requires_extra("otel", "the OpenTelemetry SDK", "otel"):
    from opentelemetry import baggage
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from .._scope import Scope, current_scope
from .._seen import in_wrapper
from .._usage.genai import (
    CONTEXT_PREFIX,
    CUSTOMER_KEY,
    genai_call,
    scope_attributes,
    span_response_id,
)
from ._emit import Emitter, merged_context

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from ..wrappers._recorder import TrackerLike

__all__ = ("AICMSpanProcessor",)

_EMPTY_SCOPE = Scope(None, None)


def _baggage_scope(parent_context: Context | None) -> Scope | None:
    entries = baggage.get_all(parent_context)
    if not entries:
        return None
    wanted = {
        name: value
        for name, value in entries.items()
        if name == CUSTOMER_KEY or name.startswith(CONTEXT_PREFIX)
    }
    if not wanted:
        return None
    customer, context = scope_attributes(wanted)
    return Scope(customer, context)


class AICMSpanProcessor(SpanProcessor):
    """Turns each finished GenAI model-call span into one ``track_nowait()`` call.

    It runs in the thread that ends the span, never blocks and never raises into the host
    (failures are logged and counted in ``wrapper_statistics()``). Agent, tool and workflow
    spans (totals of the calls beneath them) are not counted. A provider call already
    recorded by a wrapper in this process is skipped (the wrapper's usage is complete).

    Args:
        tracker: the ``AsyncTracker`` or ``Tracker`` to record on (default: the process's
            shared tracker, created from the environment).

    Raises:
        TypeError: ``tracker`` is not a tracker.
        MissingConfiguration: no tracker was given and no API key is configured.
    """

    def __init__(self, tracker: TrackerLike | None = None) -> None:
        self._emitter = Emitter(tracker)
        # span id -> the scope (tracking_scope, then baggage) when the span started; only
        # spans started inside a scope or with aicm baggage get an entry.
        self._scopes: dict[int, tuple[Scope, Scope | None]] = {}
        self._wrapped: set[int] = set()
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Remember the tracking scope and the ``aicm`` baggage the span starts in."""
        try:
            if in_wrapper.get():  # an AICM wrapper records this call, with complete usage
                span_context = span.get_span_context()
                with self._lock:
                    self._wrapped.add(span_context.span_id)
                return
            scope = current_scope()
            from_baggage = _baggage_scope(parent_context)
            if scope == _EMPTY_SCOPE and from_baggage is None:
                return
            span_context = span.get_span_context()
            if span_context is not None:
                with self._lock:
                    self._scopes[span_context.span_id] = (scope, from_baggage)
        except Exception:  # pragma: no cover - never break the host's tracing
            return

    def on_end(self, span: ReadableSpan) -> None:
        """Record the span when it describes a model call; never raises."""
        try:
            self._record(span)
        except Exception:  # pragma: no cover - never break the host's tracing
            return

    def _record(self, span: ReadableSpan) -> None:
        span_context = span.context
        captured = None
        if (self._scopes or self._wrapped) and span_context is not None:
            span_id = span_context.span_id
            with self._lock:
                captured = self._scopes.pop(span_id, None)
                if span_id in self._wrapped:
                    self._wrapped.discard(span_id)
                    return
        attributes = span.attributes
        if not attributes:
            return
        call = genai_call(attributes)
        if call is None:
            return
        response_id = call.response_id
        if response_id is None and span_context is not None:
            response_id = span_response_id(span_context.trace_id, span_context.span_id)
        customer, context = call.customer_key, call.context
        scope, from_baggage = captured if captured is not None else (None, None)
        if from_baggage is not None:
            customer = customer or from_baggage.customer_key
            context = merged_context(from_baggage.context, context)
        end = span.end_time
        self._emitter.emit(
            call.service_key,
            call.usage,
            response_id,
            scope=scope,
            customer_key=customer,
            context=context,
            timestamp=end / 1e9 if end else None,
        )

    def shutdown(self) -> None:
        """Nothing to release (the tracker belongs to the application)."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: events are already with the tracker."""
        return True
