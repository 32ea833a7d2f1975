"""The one exception tree of ``aicostmanager``.

```
AICMError
├── ConfigurationError (ValueError)          an option is unknown or malformed
│   ├── UnknownOptionError (also TypeError)   an option name no tracker has
│   └── MissingConfiguration                  no API key where one is required
├── InvalidRecordError (ValueError)           track() input rejected at the call site
│   └── BatchSizeLimitExceeded                track_batch() over the per-request cap
├── TrackerClosedError (RuntimeError)         track() after aclose()
├── QueueError                                the queue file cannot be opened, read or written
│   └── QueueCorruptError                     ... because it is damaged beyond recovery
├── QueueFullError                            bounded queue full under the "raise" policy
├── DeliveryError                             immediate delivery failed (raise_on_error only)
│   └── NoCostsTrackedException               a /track result carried nothing usable
├── UsageLimitExceeded                        a triggered limit blocks this call
└── APIError                                  talking to the API failed
    ├── APIConnectionError                    network failure, no response
    │   └── APITimeoutError                   the request timed out
    ├── APIResponseValidationError            a 2xx answer of an unexpected shape
    └── APIRequestError                       the server answered non-2xx
        ├── BadRequestError                   400
        ├── AuthenticationError               401
        ├── PermissionDeniedError             403
        ├── NotFoundError                     404
        ├── ConflictError                     409
        ├── PayloadTooLargeError              413
        ├── UnprocessableEntityError          422
        ├── RateLimitError                    429
        └── InternalServerError               5xx
```

No message, attribute or ``repr`` of these classes ever contains an API key.

Foreign errors are translated where they arise: ``httpx`` errors in ``_http.py``, ``sqlite3``
errors in ``_queue.py`` (``QueueError``), msgspec and text-encoding errors in ``_wire.py``
(``InvalidRecordError``), pydantic validation of server answers in the REST client
(``APIResponseValidationError``). Misuse that is not about a record or an option (a client id
of the wrong type, a malformed request body model) raises ``TypeError`` / ``ValueError``
(``pydantic.ValidationError`` is a ``ValueError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = (
    "AICMError",
    "APIConnectionError",
    "APIError",
    "APIRequestError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchSizeLimitExceeded",
    "ConfigurationError",
    "ConflictError",
    "DeliveryError",
    "InternalServerError",
    "InvalidRecordError",
    "MissingConfiguration",
    "NoCostsTrackedException",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "QueueCorruptError",
    "QueueError",
    "QueueFullError",
    "RateLimitError",
    "TrackerClosedError",
    "UnknownOptionError",
    "UnprocessableEntityError",
    "UsageLimitExceeded",
    "status_error_class",
)


class AICMError(Exception):
    """Base class of every error raised by ``aicostmanager``."""


class ConfigurationError(AICMError, ValueError):
    """An option is unknown or has a value that cannot be used.

    Attributes:
        option: the option's name, for example ``"AICM_TIMEOUT"``.
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


class UnknownOptionError(ConfigurationError, TypeError):
    """An option name that no tracker has (a misspelt keyword, a stray settings key).

    A ``ConfigurationError`` like every bad option, and a ``TypeError`` like any unexpected
    keyword argument in Python.
    """


class MissingConfiguration(ConfigurationError):
    """A required option (usually the API key) is not set anywhere."""

    def __init__(self, option: str = "AICM_API_KEY", message: str | None = None) -> None:
        super().__init__(
            option,
            message or "not set; pass it to the constructor or set the environment variable",
        )


class InvalidRecordError(AICMError, ValueError):
    """A usage record was rejected before anything was enqueued or sent.

    Attributes:
        field: the offending field (``"service_key"``, ``"usage.input_tokens"``, ...).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class BatchSizeLimitExceeded(InvalidRecordError):
    """``track_batch`` was given more records than one request may carry."""

    def __init__(self, batch_size: int, max_batch_size: int) -> None:
        super().__init__(
            "records", f"batch of {batch_size} records exceeds the limit of {max_batch_size}"
        )
        self.batch_size = batch_size
        self.max_batch_size = max_batch_size


class TrackerClosedError(AICMError, RuntimeError):
    """The tracker was used after it was closed (or before it was started)."""


class QueueError(AICMError):
    """The queue file could not be opened, read or written (wraps ``sqlite3.Error``)."""


class QueueCorruptError(QueueError):
    """The queue file is damaged, and was not (or could not be) recovered."""


class QueueFullError(AICMError):
    """The bounded durable queue is full and the full policy is ``raise``
    (or ``block`` timed out)."""


class DeliveryError(AICMError):
    """Immediate delivery failed for good; raised only with ``raise_on_error=True``."""


class NoCostsTrackedException(DeliveryError):
    """A ``/track`` result had no status, no cost events and no errors."""


class UsageLimitExceeded(AICMError):
    """A triggered usage limit blocks this service/customer.

    Attributes:
        triggered_limits: the matching triggered-limit events.
    """

    def __init__(self, triggered_limits: Sequence[Any], message: str | None = None) -> None:
        self.triggered_limits = list(triggered_limits)
        if message is None:
            names = ", ".join(
                str(getattr(limit, "limit_id", None) or limit) for limit in self.triggered_limits
            )
            message = f"usage limit exceeded ({names})"
        super().__init__(message)


class APIError(AICMError):
    """Talking to the AICostManager API failed."""


class APIConnectionError(APIError):
    """No response was received (connection refused, reset, DNS failure...)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIResponseValidationError(APIError):
    """The server answered 2xx, but not with what the SDK expects.

    Raised when a response fails model validation, or a pagination ``next`` link points
    outside the configured API origin (it is never followed there).

    Attributes:
        status_code: the HTTP status of the answer.
        request_id: the server's request id header, if any.
        errors: the validation errors (``pydantic``'s ``errors()`` list), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        errors: Sequence[Any] = (),
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        self.errors = list(errors)
        text = f"HTTP {status_code}: {message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class APIRequestError(APIError):
    """The server answered with a non-2xx status.

    Attributes:
        status_code: the HTTP status.
        error: the ``detail`` of the error body (text), or the body text.
        message: same as ``error`` (kept for compatibility with the 0.3 SDK).
        details: the error body's machine ``code``, or validation details.
        body: the parsed JSON body, if any.
        request_id: the server's request id header, if any.
        retry_after: seconds from a ``Retry-After`` header, if any.
    """

    def __init__(
        self,
        status_code: int,
        *,
        error: str | None = None,
        details: Any = None,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.message = error
        self.details = details
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after
        text = f"HTTP {status_code}"
        if error:
            text += f": {error}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class BadRequestError(APIRequestError):
    """HTTP 400."""


class AuthenticationError(APIRequestError):
    """HTTP 401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(APIRequestError):
    """HTTP 403."""


class NotFoundError(APIRequestError):
    """HTTP 404."""


class ConflictError(APIRequestError):
    """HTTP 409."""


class PayloadTooLargeError(APIRequestError):
    """HTTP 413."""


class UnprocessableEntityError(APIRequestError):
    """HTTP 422: the request was understood but its content was rejected."""


class RateLimitError(APIRequestError):
    """HTTP 429."""


class InternalServerError(APIRequestError):
    """HTTP 5xx."""


_STATUS_CLASSES: Mapping[int, type[APIRequestError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIRequestError]:
    """Return the most specific ``APIRequestError`` subclass for an HTTP status."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIRequestError)
