"""Helpers of the REST client tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx


def track(api_root: str, api_key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """POST ``records`` to ``/track`` with plain httpx; returns the JSON answer."""
    now = time.time()
    tracked = []
    for record in records:
        item = {"response_id": uuid.uuid4().hex, "timestamp": str(now), **record}
        tracked.append(item)
    response = httpx.post(
        f"{api_root}/track",
        json={"tracked": tracked},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    data: dict[str, Any] = response.json()
    return data
