"""GenAI semantic-convention attributes (OpenTelemetry) -> one usage event.

Pure functions over a mapping of span attributes, shared by the SDK's span processor and the
local server's OTLP endpoint. Both the current attribute names and the previous ones are read:

==========================  ==================================================================
usage key (genai-prices)    span attributes, first found wins
==========================  ==================================================================
``input_tokens``            ``gen_ai.usage.input_tokens``, ``gen_ai.usage.prompt_tokens``
``output_tokens``           ``gen_ai.usage.output_tokens``, ``gen_ai.usage.completion_tokens``
``cache_read_tokens``       ``gen_ai.usage.cache_read.input_tokens``,
                            ``gen_ai.usage.cache_read_input_tokens``,
                            ``gen_ai.usage.input_tokens.cached``
``cache_write_tokens``      ``gen_ai.usage.cache_creation.input_tokens``,
                            ``gen_ai.usage.cache_creation_input_tokens``,
                            ``gen_ai.usage.cache_write.input_tokens``,
                            ``gen_ai.usage.input_tokens.cache_write``
``output_tokens_details``   ``{"reasoning_tokens": n}`` from
                            ``gen_ai.usage.reasoning.output_tokens``,
                            ``gen_ai.usage.reasoning_tokens``,
                            ``gen_ai.usage.output_tokens.reasoning``
==========================  ==================================================================

Per the conventions ``input_tokens`` counts cached tokens too, which is genai-prices' meaning.
The vendor comes from ``gen_ai.provider.name`` (or ``gen_ai.system``), the model from
``gen_ai.request.model`` (else ``gen_ai.response.model``, as the wrappers do), the response id
from ``gen_ai.response.id``. A span is a model call when it has a provider, a model and at least
one token count, and its ``gen_ai.operation.name`` is not an agent, tool or workflow operation
(those spans carry totals of the model calls beneath them: counting them would double-count).

Customer and context: ``aicm.customer_key`` and ``aicm.context.<name>`` attributes (the span
processor also reads them from baggage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ._common import genai_usage, token_count

__all__ = (
    "CONTEXT_PREFIX",
    "CUSTOMER_KEY",
    "GenAICall",
    "genai_call",
    "richness",
    "scope_attributes",
    "span_response_id",
    "vendor_slug",
)

CUSTOMER_KEY = "aicm.customer_key"
"""Span attribute / baggage entry naming the customer of a model call."""
CONTEXT_PREFIX = "aicm.context."
"""Prefix of span attributes / baggage entries copied into the event's context."""

_INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
_OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
_CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.input_tokens.cached",
)
_CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.input_tokens.cache_write",
)
_REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.output_tokens.reasoning",
)
_NOT_MODEL_CALLS = frozenset(
    {"invoke_agent", "create_agent", "execute_tool", "invoke_workflow", "agent", "tool"}
)

# gen_ai.provider.name / gen_ai.system / LiteLLM / LangChain provider names -> our vendor slugs
# (slugs that are already ours are not listed).
_VENDORS: dict[str, str] = {
    "aws.bedrock": "amazon-bedrock",
    "bedrock": "amazon-bedrock",
    "bedrock_converse": "amazon-bedrock",
    "amazon_bedrock": "amazon-bedrock",
    "azure.ai.openai": "azure-openai",
    "az.ai.openai": "azure-openai",
    "azure": "azure-openai",
    "azure_openai": "azure-openai",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "google_genai": "google",
    "google_gemini": "google",
    "gcp.vertex_ai": "vertex-ai",
    "vertex_ai": "vertex-ai",
    "vertexai": "vertex-ai",
    "google_vertexai": "vertex-ai",
    "mistral_ai": "mistralai",
    "mistral": "mistralai",
    "x_ai": "xai",
    "fireworks_ai": "fireworks-ai",
    "fireworks": "fireworks-ai",
    "together_ai": "together-ai",
    "together": "together-ai",
}


class GenAICall(NamedTuple):
    """One model call read from GenAI attributes.

    Attributes:
        service_key: ``vendor::model``.
        usage: the usage payload (genai-prices keys, see the module docstring).
        response_id: the provider's response id (None when the span did not carry one).
        customer_key: the ``aicm.customer_key`` attribute (None when absent).
        context: the ``aicm.context.*`` attributes, prefix removed (None when absent).
    """

    service_key: str
    usage: dict[str, Any]
    response_id: str | None
    customer_key: str | None = None
    context: dict[str, Any] | None = None


def vendor_slug(provider: str) -> str:
    """Our vendor slug for a provider name of OpenTelemetry, LiteLLM or LangChain.

    Unknown names are lower-cased, with ``.``, ``_`` and spaces turned into ``-``.
    """
    name = provider.strip().lower()
    known = _VENDORS.get(name)
    if known is not None:
        return known
    return name.replace(".", "-").replace("_", "-").replace(" ", "-")


def _text(attributes: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# attribute name -> (usage key, rank): the lowest rank present wins (current names first)
_USAGE_ATTRIBUTES: dict[str, tuple[str, int]] = {
    name: (key, rank)
    for key, names in (
        ("input_tokens", _INPUT),
        ("output_tokens", _OUTPUT),
        ("cache_read_tokens", _CACHE_READ),
        ("cache_write_tokens", _CACHE_WRITE),
        ("reasoning_tokens", _REASONING),
    )
    for rank, name in enumerate(names)
}


def genai_call(attributes: Mapping[str, Any]) -> GenAICall | None:
    """The model call described by a span's attributes (None: not a model call).

    One pass over the attributes: spans are many, and most are not model calls.
    """
    attrs = attributes if type(attributes) is dict else dict(attributes)
    if attrs.get("gen_ai.operation.name") in _NOT_MODEL_CALLS:
        return None
    found: dict[str, tuple[int, int]] = {}
    customer: Any = None
    context: dict[str, Any] | None = None
    usage_attributes = _USAGE_ATTRIBUTES
    for name, value in attrs.items():
        slot = usage_attributes.get(name)
        if slot is not None:
            count = token_count(value)  # OTLP/JSON sends int64 as text
            if count is not None:
                key, rank = slot
                previous = found.get(key)
                if previous is None or rank < previous[0]:
                    found[key] = (rank, count)
        elif name[:5] == "aicm.":
            if name == CUSTOMER_KEY:
                customer = value
            elif name.startswith(CONTEXT_PREFIX) and len(name) > len(CONTEXT_PREFIX):
                if context is None:
                    context = {}
                context[name[len(CONTEXT_PREFIX) :]] = value
    counts = {key: count for key, (_, count) in found.items()}
    usage = genai_usage(
        counts.get("input_tokens"),
        counts.get("output_tokens"),
        cache_read_tokens=counts.get("cache_read_tokens"),
        cache_write_tokens=counts.get("cache_write_tokens"),
        reasoning_tokens=counts.get("reasoning_tokens"),
    )
    if usage is None:
        return None
    provider = _text(attrs, "gen_ai.provider.name", "gen_ai.system")
    model = _text(attrs, "gen_ai.request.model", "gen_ai.response.model")
    if provider is None or model is None:
        return None
    return GenAICall(
        f"{vendor_slug(provider)}::{model}",
        usage,
        _text(attrs, "gen_ai.response.id"),
        customer if isinstance(customer, str) and customer else None,
        context,
    )


def span_response_id(trace_id: int, span_id: int) -> str:
    """The event id of a span without ``gen_ai.response.id``: ``otel-<trace id>-<span id>``."""
    return f"otel-{trace_id:032x}-{span_id:016x}"


def scope_attributes(
    attributes: Mapping[str, Any],
) -> tuple[str | None, dict[str, Any] | None]:
    """``aicm.customer_key`` and the ``aicm.context.*`` entries of a mapping."""
    customer = attributes.get(CUSTOMER_KEY)
    context: dict[str, Any] | None = None
    for name, value in attributes.items():
        if name.startswith(CONTEXT_PREFIX) and len(name) > len(CONTEXT_PREFIX):
            if context is None:
                context = {}
            context[name[len(CONTEXT_PREFIX) :]] = value
    return (customer if isinstance(customer, str) and customer else None), context


def richness(usage: Mapping[str, Any] | None) -> int:
    """How complete a usage payload is: the number of its non-null leaf values."""
    if not usage:
        return 0
    total = 0
    for value in usage.values():
        kind = type(value)
        # Exact type checks first: wrappers score every call, and Mapping's ABC check is slow.
        if kind is int or kind is str or kind is float or kind is bool:
            total += 1
        elif kind is dict or (kind is not list and isinstance(value, Mapping)):
            total += richness(value)
        elif kind is list or isinstance(value, list):
            total += len(value)
        elif value is not None:
            total += 1
    return total
