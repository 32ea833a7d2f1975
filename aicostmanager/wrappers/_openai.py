"""``OpenAIChatWrapper`` and ``OpenAIResponsesWrapper``: the ``openai`` SDK, sync and async.

Both wrappers track the same table (chat completions, responses, embeddings, legacy
completions); the two names are kept from the 0.3 SDK. The vendor comes from the client's
``base_url`` (see ``vendor_for_base_url``); an unknown base URL needs ``vendor=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .._exceptions import ConfigurationError
from .._service_key import check_vendor
from .._usage.estimate import request_input_tokens
from .._usage.openai import (
    ChatStreamAccumulator,
    ChatStreamHelperAccumulator,
    ResponsesStreamAccumulator,
    chat_usage,
    embeddings_usage,
    responses_usage,
)
from ._base import Endpoint, ProviderSpec, ProviderWrapper

__all__ = (
    "OPENAI_SPEC",
    "OpenAIChatWrapper",
    "OpenAIResponsesWrapper",
    "resolve_openai_vendor",
    "vendor_for_base_url",
)

# (host suffix, vendor slug): the first match wins; a suffix matches the host or a subdomain.
_HOST_VENDORS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure-openai"),
    ("cognitiveservices.azure.com", "azure-openai"),
    ("services.ai.azure.com", "azure-openai"),
    ("fireworks.ai", "fireworks-ai"),
    ("x.ai", "xai"),
    ("deepseek.com", "deepseek"),
    ("together.xyz", "together-ai"),
    ("together.ai", "together-ai"),
    ("groq.com", "groq"),
    ("openrouter.ai", "openrouter"),
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
# Default ports of local OpenAI-compatible servers.
_LOCAL_PORTS = {11434: "ollama", 8000: "vllm"}


def vendor_for_base_url(base_url: Any) -> str | None:
    """The vendor slug of an OpenAI-compatible ``base_url`` (None: unknown).

    ``api.openai.com`` → ``openai``; Azure OpenAI → ``azure-openai``; Fireworks →
    ``fireworks-ai``; xAI → ``xai``; DeepSeek → ``deepseek``; Together → ``together-ai``;
    Groq → ``groq``; OpenRouter → ``openrouter``; ``localhost:11434`` → ``ollama``;
    ``localhost:8000`` → ``vllm``.
    """
    try:
        parts = urlsplit(str(base_url))
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    for suffix, vendor in _HOST_VENDORS:
        if host == suffix or host.endswith("." + suffix):
            return vendor
    if host in _LOCAL_HOSTS and port in _LOCAL_PORTS:
        return _LOCAL_PORTS[port]
    return None


def _include_usage(kwargs: dict[str, Any], always: bool = False) -> dict[str, Any] | None:
    """Ask a chat stream for its usage chunk: the arguments with the request added (a copy),
    or None when there is nothing to add.

    A caller's own ``stream_options.include_usage`` (True or False) is never overridden.
    """
    if not always and kwargs.get("stream") is not True:
        return None
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping) and "include_usage" in options:
        return None
    merged = dict(options) if isinstance(options, Mapping) else {}
    merged["include_usage"] = True
    return {**kwargs, "stream_options": merged}


def _refused_stream_options(exc: BaseException) -> bool:
    """A 400/422 whose message names the ``stream_options`` the wrapper added."""
    if getattr(exc, "status_code", None) not in (400, 422):
        return False
    text = f"{exc} {getattr(exc, 'body', '')}"
    return "stream_options" in text or "include_usage" in text


def _include_usage_helper(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    return _include_usage(kwargs, always=True)


def _chat_stream(hide: bool) -> ChatStreamAccumulator:
    return ChatStreamAccumulator(hide)


def _chat_helper(hide: bool) -> ChatStreamHelperAccumulator:
    return ChatStreamHelperAccumulator(hide)


def _responses_stream(hide: bool) -> ResponsesStreamAccumulator:
    return ResponsesStreamAccumulator()


_CHAT = Endpoint(
    extract=chat_usage,
    stream=_chat_stream,
    prepare=_include_usage,
    refused=_refused_stream_options,
    estimate=request_input_tokens,
)
_CHAT_PARSE = Endpoint(extract=chat_usage, kind="plain")
_CHAT_HELPER = Endpoint(
    kind="manager",
    stream=_chat_helper,
    prepare=_include_usage_helper,
    refused=_refused_stream_options,
    estimate=request_input_tokens,
)
_RESPONSES = Endpoint(
    extract=responses_usage, stream=_responses_stream, estimate=request_input_tokens
)
_RESPONSES_PARSE = Endpoint(extract=responses_usage, kind="plain")
_RESPONSES_HELPER = Endpoint(
    kind="manager", stream=_responses_stream, estimate=request_input_tokens
)

OPENAI_SPEC = ProviderSpec(
    name="openai",
    endpoints={
        ("chat", "completions", "create"): _CHAT,
        ("chat", "completions", "parse"): _CHAT_PARSE,
        ("chat", "completions", "stream"): _CHAT_HELPER,
        ("beta", "chat", "completions", "parse"): _CHAT_PARSE,
        ("beta", "chat", "completions", "stream"): _CHAT_HELPER,
        ("completions", "create"): _CHAT,
        ("responses", "create"): _RESPONSES,
        ("responses", "parse"): _RESPONSES_PARSE,
        ("responses", "stream"): _RESPONSES_HELPER,
        ("embeddings", "create"): Endpoint(extract=embeddings_usage, kind="plain"),
    },
)


def resolve_openai_vendor(client: Any, vendor: str | None) -> str:
    """``vendor`` if given, else the vendor of the client's ``base_url``.

    Raises:
        TypeError: the client has no ``base_url`` (not an OpenAI-compatible client).
        ConfigurationError: the base URL is unknown and no ``vendor=`` was given.
    """
    if vendor is not None:
        return check_vendor(vendor)
    base_url = getattr(client, "base_url", None)
    if base_url is None:
        raise TypeError(f"expected an openai.OpenAI / AsyncOpenAI client, got {type(client)!r}")
    if type(client).__name__ in {"AzureOpenAI", "AsyncAzureOpenAI"}:
        return "azure-openai"
    found = vendor_for_base_url(base_url)
    if found is None:
        raise ConfigurationError(
            "vendor",
            f"unknown OpenAI-compatible base_url {str(base_url)!r}: pass vendor= "
            "(e.g. vendor='openai') so its calls are billed to the right provider",
        )
    return found


class OpenAIChatWrapper(ProviderWrapper):
    """Track every inference call of an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client.

    ::

        client = OpenAIChatWrapper(AsyncOpenAI(), tracker=tracker)
        with tracking_scope(customer_key="acme"):
            await client.chat.completions.create(model="gpt-5-mini", messages=[...])

    Tracked: ``chat.completions.create`` (plain and ``stream=True``), ``.parse``,
    ``.stream()``, ``responses.create`` / ``.parse`` / ``.stream()``, ``embeddings.create``,
    ``completions.create``, also through ``with_options()`` and ``with_raw_response``.
    Everything else passes through untouched; results are the SDK's own objects.

    Args:
        client: an ``OpenAI`` / ``AsyncOpenAI`` / ``AzureOpenAI`` client (or a wrapper of one).
        tracker: an ``AsyncTracker`` or ``Tracker`` (default: the process's shared tracker).
        vendor: the vendor slug; required when the ``base_url`` is not a known provider.

    Raises:
        ConfigurationError: unknown ``base_url`` and no ``vendor=``.
        TypeError: ``client`` is not an OpenAI-compatible client, or ``tracker`` is not a
            tracker.
        MissingConfiguration: no ``tracker=`` and no API key for the default tracker.
    """

    __slots__ = ()
    _aicm_spec_default = OPENAI_SPEC
    _aicm_model_first = frozenset({"azure-openai"})

    def _aicm_vendor_of(self, client: Any) -> str:
        return resolve_openai_vendor(client, None)


class OpenAIResponsesWrapper(OpenAIChatWrapper):
    """The same wrapper under its 0.3 name for the Responses API (see ``OpenAIChatWrapper``)."""

    __slots__ = ()
