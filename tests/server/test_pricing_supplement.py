"""The supplement table only fills gaps of genai-prices: it fails once genai-prices has a rate."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from genai_prices import data_snapshot
from genai_prices.data_units import unit_data

from aicostmanager.server._price_supplement import FIELD_ROWS, PRICE_ROWS, FieldRate, PriceRate


@pytest.mark.parametrize("row", PRICE_ROWS, ids=lambda r: f"{r.model_id}:{r.price_key}")
def test_genai_prices_still_lacks_the_supplemented_price(row: PriceRate) -> None:
    """genai-prices has no price for this key of this model yet (else delete the row)."""
    snapshot = data_snapshot.get_snapshot()
    provider, model = snapshot.find_provider_model(row.model_id, None, row.provider_id, None)
    assert model.id == row.model_id
    prices = model.get_prices(datetime.now(tz=timezone.utc))
    assert getattr(prices, row.price_key) is None, (
        f"genai-prices now prices {row.price_key} of {row.model_id}: remove the supplement row"
    )
    assert row.source.startswith("https://") and row.checked


@pytest.mark.parametrize("row", FIELD_ROWS, ids=lambda r: r.field)
def test_genai_prices_still_has_no_unit_for_the_supplemented_field(row: FieldRate) -> None:
    """No genai-prices unit or extractor mapping reads this usage field yet."""
    assert row.unit_id not in unit_data
    for provider in data_snapshot.get_snapshot().providers:
        if provider.id != row.provider_id:
            continue
        for extractor in provider.extractors or ():
            for mapping in extractor.mappings:
                path = (
                    mapping.path
                    if isinstance(mapping.path, str)
                    else ".".join(str(p) for p in mapping.path)
                )
                assert path != row.field, f"genai-prices now reads {row.field}: remove the row"
    assert row.source.startswith("https://") and row.checked
