"""Usage limits (``/usage-limits/``). Triggered limits live in ``aicostmanager._limits``."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

from pydantic import Field

from ._base import RequestModel, ResponseModel

__all__ = ("Period", "ThresholdType", "UsageLimitIn", "UsageLimitOut", "UsageLimitProgressOut")


class ThresholdType(str, Enum):
    """What crossing a limit does."""

    ALERT = "alert"
    LIMIT = "limit"


class Period(str, Enum):
    """The window a limit's spend is summed over."""

    DAY = "day"
    MONTH = "month"


class UsageLimitIn(RequestModel):
    """Body of ``POST /usage-limits/`` and ``PUT /usage-limits/{uuid}/``."""

    threshold_type: ThresholdType
    amount: Decimal = Field(ge=0)
    period: Period
    service_key: str | None = None
    client: str | None = None
    team_uuid: str | None = None
    api_key_uuid: str | None = None
    notification_list: list[str] | None = None
    active: bool = True


class UsageLimitOut(ResponseModel):
    """A stored usage limit (note ``service``, not ``service_key``)."""

    uuid: str
    threshold_type: str
    amount: Decimal
    period: str
    service: str | None = None
    client: str | None = None
    notification_list: list[str] | None = None
    active: bool = True


class UsageLimitProgressOut(UsageLimitOut):
    """A usage limit with the spend of its current period."""

    current_spend: Decimal
    remaining_amount: Decimal
