"""Pricing of catalogue services with genai-prices, through its public API only.

A service key ``<vendor>::<model>`` is priced when the vendor maps to a genai-prices provider
and the model is found there. The payload is read by :mod:`._usage_extract` (genai-prices'
own extractors), the model's prices are resolved for the event's time and service tier
(``ModelInfo.get_prices``), filled where genai-prices has no rate from
:mod:`._price_supplement`, and the usage is split into one cost line per priced unit with
genai-prices' decomposition (``decompose.compute_leaf_values``: cached input tokens are not
also billed as input tokens) and its per-unit arithmetic (``types.calc_unit_price``). So the
lines add up exactly to ``ModelPrice.calc_price(usage)["total_price"]``, i.e. to
``genai_prices.calc_price(...).total_price`` where no supplement rate is involved.

A usage field that no rate covers is never priced at zero in silence: it is listed in
:attr:`PricedEvent.unpriced`, and the event is stored "not fully priced".

Cost unit ids are genai-prices usage keys (``input_tokens`` = uncached input,
``cache_read_tokens``, ``cache_write_1h_tokens``, ``web_searches``...); the lines of an
Anthropic iteration other than a plain message are prefixed with its type
(``compaction:input_tokens``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from importlib.metadata import version as _package_version
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp_types
from genai_prices.data_units import unit_data
from genai_prices.decompose import is_descendant_or_self
from genai_prices.units import UnitDef, UnitRegistry

from .._service_key import split_service_key
from . import _price_supplement as _supplement
from ._usage_extract import Extracted, Part, extract, value_at

__all__ = (
    "CATALOG",
    "CostLine",
    "PricedEvent",
    "PricingError",
    "cost_event",
    "decimal_text",
    "model_units",
    "pico_text",
    "price_catalog",
    "price_event",
    "provider_for_vendor",
)

CATALOG = f"genai-prices {_package_version('genai-prices')}"
"""The catalogue's name and version, as shown on every priced event."""

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
# Service tiers that mean "the standard price" (no variant needed).
_STANDARD_TIERS = frozenset({"default", "standard", "auto", "on_demand"})
_REGISTRY = UnitRegistry(unit_data)


@dataclass(frozen=True)
class CostLine:
    """One priced cost unit of one event (all amounts in USD)."""

    provider_id: str
    service_key: str
    cost_unit_id: str
    quantity: Decimal
    cost_per_unit: Decimal
    cost: Decimal


@dataclass(frozen=True, slots=True)
class _Rate:
    """A price per unit worked out once: exact Decimal, its text, and in whole pico-dollars
    when it is one (then a line's cost is integer work)."""

    per_unit: Decimal
    text: str
    pico: int | None


_PICO = 10**12
# Below this many units, ``rate.pico * count`` has at most 28 digits: the Decimal product it
# stands for is exact too.
_FAST_COUNT = 10**15


def _rate(price: Decimal, per: int) -> _Rate:
    exact = price / per
    pico = exact * _PICO
    whole = int(pico) if pico == pico.to_integral_value() and pico < 10**13 else None
    return _Rate(exact, decimal_text(exact), whole)


def pico_text(pico: int) -> str:
    """``decimal_text`` of ``pico`` pico-dollars as dollars, by integer work."""
    if pico < 0:
        return "-" + pico_text(-pico)
    whole, frac = divmod(pico, _PICO)
    return f"{whole}.{frac:012d}".rstrip("0") if frac else str(whole)


@dataclass(slots=True)
class PricedEvent:
    """The catalogue's price of one event: per cost unit and rate, ``[quantity, rate, cost,
    pico]`` (``cost`` None when ``pico`` holds it exactly)."""

    provider_id: str
    service_key: str
    # cost unit id + "|" + rate text -> [cost unit id, count, _Rate, cost, pico]
    entries: dict[str, list[Any]]
    unpriced: list[str] = field(default_factory=list)  # payload fields no rate covers
    estimated: list[str] = field(default_factory=list)  # payload fields that are estimates
    supplement: list[str] = field(default_factory=list)  # cost units priced by the supplement

    @property
    def lines(self) -> list[CostLine]:
        """One :class:`CostLine` per priced unit and rate."""
        return [
            CostLine(
                self.provider_id,
                self.service_key,
                unit_id,
                Decimal(count),
                rate.per_unit,
                Decimal(pico).scaleb(-12) if cost is None else cost,
            )
            for unit_id, count, rate, cost, pico in self.entries.values()
        ]

    def wire(self) -> tuple[list[dict[str, str]], list[int | None]]:
        """The lines in the wire form of :func:`cost_event`, and each one's cost in
        pico-dollars when integer work gave it exactly (else None)."""
        lines, picos = [], []
        provider_id, service_key = self.provider_id, self.service_key
        for unit_id, count, rate, cost, pico in self.entries.values():
            if cost is not None:
                text = decimal_text(cost)
                pico = None
            elif pico >= 0:  # pico_text, inlined: this runs for every line stored
                whole, frac = divmod(pico, _PICO)
                text = f"{whole}.{frac:012d}".rstrip("0") if frac else str(whole)
            else:
                text = pico_text(pico)
            lines.append(
                {
                    "provider_id": provider_id,
                    "service_key": service_key,
                    "cost_unit_id": unit_id,
                    "quantity": str(count),
                    "cost_per_unit": rate.text,
                    "cost": text,
                }
            )
            picos.append(pico)
        return lines, picos


class PricingError(ValueError):
    """The usage payload cannot be priced (no token counts, negative or inconsistent counts)."""


def provider_for_vendor(vendor: str) -> str:
    """The genai-prices provider id of one of our vendor slugs."""
    vendor = vendor.lower()
    return _VENDOR_TO_PROVIDER.get(vendor, vendor)


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


@dataclass(frozen=True)
class _Model:
    provider_id: str
    info: gp_types.ModelInfo


@dataclass(frozen=True)
class _PriceSet:
    """A resolved model price with the supplement's rates added: its priced units."""

    units: tuple[tuple[UnitDef, Decimal | gp_types.TieredPrices], ...]
    by_key: Mapping[str, UnitDef]
    # Per unit (in ``units`` order): the usage keys of the priced units more specific than it,
    # whose leaves its own leaf excludes (genai-prices' decomposition).
    descendants: tuple[tuple[str, ...], ...]
    # Per unit: its base rate and, from the highest start down, (start, rate) of its tiers.
    rates: tuple[tuple[_Rate, tuple[tuple[int, _Rate], ...]], ...]
    tiered: bool
    supplemented: frozenset[str]  # usage keys whose price comes from the supplement
    # Usage key -> whether a rate covers it (:func:`_covered`), filled as keys are met.
    covered: dict[str, bool] = field(default_factory=dict, compare=False)
    # The usage keys a part reports -> its :class:`_Work` (:func:`_work`), filled as met.
    work: dict[tuple[str, ...], _Work] = field(default_factory=dict, compare=False)


# One priced unit's work: usage key, the keys of the more specific units whose leaves it
# excludes, base rate, tiers (highest start first), the unit, its genai-prices price, and
# whether the supplement gave that price.
_Step = tuple[str, tuple[str, ...], _Rate, tuple[tuple[int, _Rate], ...], UnitDef, Any, bool]


@dataclass(frozen=True, slots=True)
class _Work:
    """What pricing a part that reports a given set of usage keys takes, worked out once per
    price set and set of keys: only the units those keys can give a count to (the others'
    leaves are all zero), and the reported keys no rate covers."""

    steps: tuple[_Step, ...]
    uncovered: tuple[str, ...]


_EPOCH_HOUR = 719163 * 24
_model_cache: dict[str, _Model | None] = {}
# (id of the standard ModelPrice, service tier context) -> (that ModelPrice, price set); the
# ModelPrice is kept so that its id stays its own.
# The context is one entry (service tier or batch processing): its value stands for it, but
# the price variants of a tier may start at a date, so a context-priced set is cached by hour.
_price_cache: dict[tuple[int, str, int], tuple[object, _PriceSet]] = {}


def _find_model(service_key: str) -> _Model | None:
    if service_key in _model_cache:
        return _model_cache[service_key]
    found: _Model | None = None
    parts = split_service_key(service_key)
    if parts is not None:
        vendor, service = parts
        snapshot = data_snapshot.get_snapshot()
        refs = [service, *(service[len(p) :] for p in _MODEL_PREFIXES if service.startswith(p))]
        for ref in refs:
            try:
                provider, model = snapshot.find_provider_model(
                    ref, None, provider_for_vendor(vendor), None
                )
            except LookupError:
                continue
            found = _Model(provider.id, model)
            break
    if len(_model_cache) > 10_000:
        _model_cache.clear()
    _model_cache[service_key] = found
    return found


def model_units(
    price: gp_types.ModelPrice,
) -> list[tuple[UnitDef, Decimal | gp_types.TieredPrices]]:
    """Every priced unit of a genai-prices model price, with its price (per ``unit.per``)."""
    out = []
    for unit in _REGISTRY.units.values():
        value = getattr(price, unit.price_key, None)
        if value is not None:
            out.append((unit, value))
    return out


def _as_datetime(when: datetime | float | None) -> datetime:
    if when is None:
        return datetime.now(tz=timezone.utc)
    if isinstance(when, datetime):
        return when
    return datetime.fromtimestamp(when, tz=timezone.utc)


def _price_set(
    model: _Model, when: datetime | float | None, context: Mapping[str, str]
) -> _PriceSet:
    """The model's prices at ``when`` for the service tier ``context``, with the supplement."""
    plain = model.info.prices
    # A single price set holds at any time; variants of it are only wanted with a context.
    standard = plain if isinstance(plain, gp_types.ModelPrice) else None
    if standard is None:
        when = _as_datetime(when)
        standard = model.info.get_prices(when)
    if context:
        if isinstance(when, float | int):
            # The same hour number as a datetime's below (0001-01-01 is day 1; 1970-01-01 is
            # day 719163), without making a datetime per event.
            hour = _EPOCH_HOUR + int(when // 3600)
        else:
            when = _as_datetime(when)
            hour = when.toordinal() * 24 + when.hour
        cache_key = (id(standard), next(iter(context.values())), hour)
    else:
        cache_key = (id(standard), "", 0)
    cached = _price_cache.get(cache_key)
    if cached is not None and cached[0] is standard:
        return cached[1]
    price = model.info.get_prices(_as_datetime(when), context) if context else standard
    units = model_units(price)
    have = {unit.price_key for unit, _ in units}
    extra = {
        row.price_key: row
        for row in _supplement.price_rates(model.provider_id, model.info.id).values()
        if row.price_key not in have
    }
    units += [(_REGISTRY.unit_for_price_key(k), row.price) for k, row in extra.items()]
    # Most specific units first, as genai-prices decomposes them.
    units.sort(key=lambda item: (-len(item[0].dimensions), item[0].usage_key))
    found = _PriceSet(
        units=tuple(units),
        descendants=tuple(
            tuple(
                d.usage_key
                for d, _ in units
                if d is not unit and d.usage_key != "requests" and is_descendant_or_self(unit, d)
            )
            for unit, _ in units
        ),
        by_key={unit.usage_key: unit for unit, _ in units if unit.usage_key != "requests"},
        rates=tuple(
            (_rate(p, u.per), ())
            if not isinstance(p, gp_types.TieredPrices)
            else (
                _rate(p.base, u.per),
                tuple((t.start, _rate(t.price, u.per)) for t in reversed(p.tiers)),
            )
            for u, p in units
        ),
        tiered=any(isinstance(p, gp_types.TieredPrices) for _, p in units),
        supplemented=frozenset(_REGISTRY.unit_for_price_key(k).usage_key for k in extra),
    )
    if len(_price_cache) > 4096:
        _price_cache.clear()
    _price_cache[cache_key] = (standard, found)
    return found


def _covered(key: str, prices: _PriceSet) -> bool:
    """A count is billed when its unit or a less specific one (that absorbs it) has a price."""
    known = prices.covered.get(key)
    if known is None:
        by_key = prices.by_key
        known = key in by_key or any(a in by_key for a in _REGISTRY.ancestor_usage_keys(key))
        prices.covered[key] = known
    return known


def _work(prices: _PriceSet, keys: tuple[str, ...]) -> _Work:
    """The :class:`_Work` of a part reporting the usage keys ``keys`` (cached)."""
    found = prices.work.get(keys)
    if found is not None:
        return found
    reported = set(keys)
    # A unit's leaf can be non-zero (or inconsistent) only when it or a more specific unit is
    # reported; ``requests`` is one per event whatever the payload says.
    wanted = {
        unit.usage_key
        for (unit, _), below in zip(prices.units, prices.descendants, strict=True)
        if unit.usage_key in reported or reported.intersection(below)
    }
    steps = tuple(
        (
            unit.usage_key,
            tuple(d for d in below if d in wanted),
            rate,
            tiers,
            unit,
            price,
            unit.usage_key in prices.supplemented,
        )
        for (unit, price), below, (rate, tiers) in zip(
            prices.units, prices.descendants, prices.rates, strict=True
        )
        if unit.usage_key in wanted or unit.usage_key == "requests"
    )
    found = _Work(steps, tuple(k for k in keys if not _covered(k, prices)))
    if len(prices.work) > 256:
        prices.work.clear()
    prices.work[keys] = found
    return found


def _price_part(
    prices: _PriceSet,
    work: _Work,
    part: Part,
    first: bool,
    entries: dict[str, list[Any]],
    supplement: set[str],
) -> None:
    """Add the priced units of one part to ``entries`` (as :func:`_add`), and to
    ``supplement`` the cost units whose rate is the supplement's.

    The leaves are genai-prices' decomposition (``decompose.compute_leaf_values``), worked
    out from the descendants listed once per price set: a unit's leaf is its count less the
    leaves of the more specific priced units. A cost that is not integer work is genai-prices'
    own ``calc_unit_price``.
    """
    counts = part.counts
    total_input = counts.get("input_tokens", 0) if prices.tiered else 0
    leaves: dict[str, int] = {}
    label = part.label
    prefix = "" if label in ("", "message") else f"{label}:"
    for key, below, rate, tiers, unit, price, supplemented in work.steps:
        if key == "requests":
            if not first:
                continue
            count = 1
        else:
            reported = counts.get(key)
            taken = 0
            for d in below:
                taken += leaves[d]
            if reported is None:
                if taken:
                    raise PricingError(f"usage reports parts of {key} but not {key} itself")
                reported = 0
            count = leaves[key] = reported - taken
            if count < 0:
                raise PricingError(f"more specific counts exceed {key} ({reported})")
        if not count:
            continue
        for start, tier_rate in tiers:
            if total_input > start:
                rate = tier_rate
                break
        unit_id = prefix + key if prefix else key
        if supplemented:
            supplement.add(unit_id)
        if rate.pico is not None and count < _FAST_COUNT:
            line = f"{unit_id}|{rate.text}"
            if line not in entries:  # most lines: the unit's first at this rate
                entries[line] = [unit_id, count, rate, None, rate.pico * count]
                continue
            _add(entries, unit_id, count, rate, None, rate.pico * count)
        else:
            cost = gp_types.calc_unit_price(price, count, total_input, unit.per)
            _add(entries, unit_id, count, rate, cost, None)


def _tier_unpriced(model: _Model, found: Extracted) -> list[str]:
    if not found.price_context or found.service_tier in _STANDARD_TIERS:
        return []
    variants = model.info.price_variants or []
    if any(v.when == found.price_context for v in variants):
        return []
    return ["service_tier"]


def price_event(
    service_key: str, usage: Mapping[str, Any], when: datetime | float | None = None
) -> PricedEvent | None:
    """Price one event from the catalogue.

    Args:
        service_key: ``vendor::model``.
        usage: the record's payload, as the provider returned it.
        when: the event time, datetime or epoch seconds (prices may depend on it); default now.

    Returns:
        The priced event (lines with a non-zero quantity; lines of one unit at one rate are
        merged), or None when the service key is not in the catalogue.

    Raises:
        PricingError: the payload carries no usable counts, or inconsistent ones.
    """
    model = _find_model(service_key)
    if model is None:
        return None
    try:
        found = extract(usage, model.provider_id, _REGISTRY.units)
    except ValueError as exc:
        raise PricingError(str(exc)) from exc
    fees = _supplement.field_rates(model.provider_id)
    unread = found.unread
    if not found.parts and not any(f in unread for f in fees):
        raise PricingError(f"payload carries no token counts usable for {service_key!r}")
    prices = _price_set(model, when, found.price_context)
    entries: dict[str, list[Any]] = {}
    unpriced = [f for f in unread if f not in fees] if unread else []
    supplement: set[str] = set()
    for index, part in enumerate(found.parts):
        counts = part.counts
        work = _work(prices, tuple(counts))
        for key in work.uncovered:
            if counts[key]:
                unpriced.extend(part.sources.get(key, [key]))
        _price_part(prices, work, part, index == 0, entries, supplement)
    for path, row in fees.items() if unread else ():
        if path in unread:
            count = int(value_at(usage, path))
            fee = _rate(row.price, row.per)
            _add(entries, row.unit_id, count, fee, row.price * count / row.per, None)
            supplement.add(row.unit_id)
    if found.price_context:
        unpriced += _tier_unpriced(model, found)
    return PricedEvent(
        model.provider_id,
        service_key,
        entries,
        unpriced=sorted(set(unpriced)) if unpriced else unpriced,
        estimated=found.estimated,
        supplement=sorted(supplement) if supplement else [],
    )


def _add(
    entries: dict[str, list[Any]],
    unit_id: str,
    count: int,
    rate: _Rate,
    cost: Decimal | None,
    pico: int | None,
) -> None:
    """Merge a line into the lines of the same unit at the same rate (iterations)."""
    key = f"{unit_id}|{rate.text}"
    acc = entries.get(key)
    if acc is None:
        entries[key] = [unit_id, count, rate, cost, pico]
        return
    acc[1] += count
    if acc[3] is None and cost is None:
        acc[4] += pico
    else:
        total = (acc[3] if acc[3] is not None else Decimal(acc[4]).scaleb(-12)) + (
            cost if cost is not None else Decimal(pico or 0).scaleb(-12)
        )
        acc[3], acc[4] = total, None


def price_catalog(
    service_key: str, usage: Mapping[str, Any], when: datetime | float | None = None
) -> list[CostLine] | None:
    """The cost lines of :func:`price_event` (None when the service key is not in the
    catalogue).

    Raises:
        PricingError: as :func:`price_event`.
    """
    priced = price_event(service_key, usage, when)
    return None if priced is None else priced.lines
