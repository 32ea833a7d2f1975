"""Basic behaviour of the local server over real HTTP."""

from __future__ import annotations

import httpx

from aicostmanager.server import LocalServer


def test_missing_key_is_401(api_root: str) -> None:
    """A request without a bearer key is refused with 401 and a detail."""
    response = httpx.post(f"{api_root}/track", json={"tracked": []})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_unknown_key_is_401(api_root: str) -> None:
    """An unknown key is refused with 401."""
    response = httpx.post(
        f"{api_root}/track",
        json={"tracked": []},
        headers={"Authorization": "Bearer sk-test-nope.0000"},
    )
    assert response.status_code == 401
    assert response.json()["detail"]


def test_openapi_lists_track(local_server: LocalServer) -> None:
    """The OpenAPI document is served at the root and under the API root."""
    for url in (local_server.url + "/openapi.json", local_server.api_root + "/openapi.json"):
        doc = httpx.get(url).json()
        assert "/api/v1/track" in doc["paths"]
        assert "TrackRequest" in doc["components"]["schemas"]
