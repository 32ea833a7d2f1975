"""``AnthropicWrapper``: the ``anthropic`` SDK (``Anthropic`` / ``AsyncAnthropic``).

Tracked: ``messages.create`` (plain and ``stream=True``), the ``messages.stream()`` helper,
and the same under ``beta.messages``. A stream's usage is ``message_start`` merged with the
cumulative ``message_delta`` (``_usage.anthropic``); the helper is read from its own merged
snapshot, so ``text_stream`` and ``get_final_message()`` need nothing special. Free calls
(``messages.count_tokens()``, ``models.list()``, batches' listing) are not in the table and
pass through untracked.
"""

from __future__ import annotations

from .._usage.anthropic import AnthropicStreamAccumulator, message_usage
from .._usage.estimate import anthropic_input_tokens
from ._base import Endpoint, ProviderSpec, ProviderWrapper

__all__ = ("ANTHROPIC_SPEC", "AnthropicWrapper")


def _accumulator(hide: bool) -> AnthropicStreamAccumulator:
    return AnthropicStreamAccumulator()


_CREATE = Endpoint(extract=message_usage, stream=_accumulator, estimate=anthropic_input_tokens)
_STREAM = Endpoint(kind="manager", stream=_accumulator, estimate=anthropic_input_tokens)

ANTHROPIC_SPEC = ProviderSpec(
    name="anthropic",
    endpoints={
        ("messages", "create"): _CREATE,
        ("messages", "stream"): _STREAM,
        ("beta", "messages", "create"): _CREATE,
        ("beta", "messages", "stream"): _STREAM,
    },
)

# Anthropic models served by other clouds are billed by those clouds.
_CLIENT_VENDORS = {
    "AnthropicBedrock": "amazon-bedrock",
    "AsyncAnthropicBedrock": "amazon-bedrock",
    "AnthropicVertex": "vertex-ai",
    "AsyncAnthropicVertex": "vertex-ai",
}


class AnthropicWrapper(ProviderWrapper):
    """Track every message of an ``anthropic.Anthropic`` or ``anthropic.AsyncAnthropic`` client.

    ::

        client = AnthropicWrapper(AsyncAnthropic(), tracker=tracker)
        with tracking_scope(customer_key="acme"):
            await client.messages.create(model="claude-sonnet-4", max_tokens=512, messages=[...])

    Tracked: ``messages.create`` (plain and ``stream=True``), ``messages.stream()`` (with
    ``text_stream`` / ``get_final_message()``), ``beta.messages.create`` / ``.stream()``, also
    through ``with_options()``. A stream is recorded once: when exhausted, closed, its
    context exited, or abandoned (garbage collected), with the counts seen so far.
    ``count_tokens()`` and ``models.list()`` are never tracked.

    Args:
        client: an ``Anthropic`` / ``AsyncAnthropic`` client (or a wrapper of one).
        tracker: an ``AsyncTracker`` or ``Tracker`` (default: the process's shared tracker).
        vendor: the vendor slug (default ``anthropic``; ``amazon-bedrock`` for
            ``AnthropicBedrock`` clients).

    Raises:
        TypeError: ``client`` has no ``messages`` API, or ``tracker`` is not a tracker.
        ValueError: ``vendor`` is not a slug.
        MissingConfiguration: no ``tracker=`` and no API key for the default tracker.
    """

    __slots__ = ()
    _aicm_spec_default = ANTHROPIC_SPEC
    _aicm_vendor_default = "anthropic"
    _aicm_client_vendors = _CLIENT_VENDORS
    _aicm_requires = "messages"
    _aicm_expects = "an anthropic.Anthropic / AsyncAnthropic client"
