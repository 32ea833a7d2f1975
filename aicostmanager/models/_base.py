"""Base classes of the API models and the generic page envelope."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ("PaginatedResponse", "RequestModel", "ResponseModel")

T = TypeVar("T")


class ResponseModel(BaseModel):
    """A model of a server answer: unknown fields are kept, so new server fields never break."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RequestModel(BaseModel):
    """A model of a request body or filter set: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PaginatedResponse(ResponseModel, Generic[T]):
    """One page of a paginated list endpoint.

    Attributes:
        count: total number of items across every page.
        next: absolute URL of the next page, or ``None`` on the last page.
        previous: absolute URL of the previous page, or ``None`` on the first page.
        results: the items of this page.
    """

    count: int = 0
    next: str | None = None
    previous: str | None = None
    results: list[T] = []
