"""``AnthropicWrapper``: the ``anthropic`` SDK (``Anthropic`` / ``AsyncAnthropic``).

Tracked: ``messages.create`` (plain and ``stream=True``), the ``messages.stream()`` helper,
and the same under ``beta.messages``. A stream's usage is ``message_start`` merged with the
cumulative ``message_delta`` (``_usage.anthropic``). The helper's own snapshot keeps only the
usage fields its SDK version knows (``iterations`` is dropped), so the helper's raw event
stream is tapped instead: whatever consumes it (iteration, ``text_stream``,
``get_final_message()``), the raw events feed the accumulator, and the usage is the same as
the ``stream=True`` path's. Free calls
(``messages.count_tokens()``, ``models.list()``, batches' listing) are not in the table and
pass through untracked.
"""

from __future__ import annotations

import inspect
from typing import Any

from .._usage.anthropic import AnthropicStreamAccumulator, message_usage
from .._usage.estimate import anthropic_input_tokens
from ._base import Endpoint, ProviderSpec, ProviderWrapper
from ._recorder import Call
from ._stream import AsyncManagerProxy, AsyncStreamProxy, ManagerProxy, StreamProxy

__all__ = ("ANTHROPIC_SPEC", "AnthropicWrapper")


def _accumulator(hide: bool) -> AnthropicStreamAccumulator:
    return AnthropicStreamAccumulator()


_CREATE = Endpoint(extract=message_usage, stream=_accumulator, estimate=anthropic_input_tokens)
# The helper manager keeps the request it sends on entry under this (name-mangled) attribute.
_REQUEST_SUFFIX = "__api_request"


def _tap_helper(manager: Any, call: Call, prepared: bool) -> Any:
    """Feed the helper's raw event stream to an accumulator; the raw stream records.

    Falls back to reading the helper's snapshot on exit when the manager does not keep its
    request where this SDK version does.
    """
    acc = AnthropicStreamAccumulator()
    names = [n for n in vars(manager) if n.endswith(_REQUEST_SUFFIX)]
    if len(names) != 1:
        if hasattr(manager, "__aenter__"):
            return AsyncManagerProxy(manager, acc, call)
        return ManagerProxy(manager, acc, call)
    name = names[0]
    request = getattr(manager, name)
    if inspect.isawaitable(request):

        async def tapped() -> Any:
            return AsyncStreamProxy(await request, acc, call)

        setattr(manager, name, tapped())
    else:

        def tapped_sync() -> Any:
            return StreamProxy(request(), acc, call)

        setattr(manager, name, tapped_sync)
    return manager


_STREAM = Endpoint(on_result=_tap_helper, estimate=anthropic_input_tokens)

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
