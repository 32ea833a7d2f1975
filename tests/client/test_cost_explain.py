"""The explain view through both REST clients: quantity x rate = amount, catalogue, flags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._exceptions import NotFoundError
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import CostExplanation

from ._helpers import track

PAYLOAD = {
    "input_tokens": 10,
    "output_tokens": 5,
    "cache_creation_input_tokens": 1_000,
    "cache_creation": {"ephemeral_1h_input_tokens": 1_000},
    "server_tool_use": {"web_search_requests": 1},
    "aicm_estimated": ["input_tokens"],
}


async def test_explain_cost_async(
    client: AsyncCostManagerClient, api_root: str, api_key: str
) -> None:
    """The async client parses every line, the catalogue and the estimated flag."""
    answer = track(
        api_root,
        api_key,
        [{"service_key": "anthropic::claude-sonnet-4-5", "payload": PAYLOAD}],
    )
    rid = answer["results"][0]["response_id"]
    explained = await client.explain_cost(rid)
    assert isinstance(explained, CostExplanation)
    assert explained.catalog_name == "genai-prices" and explained.catalog_version
    assert explained.estimated and explained.estimated_fields == ["input_tokens"]
    assert explained.fully_priced
    by_unit = {line.cost_unit_id: line for line in explained.lines}
    # Sonnet 4.5: 1h cache writes $6/MTok, web search $10 per 1000.
    assert by_unit["cache_write_1h_tokens"].cost == Decimal("0.006")
    assert by_unit["web_searches"].cost == Decimal("0.01")
    for line in explained.lines:
        assert line.quantity * line.cost_per_unit == line.cost
    assert explained.total == sum(line.cost for line in explained.lines)
    with pytest.raises(NotFoundError):
        await client.explain_cost("never-tracked")


def test_explain_cost_sync(sync_client: CostManagerClient, api_root: str, api_key: str) -> None:
    """The sync client answers the same explanation."""
    answer = track(
        api_root,
        api_key,
        [
            {
                "service_key": "openai::gpt-4o",
                "payload": {"prompt_tokens": 100, "completion_tokens": 20, "odd_units": 3},
            }
        ],
    )
    rid = answer["results"][0]["response_id"]
    explained = sync_client.explain_cost(rid)
    assert not explained.fully_priced and explained.unpriced_fields == ["odd_units"]
    assert explained.total == Decimal("0.00045")


async def test_explain_custom_service_cost(
    client: AsyncCostManagerClient, api_root: str, api_key: str
) -> None:
    """A custom service's lines say so, with no catalogue version."""
    await client.create_custom_service(
        {
            "custom_service_key": "acme::meter",
            "configuration": {
                "cost_units": [{"name": "unit", "cost": "0.5", "unit": "u"}],
                "mappings": [{"field": "n", "cost_unit": "unit"}],
            },
        }
    )
    answer = track(api_root, api_key, [{"service_key": "acme::meter", "payload": {"n": 3}}])
    explained = await client.explain_cost(answer["results"][0]["response_id"])
    assert explained.catalog_name == "custom service" and explained.catalog_version is None
    assert [line.source for line in explained.lines] == ["custom service"]
    assert explained.total == Decimal("1.5")
