"""The triggered-limit event model (pydantic, lenient on input).

Unknown fields sent by newer servers are kept (``extra="allow"``) and never break parsing.
Money is ``Decimal``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = ("TriggeredLimit",)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class TriggeredLimit(BaseModel):
    """One triggered-limit event: a usage limit whose spend reached its amount.

    Attributes:
        event_id: the event's id.
        limit_id: the usage limit (``UsageLimitOut.uuid``) that triggered.
        threshold_type: ``"limit"`` (blocks) or ``"alert"`` (reported only).
        amount: the limit's amount.
        period: ``"day"`` or ``"month"``.
        limit_context: scope description, e.g. ``"key"``; may be None.
        limit_message: human-readable text from the server; may be None.
        service_key: the service the limit applies to; None applies to every service.
        customer_key: the customer the limit applies to; None applies to every customer.
        api_key_id: the API key the event applies to; None applies to every key.
        triggered_at: when spend reached the amount.
        expires_at: end of the period; the event is ignored afterwards. None never expires.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    event_id: str
    limit_id: str
    threshold_type: str
    amount: Decimal
    period: str
    limit_context: str | None = None
    limit_message: str | None = None
    service_key: str | None = None
    customer_key: str | None = None
    api_key_id: str | None = None
    triggered_at: datetime | None = None
    expires_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_names(cls, data: Any) -> Any:
        # Servers of the 0.1.x era named the customer scope ``client_customer_key``.
        if isinstance(data, dict) and data.get("customer_key") is None:
            legacy = data.get("client_customer_key")
            if legacy is not None:
                data = {**data, "customer_key": legacy}
        return data

    @field_validator("triggered_at", "expires_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @property
    def blocks(self) -> bool:
        """True when the event blocks tracking (``threshold_type == "limit"``)."""
        return self.threshold_type.lower() == "limit"

    def expired(self, now: datetime | None = None) -> bool:
        """True when ``expires_at`` is set and is not after ``now`` (default: the current time)."""
        if self.expires_at is None:
            return False
        return self.expires_at <= (now or datetime.now(timezone.utc))

    def describe(self) -> str:
        """A one-line human description naming the limit and its scope."""
        scope = []
        if self.service_key:
            scope.append(f"service {self.service_key}")
        if self.customer_key:
            scope.append(f"customer {self.customer_key}")
        where = f" for {', '.join(scope)}" if scope else ""
        text = f"{self.threshold_type} {self.limit_id} ({self.amount} per {self.period}{where})"
        if self.limit_message:
            text += f": {self.limit_message}"
        return text
