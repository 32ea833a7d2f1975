"""OpenAI Agents SDK: a tracing processor that records every model response of an agent run.

Usage::

    import agents
    from aicostmanager.integrations.openai_agents import AICMTracingProcessor

    agents.add_trace_processor(AICMTracingProcessor())  # tracker=None: the process's tracker

One event per model response: a ``response`` span (Responses API models: the response's own
usage, id and model) or a ``generation`` span (Chat Completions models: the span's usage and
model; the provider's id is not on the span, so the event is keyed ``agents-<span id>``).
Agent, tool, handoff and guardrail spans cost nothing. A chat-completions stream reports usage
only when asked: the SDK asks by itself for OpenAI's own endpoint only; elsewhere set
``ModelSettings(include_usage=True)`` (a call without usage is logged, not recorded as zero).

Customer: the trace's ``metadata["customer_key"]`` (``RunConfig(trace_metadata=...)``), else
the ``tracking_scope`` in force when the model call started. Calls made through an AICM-wrapped
client (``agents.set_default_openai_client(OpenAIResponsesWrapper(...))``) are recorded once,
by the wrapper, with the provider's full usage.

Install with ``pip install 'aicostmanager[openai-agents]'``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ._extra import requires_extra

with requires_extra("openai_agents", "the OpenAI Agents SDK", "openai-agents"):
    from agents.tracing import TracingProcessor
    from agents.tracing.span_data import GenerationSpanData, ResponseSpanData

from .. import _seen
from .._scope import Scope, current_scope
from .._service_key import check_vendor
from .._usage import usage_dict
from .._usage.openai import responses_usage
from ._emit import Emitter, logger

if TYPE_CHECKING:
    from agents.tracing import Span, Trace

    from ..wrappers._recorder import TrackerLike

__all__ = ("AICMTracingProcessor",)


class _Started(NamedTuple):
    scope: Scope
    wrapper_records: int


_MODEL_SPANS: dict[type, bool] = {}
"""Per span-data class: whether it is a model call (``isinstance`` against the SDK's ABCs once
per class, rather than on every span)."""


def _is_model_span(data: Any) -> bool:
    kind = type(data)
    known = _MODEL_SPANS.get(kind)
    if known is None:
        known = isinstance(data, (ResponseSpanData, GenerationSpanData))
        if len(_MODEL_SPANS) < 256:
            _MODEL_SPANS[kind] = known
    return known


class AICMTracingProcessor(TracingProcessor):
    """Records one usage event per model response of the OpenAI Agents SDK.

    Args:
        tracker: the ``AsyncTracker`` or ``Tracker`` to record on (default: the process's
            shared tracker, created from the environment).
        vendor: the vendor slug of the models the agents call (default ``openai``; e.g.
            ``azure-openai`` for an Azure client).

    Raises:
        TypeError: ``tracker`` is not a tracker, or ``vendor`` is not a string.
        ValueError: ``vendor`` is not a slug.
        MissingConfiguration: no tracker was given and no API key is configured.
    """

    def __init__(self, tracker: TrackerLike | None = None, *, vendor: str = "openai") -> None:
        self._vendor = check_vendor(vendor)
        self._emitter = Emitter(tracker)
        self._customers: dict[str, str] = {}  # trace id -> metadata customer_key
        self._started: dict[str, _Started] = {}  # model span id -> what its start saw
        self._lock = threading.Lock()

    def on_trace_start(self, trace: Trace) -> None:
        """Note the trace's ``metadata["customer_key"]``."""
        metadata = getattr(trace, "metadata", None)
        customer = metadata.get("customer_key") if isinstance(metadata, Mapping) else None
        if isinstance(customer, str) and customer:
            with self._lock:
                self._customers[trace.trace_id] = customer

    def on_trace_end(self, trace: Trace) -> None:
        """Forget the trace."""
        with self._lock:
            self._customers.pop(trace.trace_id, None)

    def on_span_start(self, span: Span[Any]) -> None:
        """Capture the tracking scope where a model call starts."""
        if _is_model_span(span.span_data):
            started = _Started(current_scope(), _seen.wrapper_records.get())
            with self._lock:
                self._started[span.span_id] = started

    def on_span_end(self, span: Span[Any]) -> None:
        """Record a finished model span; never raises."""
        data = span.span_data
        if not _is_model_span(data):
            return
        with self._lock:
            started = self._started.pop(span.span_id, None)
            customer = self._customers.get(span.trace_id)
        try:
            self._record(span, data, started, customer)
        except Exception:  # pragma: no cover - never break the host's agent
            return

    def _record(
        self,
        span: Span[Any],
        data: ResponseSpanData | GenerationSpanData,
        started: _Started | None,
        customer: str | None,
    ) -> None:
        usage: dict[str, Any] | None
        if isinstance(data, ResponseSpanData):
            observed = responses_usage(data.response) if data.response is not None else None
            if observed is None or observed.usage is None:
                return
            usage, response_id, model = observed.usage, observed.response_id, observed.model
        else:
            usage = usage_dict(data.usage)
            if usage is None:
                return
            usage.pop("requests", None)
            if not usage.get("input_tokens") and not usage.get("output_tokens"):
                # A stream without usage (a non-OpenAI base_url gets no include_usage by
                # default): recording zero would under-bill in silence.
                logger.warning(
                    "aicostmanager: an Agents SDK model call reported no token usage and was "
                    "not tracked; set ModelSettings(include_usage=True) for streamed calls"
                )
                return
            if started is not None and _seen.wrapper_records.get() > started.wrapper_records:
                return  # a wrapped client recorded this call under the provider's id
            response_id, model = f"agents-{span.span_id}", data.model
        self._emitter.emit(
            f"{self._vendor}::{model or 'unknown-model'}",
            usage,
            response_id,
            scope=started.scope if started is not None else None,
            customer_key=customer,
        )

    def shutdown(self) -> None:
        """Nothing to release (the tracker belongs to the application)."""

    def force_flush(self) -> None:
        """Nothing is buffered here: events are already with the tracker."""
