"""``GeminiWrapper``: the ``google-genai`` SDK (``genai.Client``, sync and ``client.aio``).

Tracked: ``models.generate_content``, ``models.generate_content_stream`` and
``models.embed_content``, on ``client.models`` and ``client.aio.models``, and the messages of
chat sessions (``chats.create(...).send_message`` / ``send_message_stream``). A stream's usage is
the last ``usage_metadata`` seen: the finish chunk's complete counts (``_usage.gemini``).
Events are billed as ``google::<model>`` (a ``models/`` prefix is dropped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._usage.estimate import gemini_input_tokens
from .._usage.gemini import GeminiStreamAccumulator, gemini_usage
from ._base import ClientProxy, Endpoint, ProviderSpec, ProviderWrapper, model_from_kwargs

if TYPE_CHECKING:
    from ._recorder import Call

__all__ = ("GEMINI_SPEC", "GeminiWrapper")


def _model(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    model = model_from_kwargs(target, args, kwargs)
    if model is not None and model.startswith("models/"):
        model = model[len("models/") :]
    return model


def _accumulator(hide: bool) -> GeminiStreamAccumulator:
    return GeminiStreamAccumulator()


_GENERATE = Endpoint(extract=gemini_usage, kind="plain")
_STREAM = Endpoint(kind="stream", stream=_accumulator, estimate=gemini_input_tokens)
_EMBED = Endpoint(extract=gemini_usage, kind="plain")


def _chat_spec(model: str | None) -> ProviderSpec:
    """The table of one chat session: its messages, billed to the session's model."""

    def model_of(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        return model

    return ProviderSpec(
        name="gemini-chat",
        endpoints={("send_message",): _GENERATE, ("send_message_stream",): _STREAM},
        model_of=model_of,
    )


def _chat_created(result: Any, call: Call, prepared: bool) -> Any:
    # Creating a session sends nothing: no event; its messages are tracked instead (the SDK's
    # Chat calls the unwrapped models module, so nothing is counted twice).
    call.done = True
    return ClientProxy(result, _chat_spec(call.model), call.recorder)


_CHATS = Endpoint(on_result=_chat_created)

GEMINI_SPEC = ProviderSpec(
    name="gemini",
    endpoints={
        **{
            (*prefix, "models", name): endpoint
            for prefix in ((), ("aio",))
            for name, endpoint in (
                ("generate_content", _GENERATE),
                ("generate_content_stream", _STREAM),
                ("embed_content", _EMBED),
            )
        },
        ("chats", "create"): _CHATS,
        ("aio", "chats", "create"): _CHATS,
    },
    model_of=_model,
)


class GeminiWrapper(ProviderWrapper):
    """Track the generate and embed calls of a ``google.genai.Client`` (sync and ``aio``).

    ::

        client = GeminiWrapper(genai.Client(), tracker=tracker)
        with tracking_scope(customer_key="acme"):
            await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")

    Tracked: ``models.generate_content``, ``models.generate_content_stream``,
    ``models.embed_content``, their ``client.aio.models`` twins, and ``send_message`` /
    ``send_message_stream`` of chat sessions from ``chats.create()`` / ``aio.chats.create()``.
    Not tracked: the other services (files, caches, tunings, batches, live).

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
    _aicm_spec_default = GEMINI_SPEC
    _aicm_vendor_default = "google"
    _aicm_requires = "models"
    _aicm_expects = "a google.genai.Client"
