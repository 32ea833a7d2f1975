"""``FireworksWrapper``: the ``fireworks-ai`` SDK (``fireworks.Fireworks`` / ``AsyncFireworks``).

The 1.x SDK is an OpenAI-shaped client (``chat.completions.create``, ``completions.create``);
a stream's last chunk carries ``usage`` without asking, so nothing is added to the request.
An ``openai`` client pointed at ``api.fireworks.ai`` works too (billed as ``fireworks-ai``).
"""

from __future__ import annotations

from typing import Any

from .._usage.estimate import request_input_tokens
from .._usage.openai import ChatStreamAccumulator, chat_usage
from ._base import Endpoint, ProviderSpec, ProviderWrapper, model_from_kwargs
from ._openai import OPENAI_SPEC

__all__ = ("FIREWORKS_SPEC", "FireworksWrapper")

FIREWORKS_VENDOR = "fireworks-ai"


def _fireworks_model(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    # fireworks.LLM-style objects carry their model on the client.
    found = model_from_kwargs(target, args, kwargs)
    if found is None:
        model = getattr(target, "model", None)
        found = model if isinstance(model, str) else None
    return found


def _chunks(hide: bool) -> ChatStreamAccumulator:
    return ChatStreamAccumulator(False)


_CHAT = Endpoint(extract=chat_usage, stream=_chunks, estimate=request_input_tokens)

FIREWORKS_SPEC = ProviderSpec(
    name="fireworks",
    endpoints={
        ("chat", "completions", "create"): _CHAT,
        ("completions", "create"): _CHAT,
    },
    model_of=_fireworks_model,
)


class FireworksWrapper(ProviderWrapper):
    """Track ``chat.completions.create`` and ``completions.create`` of a Fireworks client.

    Accepts ``fireworks.Fireworks`` / ``AsyncFireworks`` (and an ``openai`` client whose
    ``base_url`` points at Fireworks). Events are billed as ``fireworks-ai::<model>``.

    Args:
        client: the Fireworks client (or a wrapper of one).
        tracker: an ``AsyncTracker`` or ``Tracker`` (default: the process's shared tracker).
        vendor: override the vendor slug (default ``fireworks-ai``).

    Raises:
        TypeError: ``tracker`` is not a tracker.
        MissingConfiguration: no ``tracker=`` and no API key for the default tracker.
    """

    __slots__ = ()
    _aicm_spec_default = FIREWORKS_SPEC
    _aicm_vendor_default = FIREWORKS_VENDOR

    def _aicm_spec_of(self, client: Any) -> ProviderSpec:
        module = type(client).__module__.split(".")[0]
        return OPENAI_SPEC if module == "openai" else FIREWORKS_SPEC
