# How type checkers see the wrappers: a wrapper has the type of the client it wraps.
#
# At run time each wrapper is a proxy class (see ``_base``) that reports the client's class
# (``isinstance`` holds) and forwards every attribute; to a type checker it is a function
# from the client to the same client type, so calls through it keep the SDK's precise types.

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from ._recorder import TrackerLike

_C = TypeVar("_C")

class _ProviderWrapper(Protocol):
    def __call__(
        self, client: _C, *, tracker: TrackerLike | None = None, vendor: str | None = None
    ) -> _C: ...

OpenAIChatWrapper: _ProviderWrapper
OpenAIResponsesWrapper: _ProviderWrapper
FireworksWrapper: _ProviderWrapper
AnthropicWrapper: _ProviderWrapper
GeminiWrapper: _ProviderWrapper
BedrockWrapper: _ProviderWrapper

def ServiceWrapper(
    client: _C,
    *,
    service_key: str | None = None,
    vendor: str | None = None,
    service: str | None = None,
    tracker: TrackerLike | None = None,
    usage_extractor: Callable[[Any], Mapping[str, Any] | None] | None = None,
    stream_usage_extractor: Callable[[Any], Mapping[str, Any] | None] | None = None,
) -> _C: ...
