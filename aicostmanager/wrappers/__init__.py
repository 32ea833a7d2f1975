"""LLM SDK wrappers: wrap a provider client and every inference call is tracked.

Provider SDKs are imported only when a wrapper is created (never by ``import aicostmanager``).
One private module per provider: ``_openai`` (OpenAI chat/responses), ``_fireworks``,
``_anthropic``, ``_gemini``, ``_bedrock``, and ``_service`` (any SDK). The machinery they
share is described in ``_base``'s docstring.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._recorder import WrapperStatistics, default_tracker, wrapper_statistics

if TYPE_CHECKING:
    # A type checker sees each wrapper as "client in, same client type out" (_static.pyi).
    from ._static import AnthropicWrapper as AnthropicWrapper
    from ._static import BedrockWrapper as BedrockWrapper
    from ._static import FireworksWrapper as FireworksWrapper
    from ._static import GeminiWrapper as GeminiWrapper
    from ._static import OpenAIChatWrapper as OpenAIChatWrapper
    from ._static import OpenAIResponsesWrapper as OpenAIResponsesWrapper
    from ._static import ServiceWrapper as ServiceWrapper

__all__ = (
    "AnthropicWrapper",
    "BedrockWrapper",
    "FireworksWrapper",
    "GeminiWrapper",
    "OpenAIChatWrapper",
    "OpenAIResponsesWrapper",
    "ServiceWrapper",
    "WrapperStatistics",
    "default_tracker",
    "wrapper_statistics",
)

# Public name -> private module that defines it (imported on first access).
_LAZY = {
    "AnthropicWrapper": "_anthropic",
    "BedrockWrapper": "_bedrock",
    "FireworksWrapper": "_fireworks",
    "GeminiWrapper": "_gemini",
    "OpenAIChatWrapper": "_openai",
    "OpenAIResponsesWrapper": "_openai",
    "ServiceWrapper": "_service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
