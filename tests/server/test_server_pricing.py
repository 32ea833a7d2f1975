"""Pricing of catalogue services: Decimal-exact against genai-prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage, calc_price
from server_helpers import Api, record

CASES: list[tuple[str, str, str, dict[str, Any], dict[str, int]]] = [
    (
        "openai::gpt-4o",
        "openai",
        "gpt-4o",
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 200},
    ),
    (
        "openai::gpt-5-mini",
        "openai",
        "gpt-5-mini",
        {
            "input_tokens": 500,
            "output_tokens": 700,
            "total_tokens": 1200,
            "input_tokens_details": {"cached_tokens": 100},
            "output_tokens_details": {"reasoning_tokens": 300},
        },
        {"input_tokens": 500, "output_tokens": 700, "cache_read_tokens": 100},
    ),
    (
        "anthropic::claude-sonnet-4-5",
        "anthropic",
        "claude-sonnet-4-5",
        {
            "input_tokens": 50,
            "output_tokens": 400,
            "cache_creation_input_tokens": 1000,
            "cache_read_input_tokens": 3000,
        },
        {
            "input_tokens": 4050,
            "output_tokens": 400,
            "cache_read_tokens": 3000,
            "cache_write_tokens": 1000,
        },
    ),
    (
        "anthropic::claude-sonnet-4-5",
        "anthropic",
        "claude-sonnet-4-5",
        {"input_tokens": 250000, "output_tokens": 10},
        {"input_tokens": 250000, "output_tokens": 10},
    ),
    (
        "google::gemini-2.5-pro",
        "google",
        "gemini-2.5-pro",
        {
            "promptTokenCount": 900,
            "candidatesTokenCount": 80,
            "thoughtsTokenCount": 20,
            "cachedContentTokenCount": 300,
            "totalTokenCount": 1000,
        },
        {"input_tokens": 900, "output_tokens": 100, "cache_read_tokens": 300},
    ),
    (
        "amazon-bedrock::us.amazon.nova-pro-v1:0",
        "aws",
        "us.amazon.nova-pro-v1:0",
        {"inputTokens": 321, "outputTokens": 123, "totalTokens": 444},
        {"input_tokens": 321, "output_tokens": 123},
    ),
    (
        "xai::grok-3",
        "x-ai",
        "grok-3",
        {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
        {"input_tokens": 10, "output_tokens": 20},
    ),
]


@pytest.mark.parametrize(("service_key", "provider", "model", "payload", "usage"), CASES)
def test_cost_matches_genai_prices(
    api: Api,
    service_key: str,
    provider: str,
    model: str,
    payload: dict[str, Any],
    usage: dict[str, int],
) -> None:
    """The cost lines of a priced record add up exactly to genai-prices' total."""
    (result,) = api.track_ok(record("p", service_key, payload=payload))
    assert result["status"] == "completed"
    lines = result["cost_events"]
    total = sum((Decimal(line["cost"]) for line in lines), Decimal(0))
    expected = calc_price(Usage(**usage), model, provider_id=provider).total_price
    assert total == expected
    assert expected > 0
    for line in lines:
        assert line["service_key"] == service_key
        assert Decimal(line["quantity"]) > 0
        assert Decimal(line["quantity"]) * Decimal(line["cost_per_unit"]) == Decimal(line["cost"])
        assert "E" not in line["cost"] and "E" not in line["cost_per_unit"]


def test_cached_tokens_not_billed_twice(api: Api) -> None:
    """Cached input tokens are billed as cache reads only, not also as input."""
    payload = {
        "prompt_tokens": 1000,
        "completion_tokens": 0,
        "prompt_tokens_details": {"cached_tokens": 400},
    }
    (result,) = api.track_ok(record("c", payload=payload))
    quantities = {line["cost_unit_id"]: line["quantity"] for line in result["cost_events"]}
    assert quantities == {"input_tokens": "600", "cache_read_tokens": "400"}


def test_cached_more_than_input_is_error(api: Api) -> None:
    """Inconsistent usage (more cached than total input) is a per-record error."""
    payload = {
        "prompt_tokens": 10,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cached_tokens": 50},
    }
    (result,) = api.track_ok(record("x", payload=payload))
    assert result["status"] == "error"
    assert "cannot price" in result["errors"][0]


def test_costs_stored_as_sent(api: Api) -> None:
    """The cost events served by /cost-events equal those returned by /track."""
    (result,) = api.track_ok(
        record("s", "anthropic::claude-sonnet-4-5", payload={"input_tokens": 7, "output_tokens": 9})
    )
    stored = api.get("/cost-events/s")
    keys = ("provider_id", "service_key", "cost_unit_id", "quantity", "cost_per_unit", "cost")
    assert [{k: e[k] for k in keys} for e in stored] == result["cost_events"]
    for event in stored:
        assert event["response_id"] == "s"
        assert event["api_key_id"] == api.key_id
        assert {"uuid", "event_id", "team_id", "timestamp", "daily_rollup_status"} <= set(event)
