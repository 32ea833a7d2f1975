"""aicostmanager: record the cost of AI/LLM calls and report it to AICostManager.

Async-native: ``AsyncTracker`` and ``AsyncCostManagerClient`` are the implementation;
``Tracker`` and ``CostManagerClient`` are their blocking twins.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._client import AsyncCostManagerClient as AsyncCostManagerClient
from ._exceptions import AICMError as AICMError
from ._exceptions import APIConnectionError as APIConnectionError
from ._exceptions import APIError as APIError
from ._exceptions import APIRequestError as APIRequestError
from ._exceptions import APIResponseValidationError as APIResponseValidationError
from ._exceptions import APITimeoutError as APITimeoutError
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import BadRequestError as BadRequestError
from ._exceptions import BatchSizeLimitExceeded as BatchSizeLimitExceeded
from ._exceptions import ConfigurationError as ConfigurationError
from ._exceptions import ConflictError as ConflictError
from ._exceptions import DeliveryError as DeliveryError
from ._exceptions import InternalServerError as InternalServerError
from ._exceptions import InvalidRecordError as InvalidRecordError
from ._exceptions import MissingConfiguration as MissingConfiguration
from ._exceptions import NoCostsTrackedException as NoCostsTrackedException
from ._exceptions import NotFoundError as NotFoundError
from ._exceptions import PayloadTooLargeError as PayloadTooLargeError
from ._exceptions import PermissionDeniedError as PermissionDeniedError
from ._exceptions import QueueCorruptError as QueueCorruptError
from ._exceptions import QueueError as QueueError
from ._exceptions import QueueFullError as QueueFullError
from ._exceptions import RateLimitError as RateLimitError
from ._exceptions import TrackerClosedError as TrackerClosedError
from ._exceptions import UnknownOptionError as UnknownOptionError
from ._exceptions import UnprocessableEntityError as UnprocessableEntityError
from ._exceptions import UsageLimitExceeded as UsageLimitExceeded
from ._limits import AsyncConfigManager as AsyncConfigManager
from ._limits import AsyncTriggeredLimitManager as AsyncTriggeredLimitManager
from ._limits import AsyncUsageLimitManager as AsyncUsageLimitManager
from ._limits import ConfigManager as ConfigManager
from ._limits import CostManagerConfig as CostManagerConfig
from ._limits import TriggeredLimit as TriggeredLimit
from ._limits import TriggeredLimitManager as TriggeredLimitManager
from ._limits import UsageLimitManager as UsageLimitManager
from ._queue_admin import AsyncQueueManager as AsyncQueueManager
from ._queue_admin import DeadLetter as DeadLetter
from ._queue_admin import PersistentQueueManager as PersistentQueueManager
from ._queue_admin import QueueSnapshot as QueueSnapshot
from ._record import RecordArgs as RecordArgs
from ._scope import tracking_scope as tracking_scope
from ._sync import Tracker as Tracker
from ._sync_client import CostManagerClient as CostManagerClient
from ._tracker import AsyncTracker as AsyncTracker
from ._tracker import TrackerOptions as TrackerOptions
from ._types import DeliveryType as DeliveryType
from ._types import QueueFullPolicy as QueueFullPolicy
from ._types import TrackerStatistics as TrackerStatistics
from ._types import TrackResult as TrackResult
from ._types import TrackStatus as TrackStatus

if TYPE_CHECKING:
    from .wrappers import AnthropicWrapper as AnthropicWrapper
    from .wrappers import BedrockWrapper as BedrockWrapper
    from .wrappers import FireworksWrapper as FireworksWrapper
    from .wrappers import GeminiWrapper as GeminiWrapper
    from .wrappers import OpenAIChatWrapper as OpenAIChatWrapper
    from .wrappers import OpenAIResponsesWrapper as OpenAIResponsesWrapper
    from .wrappers import ServiceWrapper as ServiceWrapper
    from .wrappers import WrapperStatistics as WrapperStatistics
    from .wrappers import wrapper_statistics as wrapper_statistics


def __getattr__(name: str) -> Any:
    # The wrappers are imported on first access: `import aicostmanager` imports no provider SDK.
    # Every other public name is bound above, so a listed name not bound yet is a wrapper's.
    if name in __all__:
        from . import wrappers

        value = getattr(wrappers, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


try:
    __version__ = version("aicostmanager")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = (
    "AICMError",
    "APIConnectionError",
    "APIError",
    "APIRequestError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AnthropicWrapper",
    "AsyncConfigManager",
    "AsyncCostManagerClient",
    "AsyncQueueManager",
    "AsyncTracker",
    "AsyncTriggeredLimitManager",
    "AsyncUsageLimitManager",
    "AuthenticationError",
    "BadRequestError",
    "BatchSizeLimitExceeded",
    "BedrockWrapper",
    "ConfigManager",
    "ConfigurationError",
    "ConflictError",
    "CostManagerClient",
    "CostManagerConfig",
    "DeadLetter",
    "DeliveryError",
    "DeliveryType",
    "FireworksWrapper",
    "GeminiWrapper",
    "InternalServerError",
    "InvalidRecordError",
    "MissingConfiguration",
    "NoCostsTrackedException",
    "NotFoundError",
    "OpenAIChatWrapper",
    "OpenAIResponsesWrapper",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PersistentQueueManager",
    "QueueCorruptError",
    "QueueError",
    "QueueFullError",
    "QueueFullPolicy",
    "QueueSnapshot",
    "RateLimitError",
    "RecordArgs",
    "ServiceWrapper",
    "TrackResult",
    "TrackStatus",
    "Tracker",
    "TrackerClosedError",
    "TrackerOptions",
    "TrackerStatistics",
    "TriggeredLimit",
    "TriggeredLimitManager",
    "UnknownOptionError",
    "UnprocessableEntityError",
    "UsageLimitExceeded",
    "UsageLimitManager",
    "WrapperStatistics",
    "__version__",
    "tracking_scope",
    "wrapper_statistics",
)
