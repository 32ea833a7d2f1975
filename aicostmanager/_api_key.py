"""The API key as a value: cleaned once, identified once, never shown.

An :class:`ApiKey` is made only by :func:`clean_api_key` (or :func:`api_key_from_env`, which
calls it), so every module that holds one holds the same cleaned text: a key read from a
secrets file with a trailing newline has the same :attr:`~ApiKey.fingerprint` in the tracker,
``aicostmanager queue keys`` and ``queue adopt``. Its ``repr`` and ``str`` show only the
fingerprint; the text itself leaves this object only through :attr:`~ApiKey.header` (the HTTP
``Authorization`` header) and :meth:`~ApiKey.reveal`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Final, final

from ._exceptions import ConfigurationError

__all__ = (
    "ENV_NAME",
    "ApiKey",
    "api_key_from_env",
    "as_api_key",
    "clean_api_key",
    "key_fingerprint",
)

ENV_NAME: Final = "AICM_API_KEY"
_MINT = object()


@final
class ApiKey:
    """A cleaned API key: its fingerprint, its id and its ``Authorization`` header.

    Attributes:
        fingerprint: 24 hex digits of the key's SHA-256: what the durable queue stores to
            know which key a record belongs to (never the key).
        key_id: the text after the key's last ``.`` (the id the server names the key by in
            triggered limits); ``None`` when the key has no ``.``.
    """

    __slots__ = ("_text", "fingerprint", "key_id")

    fingerprint: str
    key_id: str | None
    _text: str

    def __new__(cls, text: str, _mint: object = None) -> ApiKey:
        if _mint is not _MINT:
            raise TypeError("an ApiKey is made by clean_api_key(), not ApiKey()")
        self = object.__new__(cls)
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "fingerprint", hashlib.sha256(text.encode()).hexdigest()[:24])
        head, dot, tail = text.rpartition(".")
        object.__setattr__(self, "key_id", tail if dot and tail else None)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ApiKey is immutable")

    @property
    def header(self) -> Mapping[str, str]:
        """``{"Authorization": "Bearer <key>"}``: how every request sends the key."""
        return {"Authorization": f"Bearer {self._text}"}

    def reveal(self) -> str:
        """The key's text, for the few places that must hold it (never log or print it)."""
        return self._text

    def __repr__(self) -> str:
        return f"ApiKey(fingerprint={self.fingerprint!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __copy__(self) -> ApiKey:
        return self

    def __deepcopy__(self, memo: object) -> ApiKey:
        return self  # immutable: copies (``dataclasses.asdict`` of settings) share it

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("an ApiKey is not pickled (it would write the key out)")


def clean_api_key(value: object, source: str) -> ApiKey | None:
    """The key without surrounding white space (a trailing newline from a secrets file).

    ``None`` or blank gives ``None`` (not set). An ``ApiKey`` is returned as is. The message of
    an error never contains the key.

    Raises:
        ConfigurationError: not a string, or it contains white space, control or non-ASCII
            characters inside (it could not be sent in an HTTP header as is).
    """
    if value is None or isinstance(value, ApiKey):
        return value
    if not isinstance(value, str):
        raise ConfigurationError(
            ENV_NAME, f"must be a string, not {type(value).__name__} (from the {source})"
        )
    key = value.strip()
    if not key:
        return None
    if not all("!" <= c <= "~" for c in key):  # visible ASCII: what a bearer token may hold
        raise ConfigurationError(
            ENV_NAME,
            f"contains white space, control or non-ASCII characters (from the {source}); "
            "check how the key was copied",
        )
    return ApiKey(key, _MINT)


def as_api_key(value: ApiKey | str | None) -> ApiKey | None:
    """``value`` cleaned as a key given to a constructor (see :func:`clean_api_key`).

    Raises:
        ConfigurationError: the text cannot be a key.
    """
    return clean_api_key(value, "constructor")


def api_key_from_env(env: Mapping[str, str] | None = None) -> ApiKey | None:
    """``AICM_API_KEY`` of ``env`` (default: ``os.environ``), cleaned; ``None`` when unset.

    Raises:
        ConfigurationError: the variable holds something that cannot be a key.
    """
    return clean_api_key((os.environ if env is None else env).get(ENV_NAME), "environment")


def key_fingerprint(api_key: ApiKey | str | None) -> str:
    """The fingerprint of a key given as text or ``ApiKey`` (``"-"`` when there is none).

    Raises:
        ConfigurationError: the text cannot be a key.
    """
    key = as_api_key(api_key)
    return "-" if key is None else key.fingerprint
