"""Pricing's per-shape and per-price-set caches never carry one event's counts into another."""

from __future__ import annotations

import random
import warnings
from datetime import datetime, timezone
from decimal import Decimal

from genai_prices import Usage, calc_price, data_snapshot
from genai_prices.data_units import unit_data

from aicostmanager.server import _price_supplement, _pricing

WHEN = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _subset(rng: random.Random) -> dict[str, int]:
    """A consistent usage reporting a random set of genai-prices keys: a key is kept only with
    every less specific key it belongs to, and each key is 10x the more specific ones."""
    keys = [k for k in unit_data if k != "requests"]
    kept = {k for k in keys if rng.random() < 0.6}
    kept = {k for k in kept if all(a in kept for a in _pricing._REGISTRY.ancestor_usage_keys(k))}
    scale = rng.choice([1, 7, 30])
    return {k: scale * 10 ** (7 - len(unit_data[k]["dimensions"])) for k in sorted(kept)}


def test_sparse_usages_sum_to_genai_prices_total_after_other_shapes() -> None:
    """Usages of different key sets, priced in turn per model, each sum to calc_price."""
    rng = random.Random(15)
    supplemented = {(r.provider_id, r.model_id) for r in _price_supplement.PRICE_ROWS}
    checked = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            if (provider.id, model.id) in supplemented:
                continue
            for _ in range(3):
                payload = _subset(rng)
                if not payload:
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        expected = calc_price(
                            Usage(**payload),
                            model.id,
                            provider_id=provider.id,
                            genai_request_timestamp=WHEN,
                        ).total_price
                except (LookupError, ValueError):
                    continue
                priced = _pricing.price_event(f"{provider.id}::{model.id}", payload, WHEN)
                assert priced is not None, (provider.id, model.id)
                total = sum((line.cost for line in priced.lines), Decimal(0))
                assert total == expected, (provider.id, model.id, payload)
                checked += 1
    assert checked > 500


def test_same_shape_other_values_are_priced_from_their_own_counts() -> None:
    """A payload shape seen before is priced from the new payload's values, not cached ones."""
    service_key = "anthropic::claude-sonnet-4-5"
    first = _pricing.price_event(
        service_key, {"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 10}
    )
    second = _pricing.price_event(
        service_key, {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 0}
    )
    assert first is not None and second is not None
    assert {line.cost_unit_id: line.quantity for line in first.lines} == {
        "cache_read_tokens": 10,
        "input_tokens": 100,
        "output_tokens": 50,
    }
    assert {line.cost_unit_id: line.quantity for line in second.lines} == {
        "input_tokens": 7,
        "output_tokens": 3,
    }
    assert sum(line.cost for line in second.lines) == Decimal("0.000066")
