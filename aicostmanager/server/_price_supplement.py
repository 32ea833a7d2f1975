"""Rates the provider publishes but genai-prices lacks: used only where genai-prices has none.

Each row names its source and the date it was checked. ``tests/server/test_pricing_supplement.py``
fails as soon as genai-prices gains a rate listed here, so this table only shrinks: delete the
row then.

Two kinds of rows:

- :data:`PRICE_ROWS`: a price for one of genai-prices' own price keys (``input_audio_mtok``...)
  on a model that has no price for it; it joins the model's genai-prices prices, so the usage is
  decomposed by genai-prices' rules as if the library had the rate.
- :data:`FIELD_ROWS`: a per-use fee for a usage field that genai-prices has no unit for at all
  (``server_tool_use.web_fetch_requests``); priced as a line of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ("FIELD_ROWS", "PRICE_ROWS", "FieldRate", "PriceRate", "field_rates", "price_rates")


@dataclass(frozen=True)
class PriceRate:
    """A price for a genai-prices price key of one model (USD per the key's ``per``)."""

    provider_id: str
    model_id: str
    price_key: str
    price: Decimal
    source: str
    checked: str


@dataclass(frozen=True)
class FieldRate:
    """A fee per unit of a usage field genai-prices has no unit for (USD per ``per``)."""

    provider_id: str
    field: str  # dotted payload path
    unit_id: str  # the cost unit of the line
    per: int
    price: Decimal
    source: str
    checked: str


_OPENAI_PRICING = "https://platform.openai.com/docs/pricing"

PRICE_ROWS: tuple[PriceRate, ...] = (
    PriceRate(
        "openai",
        "gpt-4o-audio-preview",
        "input_audio_mtok",
        Decimal(40),
        _OPENAI_PRICING,
        "2026-12-07",
    ),
    PriceRate(
        "openai",
        "gpt-4o-audio-preview",
        "output_audio_mtok",
        Decimal(80),
        _OPENAI_PRICING,
        "2026-12-07",
    ),
)
"""Prices for genai-prices price keys, per model."""

FIELD_ROWS: tuple[FieldRate, ...] = (
    FieldRate(
        "anthropic",
        "server_tool_use.web_fetch_requests",
        "web_fetch_requests",
        1000,
        Decimal(0),
        "https://docs.claude.com/en/docs/agents-and-tools/tool-use/web-fetch-tool"
        " (no charge beyond the tokens of the fetched content)",
        "2026-12-07",
    ),
)
"""Fees for usage fields outside genai-prices' units, per provider."""

_PRICES: dict[tuple[str, str], dict[str, PriceRate]] = {}
for _row in PRICE_ROWS:
    _PRICES.setdefault((_row.provider_id, _row.model_id), {})[_row.price_key] = _row
_FIELDS: dict[str, dict[str, FieldRate]] = {}
for _field in FIELD_ROWS:
    _FIELDS.setdefault(_field.provider_id, {})[_field.field] = _field


def price_rates(provider_id: str, model_id: str) -> dict[str, PriceRate]:
    """The supplement's prices of one genai-prices model (price key -> row), maybe empty."""
    return _PRICES.get((provider_id, model_id), {})


def field_rates(provider_id: str) -> dict[str, FieldRate]:
    """The supplement's per-field fees of one provider (dotted field -> row), maybe empty."""
    return _FIELDS.get(provider_id, {})
