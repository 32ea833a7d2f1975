"""Pydantic models of the AICostManager REST API (requests, responses, filters)."""

from __future__ import annotations

from ._base import PaginatedResponse as PaginatedResponse
from ._base import RequestModel as RequestModel
from ._base import ResponseModel as ResponseModel
from .costs import ApiCostEventOut as ApiCostEventOut
from .costs import CostEventFilters as CostEventFilters
from .costs import CostEventItem as CostEventItem
from .costs import CostExplanation as CostExplanation
from .costs import CostLineExplanation as CostLineExplanation
from .custom_services import Condition as Condition
from .custom_services import CostUnitSwitch as CostUnitSwitch
from .custom_services import CustomCostUnitIn as CustomCostUnitIn
from .custom_services import CustomCostUnitOut as CustomCostUnitOut
from .custom_services import CustomServiceConfiguration as CustomServiceConfiguration
from .custom_services import CustomServiceIn as CustomServiceIn
from .custom_services import CustomServiceOut as CustomServiceOut
from .custom_services import CustomServiceSummaryOut as CustomServiceSummaryOut
from .custom_services import FieldMapping as FieldMapping
from .custom_services import MappingGroup as MappingGroup
from .custom_services import Rounding as Rounding
from .customers import CustomerFilters as CustomerFilters
from .customers import CustomerIn as CustomerIn
from .customers import CustomerOut as CustomerOut
from .limits import Period as Period
from .limits import ThresholdType as ThresholdType
from .limits import UsageLimitIn as UsageLimitIn
from .limits import UsageLimitOut as UsageLimitOut
from .limits import UsageLimitProgressOut as UsageLimitProgressOut
from .services import CostUnitOut as CostUnitOut
from .services import ServiceOut as ServiceOut
from .services import VendorOut as VendorOut
from .spend import CostUnitSpend as CostUnitSpend
from .spend import CustomerSpend as CustomerSpend
from .spend import RecentEvent as RecentEvent
from .spend import ServiceSpend as ServiceSpend
from .spend import SpendSeries as SpendSeries
from .spend import SpendSeriesLine as SpendSeriesLine
from .spend import SpendSummary as SpendSummary
from .usage import RollupFilters as RollupFilters
from .usage import UsageEvent as UsageEvent
from .usage import UsageEventFilters as UsageEventFilters
from .usage import UsageRollup as UsageRollup
from .webhooks import WebhookEndpointCreate as WebhookEndpointCreate
from .webhooks import WebhookEndpointOut as WebhookEndpointOut
from .webhooks import WebhookEndpointsResponse as WebhookEndpointsResponse
from .webhooks import WebhookEndpointUpdate as WebhookEndpointUpdate

__all__ = (
    "ApiCostEventOut",
    "Condition",
    "CostEventFilters",
    "CostEventItem",
    "CostExplanation",
    "CostLineExplanation",
    "CostUnitOut",
    "CostUnitSpend",
    "CostUnitSwitch",
    "CustomCostUnitIn",
    "CustomCostUnitOut",
    "CustomServiceConfiguration",
    "CustomServiceIn",
    "CustomServiceOut",
    "CustomServiceSummaryOut",
    "CustomerFilters",
    "CustomerIn",
    "CustomerOut",
    "CustomerSpend",
    "FieldMapping",
    "MappingGroup",
    "PaginatedResponse",
    "Period",
    "RecentEvent",
    "RequestModel",
    "ResponseModel",
    "RollupFilters",
    "Rounding",
    "ServiceOut",
    "ServiceSpend",
    "SpendSeries",
    "SpendSeriesLine",
    "SpendSummary",
    "ThresholdType",
    "UsageEvent",
    "UsageEventFilters",
    "UsageLimitIn",
    "UsageLimitOut",
    "UsageLimitProgressOut",
    "UsageRollup",
    "VendorOut",
    "WebhookEndpointCreate",
    "WebhookEndpointOut",
    "WebhookEndpointUpdate",
    "WebhookEndpointsResponse",
)
