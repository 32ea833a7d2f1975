"""Status errors map to the exception tree; idempotent calls retry on 408/429/5xx/network."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import (
    APIConnectionError,
    APIRequestError,
    AuthenticationError,
    InternalServerError,
    MissingConfiguration,
    NotFoundError,
    RateLimitError,
    UnprocessableEntityError,
)
from aicostmanager._sync_client import CostManagerClient

from .conftest import FAST


@pytest.fixture
def key_id(api_key: str) -> str:
    """The id of the test's API key."""
    return api_key.rsplit(".", 1)[-1]


@pytest.fixture
def faults(admin: Any) -> Iterator[Any]:
    """The admin API; fault rules added by the test are removed afterwards."""
    yield admin
    admin.clear_faults()


async def test_not_found(client: AsyncCostManagerClient) -> None:
    """404 -> NotFoundError with the server's detail."""
    with pytest.raises(NotFoundError) as info:
        await client.get_webhook_endpoint("nope")
    assert info.value.status_code == 404
    assert info.value.error == "webhook endpoint not found"
    assert isinstance(info.value, APIRequestError)


async def test_unauthenticated_never_shows_the_key(api_base: str) -> None:
    """401 -> AuthenticationError; neither the message nor the repr contains the key."""
    secret = "sk-test-this-is-not-a-key.00000000-0000-0000-0000-000000000000"
    async with AsyncCostManagerClient(aicm_api_key=secret, aicm_api_base=api_base) as bad:
        assert "sk-test" not in repr(bad)
        with pytest.raises(AuthenticationError) as info:
            await bad.list_customers()
    assert info.value.status_code == 401
    assert secret not in str(info.value) and secret not in repr(info.value)


async def test_unprocessable(client: AsyncCostManagerClient) -> None:
    """A query the server rejects answers 422 -> UnprocessableEntityError with details."""
    with pytest.raises(UnprocessableEntityError) as info:
        await client.list_usage_rollups(granularity="weekly")
    assert info.value.status_code == 422
    assert isinstance(info.value.details, list)


def test_sync_errors(sync_client: CostManagerClient) -> None:
    """The blocking client raises the same classes."""
    with pytest.raises(NotFoundError):
        sync_client.get_customer("nope")
    with pytest.raises(UnprocessableEntityError):
        sync_client.list_customers(offset=-1)


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key anywhere -> MissingConfiguration from the constructor; the env key is used."""
    with pytest.raises(MissingConfiguration):
        AsyncCostManagerClient()
    with pytest.raises(MissingConfiguration):
        CostManagerClient()
    monkeypatch.setenv("AICM_API_KEY", "sk-env.1")
    monkeypatch.setenv("AICM_API_BASE", "http://127.0.0.1:9")
    client = AsyncCostManagerClient()
    assert client.api_root == "http://127.0.0.1:9/api/v1"
    assert "sk-env" not in repr(client)


async def test_get_retries_through_503(
    client: AsyncCostManagerClient, faults: Any, key_id: str
) -> None:
    """Two 503s then success: the GET succeeds on its third attempt."""
    faults.add_fault(path="/customers/", status=503, count=2, api_key_id=key_id)
    page = await client.list_customers()
    assert page["count"] == 0


async def test_retries_are_bounded(
    client: AsyncCostManagerClient, faults: Any, key_id: str
) -> None:
    """More failures than max_attempts: the last error is raised (InternalServerError)."""
    faults.add_fault(path="/customers/", status=503, count=3, api_key_id=key_id)
    with pytest.raises(InternalServerError) as info:
        await client.list_customers()
    assert info.value.status_code == 503
    assert (await client.list_customers())["count"] == 0  # the rule is used up


async def test_429_honours_retry_after(
    client: AsyncCostManagerClient, faults: Any, key_id: str
) -> None:
    """429 with Retry-After: 1 waits about a second, then the GET succeeds."""
    faults.add_fault(path="/webhooks/", status=429, retry_after="1", count=1, api_key_id=key_id)
    started = time.monotonic()
    answer = await client.list_webhook_endpoints()
    assert answer["total_count"] == 0
    assert time.monotonic() - started >= 0.9


async def test_429_without_retries(api_key: str, api_base: str, faults: Any, key_id: str) -> None:
    """max_attempts=1 turns retries off: the 429 surfaces with its retry_after."""
    faults.add_fault(path="/webhooks/", status=429, retry_after="7", count=1, api_key_id=key_id)
    async with AsyncCostManagerClient(
        aicm_api_key=api_key, aicm_api_base=api_base, max_attempts=1
    ) as client:
        with pytest.raises(RateLimitError) as info:
            await client.list_webhook_endpoints()
    assert info.value.retry_after == 7


async def test_post_is_not_retried(
    client: AsyncCostManagerClient, faults: Any, key_id: str
) -> None:
    """A POST answered 503 is not sent again (it could create a duplicate)."""
    faults.add_fault(path="/customers/", status=503, count=1, api_key_id=key_id)
    with pytest.raises(InternalServerError):
        await client.create_customer({"customer_key": "once"})
    assert (await client.list_customers())["count"] == 0


async def test_put_and_delete_retry(
    client: AsyncCostManagerClient, faults: Any, key_id: str
) -> None:
    """PUT and DELETE are idempotent and retried through a 502."""
    created = await client.create_customer({"customer_key": "x"})
    path = f"/customers/{created.uuid}/"
    faults.add_fault(path=path, status=502, count=1, api_key_id=key_id)
    assert (await client.update_customer(created.uuid, {"customer_key": "y"})).customer_key == "y"
    faults.add_fault(path=path, status=502, count=1, api_key_id=key_id)
    await client.delete_customer(created.uuid)
    with pytest.raises(NotFoundError):
        await client.get_customer(created.uuid)


async def test_dropped_connection_is_retried(
    client: AsyncCostManagerClient, faults: Any, key_id: str
) -> None:
    """A connection closed without an answer is retried for a GET."""
    faults.add_fault(path="/customers/", drop="before", count=1, api_key_id=key_id)
    assert (await client.list_customers())["count"] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_connection_refused(api_key: str) -> None:
    """Nothing listening -> APIConnectionError after the attempts, without the key."""
    async with AsyncCostManagerClient(
        aicm_api_key=api_key, aicm_api_base=f"http://127.0.0.1:{_free_port()}"
    ) as client:
        client.backoff = FAST
        with pytest.raises(APIConnectionError) as info:
            await client.list_vendors()
    assert api_key not in str(info.value)


async def test_aclose_and_close(api_key: str, api_base: str) -> None:
    """After aclose() / close() the client refuses to send (no hidden reconnect)."""
    client = AsyncCostManagerClient(aicm_api_key=api_key, aicm_api_base=api_base)
    assert (await client.list_customers())["count"] == 0
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.list_customers()
    sync = CostManagerClient(aicm_api_key=api_key, aicm_api_base=api_base)
    assert sync.list_customers()["count"] == 0
    sync.close()
    with pytest.raises(RuntimeError):
        sync.list_customers()
