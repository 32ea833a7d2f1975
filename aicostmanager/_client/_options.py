"""The keyword options of the REST client, written once for every class that builds one.

``ConnectionOptions`` are the options that say how to reach the API (the limits managers take
them to build their own client); ``ClientOptions`` adds the transport options of
``AsyncCostManagerClient`` and ``CostManagerClient``. Each option left out (or ``None``)
resolves as argument > ``AICM_*`` environment > ``AICM.INI [tracker]`` > default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from typing_extensions import TypedDict

__all__ = ("ClientOptions", "ConnectionOptions")


class ConnectionOptions(TypedDict, total=False):
    """How to reach the API: ``aicm_api_key``, ``aicm_api_base``, ``aicm_api_url``,
    ``ini_path`` (the ``AICM.INI`` file) and ``timeout`` (seconds per request)."""

    aicm_api_key: str | None
    aicm_api_base: str | None
    aicm_api_url: str | None
    ini_path: str | os.PathLike[str] | None
    timeout: float | None


class ClientOptions(ConnectionOptions, total=False):
    """``ConnectionOptions`` plus the client's transport options (see
    ``AsyncCostManagerClient``); ``aicm_ini_path`` is the deprecated spelling of ``ini_path``."""

    proxies: str | Mapping[str, str] | None
    headers: Mapping[str, str] | None
    transport: Any
    max_attempts: int | None
    aicm_ini_path: str | os.PathLike[str] | None
