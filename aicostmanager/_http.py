"""The HTTP seam: the only module of the SDK core that imports httpx.

``AsyncHTTP`` sends requests to the API root with the bearer key and returns a plain
``Response``; it never raises for an HTTP status (callers decide), and it translates every
transport failure into ``APIConnectionError`` / ``APITimeoutError``. The API key lives only in
the httpx client's default headers: never in a message, a repr or a log line.
"""

from __future__ import annotations

import json as _json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import httpx

from ._backoff import parse_retry_after
from ._exceptions import (
    APIConnectionError,
    APIRequestError,
    APITimeoutError,
    status_error_class,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("AsyncHTTP", "QueryParams", "Response", "error_from_response", "user_agent")

QueryParams = Mapping[str, "str | int | float | bool | Sequence[str | int | float | bool] | None"]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid")


def user_agent() -> str:
    """The ``User-Agent`` the SDK sends: ``aicostmanager-python/<version>``."""
    try:
        return f"aicostmanager-python/{version('aicostmanager')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "aicostmanager-python"


@dataclass(frozen=True)
class Response:
    """A received HTTP response, detached from httpx."""

    status_code: int
    content: bytes
    url: str
    headers: Mapping[str, str] = field(repr=False)

    @property
    def is_success(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status_code < 300

    @property
    def request_id(self) -> str | None:
        """The server's request id, when it sent one."""
        for name in _REQUEST_ID_HEADERS:
            value = self.headers.get(name)
            if value:
                return value
        return None

    def retry_after(self, now: float | None = None) -> float | None:
        """Seconds asked for by a ``Retry-After`` header, if any."""
        return parse_retry_after(
            self.headers.get("retry-after"), time.time() if now is None else now
        )

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when empty or not JSON."""
        if not self.content:
            return None
        try:
            return _json.loads(self.content)
        except ValueError:
            return None


def error_from_response(response: Response) -> APIRequestError:
    """Build the status-specific ``APIRequestError`` for a non-2xx response."""
    body = response.json()
    error: str | None = None
    details: Any = None
    if isinstance(body, dict):
        detail = body.get("detail", body.get("message", body.get("error")))
        if isinstance(detail, str):
            error = detail
        elif detail is not None:
            error = _json.dumps(detail, default=str)[:2000]
            details = detail
        if "code" in body:
            details = body["code"]
        elif "details" in body:
            details = body["details"]
    elif body is None and response.content:
        error = response.content[:2000].decode("utf-8", "replace")
    cls = status_error_class(response.status_code)
    return cls(
        response.status_code,
        error=error,
        details=details,
        body=body,
        request_id=response.request_id,
        retry_after=response.retry_after(),
    )


def _mounts(proxies: str | Mapping[str, str] | None) -> dict[str, httpx.AsyncBaseTransport] | None:
    if proxies is None or isinstance(proxies, str):
        return None
    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    for pattern, url in proxies.items():
        key = pattern if "://" in pattern else f"{pattern}://"
        mounts[key] = httpx.AsyncHTTPTransport(proxy=url)
    return mounts


class AsyncHTTP:
    """A pooled async HTTP client bound to one API root and one API key.

    Args:
        api_root: base URL with path prefix, e.g. ``https://aicostmanager.com/api/v1``.
        api_key: sent as ``Authorization: Bearer ...``; may be ``None`` (then no header).
        timeout: seconds for connect/read/write/pool; ``None`` waits forever.
        headers: extra headers sent on every request.
        proxies: one proxy URL for everything, or a map of URL pattern (``"https"``,
            ``"all://"``) to proxy URL.
        transport: a custom ``httpx.AsyncBaseTransport`` (for users' own tests).
        max_connections: connection pool size.
    """

    def __init__(
        self,
        *,
        api_root: str,
        api_key: str | None,
        timeout: float | None = 10.0,
        headers: Mapping[str, str] | None = None,
        proxies: str | Mapping[str, str] | None = None,
        transport: Any = None,
        max_connections: int = 20,
    ) -> None:
        self.api_root = api_root.rstrip("/")
        default_headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        if headers:
            default_headers.update(headers)
        if api_key:
            default_headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            headers=default_headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            proxy=proxies if isinstance(proxies, str) else None,
            mounts=_mounts(proxies),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            # A redirect is a configuration problem (an ``http://`` root, a moved host): following
            # it would send the key and the records wherever it points. Callers see the 3xx.
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"AsyncHTTP(api_root={self.api_root!r})"

    def url(self, path: str) -> str:
        """Absolute URL for a path under the API root (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.api_root}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None | object = ...,
    ) -> Response:
        """Send one request and return the response, whatever its status.

        Raises:
            APITimeoutError: the request timed out.
            APIConnectionError: any other transport failure.
        """
        url = self.url(path)
        clean_params = None
        if params is not None:
            clean_params = {k: _param(v) for k, v in params.items() if v is not None}
        send_headers = dict(headers) if headers else {}
        if json is not None:
            content = _json.dumps(json, default=str).encode()
        if content is not None:
            send_headers.setdefault("Content-Type", "application/json")
        extra: dict[str, Any] = {}
        if timeout is not ...:
            extra["timeout"] = httpx.Timeout(timeout)  # type: ignore[arg-type]
        try:
            response = await self._client.request(
                method,
                url,
                params=clean_params,
                content=content,
                headers=send_headers,
                **extra,
            )
        except httpx.TimeoutException as exc:
            raise APITimeoutError(f"{method} {_redact(url)} timed out") from exc
        except httpx.HTTPError as exc:
            raise APIConnectionError(
                f"{method} {_redact(url)} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return Response(
            status_code=response.status_code,
            content=response.content,
            url=str(response.url),
            headers=response.headers,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_param(item) for item in value]
    return value


def _redact(url: str) -> str:
    # Query strings may carry user data; paths never carry the key.
    return url.split("?", 1)[0]
