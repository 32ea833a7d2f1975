"""Across genai-prices' whole catalogue, the cost lines sum exactly to genai-prices' total."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price, data_snapshot
from genai_prices.data_units import unit_data

from aicostmanager.server import _price_supplement, _pricing

WHEN = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _sample(scale: int) -> dict[str, int]:
    """A consistent usage in genai-prices' keys: each unit 10x the more specific ones below
    it, so that no decomposition goes negative; ``scale`` moves it across tiers."""
    return {
        key: scale * 10 ** (7 - len(spec["dimensions"]))
        for key, spec in unit_data.items()
        if key != "requests"
    }


def _models() -> list[tuple[str, str]]:
    return [
        (provider.id, model.id)
        for provider in data_snapshot.get_snapshot().providers
        for model in provider.models
    ]


@pytest.mark.parametrize("scale", [1, 3])
def test_lines_sum_to_genai_prices_total_for_every_model(scale: int) -> None:
    """For every provider and model, the lines of a full sample usage add up to calc_price."""
    payload = _sample(scale)
    checked = 0
    supplemented = {(r.provider_id, r.model_id) for r in _price_supplement.PRICE_ROWS}
    for provider_id, model_id in _models():
        if (provider_id, model_id) in supplemented:
            continue
        service_key = f"{provider_id}::{model_id}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = calc_price(
                    Usage(**payload),
                    model_id,
                    provider_id=provider_id,
                    genai_request_timestamp=WHEN,
                ).total_price
        except (LookupError, ValueError):
            continue  # genai-prices itself cannot price this usage for this model
        priced = _pricing.price_event(service_key, payload, WHEN)
        assert priced is not None, service_key
        total = sum((line.cost for line in priced.lines), Decimal(0))
        assert total == expected, service_key
        for line in priced.lines:
            assert line.quantity * line.cost_per_unit == line.cost or line.cost_unit_id in (
                "audio_seconds",
                "input_audio_seconds",
                "output_audio_seconds",
            ), (service_key, line)
        checked += 1
    assert checked > 500


def test_supplemented_model_sums_to_genai_prices_rules_with_the_extra_rate() -> None:
    """gpt-4o-audio-preview's lines equal genai-prices' arithmetic with the supplement rates."""
    payload = {
        "prompt_tokens": 1_000,
        "completion_tokens": 500,
        "prompt_tokens_details": {"audio_tokens": 600},
        "completion_tokens_details": {"audio_tokens": 300},
    }
    priced = _pricing.price_event("openai::gpt-4o-audio-preview", payload, WHEN)
    assert priced is not None
    assert priced.supplement == ["input_audio_tokens", "output_audio_tokens"]
    total = sum((line.cost for line in priced.lines), Decimal(0))
    # 400 text in at $2.50, 600 audio in at $40, 200 text out at $10, 300 audio out at $80.
    assert total == (400 * Decimal("2.5") + 600 * 40 + 200 * 10 + 300 * 80) / Decimal(10**6)
    assert priced.unpriced == []
