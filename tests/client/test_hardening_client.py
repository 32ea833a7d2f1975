"""REST client hardening: ids stay in their path segment, answers are validated, typed errors."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from aicostmanager import AICMError, APIResponseValidationError, NotFoundError
from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._client._base import segment
from aicostmanager.models import UsageLimitIn

from ._helpers import PageServer


async def test_an_id_cannot_escape_its_resource(client: AsyncCostManagerClient) -> None:
    """delete_customer('../usage-limits/<id>') hits a customer path (404), the limit survives."""
    limit = await client.create_usage_limit(
        UsageLimitIn(threshold_type="limit", amount=Decimal("5"), period="day")
    )
    for escape in (f"../usage-limits/{limit.uuid}", f"..%2Fusage-limits%2F{limit.uuid}"):
        with pytest.raises(NotFoundError):
            await client.delete_customer(escape)
        with pytest.raises(NotFoundError):
            await client.update_customer(escape, {"customer_key": "x"})
    assert (await client.get_usage_limit(limit.uuid)).uuid == limit.uuid


async def test_dot_segments_are_not_normalised_away(client: AsyncCostManagerClient) -> None:
    """An id of '.' or '..' is a (missing) customer, not the list or the API root."""
    for dots in (".", ".."):
        with pytest.raises(NotFoundError):
            await client.get_customer(dots)
        with pytest.raises(NotFoundError):
            await client.delete_usage_limit(dots)


def test_segment_quotes_everything_that_could_change_the_path() -> None:
    """segment() leaves one opaque segment; UUIDs and ints are accepted, other types are not."""
    assert segment("a/b?c#d e", "x") == "a%2Fb%3Fc%23d%20e"
    assert segment("..", "x") == "%2E%2E"
    value = uuid.UUID(int=7)
    assert segment(value, "x") == str(value)
    assert segment(12, "x") == "12"
    with pytest.raises(TypeError):
        segment(None, "x")
    with pytest.raises(TypeError):
        segment(True, "x")
    with pytest.raises(ValueError, match="empty"):
        segment("", "x")
    with pytest.raises(ValueError, match="Unicode"):
        segment("\ud800", "x")


async def test_invalid_answer_raises_api_response_validation_error() -> None:
    """A 2xx answer that does not fit the model raises APIResponseValidationError."""
    with PageServer() as server:
        server.pages["/api/v1/customers/abc/"] = {"uuid": ["not", "a", "string"]}
        server.pages["/api/v1/usage-limits/"] = {"not": "a list"}
        server.pages["/api/v1/customers/"] = {"results": "nope"}
        async with AsyncCostManagerClient(
            aicm_api_key="sk-x.1", aicm_api_base=f"http://127.0.0.1:{server.port}"
        ) as client:
            with pytest.raises(APIResponseValidationError) as caught:
                await client.get_customer("abc")
            assert caught.value.status_code == 200 and caught.value.errors
            assert isinstance(caught.value, AICMError)
            with pytest.raises(APIResponseValidationError):
                await client.list_usage_limits_typed()
            with pytest.raises(APIResponseValidationError):
                [c async for c in client.iter_customers()]


async def test_next_link_loop_is_refused() -> None:
    """A next link pointing back to a page already read stops with a clear error."""
    with PageServer() as server:
        page: dict[str, Any] = {
            "next": f"http://127.0.0.1:{server.port}/api/v1/customers/",
            "results": [{"uuid": "u1", "customer_key": "a"}],
        }
        server.pages["/api/v1/customers/"] = page
        async with AsyncCostManagerClient(
            aicm_api_key="sk-x.1", aicm_api_base=f"http://127.0.0.1:{server.port}"
        ) as client:
            with pytest.raises(APIResponseValidationError, match="already read"):
                [c async for c in client.iter_customers()]
    assert len(server.seen) == 2


@pytest.mark.parametrize(
    "link",
    ["http://[::1/api/v1/customers/", "https://127.0.0.1:{port}/api/v1/customers/?o=1", 42],
    ids=["malformed", "other-scheme", "not-text"],
)
async def test_odd_next_links_raise_a_typed_error(link: Any) -> None:
    """A malformed next link, another scheme on the same host:port, or a non-string link raise
    APIResponseValidationError and are never requested."""
    with PageServer() as server:
        if isinstance(link, str):
            link = link.format(port=server.port)
        server.pages["/api/v1/customers/"] = {
            "next": link,
            "results": [{"uuid": "u1", "customer_key": "a"}],
        }
        async with AsyncCostManagerClient(
            aicm_api_key="sk-x.1", aicm_api_base=f"http://127.0.0.1:{server.port}"
        ) as client:
            with pytest.raises(APIResponseValidationError):
                [c async for c in client.iter_customers()]
    assert [path for path, _ in server.seen] == ["/api/v1/customers/"]
