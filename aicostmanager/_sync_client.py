"""``CostManagerClient``: the blocking twin of ``AsyncCostManagerClient``.

Every method is one call through the process's anyio portal (``aicostmanager._portal``); there is
no logic here. ``iter_*`` methods return plain iterators that pull one item at a time from the
async iterator, through the portal. Calling these methods from the portal's own event loop raises
``RuntimeError`` instead of deadlocking.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from functools import partial
from types import TracebackType
from typing import Any, Literal, TypeVar

from ._client import AsyncCostManagerClient
from ._client._spend import DateLike
from ._portal import get_portal
from .models import (
    ApiCostEventOut,
    CostEventFilters,
    CostEventItem,
    CostExplanation,
    CostUnitOut,
    CustomerFilters,
    CustomerIn,
    CustomerOut,
    CustomerSpend,
    CustomServiceIn,
    CustomServiceOut,
    CustomServiceSummaryOut,
    PaginatedResponse,
    RecentEvent,
    RollupFilters,
    ServiceOut,
    ServiceSpend,
    SpendSeries,
    SpendSummary,
    UsageEvent,
    UsageEventFilters,
    UsageLimitIn,
    UsageLimitOut,
    UsageLimitProgressOut,
    UsageRollup,
    VendorOut,
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointsResponse,
    WebhookEndpointUpdate,
)

__all__ = ("CostManagerClient",)

T = TypeVar("T")


def _iterate(start: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Drive the async iterator made by ``start`` from this thread, one item per portal call."""
    portal = get_portal()
    iterator = start()
    try:
        while True:
            try:
                item = portal.call(iterator.__anext__)
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            portal.call(aclose)


class CostManagerClient:
    """Blocking client of the AICostManager REST API.

    Same constructor, options and methods as ``AsyncCostManagerClient``, without ``await``;
    ``close()`` instead of ``aclose()``. Use it as a context manager::

        with CostManagerClient() as client:
            for customer in client.iter_customers():
                print(customer.customer_key)

    Raises:
        MissingConfiguration: no API key was given nor found in the environment.
        ConfigurationError: an option is malformed.
    """

    def __init__(
        self,
        *,
        aicm_api_key: str | None = None,
        aicm_api_base: str | None = None,
        aicm_api_url: str | None = None,
        aicm_ini_path: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        proxies: str | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        transport: Any = None,
        max_attempts: int | None = None,
    ) -> None:
        self._client = AsyncCostManagerClient(
            aicm_api_key=aicm_api_key,
            aicm_api_base=aicm_api_base,
            aicm_api_url=aicm_api_url,
            aicm_ini_path=aicm_ini_path,
            timeout=timeout,
            proxies=proxies,
            headers=headers,
            transport=transport,
            max_attempts=max_attempts,
        )

    @property
    def api_root(self) -> str:
        """The API root every path is relative to."""
        return self._client.api_root

    @property
    def max_attempts(self) -> int:
        """Attempts per idempotent request (1 = no retry)."""
        return self._client.max_attempts

    @property
    def async_client(self) -> AsyncCostManagerClient:
        """The async client doing the work (use it only from the portal's event loop)."""
        return self._client

    def __repr__(self) -> str:
        return f"CostManagerClient(api_root={self.api_root!r})"

    def __enter__(self) -> CostManagerClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        get_portal().call(self._client.aclose)

    # usage
    def list_usage_events(
        self, filters: UsageEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of usage events as raw JSON.

        Blocking twin of ``AsyncCostManagerClient.list_usage_events``.
        """
        return get_portal().call(partial(self._client.list_usage_events, filters, **params))

    def list_usage_events_typed(
        self, filters: UsageEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[UsageEvent]:
        """One page of usage events, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_usage_events_typed``.
        """
        return get_portal().call(partial(self._client.list_usage_events_typed, filters, **params))

    def iter_usage_events(
        self, filters: UsageEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Iterator[UsageEvent]:
        """Every usage event matching the filters, following the pages (blocking).

        Blocking twin of ``AsyncCostManagerClient.iter_usage_events``.
        """
        return _iterate(partial(self._client.iter_usage_events, filters, **params))

    def get_usage_event(self, event_id: str) -> UsageEvent:
        """One usage event by id.

        Blocking twin of ``AsyncCostManagerClient.get_usage_event``.
        """
        return get_portal().call(partial(self._client.get_usage_event, event_id))

    def list_usage_rollups(
        self, filters: RollupFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of usage rollups as raw JSON.

        Blocking twin of ``AsyncCostManagerClient.list_usage_rollups``.
        """
        return get_portal().call(partial(self._client.list_usage_rollups, filters, **params))

    def list_usage_rollups_typed(
        self, filters: RollupFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[UsageRollup]:
        """One page of usage rollups, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_usage_rollups_typed``.
        """
        return get_portal().call(partial(self._client.list_usage_rollups_typed, filters, **params))

    def iter_usage_rollups(
        self, filters: RollupFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Iterator[UsageRollup]:
        """Every usage rollup matching the filters, following the pages (blocking).

        Blocking twin of ``AsyncCostManagerClient.iter_usage_rollups``.
        """
        return _iterate(partial(self._client.iter_usage_rollups, filters, **params))

    # customers
    def list_customers(
        self, filters: CustomerFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of customers as raw JSON (``{"count", "next", "previous", "results"}``).

        Blocking twin of ``AsyncCostManagerClient.list_customers``.
        """
        return get_portal().call(partial(self._client.list_customers, filters, **params))

    def list_customers_typed(
        self, filters: CustomerFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[CustomerOut]:
        """One page of customers, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_customers_typed``.
        """
        return get_portal().call(partial(self._client.list_customers_typed, filters, **params))

    def iter_customers(
        self, filters: CustomerFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Iterator[CustomerOut]:
        """Every customer matching the filters, following the pages (blocking).

        Blocking twin of ``AsyncCostManagerClient.iter_customers``.
        """
        return _iterate(partial(self._client.iter_customers, filters, **params))

    def create_customer(self, data: CustomerIn | Mapping[str, Any]) -> CustomerOut:
        """Create a customer.

        Blocking twin of ``AsyncCostManagerClient.create_customer``.
        """
        return get_portal().call(partial(self._client.create_customer, data))

    def get_customer(self, customer_id: str) -> CustomerOut:
        """The customer with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.get_customer``.
        """
        return get_portal().call(partial(self._client.get_customer, customer_id))

    def update_customer(
        self, customer_id: str, data: CustomerIn | Mapping[str, Any]
    ) -> CustomerOut:
        """Replace the customer with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.update_customer``.
        """
        return get_portal().call(partial(self._client.update_customer, customer_id, data))

    def delete_customer(self, customer_id: str) -> None:
        """Delete the customer with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.delete_customer``.
        """
        return get_portal().call(partial(self._client.delete_customer, customer_id))

    # limits
    def get_triggered_limits(self) -> Any:
        """The raw triggered-limits envelope (bare or wrapped in ``{"triggered_limits": ...}``).

        Blocking twin of ``AsyncCostManagerClient.get_triggered_limits``.
        """
        return get_portal().call(partial(self._client.get_triggered_limits))

    def list_usage_limits(self) -> Any:
        """Every usage limit of the team, as a raw JSON array.

        Blocking twin of ``AsyncCostManagerClient.list_usage_limits``.
        """
        return get_portal().call(partial(self._client.list_usage_limits))

    def list_usage_limits_typed(self) -> list[UsageLimitOut]:
        """Every usage limit of the team, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_usage_limits_typed``.
        """
        return get_portal().call(partial(self._client.list_usage_limits_typed))

    def create_usage_limit(self, data: UsageLimitIn | Mapping[str, Any]) -> UsageLimitOut:
        """Create a usage limit.

        Blocking twin of ``AsyncCostManagerClient.create_usage_limit``.
        """
        return get_portal().call(partial(self._client.create_usage_limit, data))

    def get_usage_limit(self, limit_id: str) -> UsageLimitOut:
        """The usage limit with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.get_usage_limit``.
        """
        return get_portal().call(partial(self._client.get_usage_limit, limit_id))

    def update_usage_limit(
        self, limit_id: str, data: UsageLimitIn | Mapping[str, Any]
    ) -> UsageLimitOut:
        """Replace the usage limit with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.update_usage_limit``.
        """
        return get_portal().call(partial(self._client.update_usage_limit, limit_id, data))

    def delete_usage_limit(self, limit_id: str) -> None:
        """Delete the usage limit with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.delete_usage_limit``.
        """
        return get_portal().call(partial(self._client.delete_usage_limit, limit_id))

    def list_usage_limit_progress(self) -> Any:
        """Every usage limit with its current spend, as a raw JSON array.

        Blocking twin of ``AsyncCostManagerClient.list_usage_limit_progress``.
        """
        return get_portal().call(partial(self._client.list_usage_limit_progress))

    def list_usage_limit_progress_typed(self) -> list[UsageLimitProgressOut]:
        """Every usage limit with its current spend, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_usage_limit_progress_typed``.
        """
        return get_portal().call(partial(self._client.list_usage_limit_progress_typed))

    # costs
    def list_cost_events(
        self, filters: CostEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Any:
        """One page of ``/costs/`` as raw JSON.

        Blocking twin of ``AsyncCostManagerClient.list_cost_events``.
        """
        return get_portal().call(partial(self._client.list_cost_events, filters, **params))

    def list_cost_events_typed(
        self, filters: CostEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> PaginatedResponse[CostEventItem]:
        """One page of ``/costs/``, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_cost_events_typed``.
        """
        return get_portal().call(partial(self._client.list_cost_events_typed, filters, **params))

    def iter_cost_events(
        self, filters: CostEventFilters | Mapping[str, Any] | None = None, **params: Any
    ) -> Iterator[CostEventItem]:
        """Every cost event matching the filters, following the pages (blocking).

        Blocking twin of ``AsyncCostManagerClient.iter_cost_events``.
        """
        return _iterate(partial(self._client.iter_cost_events, filters, **params))

    def list_cost_events_by_response_id(self, response_id: str) -> Any:
        """The cost events of one tracked record, as a raw JSON array.

        Blocking twin of ``AsyncCostManagerClient.list_cost_events_by_response_id``.
        """
        return get_portal().call(partial(self._client.list_cost_events_by_response_id, response_id))

    def list_cost_events_by_response_id_typed(self, response_id: str) -> list[ApiCostEventOut]:
        """The cost events of one tracked record, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_cost_events_by_response_id_typed``.
        """
        return get_portal().call(
            partial(self._client.list_cost_events_by_response_id_typed, response_id)
        )

    def explain_cost(self, response_id: str) -> CostExplanation:
        """How one tracked record's cost was worked out, line by line.

        Blocking twin of ``AsyncCostManagerClient.explain_cost``.
        """
        return get_portal().call(partial(self._client.explain_cost, response_id))

    # services
    def list_vendors(self) -> Any:
        """Every vendor, as a raw JSON array.

        Blocking twin of ``AsyncCostManagerClient.list_vendors``.
        """
        return get_portal().call(partial(self._client.list_vendors))

    def list_vendors_typed(self) -> list[VendorOut]:
        """Every vendor, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_vendors_typed``.
        """
        return get_portal().call(partial(self._client.list_vendors_typed))

    def list_vendor_services(self, vendor: str) -> Any:
        """The services of one vendor, as a raw JSON array (without ``vendor``).

        Blocking twin of ``AsyncCostManagerClient.list_vendor_services``.
        """
        return get_portal().call(partial(self._client.list_vendor_services, vendor))

    def list_vendor_services_typed(self, vendor: str) -> list[ServiceOut]:
        """The services of one vendor, parsed, each with ``vendor`` filled in.

        Blocking twin of ``AsyncCostManagerClient.list_vendor_services_typed``.
        """
        return get_portal().call(partial(self._client.list_vendor_services_typed, vendor))

    def list_service_costs(self, vendor: str, service: str) -> Any:
        """The cost units of one service, as a raw JSON array.

        Blocking twin of ``AsyncCostManagerClient.list_service_costs``.
        """
        return get_portal().call(partial(self._client.list_service_costs, vendor, service))

    def list_service_costs_typed(self, vendor: str, service: str) -> list[CostUnitOut]:
        """The cost units of one service, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_service_costs_typed``.
        """
        return get_portal().call(partial(self._client.list_service_costs_typed, vendor, service))

    # spend
    def get_spend_summary(
        self,
        start_date: DateLike = None,
        end_date: DateLike = None,
        *,
        customer_key: str | None = None,
    ) -> SpendSummary:
        """Total spend of the period, and of the period of equal length just before it.

        Blocking twin of ``AsyncCostManagerClient.get_spend_summary``.
        """
        return get_portal().call(
            partial(self._client.get_spend_summary, start_date, end_date, customer_key=customer_key)
        )

    def get_spend_series(
        self,
        start_date: DateLike = None,
        end_date: DateLike = None,
        *,
        granularity: Literal["hourly", "daily"] = "daily",
        group_by: Literal["vendor", "service", "customer"] = "vendor",
        customer_key: str | None = None,
    ) -> SpendSeries:
        """Spend per hour or day of the period, one line per vendor, service or customer.

        Blocking twin of ``AsyncCostManagerClient.get_spend_series``.
        """
        return get_portal().call(
            partial(
                self._client.get_spend_series,
                start_date,
                end_date,
                granularity=granularity,
                group_by=group_by,
                customer_key=customer_key,
            )
        )

    def list_spend_by_customer(
        self, start_date: DateLike = None, end_date: DateLike = None
    ) -> list[CustomerSpend]:
        """Customers ranked by spend in the period, each with its cost per day.

        Blocking twin of ``AsyncCostManagerClient.list_spend_by_customer``.
        """
        return get_portal().call(partial(self._client.list_spend_by_customer, start_date, end_date))

    def list_spend_by_service(
        self,
        start_date: DateLike = None,
        end_date: DateLike = None,
        *,
        customer_key: str | None = None,
    ) -> list[ServiceSpend]:
        """Services ranked by spend in the period, with quantity and cost per cost unit.

        Blocking twin of ``AsyncCostManagerClient.list_spend_by_service``.
        """
        return get_portal().call(
            partial(
                self._client.list_spend_by_service, start_date, end_date, customer_key=customer_key
            )
        )

    def list_latest_events(
        self, limit: int = 20, *, customer_key: str | None = None
    ) -> list[RecentEvent]:
        """The newest usage events, newest first (no count, no paging: cheap to poll).

        Blocking twin of ``AsyncCostManagerClient.list_latest_events``.
        """
        return get_portal().call(
            partial(self._client.list_latest_events, limit, customer_key=customer_key)
        )

    def list_unpriced_events(self, limit: int = 50) -> list[RecentEvent]:
        """The newest events that count for nothing (unknown service key, failed pricing).

        Blocking twin of ``AsyncCostManagerClient.list_unpriced_events``.
        """
        return get_portal().call(partial(self._client.list_unpriced_events, limit))

    def get_openapi_schema(self) -> Any:
        """The server's OpenAPI document.

        Blocking twin of ``AsyncCostManagerClient.get_openapi_schema``.
        """
        return get_portal().call(partial(self._client.get_openapi_schema))

    # webhooks
    def create_webhook_endpoint(
        self, data: WebhookEndpointCreate | Mapping[str, Any]
    ) -> WebhookEndpointOut:
        """Register a webhook endpoint.

        Blocking twin of ``AsyncCostManagerClient.create_webhook_endpoint``.
        """
        return get_portal().call(partial(self._client.create_webhook_endpoint, data))

    def list_webhook_endpoints(self, active_only: bool = False) -> Any:
        """The team's webhook endpoints as raw JSON (``{"endpoints", "total_count", ...}``).

        Blocking twin of ``AsyncCostManagerClient.list_webhook_endpoints``.
        """
        return get_portal().call(partial(self._client.list_webhook_endpoints, active_only))

    def list_webhook_endpoints_typed(self, active_only: bool = False) -> WebhookEndpointsResponse:
        """The team's webhook endpoints, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_webhook_endpoints_typed``.
        """
        return get_portal().call(partial(self._client.list_webhook_endpoints_typed, active_only))

    def get_webhook_endpoint(self, webhook_uuid: str) -> WebhookEndpointOut:
        """The webhook endpoint with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.get_webhook_endpoint``.
        """
        return get_portal().call(partial(self._client.get_webhook_endpoint, webhook_uuid))

    def update_webhook_endpoint(
        self, webhook_uuid: str, data: WebhookEndpointUpdate | Mapping[str, Any]
    ) -> WebhookEndpointOut:
        """Change the given fields of a webhook endpoint (``None`` fields are left alone).

        Blocking twin of ``AsyncCostManagerClient.update_webhook_endpoint``.
        """
        return get_portal().call(partial(self._client.update_webhook_endpoint, webhook_uuid, data))

    def delete_webhook_endpoint(self, webhook_uuid: str) -> None:
        """Delete a webhook endpoint.

        Blocking twin of ``AsyncCostManagerClient.delete_webhook_endpoint``.
        """
        return get_portal().call(partial(self._client.delete_webhook_endpoint, webhook_uuid))

    # custom services
    def list_custom_services(
        self,
        is_active: bool | None = None,
        is_deleted: bool | None = None,
        has_cost_units: bool | None = None,
    ) -> Any:
        """The team's custom services as a raw JSON array (``None`` filters are not sent).

        Blocking twin of ``AsyncCostManagerClient.list_custom_services``.
        """
        return get_portal().call(
            partial(self._client.list_custom_services, is_active, is_deleted, has_cost_units)
        )

    def list_custom_services_typed(
        self,
        is_active: bool | None = None,
        is_deleted: bool | None = None,
        has_cost_units: bool | None = None,
    ) -> list[CustomServiceSummaryOut]:
        """The team's custom services, parsed.

        Blocking twin of ``AsyncCostManagerClient.list_custom_services_typed``.
        """
        return get_portal().call(
            partial(self._client.list_custom_services_typed, is_active, is_deleted, has_cost_units)
        )

    def create_custom_service(self, data: CustomServiceIn | Mapping[str, Any]) -> CustomServiceOut:
        """Create a custom service.

        Blocking twin of ``AsyncCostManagerClient.create_custom_service``.
        """
        return get_portal().call(partial(self._client.create_custom_service, data))

    def get_custom_service(self, uuid: str) -> CustomServiceOut:
        """The custom service with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.get_custom_service``.
        """
        return get_portal().call(partial(self._client.get_custom_service, uuid))

    def update_custom_service(
        self, uuid: str, data: CustomServiceIn | Mapping[str, Any]
    ) -> CustomServiceOut:
        """Replace the custom service with this ``uuid``.

        Blocking twin of ``AsyncCostManagerClient.update_custom_service``.
        """
        return get_portal().call(partial(self._client.update_custom_service, uuid, data))

    def delete_custom_service(self, uuid: str) -> None:
        """Soft-delete the custom service with this ``uuid`` (it stops pricing events).

        Blocking twin of ``AsyncCostManagerClient.delete_custom_service``.
        """
        return get_portal().call(partial(self._client.delete_custom_service, uuid))
