"""Constructor options: proxies, extra headers, a custom transport, configuration sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import (
    APIResponseValidationError,
    APITimeoutError,
    ConfigurationError,
)
from aicostmanager._sync_client import CostManagerClient

from ._helpers import PageServer, RecordingProxy


async def test_requests_go_through_the_proxy_with_extra_headers(
    api_key: str, api_base: str
) -> None:
    """A proxy URL routes every request through it; extra headers are sent on each."""
    with RecordingProxy() as proxy:
        async with AsyncCostManagerClient(
            aicm_api_key=api_key,
            aicm_api_base=api_base,
            proxies=proxy.url,
            headers={"X-Team-Trace": "abc"},
        ) as client:
            created = await client.create_customer({"customer_key": "via-proxy"})
            assert (await client.get_customer(created.uuid)).customer_key == "via-proxy"
    lines = [line for line, _ in proxy.requests]
    assert lines[0] == f"POST {api_base}/api/v1/customers/ HTTP/1.1"
    assert lines[1].startswith(f"GET {api_base}/api/v1/customers/{created.uuid}/ ")
    for _, headers in proxy.requests:
        assert headers["x-team-trace"] == "abc"
        assert headers["authorization"] == f"Bearer {api_key}"
        assert headers["user-agent"].startswith("aicostmanager-python")


def test_sync_client_with_proxy_map(api_key: str, api_base: str) -> None:
    """A proxy map (scheme -> proxy URL) works for the blocking client too."""
    with RecordingProxy() as proxy:
        with CostManagerClient(
            aicm_api_key=api_key, aicm_api_base=api_base, proxies={"http": proxy.url}
        ) as client:
            assert client.list_webhook_endpoints()["total_count"] == 0
    assert [line.split(" ")[1] for line, _ in proxy.requests] == [
        f"{api_base}/api/v1/webhooks/?active_only=false"
    ]


async def test_custom_transport() -> None:
    """A custom httpx transport receives the requests (here a MockTransport)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/vendors/"):
            return httpx.Response(200, json=[{"uuid": "v1", "name": "acme", "new_field": 1}])
        return httpx.Response(204)

    async with AsyncCostManagerClient(
        aicm_api_key="sk-x.1",
        aicm_api_base="https://api.example.test",
        aicm_api_url="/custom/v9/",
        transport=httpx.MockTransport(handler),
    ) as client:
        assert client.api_root == "https://api.example.test/custom/v9"
        (vendor,) = await client.list_vendors_typed()
        assert vendor.name == "acme" and vendor.model_extra == {"new_field": 1}
        assert await client.delete_customer("c1") is None
    assert [str(r.url) for r in seen] == [
        "https://api.example.test/custom/v9/vendors/",
        "https://api.example.test/custom/v9/customers/c1/",
    ]
    assert seen[0].headers["authorization"] == "Bearer sk-x.1"


async def test_query_encoding_on_the_wire(api_key: str, api_base: str) -> None:
    """Lists repeat keys, booleans are lowercase, None is dropped, context becomes context.<k>."""
    with RecordingProxy() as proxy:
        async with AsyncCostManagerClient(
            aicm_api_key=api_key, aicm_api_base=api_base, proxies=proxy.url
        ) as client:
            page = await client.list_cost_events(
                {"service_key": ["a::b", "c::d"], "customer_key": None, "context": {"env": "x"}}
            )
            assert page["count"] == 0
            assert await client.list_custom_services(is_active=True, is_deleted=False) == []
    queries = [line.split(" ")[1].partition("?")[2] for line, _ in proxy.requests]
    assert queries == [
        "service_key=a%3A%3Ab&service_key=c%3A%3Ad&context.env=x",
        "is_active=true&is_deleted=false",
    ]


async def test_next_link_on_another_origin_is_refused() -> None:
    """A next URL on another origin (here another 127.0.0.1 port) is never requested."""
    with PageServer() as first, PageServer() as second:
        elsewhere = f"http://127.0.0.1:{second.port}/api/v1/customers/?offset=1"
        first.pages["/api/v1/customers/?limit=1"] = {
            "count": 2,
            "next": elsewhere,
            "previous": None,
            "results": [{"uuid": "u1", "customer_key": "a"}],
        }
        second.pages["/api/v1/customers/?offset=1"] = {
            "count": 2,
            "next": None,
            "previous": None,
            "results": [{"uuid": "u2", "customer_key": "b"}],
        }
        keys: list[str] = []
        async with AsyncCostManagerClient(
            aicm_api_key="sk-x.1", aicm_api_base=f"http://127.0.0.1:{first.port}"
        ) as client:
            with pytest.raises(APIResponseValidationError, match="another origin") as caught:
                async for customer in client.iter_customers(limit=1):
                    keys.append(customer.customer_key)  # noqa: PERF401 - raises mid-way
    assert keys == ["a"]
    assert caught.value.status_code == 200
    assert second.seen == []


async def test_relative_next_link_is_followed_on_the_same_origin() -> None:
    """A relative next link resolves against the page's URL and keeps the configured origin."""
    with PageServer() as server:
        server.pages["/api/v1/customers/"] = {
            "next": "/api/v1/customers/?offset=1",
            "results": [{"uuid": "u1", "customer_key": "a"}],
        }
        server.pages["/api/v1/customers/?offset=1"] = {
            "next": None,
            "results": [{"uuid": "u2", "customer_key": "b"}],
        }
        async with AsyncCostManagerClient(
            aicm_api_key="sk-x.1", aicm_api_base=f"http://127.0.0.1:{server.port}"
        ) as client:
            keys = [c.customer_key async for c in client.iter_customers()]
    assert keys == ["a", "b"]
    assert [auth for _, auth in server.seen] == ["Bearer sk-x.1", "Bearer sk-x.1"]


async def test_next_link_under_the_api_root_is_made_relative() -> None:
    """A next URL under the API root is requested through the client's own root."""
    with PageServer() as server:
        root = f"http://127.0.0.1:{server.port}/api/v1"
        server.pages["/api/v1/costs/"] = {
            "count": 2,
            "next": f"{root}/costs/?limit=1&offset=1",
            "results": [{"service_key": "a::b", "quantity": 1, "cost_per_unit": 1, "cost": 1}],
        }
        server.pages["/api/v1/costs/?limit=1&offset=1"] = {
            "count": 2,
            "next": None,
            "results": [{"service_key": "a::b", "quantity": 2, "cost_per_unit": 1, "cost": 2}],
        }
        async with AsyncCostManagerClient(aicm_api_key="sk-x.1", aicm_api_base=root[:-7]) as c:
            costs = [e.cost async for e in c.iter_cost_events()]
    assert costs == [1, 2]
    assert [path for path, _ in server.seen] == [
        "/api/v1/costs/",
        "/api/v1/costs/?limit=1&offset=1",
    ]


async def test_timeout_option(api_key: str, api_base: str, admin: Any) -> None:
    """timeout bounds each attempt: a hanging server gives APITimeoutError."""
    key_id = api_key.rsplit(".", 1)[-1]
    admin.add_fault(path="/vendors/", latency=5, count=1, api_key_id=key_id)
    try:
        async with AsyncCostManagerClient(
            aicm_api_key=api_key, aicm_api_base=api_base, timeout=0.3, max_attempts=1
        ) as client:
            with pytest.raises(APITimeoutError):
                await client.list_vendors()
    finally:
        admin.clear_faults()


def test_ini_and_env_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Base URL from the INI, overridden by the environment, overridden by the argument."""
    ini = tmp_path / "AICM.INI"
    ini.write_text("[tracker]\nAICM_API_BASE = http://ini.test\nAICM_MAX_ATTEMPTS = 5\n")
    client = AsyncCostManagerClient(aicm_api_key="sk.1", ini_path=ini)
    assert client.api_root == "http://ini.test/api/v1" and client.max_attempts == 5
    monkeypatch.setenv("AICM_API_BASE", "http://env.test")
    assert AsyncCostManagerClient(aicm_api_key="sk.1", ini_path=ini).api_root == (
        "http://env.test/api/v1"
    )
    sync = CostManagerClient(aicm_api_key="sk.1", ini_path=ini, aicm_api_base="http://a.test")
    assert sync.api_root == "http://a.test/api/v1" and "sk.1" not in repr(sync)
    with pytest.raises(ConfigurationError):
        AsyncCostManagerClient(aicm_api_key="sk.1", max_attempts=0)
