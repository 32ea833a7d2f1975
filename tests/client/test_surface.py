"""The blocking client mirrors the async client exactly; query rendering; model surface."""

from __future__ import annotations

import inspect
from datetime import date
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

import aicostmanager.models as models
from aicostmanager._client import AsyncCostManagerClient
from aicostmanager._client._base import body
from aicostmanager._client._query import render_query
from aicostmanager._sync_client import CostManagerClient
from aicostmanager.models import CostEventFilters, CustomerIn, CustomerOut, UsageLimitIn


def _public_async_methods() -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(AsyncCostManagerClient)
        if not name.startswith("_")
        and (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member))
    }


def test_every_async_method_has_a_sync_twin() -> None:
    """Each public async method exists on CostManagerClient with the same parameters."""
    methods = _public_async_methods()
    assert len(methods) > 40
    for name, method in methods.items():
        twin_name = "close" if name == "aclose" else name
        twin = getattr(CostManagerClient, twin_name, None)
        assert twin is not None, f"CostManagerClient.{twin_name} is missing"
        assert not inspect.iscoroutinefunction(twin) and not inspect.isasyncgenfunction(twin)
        async_sig = inspect.signature(method)  # type: ignore[arg-type]
        sync_sig = inspect.signature(twin)
        assert list(async_sig.parameters.values()) == list(sync_sig.parameters.values()), name
        expected = str(async_sig.return_annotation).replace("AsyncIterator[", "Iterator[")
        assert str(sync_sig.return_annotation) == expected, name


def test_sync_client_has_nothing_extra() -> None:
    """Every public sync method is the twin of an async one (or a documented extra)."""
    async_names = set(_public_async_methods()) | {"close"}
    sync_names = {
        name
        for name, member in inspect.getmembers(CostManagerClient)
        if not name.startswith("_") and inspect.isfunction(member)
    }
    assert sync_names - async_names == set()
    assert inspect.signature(CostManagerClient.__init__).parameters.keys() == (
        inspect.signature(AsyncCostManagerClient.__init__).parameters.keys()
    )


def test_render_query() -> None:
    """None is dropped, lists stay lists, dates are ISO, context becomes context.<key>."""
    filters = CostEventFilters(
        customer_key="acme",
        service_key=["a::b", "c::d"],
        start_date=date(2026, 1, 2),
        context={"env": "prod"},
        limit=10,
    )
    assert render_query(filters, {"offset": 5, "extra": None}) == {
        "customer_key": ["acme"],
        "service_key": ["a::b", "c::d"],
        "start_date": "2026-01-02",
        "context.env": "prod",
        "limit": 10,
        "offset": 5,
    }
    assert render_query({"flag": True, "amount": Decimal("1.5")}) == {"flag": True, "amount": "1.5"}
    with pytest.raises(TypeError):
        render_query({"bad": object()})


def test_models_surface() -> None:
    """models re-exports a sorted __all__; responses keep unknown fields, requests refuse them."""
    assert list(models.__all__) == sorted(models.__all__)
    assert all(getattr(models, name) is not None for name in models.__all__)
    customer = CustomerOut.model_validate({"uuid": "u", "customer_key": "k", "tier": "gold"})
    assert customer.model_extra == {"tier": "gold"}
    with pytest.raises(ValidationError):
        UsageLimitIn.model_validate(
            {"threshold_type": "limit", "amount": "1", "period": "day", "vendor": "x"}
        )
    with pytest.raises(ValidationError):
        CostEventFilters.model_validate({"context.env": "x"})
    assert UsageLimitIn(threshold_type="limit", amount="1e-10", period="day").amount == Decimal(
        "1e-10"
    )


def test_request_bodies() -> None:
    """Bodies: the request model, a dict, or another model are validated and None is dropped."""

    class Mine(BaseModel):
        customer_key: str
        name: str | None = None

    assert body(CustomerIn, Mine(customer_key="k")) == {"customer_key": "k"}
    assert body(CustomerIn, {"customer_key": "k", "name": None}) == {"customer_key": "k"}
    assert body(
        UsageLimitIn, UsageLimitIn(threshold_type="alert", amount="2.50", period="day")
    ) == {
        "threshold_type": "alert",
        "amount": "2.50",
        "period": "day",
        "active": True,
    }
    with pytest.raises(ValidationError):
        body(CustomerIn, {"name": "no key"})
