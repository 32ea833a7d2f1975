"""Pure pricing of usage payloads with custom service configurations (table-driven)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aicostmanager.models import CustomServiceConfiguration
from aicostmanager.server._custom_pricing import condition_holds, lookup, price_usage

UNITS = [
    {"name": "second", "cost": "0.002", "unit": "s"},
    {"name": "k_chars", "cost": "0.5", "unit": "char", "per_quantity": 1000},
    {"name": "hd_minute", "cost": "0.10", "unit": "min"},
    {"name": "sd_minute", "cost": "0.04", "unit": "min"},
    {"name": "floor_fee", "cost": "1", "unit": "call", "min_units": 1, "max_units": 3},
    {"name": "off", "cost": "9", "unit": "x", "is_active": False},
]


def _price(config: dict[str, Any], usage: dict[str, Any]) -> list[tuple[str, str, str]]:
    parsed = CustomServiceConfiguration.model_validate({"cost_units": UNITS, **config})
    return [
        (line.cost_unit_id, format(line.quantity, "f"), format(line.cost, "f"))
        for line in price_usage(parsed, "acme::svc", usage)
    ]


CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, str, str]]]] = [
    (
        "plain field",
        {"mappings": [{"field": "seconds", "cost_unit": "second"}]},
        {"seconds": 10},
        [("second", "10", "0.020")],
    ),
    (
        "per_quantity divides",
        {"mappings": [{"field": "chars", "cost_unit": "k_chars"}]},
        {"chars": 2500},
        [("k_chars", "2500", "1.25")],
    ),
    (
        "divide_by then ceil",
        {
            "mappings": [
                {
                    "field": "ms",
                    "cost_unit": "second",
                    "divide_by": 1000,
                    "rounding": {"mode": "ceil"},
                }
            ]
        },
        {"ms": 1001},
        [("second", "2", "0.004")],
    ),
    (
        "multiply_by and floor to increment",
        {
            "mappings": [
                {
                    "field": "minutes",
                    "cost_unit": "second",
                    "multiply_by": 60,
                    "rounding": {"mode": "floor", "increment": 15},
                }
            ]
        },
        {"minutes": "1.5"},
        [("second", "90", "0.180")],
    ),
    (
        "round half up",
        {"mappings": [{"field": "s", "cost_unit": "second", "rounding": {"mode": "round"}}]},
        {"s": 2.5},
        [("second", "3", "0.006")],
    ),
    (
        "min_value and max_value clamp",
        {
            "mappings": [
                {"field": "a", "cost_unit": "second", "min_value": 5},
                {"field": "b", "cost_unit": "second", "max_value": 7},
            ]
        },
        {"a": 1, "b": 100},
        [("second", "5", "0.010"), ("second", "7", "0.014")],
    ),
    (
        "min_units and max_units clamp",
        {
            "mappings": [
                {"field": "calls", "cost_unit": "floor_fee"},
                {"field": "many", "cost_unit": "floor_fee"},
            ]
        },
        {"calls": 0, "many": 10},
        [("floor_fee", "1", "1"), ("floor_fee", "3", "3")],
    ),
    (
        "cost_unit_switch case",
        {
            "mappings": [
                {
                    "field": "minutes",
                    "cost_unit_switch": {
                        "field": "quality",
                        "cases": {"hd": "hd_minute", "sd": "sd_minute"},
                        "default": "sd_minute",
                    },
                }
            ]
        },
        {"minutes": 3, "quality": "hd"},
        [("hd_minute", "3", "0.30")],
    ),
    (
        "cost_unit_switch default",
        {
            "mappings": [
                {
                    "field": "minutes",
                    "cost_unit_switch": {
                        "field": "quality",
                        "cases": {"hd": "hd_minute"},
                        "default": "sd_minute",
                    },
                }
            ]
        },
        {"minutes": 2},
        [("sd_minute", "2", "0.08")],
    ),
    (
        "cost_unit_switch without match nor default",
        {
            "mappings": [
                {
                    "field": "minutes",
                    "cost_unit_switch": {"field": "quality", "cases": {"hd": "hd_minute"}},
                }
            ]
        },
        {"minutes": 2, "quality": "4k"},
        [],
    ),
    (
        "only_if equals and regex",
        {
            "mappings": [
                {"field": "s", "cost_unit": "second", "only_if": {"equals": {"kind": "tts"}}},
                {"field": "s", "cost_unit": "hd_minute", "only_if": {"regex": {"model": "^v2"}}},
            ]
        },
        {"s": 4, "kind": "tts", "model": "v1-large"},
        [("second", "4", "0.008")],
    ),
    (
        "mapping group applies when its condition holds",
        {
            "mapping_groups": [
                {
                    "when": {"equals": {"meta.region": "eu"}},
                    "mappings": [{"field": "s", "cost_unit": "hd_minute"}],
                },
                {
                    "when": {"equals": {"meta.region": "us"}},
                    "mappings": [{"field": "s", "cost_unit": "sd_minute"}],
                },
            ]
        },
        {"s": 10, "meta": {"region": "eu"}},
        [("hd_minute", "10", "1.00")],
    ),
    (
        "exclusion drops the event",
        {
            "mappings": [{"field": "s", "cost_unit": "second"}],
            "exclusions": [{"equals": {"test": True}}],
        },
        {"s": 10, "test": True},
        [],
    ),
    (
        "missing, boolean and non-numeric fields are skipped",
        {
            "mappings": [
                {"field": "absent", "cost_unit": "second"},
                {"field": "flag", "cost_unit": "second"},
                {"field": "text", "cost_unit": "second"},
                {"field": "nan", "cost_unit": "second"},
            ]
        },
        {"flag": True, "text": "abc", "nan": "NaN"},
        [],
    ),
    (
        "inactive unit and zero quantity give no line",
        {
            "mappings": [
                {"field": "s", "cost_unit": "off"},
                {"field": "zero", "cost_unit": "second"},
            ]
        },
        {"s": 10, "zero": 0},
        [],
    ),
    (
        "list index in a path",
        {"mappings": [{"field": "items.1.n", "cost_unit": "second"}]},
        {"items": [{"n": 1}, {"n": 6}]},
        [("second", "6", "0.012")],
    ),
]


@pytest.mark.parametrize(
    ("config", "usage", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_price_usage(
    config: dict[str, Any], usage: dict[str, Any], expected: list[tuple[str, str, str]]
) -> None:
    """Each rule of the custom pricing gives the exact Decimal lines expected."""
    assert _price(config, usage) == expected


def test_cost_per_unit_and_provider() -> None:
    """cost_per_unit is cost / per_quantity; provider_id is the key's vendor part."""
    config = CustomServiceConfiguration.model_validate(
        {"cost_units": UNITS, "mappings": [{"field": "c", "cost_unit": "k_chars"}]}
    )
    (line,) = price_usage(config, "acme::tts", {"c": 1})
    assert line.cost_per_unit == Decimal("0.0005")
    assert line.cost == Decimal("0.0005")
    assert line.provider_id == "acme" and line.service_key == "acme::tts"


def test_lookup_and_conditions() -> None:
    """Dotted lookups and condition matching on strings, numbers and booleans."""
    usage = {"a": {"b": 4}, "flag": False, "name": "gpt-x"}
    assert lookup(usage, "a.b") == 4
    from aicostmanager.models import Condition

    assert condition_holds(Condition(equals={"a.b": "4"}), usage)
    assert condition_holds(Condition(equals={"a.b": 4, "flag": False}), usage)
    assert not condition_holds(Condition(equals={"flag": 0}), usage)
    assert condition_holds(Condition(regex={"name": "^gpt"}), usage)
    assert not condition_holds(Condition(regex={"missing": "."}), usage)
    assert condition_holds(None, usage)


@pytest.mark.parametrize(
    "config",
    [
        {"cost_units": []},
        {"cost_units": UNITS, "mappings": [{"field": "x", "cost_unit": "nope"}]},
        {"cost_units": UNITS, "mappings": [{"field": "x"}]},
        {
            "cost_units": UNITS,
            "mappings": [
                {
                    "field": "x",
                    "cost_unit": "second",
                    "cost_unit_switch": {"field": "q", "cases": {}},
                }
            ],
        },
        {"cost_units": UNITS, "exclusions": [{"regex": {"x": "("}}]},
        {"cost_units": [{"name": "a", "cost": "1", "unit": "u", "min_units": 5, "max_units": 1}]},
        {"cost_units": [UNITS[0], UNITS[0]]},
    ],
)
def test_invalid_configurations_are_rejected(config: dict[str, Any]) -> None:
    """Configurations that cannot price consistently fail validation."""
    with pytest.raises(ValueError):
        CustomServiceConfiguration.model_validate(config)
