"""Two servers on one database answer alike: nothing a server keeps in memory decides an answer.

Each test runs two :class:`LocalServer` instances (two apps, each with its own connections and
caches) on the same database, as N workers or hosts do: a SQLite file by default, a fresh
PostgreSQL database with ``AICM_TEST_BACKEND=postgresql``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from aicostmanager.server import LocalServer
from aicostmanager.server._auth import SESSION_COOKIE, KeyStore
from aicostmanager.server._db import Database

USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}


@pytest.fixture
def pair(server_db: str) -> Iterator[tuple[LocalServer, LocalServer]]:
    """Two running servers (testing mode) on one fresh database."""
    first = LocalServer(db=server_db, testing=True)
    second = LocalServer(db=server_db, testing=True)
    with first, second:
        yield first, second


def _new_key(server: LocalServer) -> str:
    response = httpx.post(f"{server.url}/_testing/api-keys", json={})
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _track(server: LocalServer, key: str) -> dict[str, Any]:
    body = {
        "tracked": [
            {
                "service_key": "openai::gpt-4o",
                "response_id": uuid.uuid4().hex,
                "payload": USAGE,
            }
        ]
    }
    response = httpx.post(f"{server.api_root}/track", json=body, headers=_bearer(key))
    assert response.status_code == 202, response.text
    envelope: dict[str, Any] = response.json()["triggered_limits"]
    return envelope


def _events(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    part = envelope["encrypted_payload"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    events: list[dict[str, Any]] = claims["triggered_limits"]
    return events


def test_a_session_opened_on_one_server_is_honoured_and_ended_on_the_other(
    pair: tuple[LocalServer, LocalServer],
) -> None:
    """Sign in on one server, read through the other, sign out there: both refuse it."""
    first, second = pair
    key = _new_key(first)
    with httpx.Client(base_url=first.url) as on_first:
        assert on_first.post("/dashboard/login", json={"api_key": key}).status_code == 204
        cookie = on_first.cookies[SESSION_COOKIE]
    with httpx.Client(base_url=second.url, cookies={SESSION_COOKIE: cookie}) as on_second:
        assert on_second.get("/dashboard/session").json()["signed_in"] is True
        assert on_second.get("/api/v1/customers/").status_code == 200
        assert on_second.post("/dashboard/logout", json={}).status_code == 204
    with httpx.Client(base_url=first.url, cookies={SESSION_COOKIE: cookie}) as again:
        assert again.get("/dashboard/session").json()["signed_in"] is False
        assert again.get("/api/v1/customers/").status_code == 401


async def _revoke(db: str, key_id: str) -> None:
    database = await Database.open(db)
    try:
        await KeyStore(database).revoke(key_id)
    finally:
        await database.close()


def test_a_key_revoked_through_one_server_is_refused_by_both_at_once(
    pair: tuple[LocalServer, LocalServer],
) -> None:
    """Both servers answer the key (and its dashboard session); after revocation neither does."""
    first, second = pair
    key = _new_key(first)
    with httpx.Client(base_url=second.url) as browser:
        assert browser.post("/dashboard/login", json={"api_key": key}).status_code == 204
        for server in pair:
            response = httpx.get(f"{server.api_root}/customers/", headers=_bearer(key))
            assert response.status_code == 200
        anyio.run(_revoke, first.config.db, key.rsplit(".", 1)[1])
        for server in pair:
            response = httpx.get(f"{server.api_root}/customers/", headers=_bearer(key))
            assert response.status_code == 401
        assert browser.get("/dashboard/session").json()["signed_in"] is False
        assert browser.post("/dashboard/login", json={"api_key": key}).status_code == 401


def test_every_track_answer_carries_the_public_key_whichever_server(
    pair: tuple[LocalServer, LocalServer],
) -> None:
    """The verification key comes with each /track envelope, from either server, the same."""
    first, second = pair
    key = _new_key(first)
    pems = [_track(server, key)["public_key"] for server in (first, second, first, second)]
    assert pems[0].startswith("-----BEGIN PUBLIC KEY-----")
    assert len(set(pems)) == 1


def test_a_limit_triggered_through_one_server_is_in_the_other_servers_envelope(
    pair: tuple[LocalServer, LocalServer],
) -> None:
    """A server that answered an empty set before sees the limit the other one triggered."""
    first, second = pair
    key = _new_key(first)
    assert _events(_track(second, key)) == []  # the second server has built (and may cache) it
    limit = {"threshold_type": "limit", "amount": "0.000001", "period": "day"}
    created = httpx.post(f"{first.api_root}/usage-limits/", json=limit, headers=_bearer(key))
    assert created.status_code in (200, 201), created.text
    assert [e["limit_id"] for e in _events(_track(first, key))] == [created.json()["uuid"]]
    fetched = httpx.get(f"{second.api_root}/triggered-limits", headers=_bearer(key)).json()
    assert [e["limit_id"] for e in _events(fetched)] == [created.json()["uuid"]]
    removed = httpx.delete(
        f"{first.api_root}/usage-limits/{created.json()['uuid']}/", headers=_bearer(key)
    )
    assert removed.status_code in (200, 204), removed.text
    assert _events(_track(second, key)) == []
