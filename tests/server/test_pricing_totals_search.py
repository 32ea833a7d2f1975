"""Totals are informational; OpenAI web search calls are billed per call."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

from server_helpers import Api, record

from aicostmanager.server import _pricing

WHEN = datetime(2026, 12, 1, tzinfo=timezone.utc)
NOVA = "amazon-bedrock::amazon.nova-micro-v1:0"


def _costs(priced: _pricing.PricedEvent | None) -> dict[str, Decimal]:
    assert priced is not None
    return {line.cost_unit_id: line.cost for line in priced.lines}


def test_bedrock_total_tokens_is_not_flagged() -> None:
    """Bedrock Converse's ``totalTokens`` (a sum) leaves the event fully priced."""
    usage = {
        "inputTokens": 1000,
        "outputTokens": 100,
        "totalTokens": 1100,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }
    priced = _pricing.price_event(NOVA, usage, WHEN)
    assert priced is not None
    assert priced.unpriced == []
    assert set(_costs(priced)) == {"input_tokens", "output_tokens"}


def test_responses_web_search_calls_are_billed_per_call() -> None:
    """``web_search_calls`` on gpt-5.2 is genai-prices' web_searches unit: $10 per 1,000."""
    usage = {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 100,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1100,
        "web_search_calls": 3,
    }
    priced = _pricing.price_event("openai::gpt-5.2", usage, WHEN)
    assert priced is not None
    assert priced.unpriced == []
    assert _costs(priced)["web_searches"] == Decimal("0.03")


def test_web_search_calls_in_chat_and_bare_payloads() -> None:
    """The count is read next to chat usage and next to bare Responses token counts."""
    chat = {"prompt_tokens": 10, "completion_tokens": 5, "web_search_calls": 1}
    assert _costs(_pricing.price_event("openai::gpt-4o", chat, WHEN))["web_searches"] == Decimal(
        "0.01"
    )
    bare = {"input_tokens": 10, "output_tokens": 5, "web_search_calls": 2}
    assert _costs(_pricing.price_event("openai::gpt-4.1", bare, WHEN))["web_searches"] == Decimal(
        "0.02"
    )


def test_web_search_calls_without_a_rate_are_flagged(api: Api) -> None:
    """A model with no search rate stores its tokens and flags ``web_search_calls`` unpriced."""
    rid = uuid.uuid4().hex
    payload = {"prompt_tokens": 100, "completion_tokens": 20, "web_search_calls": 1}
    [result] = api.track_ok(
        record(rid, payload=payload, service_key="openai::gpt-4o-search-preview")
    )
    assert result["status"] == "completed"
    explained = api.get(f"/cost-events/{rid}/explain")
    assert explained["fully_priced"] is False
    assert explained["unpriced_fields"] == ["web_search_calls"]


def test_total_above_its_parts_is_flagged() -> None:
    """A total larger than the counts it sums names itself unpriced; a consistent one does not."""
    over = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 40}
    priced = _pricing.price_event("openai::gpt-4o", over, WHEN)
    assert priced is not None and priced.unpriced == ["total_tokens"]
    bedrock = {"inputTokens": 10, "outputTokens": 5, "cacheReadInputTokens": 5, "totalTokens": 20}
    priced = _pricing.price_event(NOVA, bedrock, WHEN)
    assert priced is not None and priced.unpriced == []
    priced = _pricing.price_event(NOVA, {**bedrock, "totalTokens": 21}, WHEN)
    assert priced is not None and priced.unpriced == ["totalTokens"]
