"""``ConfigManager``: read triggered limits with an optional age-based refresh.

Kept for users of the 0.1-era ``CostManagerConfig`` (which also served service configs, long
gone from the API). It reads the verified set stored in the INI and, with ``auto_refresh``,
refetches ``GET /triggered-limits`` when the cached set is older than the given age.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from typing_extensions import Unpack

from .._blocking import AsyncResource, BlockingTwin, Forward
from .._client import AsyncCostManagerClient
from .._exceptions import APIError
from ._enforcer import AlertCallback, TriggeredLimitsEnforcer
from ._managers import AsyncTriggeredLimitManager, ConnectionOptions
from ._models import TriggeredLimit

__all__ = ("DEFAULT_MAX_AGE", "AsyncConfigManager", "ConfigManager", "CostManagerConfig")

DEFAULT_MAX_AGE = 60.0
"""Seconds a fetched set stays fresh with ``auto_refresh=True``."""

logger = logging.getLogger("aicostmanager.limits")


def _max_age(auto_refresh: bool | float) -> float | None:
    if auto_refresh is True:
        return DEFAULT_MAX_AGE
    if auto_refresh is False or auto_refresh is None:
        return None
    if not isinstance(auto_refresh, (int, float)) or auto_refresh < 0:
        raise ValueError("auto_refresh must be a bool or a number of seconds >= 0")
    return float(auto_refresh)


class AsyncConfigManager(AsyncResource):
    """Triggered limits, read from the INI cache and refreshed from the API.

    Args:
        client: a REST client to fetch with (``AsyncCostManagerClient``, or a
            ``CostManagerClient`` whose async client is used); not closed by :meth:`aclose`.
            When None, one is built from the options below.
        auto_refresh: ``False`` never fetches by itself; ``True`` refetches when the cached set
            is older than 60 s; a number is that age in seconds (``0`` fetches every time).
        on_alert: called with newly received ``alert`` events.
        **options: ``ConnectionOptions`` (``aicm_api_key``, ``aicm_api_base``,
            ``aicm_api_url``, ``ini_path``: the INI file holding the cache, ``timeout``).

    Raises:
        MissingConfiguration: no API key anywhere.
        ValueError: ``auto_refresh`` is negative or not a number.
        TypeError: ``client`` is not a REST client.
        ImportError: ``cryptography`` is missing (install ``aicostmanager[limits]``).
    """

    def __init__(
        self,
        client: Any = None,
        *,
        auto_refresh: bool | float = False,
        on_alert: AlertCallback | None = None,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        self._max_age = _max_age(auto_refresh)
        if client is not None and not isinstance(client, AsyncCostManagerClient):
            client = getattr(client, "async_client", None)
            if not isinstance(client, AsyncCostManagerClient):
                raise TypeError("client must be an AsyncCostManagerClient or CostManagerClient")
        self._manager = AsyncTriggeredLimitManager(client, on_alert=on_alert, **options)
        self._refreshed_at: float | None = None

    def __repr__(self) -> str:
        return f"AsyncConfigManager(api_root={self._manager.api_root!r}, max_age={self._max_age})"

    @property
    def enforcer(self) -> TriggeredLimitsEnforcer:
        """The store holding the verified set."""
        return self._manager.enforcer

    async def refresh(self) -> None:
        """Fetch ``GET /triggered-limits`` now and store the verified set.

        Raises:
            APIError: the request failed.
        """
        await self._manager.update_triggered_limits()
        self._refreshed_at = time.monotonic()

    def _stale(self) -> bool:
        if self._max_age is None:
            return False
        return self._refreshed_at is None or time.monotonic() - self._refreshed_at >= self._max_age

    async def get_triggered_limits(
        self,
        service_key: str | None = None,
        customer_key: str | None = None,
        *,
        service_id: str | None = None,
        client_customer_key: str | None = None,
    ) -> list[TriggeredLimit]:
        """The current events that apply to a service/customer (None does not filter).

        Refreshes first when ``auto_refresh`` says the cache is stale; a failed refresh is
        logged and the cached set is used. ``service_id`` and ``client_customer_key`` are the
        0.1-era names of the two filters.
        """
        if self._stale():
            try:
                await self.refresh()
            except APIError as exc:
                logger.warning("triggered limits refresh failed, using the cached set: %s", exc)
        return self._manager.get_triggered_limits(
            service_key if service_key is not None else service_id,
            customer_key if customer_key is not None else client_customer_key,
        )

    def store_triggered_limits(self, envelope: Mapping[str, Any] | None) -> None:
        """Verify and store an envelope obtained elsewhere (blocking INI write)."""
        self.enforcer.update_from_envelope(envelope)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._manager.aclose()


# ---- generated by scripts/gen_sync_twins.py from AsyncConfigManager: do not edit ----
class ConfigManager(BlockingTwin[AsyncConfigManager]):
    """Blocking twin of :class:`AsyncConfigManager` (same arguments)."""

    def __init__(
        self,
        client: Any = None,
        *,
        auto_refresh: bool | float = False,
        on_alert: AlertCallback | None = None,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        super().__init__(
            AsyncConfigManager(client, auto_refresh=auto_refresh, on_alert=on_alert, **options)
        )

    enforcer: Forward[TriggeredLimitsEnforcer] = Forward()
    """See ``AsyncConfigManager.enforcer``."""

    def get_triggered_limits(
        self,
        service_key: str | None = None,
        customer_key: str | None = None,
        *,
        service_id: str | None = None,
        client_customer_key: str | None = None,
    ) -> list[TriggeredLimit]:
        """Blocking twin of ``AsyncConfigManager.get_triggered_limits``."""
        return self._call(
            self._async.get_triggered_limits,
            service_key,
            customer_key,
            service_id=service_id,
            client_customer_key=client_customer_key,
        )

    def refresh(self) -> None:
        """Blocking twin of ``AsyncConfigManager.refresh``."""
        self._call(self._async.refresh)

    def store_triggered_limits(self, envelope: Mapping[str, Any] | None) -> None:
        """See ``AsyncConfigManager.store_triggered_limits``."""
        self._async.store_triggered_limits(envelope)


# ---- end of generated code ----


CostManagerConfig = ConfigManager
"""0.1-era name of :class:`ConfigManager`."""
