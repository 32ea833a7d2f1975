"""Usage limits: signed triggered limits, their enforcement, and the limit REST helpers.

``TriggeredLimitsEnforcer`` is what the tracker uses; the managers are for applications that
manage limits or inspect the triggered set themselves. Verification needs the optional
``cryptography`` package (``pip install "aicostmanager[limits]"``).
"""

from __future__ import annotations

from ._config_manager import AsyncConfigManager as AsyncConfigManager
from ._config_manager import ConfigManager as ConfigManager
from ._config_manager import CostManagerConfig as CostManagerConfig
from ._enforcer import AlertCallback as AlertCallback
from ._enforcer import TriggeredLimitsEnforcer as TriggeredLimitsEnforcer
from ._enforcer import select_limits as select_limits
from ._jws import INSTALL_HINT as INSTALL_HINT
from ._managers import AsyncTriggeredLimitManager as AsyncTriggeredLimitManager
from ._managers import AsyncUsageLimitManager as AsyncUsageLimitManager
from ._managers import TriggeredLimitManager as TriggeredLimitManager
from ._managers import UsageLimitManager as UsageLimitManager
from ._models import TriggeredLimit as TriggeredLimit
from ._refresh import refresh_triggered_limits as refresh_triggered_limits

__all__ = (
    "INSTALL_HINT",
    "AlertCallback",
    "AsyncConfigManager",
    "AsyncTriggeredLimitManager",
    "AsyncUsageLimitManager",
    "ConfigManager",
    "CostManagerConfig",
    "TriggeredLimit",
    "TriggeredLimitManager",
    "TriggeredLimitsEnforcer",
    "UsageLimitManager",
    "refresh_triggered_limits",
    "select_limits",
)
