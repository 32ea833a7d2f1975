"""Customers CRUD, pagination and filters through both clients, over real HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import ConflictError, NotFoundError, UnprocessableEntityError
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import CustomerFilters, CustomerIn, CustomerOut, PaginatedResponse


async def test_async_customer_crud(client: AsyncCostManagerClient) -> None:
    """Create, get, update, list and delete a customer with the async client."""
    created = await client.create_customer(CustomerIn(customer_key="acme", name="Acme Inc."))
    assert isinstance(created, CustomerOut)
    assert created.customer_key == "acme" and created.uuid
    fetched = await client.get_customer(created.uuid)
    assert fetched == created
    updated = await client.update_customer(
        created.uuid, {"customer_key": "acme", "name": "Acme Corp", "phone": "+1 555"}
    )
    assert updated.name == "Acme Corp" and updated.phone == "+1 555"
    page = await client.list_customers()
    assert page["count"] == 1 and page["results"][0]["name"] == "Acme Corp"
    await client.delete_customer(created.uuid)
    with pytest.raises(NotFoundError) as info:
        await client.get_customer(created.uuid)
    assert info.value.status_code == 404


def test_sync_customer_crud(sync_client: CostManagerClient) -> None:
    """Create, get, update, list and delete a customer with the blocking client."""
    created = sync_client.create_customer({"customer_key": "globex", "email": "a@globex.test"})
    assert sync_client.get_customer(created.uuid).email == "a@globex.test"
    updated = sync_client.update_customer(created.uuid, CustomerIn(customer_key="globex2"))
    assert updated.customer_key == "globex2" and updated.email is None
    typed = sync_client.list_customers_typed()
    assert isinstance(typed, PaginatedResponse)
    assert [c.customer_key for c in typed.results] == ["globex2"]
    sync_client.delete_customer(created.uuid)
    assert sync_client.list_customers()["count"] == 0
    with pytest.raises(NotFoundError):
        sync_client.delete_customer(created.uuid)


async def test_duplicate_customer_key_is_a_conflict(client: AsyncCostManagerClient) -> None:
    """A second customer with the same key in one team answers 409 -> ConflictError."""
    first = await client.create_customer({"customer_key": "dup"})
    with pytest.raises(ConflictError) as info:
        await client.create_customer({"customer_key": "dup"})
    assert info.value.status_code == 409
    other = await client.create_customer({"customer_key": "other"})
    with pytest.raises(ConflictError):
        await client.update_customer(other.uuid, {"customer_key": "dup"})
    assert (await client.get_customer(first.uuid)).customer_key == "dup"


async def test_customers_are_team_scoped(
    client: AsyncCostManagerClient, admin: Any, api_base: str
) -> None:
    """A key of another team neither sees nor changes this team's customers."""
    created = await client.create_customer({"customer_key": "mine"})
    other_key, _ = admin.new_api_key()
    async with AsyncCostManagerClient(aicm_api_key=other_key, aicm_api_base=api_base) as other:
        assert (await other.list_customers())["count"] == 0
        with pytest.raises(NotFoundError):
            await other.get_customer(created.uuid)
        with pytest.raises(NotFoundError):
            await other.delete_customer(created.uuid)
        await other.create_customer({"customer_key": "mine"})  # same key, other team: fine


async def test_pagination_follows_next(client: AsyncCostManagerClient) -> None:
    """Seven customers in pages of three: next links, typed pages, and iter_* see all."""
    keys = [f"c{i}" for i in range(7)]
    for key in keys:
        await client.create_customer({"customer_key": key})
    first = await client.list_customers_typed(limit=3)
    assert first.count == 7 and len(first.results) == 3
    assert first.next is not None and first.previous is None
    assert first.next.startswith(client.api_root)
    seen = [c.customer_key async for c in client.iter_customers(CustomerFilters(limit=3))]
    assert seen == keys
    last = await client.list_customers_typed({"limit": 3, "offset": 6})
    assert [c.customer_key for c in last.results] == ["c6"]
    assert last.next is None and last.previous is not None


def test_sync_iteration_crosses_pages(sync_client: CostManagerClient) -> None:
    """The blocking iter_customers yields every item across pages, and can stop early."""
    for i in range(5):
        sync_client.create_customer({"customer_key": f"s{i}"})
    assert [c.customer_key for c in sync_client.iter_customers(limit=2)] == [
        f"s{i}" for i in range(5)
    ]
    iterator = sync_client.iter_customers(limit=2)
    assert next(iterator).customer_key == "s0"
    iterator.close()


async def test_customer_filters(client: AsyncCostManagerClient) -> None:
    """customer_key is exact; name, phone and address (e-mail) match substrings."""
    await client.create_customer(
        {"customer_key": "k1", "name": "Alpha Ltd", "phone": "111", "email": "x@alpha.test"}
    )
    await client.create_customer(
        {"customer_key": "k2", "name": "Beta Ltd", "phone": "222", "email": "y@beta.test"}
    )

    async def keys(**filters: str) -> list[str]:
        page = await client.list_customers_typed(CustomerFilters(**filters))
        return [c.customer_key for c in page.results]

    assert await keys(customer_key="k2") == ["k2"]
    assert await keys(customer_key="k") == []
    assert await keys(name="alpha") == ["k1"]
    assert await keys(name="Ltd") == ["k1", "k2"]
    assert await keys(phone="22") == ["k2"]
    assert await keys(address="beta.test") == ["k2"]
    assert await keys(name="100%") == []


async def test_bad_paging_is_unprocessable(client: AsyncCostManagerClient) -> None:
    """limit=0 is rejected by the server with 422 -> UnprocessableEntityError."""
    with pytest.raises(UnprocessableEntityError) as info:
        await client.list_customers(limit=0)
    assert info.value.status_code == 422


async def test_invalid_body_fails_before_sending(client: AsyncCostManagerClient) -> None:
    """A body the request model rejects raises ValueError at the call site."""
    with pytest.raises(ValueError, match="customer_key"):
        await client.create_customer({"name": "no key"})
    with pytest.raises(ValueError, match="extra"):
        await client.create_customer({"customer_key": "x", "unknown": 1})


def test_sync_client_shared_by_threads(sync_client: CostManagerClient) -> None:
    """One blocking client used by eight threads at once creates every customer once."""

    def create(i: int) -> str:
        return sync_client.create_customer({"customer_key": f"t{i}"}).customer_key

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = sorted(pool.map(create, range(24)))
    assert created == sorted(f"t{i}" for i in range(24))
    assert sync_client.list_customers(limit=100)["count"] == 24


async def test_async_client_concurrent_requests(client: AsyncCostManagerClient) -> None:
    """Concurrent requests on one async client share its connection pool."""
    results: list[str] = []

    async def create(i: int) -> None:
        results.append((await client.create_customer({"customer_key": f"a{i}"})).uuid)

    async with anyio.create_task_group() as tg:
        for i in range(30):
            tg.start_soon(create, i)
    assert len(set(results)) == 30
    assert (await client.list_customers_typed(limit=1)).count == 30
