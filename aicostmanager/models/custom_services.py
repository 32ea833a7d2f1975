"""Custom services (``/custom-services/``): a team's own priced services.

A configuration lists ``cost_units`` and the ``mappings`` that turn fields of a tracked usage
payload into quantities of those units. See ``docs/client/custom_services.md`` for the pricing
rules the local server applies.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import RequestModel, ResponseModel

__all__ = (
    "Condition",
    "CostUnitSwitch",
    "CustomCostUnitIn",
    "CustomCostUnitOut",
    "CustomServiceConfiguration",
    "CustomServiceIn",
    "CustomServiceOut",
    "CustomServiceSummaryOut",
    "FieldMapping",
    "MappingGroup",
    "Rounding",
)


def _compile(field: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regex for {field!r} does not compile: {exc}") from None


class CustomCostUnitIn(RequestModel):
    """A price of a custom service: ``cost`` per ``per_quantity`` ``unit``."""

    name: str = Field(min_length=1, max_length=100)
    cost: Decimal = Field(ge=0, max_digits=30, decimal_places=15)
    unit: str = Field(min_length=1, max_length=20)
    per_quantity: int = Field(default=1, ge=1, le=1_000_000_000)
    min_units: int = Field(default=0, ge=0, le=10**15)
    max_units: int = Field(default=10_000_000, ge=0, le=10**15)
    currency: str = Field(default="USD", min_length=1, max_length=10)
    is_active: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> CustomCostUnitIn:
        if self.max_units < self.min_units:
            raise ValueError("max_units must not be below min_units")
        return self


class CustomCostUnitOut(ResponseModel):
    """A stored cost unit of a custom service."""

    name: str
    cost: Decimal
    unit: str
    per_quantity: int
    min_units: Decimal
    max_units: Decimal
    currency: str
    is_active: bool


class Condition(RequestModel):
    """Holds when every ``equals`` field has its value and every ``regex`` field matches.

    Fields are dotted paths into the usage payload (``"meta.region"``).
    """

    equals: dict[str, Any] | None = None
    regex: dict[str, str] | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for field, pattern in (value or {}).items():
            _compile(field, pattern)
        return value


class CostUnitSwitch(RequestModel):
    """Pick the cost unit from the value of ``field``: ``cases[value]``, else ``default``."""

    field: str = Field(min_length=1)
    cases: dict[str, str]
    default: str | None = None


class Rounding(RequestModel):
    """Round a quantity to a multiple of ``increment`` (default 1)."""

    mode: Literal["ceil", "floor", "round"]
    increment: Decimal | None = Field(default=None, gt=0, max_digits=30, decimal_places=15)


class FieldMapping(RequestModel):
    """Turns the number at ``field`` into a quantity of one cost unit."""

    field: str = Field(min_length=1)
    cost_unit: str | None = None
    cost_unit_switch: CostUnitSwitch | None = None
    divide_by: Decimal | None = Field(default=None, gt=0, max_digits=30, decimal_places=15)
    multiply_by: Decimal | None = Field(default=None, ge=0, max_digits=30, decimal_places=15)
    min_value: Decimal | None = Field(default=None, max_digits=30, decimal_places=15)
    max_value: Decimal | None = Field(default=None, max_digits=30, decimal_places=15)
    rounding: Rounding | None = None
    only_if: Condition | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> FieldMapping:
        if (self.cost_unit is None) == (self.cost_unit_switch is None):
            raise ValueError("give exactly one of cost_unit and cost_unit_switch")
        return self

    def unit_names(self) -> set[str]:
        """Every cost unit name this mapping may select."""
        if self.cost_unit is not None:
            return {self.cost_unit}
        assert self.cost_unit_switch is not None
        names = set(self.cost_unit_switch.cases.values())
        if self.cost_unit_switch.default is not None:
            names.add(self.cost_unit_switch.default)
        return names


class MappingGroup(RequestModel):
    """Mappings that apply only to events matching ``when``."""

    when: Condition
    mappings: list[FieldMapping]


class CustomServiceConfiguration(RequestModel):
    """The pricing configuration of a custom service."""

    cost_units: list[CustomCostUnitIn] = Field(min_length=1)
    mappings: list[FieldMapping] | None = None
    mapping_groups: list[MappingGroup] | None = None
    exclusions: list[Condition] | None = None

    @model_validator(mode="after")
    def _known_units(self) -> CustomServiceConfiguration:
        names = [unit.name for unit in self.cost_units]
        if len(set(names)) != len(names):
            raise ValueError("cost unit names must be unique")
        mappings = list(self.mappings or [])
        for group in self.mapping_groups or []:
            mappings.extend(group.mappings)
        for mapping in mappings:
            unknown = mapping.unit_names() - set(names)
            if unknown:
                raise ValueError(
                    f"mapping of {mapping.field!r} names unknown cost units {sorted(unknown)}"
                )
        return self


class CustomServiceIn(RequestModel):
    """Body of ``POST /custom-services/`` and ``PUT /custom-services/{uuid}/``."""

    custom_service_key: str = Field(min_length=1, max_length=100)
    configuration: CustomServiceConfiguration
    is_active: bool = True


class CustomServiceSummaryOut(ResponseModel):
    """An item of ``GET /custom-services/``."""

    uuid: str
    custom_service_key: str
    is_active: bool
    is_deleted: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    cost_units_count: int = 0


class CustomServiceOut(ResponseModel):
    """A stored custom service."""

    uuid: str
    custom_service_key: str
    configuration: dict[str, Any]
    is_active: bool
    is_deleted: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    cost_units: list[CustomCostUnitOut] = []
    team_uuid: str | None = None
    team_name: str | None = None
