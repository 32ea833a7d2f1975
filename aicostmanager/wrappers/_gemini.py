"""``GeminiWrapper``: the ``google-genai`` SDK (``genai.Client``, sync and ``client.aio``).

Tracked: ``models.generate_content``, ``models.generate_content_stream`` and
``models.embed_content``, on ``client.models`` and ``client.aio.models``. A stream's usage is
the last ``usage_metadata`` seen: the finish chunk's complete counts (``_usage.gemini``).
Events are billed as ``google::<model>`` (a ``models/`` prefix is dropped).
"""

from __future__ import annotations

from typing import Any

from .._usage.gemini import GeminiStreamAccumulator, gemini_usage
from ._base import ClientProxy, Endpoint, ProviderSpec, model_from_kwargs, unwrap_client
from ._openai import check_vendor
from ._recorder import Recorder, TrackerLike

__all__ = ("GEMINI_SPEC", "GeminiWrapper")


def _model(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    model = model_from_kwargs(target, args, kwargs)
    if model is not None and model.startswith("models/"):
        model = model[len("models/") :]
    return model


def _accumulator(hide: bool) -> GeminiStreamAccumulator:
    return GeminiStreamAccumulator()


_GENERATE = Endpoint(extract=gemini_usage, kind="plain")
_STREAM = Endpoint(kind="stream", stream=_accumulator)
_EMBED = Endpoint(extract=gemini_usage, kind="plain")

GEMINI_SPEC = ProviderSpec(
    name="gemini",
    endpoints={
        (*prefix, "models", name): endpoint
        for prefix in ((), ("aio",))
        for name, endpoint in (
            ("generate_content", _GENERATE),
            ("generate_content_stream", _STREAM),
            ("embed_content", _EMBED),
        )
    },
    model_of=_model,
)


class GeminiWrapper(ClientProxy):
    """Track the generate and embed calls of a ``google.genai.Client`` (sync and ``aio``).

    ::

        client = GeminiWrapper(genai.Client(), tracker=tracker)
        with tracking_scope(customer_key="acme"):
            await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")

    Tracked: ``models.generate_content``, ``models.generate_content_stream``,
    ``models.embed_content`` and their ``client.aio.models`` twins. Not tracked: chat
    sessions (``client.chats``), which call the SDK's unwrapped modules, and the other
    services (files, caches, tunings, live).

    Args:
        client: a ``genai.Client`` (or a wrapper of one).
        tracker: an ``AsyncTracker`` or ``Tracker`` (default: the process's shared tracker).
        vendor: the vendor slug (default ``google``).

    Raises:
        TypeError: ``client`` has no ``models`` API, or ``tracker`` is not a tracker.
        ValueError: ``vendor`` is not a slug.
        MissingConfiguration: no ``tracker=`` and no API key for the default tracker.
    """

    __slots__ = ()

    def __init__(
        self, client: Any, *, tracker: TrackerLike | None = None, vendor: str | None = None
    ) -> None:
        client = unwrap_client(client)
        if not hasattr(client, "models"):
            raise TypeError(f"expected a google.genai.Client, got {type(client)!r}")
        resolved = check_vendor(vendor) if vendor is not None else "google"
        ClientProxy.__init__(self, client, GEMINI_SPEC, Recorder(tracker, resolved))
