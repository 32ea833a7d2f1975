"""aicostmanager: record the cost of AI/LLM calls, async-native."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._exceptions import (
    AICMError as AICMError,
)
from ._exceptions import (
    APIConnectionError as APIConnectionError,
)
from ._exceptions import (
    APIError as APIError,
)
from ._exceptions import (
    APIRequestError as APIRequestError,
)

try:
    __version__ = version("aicostmanager")
except PackageNotFoundError:  # pragma: no cover
    __version__ = "0.0.0"

__all__ = (
    "AICMError",
    "APIConnectionError",
    "APIError",
    "APIRequestError",
    "__version__",
)
