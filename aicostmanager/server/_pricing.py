"""Pricing of catalogue services with the ``genai-prices`` data snapshot.

A service key ``<vendor>::<model>`` is priced when the vendor maps to a genai-prices provider
and the model is found there. The usage payload (any shape of api-contract §7.3) is first
normalised to genai-prices usage keys (:func:`normalize_usage`), then split into one
:class:`CostLine` per priced unit, using the same leaf decomposition as genai-prices (cached
input tokens are not also billed as input tokens), so the lines add up exactly to
``genai_prices.calc_price(...).total_price``.

Cost unit ids are genai-prices usage keys: ``input_tokens`` (uncached input),
``output_tokens``, ``cache_read_tokens``, ``cache_write_tokens``, ``input_audio_tokens``, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp_types

from .._service_key import split_service_key

try:  # the unit registry and price resolution of genai-prices 0.2 (used to split per unit)
    from genai_prices.units import _get_registry

    _collect_resolved_model_prices = gp_types._collect_resolved_model_prices
except (ImportError, AttributeError) as exc:  # pragma: no cover - depends on the installed version
    raise ImportError(
        "aicostmanager.server needs genai-prices 0.2: pip install 'genai-prices>=0.2.3,<0.3'"
    ) from exc

__all__ = (
    "CostLine",
    "PricingError",
    "cost_event",
    "decimal_text",
    "normalize_usage",
    "pico_text",
    "price_catalog",
    "price_catalog_wire",
    "provider_for_vendor",
    "resolved_prices",
)

# Our vendor slugs -> genai-prices provider ids (identical slugs are not listed).
_VENDOR_TO_PROVIDER: dict[str, str] = {
    "amazon-bedrock": "aws",
    "bedrock": "aws",
    "aws-bedrock": "aws",
    "fireworks-ai": "fireworks",
    "xai": "x-ai",
    "gemini": "google",
    "google-gemini": "google",
    "vertex-ai": "google",
    "azure-openai": "azure",
    "mistralai": "mistral",
    "together-ai": "together",
}

_MODEL_PREFIXES = ("accounts/fireworks/models/", "models/")


@dataclass(frozen=True)
class CostLine:
    """One priced cost unit of one event (all amounts in USD)."""

    provider_id: str
    service_key: str
    cost_unit_id: str
    quantity: Decimal
    cost_per_unit: Decimal
    cost: Decimal


class PricingError(ValueError):
    """The usage payload cannot be priced (no token counts, negative or inconsistent counts)."""


def provider_for_vendor(vendor: str) -> str:
    """The genai-prices provider id of one of our vendor slugs."""
    vendor = vendor.lower()
    return _VENDOR_TO_PROVIDER.get(vendor, vendor)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise PricingError(f"token count {value!r} is not an integer")


def _get(payload: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        if name in payload:
            found = _int(payload[name])
            if found is not None:
                return found
    return None


def _sub(payload: Mapping[str, Any], parent: str, name: str) -> int | None:
    details = payload.get(parent)
    if isinstance(details, Mapping):
        return _get(details, name)
    return None


def normalize_usage(payload: Mapping[str, Any]) -> dict[str, int]:
    """Map a usage payload of any supported shape to genai-prices usage keys.

    ``input_tokens`` always means all input tokens, cached ones included (genai-prices'
    convention); Anthropic and Bedrock report them apart, so they are added back.

    Raises:
        PricingError: a count is not a non-negative integer.
    """
    out: dict[str, int] = {}
    inp = out_tok = cache_read = cache_write = None
    in_audio = out_audio = None
    if "prompt_tokens" in payload or "completion_tokens" in payload:  # OpenAI chat
        inp = _get(payload, "prompt_tokens")
        out_tok = _get(payload, "completion_tokens")
        cache_read = _sub(payload, "prompt_tokens_details", "cached_tokens")
        in_audio = _sub(payload, "prompt_tokens_details", "audio_tokens")
        out_audio = _sub(payload, "completion_tokens_details", "audio_tokens")
    elif (
        "promptTokenCount" in payload
        or "candidatesTokenCount" in payload
        or ("prompt_token_count" in payload or "candidates_token_count" in payload)
    ):  # Gemini
        inp = _get(payload, "promptTokenCount", "prompt_token_count")
        tool = _get(payload, "toolUsePromptTokenCount", "tool_use_prompt_token_count")
        if tool:
            inp = (inp or 0) + tool
        out_tok = _get(payload, "candidatesTokenCount", "candidates_token_count")
        thoughts = _get(payload, "thoughtsTokenCount", "thoughts_token_count")
        if thoughts:
            out_tok = (out_tok or 0) + thoughts
        cache_read = _get(payload, "cachedContentTokenCount", "cached_content_token_count")
    elif "inputTokens" in payload or "outputTokens" in payload:  # Bedrock Converse
        cache_read = _get(payload, "cacheReadInputTokens", "cacheReadInputTokenCount")
        cache_write = _get(payload, "cacheWriteInputTokens", "cacheWriteInputTokenCount")
        inp = (_get(payload, "inputTokens") or 0) + (cache_read or 0) + (cache_write or 0)
        out_tok = _get(payload, "outputTokens")
    elif "cache_creation_input_tokens" in payload or "cache_read_input_tokens" in payload:
        cache_read = _get(payload, "cache_read_input_tokens")
        cache_write = _get(payload, "cache_creation_input_tokens")
        inp = (_get(payload, "input_tokens") or 0) + (cache_read or 0) + (cache_write or 0)
        out_tok = _get(payload, "output_tokens")
    else:  # OpenAI Responses, or genai-prices keys directly
        inp = _get(payload, "input_tokens")
        out_tok = _get(payload, "output_tokens")
        cache_read = _get(payload, "cache_read_tokens")
        if cache_read is None:
            cache_read = _sub(payload, "input_tokens_details", "cached_tokens")
        cache_write = _get(payload, "cache_write_tokens")
        in_audio = _get(payload, "input_audio_tokens")
        out_audio = _get(payload, "output_audio_tokens")
    for name, value in (
        ("input_tokens", inp),
        ("output_tokens", out_tok),
        ("cache_read_tokens", cache_read),
        ("cache_write_tokens", cache_write),
        ("input_audio_tokens", in_audio),
        ("output_audio_tokens", out_audio),
    ):
        if value is not None:
            if value < 0:
                raise PricingError(f"{name} is negative")
            out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class _Rate:
    """An exact price per unit (a price divided by a power of ten), worked out once."""

    per_token: Decimal
    text: str  # decimal_text(per_token)
    pico: int | None  # per_token in pico-dollars, when that is a whole number


@dataclass(frozen=True)
class _Unit:
    usage_key: str
    per: int
    price: Decimal | gp_types.TieredPrices
    descendants: tuple[str, ...]
    rate: _Rate | None  # when not tiered and per is a power of ten
    # When tiered and per is a power of ten: the base rate, and (start, rate) per tier from
    # the highest start down (a tier applies when the total input exceeds its start).
    base_rate: _Rate | None
    tier_rates: tuple[tuple[int, _Rate], ...]


@dataclass(frozen=True)
class _Model:
    provider_id: str
    info: gp_types.ModelInfo
    # Units of the model's only price set, when its prices do not depend on time or context.
    fixed_units: tuple[_Unit, ...] | None


# service key -> model (None = not in the catalogue); ModelPrice id -> (price, units)
_model_cache: dict[str, _Model | None] = {}
_units_cache: dict[int, tuple[gp_types.ModelPrice, tuple[_Unit, ...]]] = {}


def _find_model(vendor: str, service: str) -> _Model | None:
    snapshot = data_snapshot.get_snapshot()
    provider_id = provider_for_vendor(vendor)
    refs = [service]
    refs.extend(service[len(p) :] for p in _MODEL_PREFIXES if service.startswith(p))
    for ref in refs:
        try:
            provider, model = snapshot.find_provider_model(ref, None, provider_id, None)
        except LookupError:
            continue
        # Without a price context, a plain ModelPrice applies at any time (variants need one).
        fixed = _units(model.prices) if isinstance(model.prices, gp_types.ModelPrice) else None
        return _Model(provider.id, model, fixed)
    return None


def _rate(price: Decimal, per: int) -> _Rate | None:
    if str(per).rstrip("0") != "1":
        return None
    exact = price / per
    return _Rate(exact, decimal_text(exact), _whole_pico(exact))


def _tier_rates(
    price: Decimal | gp_types.TieredPrices, per: int
) -> tuple[_Rate | None, tuple[tuple[int, _Rate], ...]]:
    if not isinstance(price, gp_types.TieredPrices):
        return None, ()
    base = _rate(price.base, per)
    tiers = [(tier.start, _rate(tier.price, per)) for tier in reversed(price.tiers)]
    if base is None or any(rate is None for _, rate in tiers):
        return None, ()
    return base, tuple((start, rate) for start, rate in tiers if rate is not None)


def resolved_prices(
    price: gp_types.ModelPrice,
) -> list[tuple[str, int, Decimal | gp_types.TieredPrices]]:
    """``(usage key, per, price)`` of every priced unit of a genai-prices model price."""
    return [
        (u.usage_key, u.per, p) for u, p in _collect_resolved_model_prices(price, _get_registry())
    ]


def _units(price: gp_types.ModelPrice) -> tuple[_Unit, ...]:
    cached = _units_cache.get(id(price))
    if cached is not None and cached[0] is price:
        return cached[1]
    registry = _get_registry()
    resolved = _collect_resolved_model_prices(price, registry)
    ordered = sorted(
        (unit for unit, _ in resolved), key=lambda u: (-len(u.dimensions), u.usage_key)
    )
    prices = {unit.usage_key: value for unit, value in resolved}
    units = tuple(
        _Unit(
            usage_key=unit.usage_key,
            per=unit.per,
            price=prices[unit.usage_key],
            descendants=tuple(
                d.usage_key
                for d in ordered
                if d is not unit and unit.dimensions.items() <= d.dimensions.items()
            ),
            rate=None if isinstance(price, gp_types.TieredPrices) else _rate(price, unit.per),
            base_rate=tiered[0],
            tier_rates=tiered[1],
        )
        for unit in ordered
        for price in (prices[unit.usage_key],)
        for tiered in (_tier_rates(price, unit.per),)
    )
    _units_cache[id(price)] = (price, units)
    return units


_PICO = 10**12
# Below this many units, ``rate.pico * leaf`` has at most 28 digits, so the Decimal
# product it replaces is exact too (Decimal rounds to 28 significant digits).
_FAST_LEAF = 10**15


def _whole_pico(value: Decimal) -> int | None:
    pico = value * _PICO
    return int(pico) if pico == pico.to_integral_value() and pico < 10**13 else None


def pico_text(pico: int) -> str:
    """``decimal_text`` of ``pico`` pico-dollars (``10**-12``) as dollars, by integer work."""
    digits = str(pico)
    if len(digits) > 12:
        whole, frac = digits[:-12], digits[-12:].rstrip("0")
    else:
        whole, frac = "0", digits.rjust(12, "0").rstrip("0")
    return f"{whole}.{frac}" if frac else whole


def decimal_text(value: Decimal) -> str:
    """A decimal as plain positional text (no exponent, no trailing zeros)."""
    text = str(value)
    if "E" in text:
        return format(value.normalize(), "f")
    if "." in text:
        # The same text as ``format(value.normalize(), "f")``, without the Decimal work.
        text = text.rstrip("0").rstrip(".")
    return text


def cost_event(line: CostLine) -> dict[str, str]:
    """The wire form of a cost line (decimals as strings), as in ``/track`` results."""
    return {
        "provider_id": line.provider_id,
        "service_key": line.service_key,
        "cost_unit_id": line.cost_unit_id,
        "quantity": decimal_text(line.quantity),
        "cost_per_unit": decimal_text(line.cost_per_unit),
        "cost": decimal_text(line.cost),
    }


# (unit, quantity, price per unit, cost, rate); cost None means exactly the rate's price per
# unit * quantity.
_Priced = list[tuple[_Unit, int, Decimal, Decimal | None, _Rate | None]]
_texts: dict[Decimal, str] = {}


def _cached_text(value: Decimal) -> str:
    """``decimal_text`` of a per-unit price (few distinct values, so memoised)."""
    text = _texts.get(value)
    if text is None:
        if len(_texts) > 4096:
            _texts.clear()
        text = _texts[value] = decimal_text(value)
    return text


def _price(
    service_key: str, usage: Mapping[str, Any], when: datetime | float | None
) -> tuple[_Model, _Priced] | None:
    if service_key in _model_cache:
        model = _model_cache[service_key]
    else:
        parts = split_service_key(service_key)
        model = None if parts is None else _find_model(*parts)
        _model_cache[service_key] = model
    if model is None:
        return None
    counts = normalize_usage(usage)
    if not counts:
        raise PricingError(f"payload carries no token counts usable for {service_key!r}")
    units = model.fixed_units
    if units is None:
        if when is None:
            when = datetime.now(tz=timezone.utc)
        elif not isinstance(when, datetime):
            when = datetime.fromtimestamp(when, tz=timezone.utc)
        units = _units(model.info.get_prices(when))
    total_input = counts.get("input_tokens", 0)
    leaves: dict[str, int] = {}
    priced: _Priced = []
    for unit in units:
        key = unit.usage_key
        if key == "requests":
            leaf = 1
        else:
            reported = counts.get(key)
            below = 0
            for d in unit.descendants:
                below += leaves.get(d, 0)
            if reported is None:
                if below:
                    raise PricingError(f"usage reports parts of {key} but not the total")
                reported = 0
            leaf = reported - below
            if leaf < 0:
                raise PricingError(f"cached or detailed counts exceed {key}")
        leaves[key] = leaf
        if not leaf:
            continue
        rate = unit.rate
        if rate is None and unit.base_rate is not None:
            rate = unit.base_rate
            for start, tier_rate in unit.tier_rates:
                if total_input > start:
                    rate = tier_rate
                    break
        cost: Decimal | None
        if rate is not None:
            per_token = rate.per_token
            cost = None  # per_token * leaf, worked out by the caller (see price_catalog_wire)
        else:
            price = unit.price
            if isinstance(price, gp_types.TieredPrices):
                tiered = price
                price = tiered.base
                for tier in reversed(tiered.tiers):
                    if total_input > tier.start:
                        price = tier.price
                        break
            per_token = price / unit.per
            cost = price * leaf / unit.per  # genai-prices' order of operations
        priced.append((unit, leaf, per_token, cost, rate))
    return model, priced


def price_catalog(
    service_key: str, usage: Mapping[str, Any], when: datetime | float | None = None
) -> list[CostLine] | None:
    """Price one event from the catalogue.

    Args:
        service_key: ``vendor::model``.
        usage: the record's payload.
        when: the event time, datetime or epoch seconds (prices may depend on it); default now.

    Returns:
        One line per priced unit with a non-zero quantity, or None when the service key is not
        in the catalogue.

    Raises:
        PricingError: the payload carries no usable token counts or inconsistent ones.
    """
    found = _price(service_key, usage, when)
    if found is None:
        return None
    model, priced = found
    return [
        CostLine(
            provider_id=model.provider_id,
            service_key=service_key,
            cost_unit_id=unit.usage_key,
            quantity=Decimal(leaf),
            cost_per_unit=per_token,
            cost=per_token * leaf if cost is None else cost,
        )
        for unit, leaf, per_token, cost, _ in priced
    ]


def price_catalog_wire(
    service_key: str, usage: Mapping[str, Any], when: datetime | float | None = None
) -> tuple[list[dict[str, str]], list[int | None]] | None:
    """:func:`price_catalog` straight to the wire form of :func:`cost_event` (the hot path),
    with each line's cost in pico-dollars when integer work gave it (None otherwise: it is
    then ``to_pico`` of the line's ``cost`` text, which equals the pico-dollars given here).

    Raises:
        PricingError: as :func:`price_catalog`.
    """
    found = _price(service_key, usage, when)
    if found is None:
        return None
    model, priced = found
    lines: list[dict[str, str]] = []
    picos: list[int | None] = []
    for unit, leaf, per_token, cost, rate in priced:
        pico: int | None = None
        if rate is not None and rate.pico is not None and leaf < _FAST_LEAF:
            pico = rate.pico * leaf
            text = pico_text(pico)
        else:
            text = decimal_text(per_token * leaf if cost is None else cost)
        lines.append(
            {
                "provider_id": model.provider_id,
                "service_key": service_key,
                "cost_unit_id": unit.usage_key,
                "quantity": str(leaf),
                "cost_per_unit": _cached_text(per_token) if rate is None else rate.text,
                "cost": text,
            }
        )
        picos.append(pico)
    return lines, picos
