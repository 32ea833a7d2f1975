"""The async REST client, one module per resource group."""

from __future__ import annotations

from ._client import AsyncCostManagerClient as AsyncCostManagerClient

__all__ = ("AsyncCostManagerClient",)
