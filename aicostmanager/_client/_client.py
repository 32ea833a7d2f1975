"""``AsyncCostManagerClient``: every REST endpoint of the AICostManager API, async."""

from __future__ import annotations

from ._costs import CostsMixin
from ._custom_services import CustomServicesMixin
from ._customers import CustomersMixin
from ._limits import LimitsMixin
from ._services import ServicesMixin
from ._spend import SpendMixin
from ._usage import UsageMixin
from ._webhooks import WebhooksMixin

__all__ = ("AsyncCostManagerClient",)


class AsyncCostManagerClient(
    UsageMixin,
    CustomersMixin,
    LimitsMixin,
    CostsMixin,
    ServicesMixin,
    WebhooksMixin,
    CustomServicesMixin,
    SpendMixin,
):
    """Async client of the AICostManager REST API.

    Options resolve as argument > ``AICM_*`` environment > ``AICM.INI [tracker]`` > default;
    the API key comes only from the argument or ``AICM_API_KEY``.

    Naming: ``list_*`` returns the raw JSON, ``list_*_typed`` the parsed models,
    ``iter_*`` an async iterator over every page, ``get_*``/``create_*``/``update_*`` a model,
    ``delete_*`` nothing. GET, PUT and DELETE are retried on 408/429/5xx and network errors
    (honouring ``Retry-After``); POST is never retried.

    Errors, for every request method (each an ``APIError``): ``APIRequestError`` when the
    server answered non-2xx (a status-specific subclass such as ``NotFoundError`` or
    ``ConflictError``, listed on the methods where it matters), ``APIConnectionError`` when no
    answer came, ``APIResponseValidationError`` when a parsed answer does not fit its model.

    Use it as an async context manager, or call :meth:`aclose` when done::

        async with AsyncCostManagerClient() as client:
            page = await client.list_customers_typed(limit=10)

    Args:
        **options: ``ClientOptions``, each keyword-only and optional:
            ``aicm_api_key``: the API key (else ``AICM_API_KEY``);
            ``aicm_api_base``: base URL (else ``AICM_API_BASE``, the INI,
            ``https://aicostmanager.com``);
            ``aicm_api_url``: path prefix (else ``AICM_API_URL``, the INI, ``/api/v1``);
            ``ini_path``: the ``AICM.INI`` file (else ``AICM_INI_PATH``, the default path;
            ``aicm_ini_path=`` is the deprecated spelling, with a ``DeprecationWarning``);
            ``timeout``: seconds per request (else ``AICM_TIMEOUT``, the INI, 30);
            ``proxies``: one proxy URL, or a map of URL pattern (``"https"``, ``"all://"``) to
            proxy URL; ``headers``: extra headers sent on every request; ``transport``: a
            custom ``httpx.AsyncBaseTransport`` (for example ``httpx.MockTransport``);
            ``max_attempts``: attempts per idempotent request (else ``AICM_MAX_ATTEMPTS``, the
            INI, 3).

    Raises:
        MissingConfiguration: no API key was given nor found in the environment.
        ConfigurationError: an option is malformed.
    """
