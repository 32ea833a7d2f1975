"""REST helpers for limits, built on ``AsyncCostManagerClient``.

``AsyncTriggeredLimitManager`` fetches ``GET /triggered-limits`` into a
:class:`TriggeredLimitsEnforcer` (verified, persisted in the INI). ``AsyncUsageLimitManager``
is a thin typed layer over ``/usage-limits/``. The sync classes are one portal call per method.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from typing_extensions import TypedDict, Unpack

from .._blocking import AsyncResource, BlockingTwin
from .._client import AsyncCostManagerClient
from ..models import UsageLimitIn, UsageLimitOut, UsageLimitProgressOut
from ._enforcer import AlertCallback, TriggeredLimitsEnforcer, select_limits
from ._models import TriggeredLimit

__all__ = (
    "ConnectionOptions",
    "AsyncTriggeredLimitManager",
    "AsyncUsageLimitManager",
    "TriggeredLimitManager",
    "UsageLimitManager",
)

UsageLimitBody = UsageLimitIn | Mapping[str, Any]
PathLike = str | os.PathLike[str]


class ConnectionOptions(TypedDict, total=False):
    """How a manager reaches the API when it builds its own REST client (each may be None).

    Each resolves as for ``AsyncCostManagerClient``: argument, ``AICM_*`` environment, INI,
    default (``ini_path`` is the client's ``aicm_ini_path``; ``timeout`` is in seconds).
    """

    aicm_api_key: str | None
    aicm_api_base: str | None
    aicm_api_url: str | None
    ini_path: PathLike | None
    timeout: float | None


class _ClientUser(AsyncResource):
    """Uses a given ``AsyncCostManagerClient`` or owns one built from the options."""

    def __init__(
        self,
        client: AsyncCostManagerClient | None = None,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        self._owns_client = client is None
        if client is None:
            client = AsyncCostManagerClient(
                aicm_api_key=options.get("aicm_api_key"),
                aicm_api_base=options.get("aicm_api_base"),
                aicm_api_url=options.get("aicm_api_url"),
                ini_path=options.get("ini_path"),
                timeout=options.get("timeout"),
            )
        self._client = client

    @property
    def client(self) -> AsyncCostManagerClient:
        """The REST client used for requests."""
        return self._client

    @property
    def api_root(self) -> str:
        """The API root requests go to."""
        return self._client.api_root

    async def aclose(self) -> None:
        """Close the REST client if this object created it."""
        if self._owns_client:
            await self._client.aclose()


class AsyncTriggeredLimitManager(_ClientUser):
    """Fetches, verifies and stores the triggered limits of one API key.

    Args:
        client: an existing REST client to use (not closed by :meth:`aclose`); when None, one
            is built from the options below and closed by :meth:`aclose`.
        on_alert: called with newly received ``alert`` events.
        **options: ``ConnectionOptions``: ``aicm_api_key`` (else ``AICM_API_KEY``; it also
            selects which events apply), ``aicm_api_base``, ``aicm_api_url``, ``ini_path`` (the
            INI file storing the set) and ``timeout``, resolved as the client's.

    Raises:
        MissingConfiguration: no API key anywhere.
        ConfigurationError: an option is malformed.
        ImportError: ``cryptography`` is missing (install ``aicostmanager[limits]``).
    """

    def __init__(
        self,
        client: AsyncCostManagerClient | None = None,
        *,
        on_alert: AlertCallback | None = None,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        super().__init__(client, **options)
        aicm_api_key, ini_path = options.get("aicm_api_key"), options.get("ini_path")
        self._enforcer = TriggeredLimitsEnforcer(
            ini_path=Path(ini_path) if ini_path is not None else self._client.ini_path,
            api_key=self._client.api_key if aicm_api_key is None else aicm_api_key,
            on_alert=on_alert,
        )

    def __repr__(self) -> str:
        return f"AsyncTriggeredLimitManager(api_root={self.api_root!r})"

    @property
    def enforcer(self) -> TriggeredLimitsEnforcer:
        """The store holding the verified set."""
        return self._enforcer

    async def fetch_envelope(self) -> dict[str, Any]:
        """``GET /triggered-limits``: the raw signed envelope (``{}`` when empty).

        Raises:
            APIRequestError: non-2xx answer (status-specific subclass).
            APIConnectionError: network failure.
        """
        data = await self._client.get_triggered_limits()
        return data if isinstance(data, dict) else {}

    async def update_triggered_limits(self) -> list[TriggeredLimit]:
        """Fetch the current set, verify it, store it (INI and memory) and return it.

        A set that fails verification is logged and the previous one is kept.

        Raises:
            APIRequestError: non-2xx answer (status-specific subclass).
            APIConnectionError: network failure.
        """
        await self._enforcer.aupdate_from_envelope(await self.fetch_envelope())
        return self._enforcer.active_limits()

    def get_triggered_limits(
        self, service_key: str | None = None, customer_key: str | None = None
    ) -> list[TriggeredLimit]:
        """The stored, non-expired events that apply (a None argument does not filter)."""
        return select_limits(
            self._enforcer.active_limits(), service_key=service_key, customer_key=customer_key
        )


# ---- generated by scripts/gen_sync_twins.py from AsyncTriggeredLimitManager: do not edit ----
class TriggeredLimitManager(BlockingTwin[AsyncTriggeredLimitManager]):
    """Blocking twin of :class:`AsyncTriggeredLimitManager` (same arguments)."""

    def __init__(
        self,
        client: AsyncCostManagerClient | None = None,
        *,
        on_alert: AlertCallback | None = None,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        super().__init__(AsyncTriggeredLimitManager(client, on_alert=on_alert, **options))

    @property
    def api_root(self) -> str:
        """See ``AsyncTriggeredLimitManager.api_root``."""
        return self._async.api_root

    @property
    def client(self) -> AsyncCostManagerClient:
        """See ``AsyncTriggeredLimitManager.client``."""
        return self._async.client

    @property
    def enforcer(self) -> TriggeredLimitsEnforcer:
        """See ``AsyncTriggeredLimitManager.enforcer``."""
        return self._async.enforcer

    def fetch_envelope(self) -> dict[str, Any]:
        """Blocking twin of ``AsyncTriggeredLimitManager.fetch_envelope``."""
        return self._call(self._async.fetch_envelope)

    def get_triggered_limits(
        self, service_key: str | None = None, customer_key: str | None = None
    ) -> list[TriggeredLimit]:
        """See ``AsyncTriggeredLimitManager.get_triggered_limits``."""
        return self._async.get_triggered_limits(service_key, customer_key)

    def update_triggered_limits(self) -> list[TriggeredLimit]:
        """Blocking twin of ``AsyncTriggeredLimitManager.update_triggered_limits``."""
        return self._call(self._async.update_triggered_limits)


# ---- end of generated code ----


class AsyncUsageLimitManager(_ClientUser):
    """CRUD on ``/usage-limits/`` and their progress (a focused view of the REST client).

    Args:
        client: an existing REST client to use (not closed by :meth:`aclose`).
        **options: ``ConnectionOptions`` for the client built when ``client`` is None
            (``ini_path`` is read for options only; nothing is written).

    Raises:
        MissingConfiguration: no API key anywhere.
    """

    def __repr__(self) -> str:
        return f"AsyncUsageLimitManager(api_root={self.api_root!r})"

    async def list_usage_limits(self) -> list[UsageLimitOut]:
        """``GET /usage-limits/``.

        Raises:
            APIError: the request failed.
        """
        return await self._client.list_usage_limits_typed()

    async def create_usage_limit(self, data: UsageLimitBody) -> UsageLimitOut:
        """``POST /usage-limits/``.

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``UsageLimitIn``.
            APIError: the request failed.
        """
        return await self._client.create_usage_limit(data)

    async def get_usage_limit(self, limit_id: str) -> UsageLimitOut:
        """``GET /usage-limits/{limit_id}/``.

        Raises:
            NotFoundError: no such limit for this team.
            APIError: the request failed.
        """
        return await self._client.get_usage_limit(limit_id)

    async def update_usage_limit(self, limit_id: str, data: UsageLimitBody) -> UsageLimitOut:
        """``PUT /usage-limits/{limit_id}/`` (full replacement).

        Raises:
            pydantic.ValidationError: ``data`` is not a valid ``UsageLimitIn``.
            NotFoundError: no such limit for this team.
            APIError: the request failed.
        """
        return await self._client.update_usage_limit(limit_id, data)

    async def delete_usage_limit(self, limit_id: str) -> None:
        """``DELETE /usage-limits/{limit_id}/``.

        Raises:
            NotFoundError: no such limit for this team.
            APIError: the request failed.
        """
        await self._client.delete_usage_limit(limit_id)

    async def list_usage_limit_progress(self) -> list[UsageLimitProgressOut]:
        """``GET /usage-limits/progress/``: each limit with its current-period spend.

        Raises:
            APIError: the request failed.
        """
        return await self._client.list_usage_limit_progress_typed()


# ---- generated by scripts/gen_sync_twins.py from AsyncUsageLimitManager: do not edit ----
class UsageLimitManager(BlockingTwin[AsyncUsageLimitManager]):
    """Blocking twin of :class:`AsyncUsageLimitManager` (same arguments)."""

    def __init__(
        self, client: AsyncCostManagerClient | None = None, **options: Unpack[ConnectionOptions]
    ) -> None:
        super().__init__(AsyncUsageLimitManager(client, **options))

    @property
    def api_root(self) -> str:
        """See ``AsyncUsageLimitManager.api_root``."""
        return self._async.api_root

    @property
    def client(self) -> AsyncCostManagerClient:
        """See ``AsyncUsageLimitManager.client``."""
        return self._async.client

    def create_usage_limit(self, data: UsageLimitBody) -> UsageLimitOut:
        """Blocking twin of ``AsyncUsageLimitManager.create_usage_limit``."""
        return self._call(self._async.create_usage_limit, data)

    def delete_usage_limit(self, limit_id: str) -> None:
        """Blocking twin of ``AsyncUsageLimitManager.delete_usage_limit``."""
        self._call(self._async.delete_usage_limit, limit_id)

    def get_usage_limit(self, limit_id: str) -> UsageLimitOut:
        """Blocking twin of ``AsyncUsageLimitManager.get_usage_limit``."""
        return self._call(self._async.get_usage_limit, limit_id)

    def list_usage_limit_progress(self) -> list[UsageLimitProgressOut]:
        """Blocking twin of ``AsyncUsageLimitManager.list_usage_limit_progress``."""
        return self._call(self._async.list_usage_limit_progress)

    def list_usage_limits(self) -> list[UsageLimitOut]:
        """Blocking twin of ``AsyncUsageLimitManager.list_usage_limits``."""
        return self._call(self._async.list_usage_limits)

    def update_usage_limit(self, limit_id: str, data: UsageLimitBody) -> UsageLimitOut:
        """Blocking twin of ``AsyncUsageLimitManager.update_usage_limit``."""
        return self._call(self._async.update_usage_limit, limit_id, data)


# ---- end of generated code ----
