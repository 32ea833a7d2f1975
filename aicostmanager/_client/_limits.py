"""Usage limits and triggered limits: ``/usage-limits/``, ``/triggered-limits``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import UsageLimitIn, UsageLimitOut, UsageLimitProgressOut
from ._base import BaseClient, body, segment

__all__ = ("LimitsMixin",)


class LimitsMixin(BaseClient):
    """Usage limit CRUD, progress, and the raw triggered-limits envelope."""

    async def get_triggered_limits(self) -> Any:
        """The raw triggered-limits envelope (bare or wrapped in ``{"triggered_limits": ...}``).

        Decoding and verifying it is the job of ``aicostmanager._limits``.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/triggered-limits")

    async def list_usage_limits(self) -> Any:
        """Every usage limit of the team, as a raw JSON array.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/usage-limits/")

    async def list_usage_limits_typed(self) -> list[UsageLimitOut]:
        """Every usage limit of the team, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get_as(list[UsageLimitOut], "/usage-limits/")

    async def create_usage_limit(self, data: UsageLimitIn | Mapping[str, Any]) -> UsageLimitOut:
        """Create a usage limit.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``UsageLimitIn``.
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._send_as(
            UsageLimitOut, "POST", "/usage-limits/", body(UsageLimitIn, data)
        )

    async def get_usage_limit(self, limit_id: str) -> UsageLimitOut:
        """The usage limit with this ``uuid``.

        Raises:
            NotFoundError: no such limit.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        return await self._get_as(UsageLimitOut, f"/usage-limits/{segment(limit_id, 'limit_id')}/")

    async def update_usage_limit(
        self, limit_id: str, data: UsageLimitIn | Mapping[str, Any]
    ) -> UsageLimitOut:
        """Replace the usage limit with this ``uuid``.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``UsageLimitIn``.
            NotFoundError: no such limit.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        path = f"/usage-limits/{segment(limit_id, 'limit_id')}/"
        return await self._send_as(UsageLimitOut, "PUT", path, body(UsageLimitIn, data))

    async def delete_usage_limit(self, limit_id: str) -> None:
        """Delete the usage limit with this ``uuid``.

        Raises:
            NotFoundError: no such limit.
            APIError: the request failed (see ``AsyncCostManagerClient``).
            ValueError: an id is empty or not valid Unicode (``TypeError``: not an id).
        """
        await self._delete(f"/usage-limits/{segment(limit_id, 'limit_id')}/")

    async def list_usage_limit_progress(self) -> Any:
        """Every usage limit with its current spend, as a raw JSON array.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get("/usage-limits/progress/")

    async def list_usage_limit_progress_typed(self) -> list[UsageLimitProgressOut]:
        """Every usage limit with its current spend, parsed.

        Raises:
            APIError: the request failed (see ``AsyncCostManagerClient``).
        """
        return await self._get_as(list[UsageLimitProgressOut], "/usage-limits/progress/")
