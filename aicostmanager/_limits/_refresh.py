"""Fetch ``GET /triggered-limits`` with the tracker's own ``AsyncHTTP`` into an enforcer.

The local server (like the SaaS) may send the public key only once per API key on ``/track``
responses, so a tracker starting without a stored key should call this once at start-up.
"""

from __future__ import annotations

import logging

from .._exceptions import APIError
from .._http import AsyncHTTP, error_from_response
from ._enforcer import TriggeredLimitsEnforcer

__all__ = ("refresh_triggered_limits",)

logger = logging.getLogger("aicostmanager.limits")


async def refresh_triggered_limits(http: AsyncHTTP, enforcer: TriggeredLimitsEnforcer) -> bool:
    """Fetch the current set and apply it; never raises for network or server failures.

    Returns:
        True when an answer was received and handed to the enforcer (which may still reject
        it, with a log line); False when the request failed (logged).
    """
    try:
        response = await http.request("GET", "/triggered-limits")
        if not response.is_success:
            raise error_from_response(response)
    except APIError as exc:
        logger.warning("could not fetch triggered limits: %s", exc)
        return False
    data = response.json()
    await enforcer.aupdate_from_envelope(data if isinstance(data, dict) else None)
    return True
