"""Customers (``/customers/``)."""

from __future__ import annotations

from pydantic import Field

from ._base import RequestModel, ResponseModel

__all__ = ("CustomerFilters", "CustomerIn", "CustomerOut")


class CustomerIn(RequestModel):
    """Body of ``POST /customers/`` and ``PUT /customers/{uuid}/``."""

    customer_key: str = Field(min_length=1, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=255)


class CustomerOut(ResponseModel):
    """A stored customer."""

    uuid: str
    customer_key: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None


class CustomerFilters(RequestModel):
    """Query filters of ``GET /customers/`` (exact matches) plus paging."""

    customer_key: str | None = None
    name: str | None = None
    address: str | None = None
    phone: str | None = None
    limit: int | None = Field(default=None, ge=1)
    offset: int | None = Field(default=None, ge=0)
