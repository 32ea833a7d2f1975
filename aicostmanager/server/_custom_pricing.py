"""Pricing of a tracked usage payload with a custom service configuration (pure, Decimal-exact).

Rules, applied to one event:

1. If any ``exclusions`` condition holds, the event is dropped: no cost lines at all.
2. The mappings considered are the top-level ``mappings`` followed by the mappings of every
   ``mapping_groups`` entry whose ``when`` holds (all matching groups, in order).
3. A mapping is skipped when its ``only_if`` does not hold, or when its ``field`` is missing or
   not a finite number (numbers in strings count; booleans do not).
4. The value is divided by ``divide_by``, multiplied by ``multiply_by``, clamped to
   ``[min_value, max_value]``, then rounded to a multiple of ``rounding.increment`` (default 1)
   with ``ceil``, ``floor`` or ``round`` (half up).
5. The cost unit is ``cost_unit``, or ``cost_unit_switch.cases[str(value at its field)]``, else
   its ``default``; without one (or when the unit is inactive) the mapping is skipped.
6. The quantity is clamped to the unit's ``[min_units, max_units]``; a zero quantity gives no
   line. Otherwise cost = quantity / ``per_quantity`` x ``cost``, and
   cost_per_unit = ``cost`` / ``per_quantity``.

Conditions: every ``equals`` field must be present and equal (a string expectation also matches
the string form of a number: ``"4"`` matches ``4``; booleans as ``true``/``false``), and every
``regex`` field must be present and match (``re.search``) its text form. Fields are dotted paths
(``"meta.region"``, list items by index: ``"items.0.n"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Decimal,
    InvalidOperation,
    localcontext,
)
from typing import Any

from ..models import Condition, CustomCostUnitIn, CustomServiceConfiguration, FieldMapping
from ._pricing import CostLine

__all__ = ("condition_holds", "lookup", "price_usage")

_MISSING = object()
_ROUNDING = {"ceil": ROUND_CEILING, "floor": ROUND_FLOOR, "round": ROUND_HALF_UP}
_PRECISION = 50


def lookup(payload: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``payload``, or a private sentinel when absent."""
    current = payload
    for part in path.split("."):
        if isinstance(current, Mapping):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, str) and not isinstance(actual, dict | list):
        return _text(actual) == expected
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    return bool(actual == expected)


def condition_holds(condition: Condition | None, usage: Mapping[str, Any]) -> bool:
    """True when every ``equals`` and ``regex`` entry of ``condition`` holds (None holds)."""
    if condition is None:
        return True
    for path, expected in (condition.equals or {}).items():
        actual = lookup(usage, path)
        if actual is _MISSING or not _equal(actual, expected):
            return False
    for path, pattern in (condition.regex or {}).items():
        actual = lookup(usage, path)
        if actual is _MISSING or actual is None or re.search(pattern, _text(actual)) is None:
            return False
    return True


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str | Decimal):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _mappings(
    config: CustomServiceConfiguration, usage: Mapping[str, Any]
) -> Iterator[FieldMapping]:
    yield from config.mappings or ()
    for group in config.mapping_groups or ():
        if condition_holds(group.when, usage):
            yield from group.mappings


def _unit_name(mapping: FieldMapping, usage: Mapping[str, Any]) -> str | None:
    if mapping.cost_unit is not None:
        return mapping.cost_unit
    switch = mapping.cost_unit_switch
    assert switch is not None
    value = lookup(usage, switch.field)
    if value is not _MISSING and value is not None:
        name = switch.cases.get(_text(value))
        if name is not None:
            return name
    return switch.default


def _quantity(mapping: FieldMapping, value: Decimal) -> Decimal:
    if mapping.divide_by is not None:
        value = value / mapping.divide_by
    if mapping.multiply_by is not None:
        value = value * mapping.multiply_by
    if mapping.min_value is not None and value < mapping.min_value:
        value = mapping.min_value
    if mapping.max_value is not None and value > mapping.max_value:
        value = mapping.max_value
    if mapping.rounding is not None:
        increment = mapping.rounding.increment or Decimal(1)
        steps = (value / increment).to_integral_value(rounding=_ROUNDING[mapping.rounding.mode])
        value = steps * increment
    return value


def _line(service_key: str, unit: CustomCostUnitIn, quantity: Decimal) -> CostLine | None:
    quantity = min(max(quantity, Decimal(unit.min_units)), Decimal(unit.max_units))
    if quantity == 0:
        return None
    per_unit = unit.cost / unit.per_quantity
    return CostLine(
        provider_id=service_key.partition("::")[0],
        service_key=service_key,
        cost_unit_id=unit.name,
        quantity=quantity,
        cost_per_unit=per_unit,
        cost=quantity * unit.cost / unit.per_quantity,
    )


def price_usage(
    config: CustomServiceConfiguration, service_key: str, usage: Mapping[str, Any]
) -> list[CostLine]:
    """The cost lines of one event (an empty list when excluded or nothing applies)."""
    if any(condition_holds(cond, usage) for cond in config.exclusions or ()):
        return []
    units = {unit.name: unit for unit in config.cost_units}
    lines: list[CostLine] = []
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for mapping in _mappings(config, usage):
            if not condition_holds(mapping.only_if, usage):
                continue
            value = _number(lookup(usage, mapping.field))
            if value is None:
                continue
            name = _unit_name(mapping, usage)
            unit = units.get(name) if name is not None else None
            if unit is None or not unit.is_active:
                continue
            line = _line(service_key, unit, _quantity(mapping, value))
            if line is not None:
                lines.append(line)
    return lines
