"""What a service key is: ``vendor::service``, written once for records, wrappers and the server.

The vendor is a lower-case slug (``openai``, ``amazon-bedrock``, ``fireworks-ai``): a letter or
digit, then up to 63 of ``a-z 0-9 . _ -``. The service is any text of 1 to 256 characters
without white space that does not start with ``:`` (``gpt-5-mini``,
``us.amazon.nova-pro-v1:0``, ``accounts/fireworks/models/deepseek-r1``).

- ``track()`` checks a record's key with :func:`validate_service_key` (``InvalidRecordError``).
- A wrapper checks its ``vendor=`` / ``service_key=`` options when it is built with
  :func:`check_vendor` / :func:`check_service_key_option` (``ConfigurationError`` naming the
  option), so a bad option fails at once instead of dropping every event later.
- The server splits what it receives with :func:`split_service_key` (``None`` when malformed).
"""

from __future__ import annotations

import re

from ._exceptions import ConfigurationError, InvalidRecordError

__all__ = (
    "check_service_key_option",
    "check_vendor",
    "plain_str",
    "split_service_key",
    "validate_service_key",
)

_VENDOR = r"[a-z0-9][a-z0-9._-]{0,63}"
_VENDOR_RE = re.compile(_VENDOR)
_SERVICE_KEY_RE = re.compile(rf"{_VENDOR}::[^\s:][^\s]{{0,255}}")
_RULE = "lower-case vendor slug, '::', a service id without spaces"


def plain_str(value: str) -> str:
    """``value`` as exact ``str`` (what msgspec encodes), ignoring an overridden ``__str__``."""
    # A str subclass (StrEnum member, a framework's "safe" string) is kept as its text;
    # msgspec encodes only exact str, and an overridden __str__ must not change the value.
    return value if type(value) is str else str.__str__(value)


def split_service_key(service_key: str) -> tuple[str, str] | None:
    """``"vendor::service"`` -> ``(vendor, service)``; ``None`` when the key breaks the rule."""
    if _SERVICE_KEY_RE.fullmatch(service_key) is None:
        return None
    vendor, _, service = service_key.partition("::")  # a vendor holds no ':'
    return vendor, service


def validate_service_key(service_key: object) -> str:
    """Return a record's ``service_key`` as plain ``str`` if it is ``vendor::service``.

    A ``str`` subclass (a ``StrEnum`` member) is accepted and returned as plain text.

    Raises:
        InvalidRecordError: not a string, or not of the form ``vendor::service``.
    """
    if not isinstance(service_key, str):
        raise InvalidRecordError(
            "service_key", f"must be a string, not {type(service_key).__name__}"
        )
    service_key = plain_str(service_key)
    if _SERVICE_KEY_RE.fullmatch(service_key) is None:
        raise InvalidRecordError(
            "service_key",
            f"{service_key[:80]!r} is not of the form 'vendor::service' ({_RULE})",
        )
    return service_key


def check_vendor(vendor: object, option: str = "vendor") -> str:
    """Validate a ``vendor=`` option: a lower-case slug such as ``openai``.

    Raises:
        ConfigurationError: not a string, or not a slug (the error names ``option``).
    """
    if not isinstance(vendor, str):
        raise ConfigurationError(option, f"must be a string, not {type(vendor).__name__}")
    vendor = plain_str(vendor)
    if _VENDOR_RE.fullmatch(vendor) is None:
        raise ConfigurationError(
            option,
            f"must be a lower-case slug like 'openai' or 'amazon-bedrock' "
            f"(a-z, 0-9, '.', '_', '-'), got {vendor[:80]!r}",
        )
    return vendor


def check_service_key_option(service_key: object, option: str = "service_key") -> str:
    """Validate a ``service_key=`` option of the form ``vendor::service``.

    Raises:
        ConfigurationError: not a string, or not of that form (the error names ``option``).
    """
    if not isinstance(service_key, str):
        raise ConfigurationError(option, f"must be a string, not {type(service_key).__name__}")
    service_key = plain_str(service_key)
    if _SERVICE_KEY_RE.fullmatch(service_key) is None:
        raise ConfigurationError(
            option, f"must look like 'vendor::service' ({_RULE}), got {service_key[:80]!r}"
        )
    return service_key
