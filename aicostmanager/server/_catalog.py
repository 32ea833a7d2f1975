"""The service catalogue (``/vendors/``, ``/services/``, ``/service-costs/``) from genai-prices.

Vendors are genai-prices providers under our vendor slugs (``aws`` is ``amazon-bedrock``,
``fireworks`` is ``fireworks-ai``, ``x-ai`` is ``xai``); services are their models; cost units
are the model's current prices. UUIDs are uuid5 of the names, so they are stable.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, HTTPException
from genai_prices import data_snapshot
from genai_prices import types as gp_types

from ._deps import CurrentKey
from ._pricing import model_units

__all__ = ("SCHEMA", "router", "vendor_slug", "warm_up")

SCHEMA = ""

router = APIRouter(tags=["catalogue"])

_NS = uuid.UUID("0b8f3c52-6d1e-4f0a-8c57-2a9e1d7b4c33")
_PROVIDER_TO_VENDOR = {"aws": "amazon-bedrock", "fireworks": "fireworks-ai", "x-ai": "xai"}


def vendor_slug(provider_id: str) -> str:
    """Our vendor slug of a genai-prices provider id."""
    return _PROVIDER_TO_VENDOR.get(provider_id, provider_id)


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "::".join(parts)))


@functools.cache
def _vendors() -> dict[str, gp_types.Provider]:
    return {vendor_slug(p.id): p for p in data_snapshot.get_snapshot().providers}


def warm_up() -> None:
    """Load the price data (a few hundred ms) before the first request needs it."""
    _vendors()


def _vendor(ref: str) -> tuple[str, gp_types.Provider]:
    vendors = _vendors()
    if ref in vendors:
        return ref, vendors[ref]
    for name, provider in vendors.items():
        if _uuid("vendor", name) == ref:
            return name, provider
    raise HTTPException(404, f"unknown vendor {ref!r}")


@router.get("/vendors/", summary="List vendors")
async def list_vendors(key: CurrentKey) -> list[dict[str, str]]:
    """Every vendor of the catalogue."""
    return [{"uuid": _uuid("vendor", name), "name": name} for name in sorted(_vendors())]


@router.get("/services/", summary="List a vendor's services")
async def list_services(key: CurrentKey, vendor: str) -> list[dict[str, Any]]:
    """Services (models) of ``vendor`` (its name or uuid); the service key is
    ``<vendor>::<service_id>``.

    Raises:
        HTTPException: 404 for an unknown vendor.
    """
    name, provider = _vendor(vendor)
    return [
        {"uuid": _uuid("service", name, m.id), "service_id": m.id, "name": m.name or m.id}
        for m in provider.models
    ]


@router.get("/service-costs/", summary="Cost units of a service")
async def list_service_costs(key: CurrentKey, vendor: str, service: str) -> list[dict[str, Any]]:
    """Current prices of ``service`` of ``vendor``: one cost unit per priced usage key.

    Raises:
        HTTPException: 404 for an unknown vendor or service.
    """
    name, provider = _vendor(vendor)
    model = next((m for m in provider.models if m.id == service), None)
    if model is None:
        model = provider.find_model(service)
    if model is None:
        raise HTTPException(404, f"unknown service {service!r} of {name!r}")
    prices = model.get_prices(datetime.now(tz=timezone.utc))
    out = []
    for unit, price in model_units(prices):
        usage_key, per = unit.usage_key, unit.per
        base = price.base if isinstance(price, gp_types.TieredPrices) else price
        out.append(
            {
                "uuid": _uuid("cost-unit", name, model.id, usage_key),
                "name": usage_key,
                "cost": format(base, "f"),
                "unit": usage_key.rsplit("_", 1)[-1],
                "per_quantity": per,
                "currency": "USD",
                "is_active": True,
                "tiered": isinstance(price, gp_types.TieredPrices),
            }
        )
    return out
