"""The request core of ``AsyncCostManagerClient``: configuration, retries, errors, paging.

Retry policy: idempotent requests (GET, PUT, DELETE) are retried on 408, 429, 5xx, connection
errors and timeouts, up to ``max_attempts`` attempts in total, waiting what the server's
``Retry-After`` asks (capped at ``MAX_RETRY_AFTER`` seconds) or else a jittered exponential
backoff. POST is never retried: a create whose answer was lost may have happened, and sending it
again could create a duplicate.
"""

from __future__ import annotations

import functools
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio
from pydantic import BaseModel, TypeAdapter, ValidationError
from typing_extensions import Unpack

from .._api_key import ApiKey
from .._backoff import Backoff
from .._blocking import AsyncResource
from .._config import (
    ClientSettings,
    check_headers,
    check_proxies,
    deprecated_ini_path,
    resolve_settings,
    setting_overrides,
)
from .._exceptions import APIConnectionError, APIResponseValidationError, MissingConfiguration
from .._http import AsyncHTTP, Response, error_from_response, origin
from ._options import ClientOptions
from ._query import render_query

__all__ = ("MAX_RETRY_AFTER", "RETRY_STATUSES", "BaseClient", "parse_response", "segment")

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_RETRY_AFTER = 60.0

Filters = BaseModel | Mapping[str, Any] | None

# Client options that are not fields of the settings table.
_NOT_SETTINGS = frozenset({"headers", "proxies", "transport", "aicm_ini_path"})


class BaseClient(AsyncResource):
    """Owns the HTTP connection pool and sends every request of the resource mixins.

    The constructor's options, and what it raises, are documented on ``AsyncCostManagerClient``.
    """

    backoff: Backoff = Backoff(base=0.5, cap=8.0)
    """Delay between retries when the server gives no ``Retry-After``."""

    def __init__(self, **options: Unpack[ClientOptions]) -> None:
        overrides = {k: v for k, v in options.items() if k not in _NOT_SETTINGS}
        overrides["ini_path"] = deprecated_ini_path(
            options.get("ini_path"), options.get("aicm_ini_path")
        )
        settings = resolve_settings(ClientSettings, setting_overrides(overrides))
        if settings.api_key is None:
            raise MissingConfiguration("AICM_API_KEY")
        self._api_key = settings.api_key
        self._ini_path = settings.ini_path
        self._max_attempts = settings.max_attempts
        self._http = AsyncHTTP(
            api_root=settings.api_root,
            api_key=settings.api_key,
            timeout=settings.timeout,
            headers=check_headers(options.get("headers")),
            proxies=check_proxies(options.get("proxies")),
            transport=options.get("transport"),
        )

    @property
    def api_root(self) -> str:
        """The API root every path is relative to, e.g. ``https://aicostmanager.com/api/v1``."""
        return self._http.api_root

    @property
    def api_key(self) -> ApiKey:
        """The cleaned API key (its ``repr`` shows only the fingerprint)."""
        return self._api_key

    @property
    def ini_path(self) -> Path:
        """The ``AICM.INI`` file this client resolved its options from."""
        return self._ini_path

    @property
    def max_attempts(self) -> int:
        """Attempts per idempotent request (1 = no retry)."""
        return self._max_attempts

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_root={self.api_root!r})"

    async def aclose(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Response:
        """Send a request, retrying idempotent ones; return the 2xx response.

        Raises:
            APIRequestError: the final answer was not 2xx (status-specific subclass).
            APIConnectionError: the final attempt got no answer.
        """
        attempts = self._max_attempts if method in IDEMPOTENT_METHODS else 1
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(method, path, params=params, json=json)
            except APIConnectionError:
                if attempt >= attempts:
                    raise
                await anyio.sleep(self.backoff.delay(attempt))
                continue
            if response.is_success:
                return response
            if attempt >= attempts or response.status_code not in RETRY_STATUSES:
                raise error_from_response(response)
            wait = response.retry_after()
            if wait is None:
                wait = self.backoff.delay(attempt)
            await anyio.sleep(min(wait, MAX_RETRY_AFTER))

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self._request("GET", path, params=params)).json()

    async def _get_as(self, kind: type[T], path: str, params: Mapping[str, Any] | None = None) -> T:
        response = await self._request("GET", path, params=params)
        return parse_response(kind, response.json(), response)

    async def _send(self, method: str, path: str, body: Any) -> Any:
        return (await self._request(method, path, json=body)).json()

    async def _send_as(self, kind: type[T], method: str, path: str, body: Any) -> T:
        response = await self._request(method, path, json=body)
        return parse_response(kind, response.json(), response)

    async def _delete(self, path: str) -> None:
        await self._request("DELETE", path)

    async def _pages(self, path: str, params: Mapping[str, Any], kind: type[T]) -> AsyncIterator[T]:
        """Yield every item of a paginated list, parsed as ``kind``, following ``next`` links.

        A ``next`` link is followed only on the API root's origin (scheme, host, port): the
        key is never sent elsewhere.

        Raises:
            APIResponseValidationError: a page or an item is malformed, or ``next`` points to
                another origin or back to a page already read.
        """
        url = path
        query: Mapping[str, Any] | None = params
        seen: set[str] = set()
        while True:
            response = await self._request("GET", url, params=query)
            page = response.json()
            link: Any = None
            if isinstance(page, list):
                items: Any = page
            elif isinstance(page, dict):
                items = page.get("results") or []
                link = page.get("next")
            else:
                raise _invalid(response, "a page must be a JSON object or array")
            if not isinstance(items, list):
                raise _invalid(response, "a page's results must be a JSON array")
            for item in items:
                yield parse_response(kind, item, response)
            if not link:
                return
            if not isinstance(link, str):
                raise _invalid(response, "a page's next link must be a string")
            try:
                absolute = urllib.parse.urljoin(response.url, link)
            except ValueError:
                raise _invalid(response, "a page's next link is not a URL") from None
            if not self._http.same_origin(absolute):
                scheme, host, port = origin(absolute)
                raise _invalid(
                    response,
                    f"the next page link points to another origin ({scheme}://{host}:{port}); "
                    "it was not followed",
                )
            if absolute in seen:
                raise _invalid(response, "the next page link points back to a page already read")
            seen.add(absolute)
            root = self.api_root + "/"
            url = absolute[len(self.api_root) :] if absolute.startswith(root) else absolute
            query = None


def _invalid(response: Response, message: str, errors: Any = ()) -> APIResponseValidationError:
    return APIResponseValidationError(
        message,
        status_code=response.status_code,
        request_id=response.request_id,
        errors=errors,
    )


@functools.lru_cache(maxsize=128)
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def parse_response(kind: type[T], data: Any, response: Response) -> T:
    """``data`` (from ``response``) validated as ``kind``.

    Raises:
        APIResponseValidationError: it does not fit (carries the status and the request id).
    """
    try:
        value: T = _adapter(cast("Hashable", kind)).validate_python(data)
    except ValidationError as exc:
        name = getattr(kind, "__name__", None) or str(kind)
        errors = exc.errors(include_url=False, include_input=False)
        raise _invalid(
            response, f"the answer is not a valid {name} ({exc.error_count()} errors)", errors
        ) from exc
    return value


def segment(value: object, name: str) -> str:
    """One URL path segment holding an id, percent-quoted so it cannot leave its resource.

    ``"../usage-limits/x"`` becomes ``..%2Fusage-limits%2Fx``, a single segment; ``.`` and
    ``..`` alone are quoted too, so URL normalisation cannot remove them.

    Raises:
        TypeError: ``value`` is not a ``str``, ``int`` or ``uuid.UUID``.
        ValueError: it is empty or not valid Unicode.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, uuid.UUID)):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    text = str.__str__(value) if isinstance(value, str) else str(value)
    if not text:
        raise ValueError(f"{name} must not be empty")
    try:
        quoted = urllib.parse.quote(text, safe="", errors="strict")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be valid Unicode text") from None
    if quoted in {".", ".."}:
        quoted = quoted.replace(".", "%2E")
    return quoted


def query(filters: Filters, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Query parameters from a filter model or dict plus keyword parameters."""
    return render_query(filters, params)


def body(model: type[BaseModel], data: BaseModel | Mapping[str, Any]) -> Any:
    """The JSON body of a request: ``data`` validated by ``model``, ``None`` fields dropped.

    Raises:
        pydantic.ValidationError: ``data`` does not fit ``model`` (a ``ValueError``).
    """
    if isinstance(data, model):
        validated = data
    elif isinstance(data, BaseModel):
        validated = model.model_validate(data.model_dump(exclude_unset=True))
    else:
        validated = model.model_validate(data)
    return validated.model_dump(mode="json", exclude_none=True)
