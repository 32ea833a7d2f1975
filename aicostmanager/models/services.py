"""Vendors, services and their cost units (``/vendors/``, ``/services/``, ``/service-costs/``)."""

from __future__ import annotations

from decimal import Decimal

from ._base import ResponseModel

__all__ = ("CostUnitOut", "ServiceOut", "VendorOut")


class VendorOut(ResponseModel):
    """A vendor of priced services."""

    uuid: str
    name: str


class ServiceOut(ResponseModel):
    """A priced service; ``vendor`` is filled in by the client from the request."""

    uuid: str
    service_id: str
    name: str | None = None
    vendor: str | None = None


class CostUnitOut(ResponseModel):
    """A price: ``cost`` per ``per_quantity`` ``unit``."""

    uuid: str
    name: str
    cost: Decimal
    unit: str
    per_quantity: int = 1
    currency: str = "USD"
    is_active: bool = True
