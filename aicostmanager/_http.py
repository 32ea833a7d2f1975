"""The HTTP seam: the only module of the SDK core that imports httpx.

``AsyncHTTP`` sends requests to the API root with the bearer key and returns a plain
``Response``; it never raises for an HTTP status (callers decide), and it translates every
transport failure into ``APIConnectionError`` / ``APITimeoutError``. The API key lives only in
the httpx client's default headers: never in a message, a repr or a log line.
"""

from __future__ import annotations

import json as _json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import httpx

from ._api_key import ApiKey, as_api_key
from ._backoff import parse_retry_after
from ._exceptions import (
    APIConnectionError,
    APIRequestError,
    APITimeoutError,
    status_error_class,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "AsyncHTTP",
    "QueryParams",
    "Response",
    "error_from_response",
    "origin",
    "user_agent",
)

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
        api_key: sent as ``Authorization: Bearer ...`` (text is cleaned as the tracker's
            key is); may be ``None`` (then no header).
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
        api_key: ApiKey | str | None,
        timeout: float | None = 10.0,
        headers: Mapping[str, str] | None = None,
        proxies: str | Mapping[str, str] | None = None,
        transport: Any = None,
        max_connections: int = 20,
    ) -> None:
        self.api_root = api_root.rstrip("/")
        self._origin = origin(self.api_root)
        key = as_api_key(api_key)
        self._secrets = _secret_forms(key)
        default_headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        if headers:
            default_headers.update(headers)
        if key is not None:
            default_headers.update(key.header)
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
        """Absolute URL for a path under the API root.

        An absolute URL passes through only on the API root's origin (scheme, host, port):
        the key is never sent anywhere else.

        Raises:
            ValueError: an absolute URL on another origin.
        """
        if path.startswith(("http://", "https://")):
            if origin(path) != self._origin:
                raise ValueError("refusing to send the API key to another origin")
            return path
        return f"{self.api_root}/{path.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        """Whether an absolute URL is on the API root's origin (scheme, host and port)."""
        return origin(url) == self._origin

    def redact(self, text: str) -> str:
        """``text`` with every form of the API key replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

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
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = self._transport_error(method, url, exc)
        else:
            body = response.content
            if not response.is_success and self._secrets:
                body = self._redact_body(body)
            return Response(
                status_code=response.status_code,
                content=body,
                url=str(response.url),
                headers=response.headers,
            )
        # Raised outside the handler: an httpx error whose text held the key is not attached.
        raise error

    def _transport_error(
        self, method: str, url: str, exc: httpx.HTTPError | httpx.InvalidURL
    ) -> APIConnectionError:
        """The SDK's error for a transport failure; its text never holds the key."""
        where = f"{method} {_redact(url)}"
        if isinstance(exc, httpx.TimeoutException):
            error: APIConnectionError = APITimeoutError(f"{where} timed out")
            leaked = any(secret in str(exc) for secret in self._secrets)
        else:
            detail = f"{type(exc).__name__}: {exc}"
            clean = self.redact(detail)
            leaked = clean != detail
            error = APIConnectionError(self.redact(f"{where} failed: {clean}"))
        if not leaked:
            error.__cause__ = exc
        return error

    def _redact_body(self, body: bytes) -> bytes:
        # A proxy or a server may echo the Authorization header in an error body.
        for secret in self._secrets:
            raw = secret.encode("utf-8", "replace")
            if raw in body:
                body = body.replace(raw, b"***")
        return body

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
    # Query strings may carry user data, user info a password; paths never carry the key.
    parts = urllib.parse.urlsplit(url.split("?", 1)[0])
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of an absolute URL, the default port filled in."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # malformed ("http://[::1", port 99999): matches no real origin
        return "", "", -1
    scheme = parts.scheme.lower()
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _secret_forms(key: ApiKey | None) -> tuple[str, ...]:
    """The key as it may appear in a message: itself, escaped by ``repr`` of str or bytes."""
    if key is None:
        return ()
    api_key = key.reveal()
    forms = {api_key, repr(api_key)[1:-1], repr(api_key.encode("utf-8", "replace"))[2:-1]}
    return tuple(sorted(forms, key=len, reverse=True))
