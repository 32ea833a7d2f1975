"""Resolving options: argument > ``AICM_*`` environment > ``AICM.INI [tracker]`` > default.

Pure logic apart from reading the INI file. Every value is parsed and range-checked here, so a
bad value fails at construction with a ``ConfigurationError`` naming the option and where it
came from. The API key is read only from the argument or the environment, never the INI.
"""

from __future__ import annotations

import configparser
import importlib.util
import ipaddress
import math
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from ._api_key import ApiKey, clean_api_key
from ._exceptions import ConfigurationError
from ._ini import DEFAULT_INI_PATH, read_section
from ._types import DeliveryType, QueueFullPolicy

__all__ = (
    "ClientSettings",
    "TrackerSettings",
    "api_root",
    "check_callback",
    "check_headers",
    "check_proxies",
    "expand_path",
    "parse_base_url",
    "resolve_ini_path",
    "resolve_settings",
    "setting_overrides",
)

DEFAULT_API_BASE = "https://aicostmanager.com"
DEFAULT_API_URL = "/api/v1"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

# Options of the 0.3 SDK that are accepted in the INI/env and have no effect here.
IGNORED_OPTIONS = frozenset(
    {
        "AICM_POLL_INTERVAL",
        "AICM_MAX_RETRIES",
        "AICM_LOG_FILE",
        "AICM_LOG_LEVEL",
        "AICM_LOG_BODIES",
        "AICM_DELIVERY_LOG_BODIES",
        "AICM_IMMEDIATE_PAUSE_SECONDS",
        "AICM_ENABLE_INFERENCE_BLOCKING_LIMITS",
        "AICM_DELIVERY_MODE",
        "AICM_DELIVERY_ON_FULL",
        "AICM_QUEUE_SIZE",
    }
)

E = TypeVar("E", bound=Enum)


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (case-insensitive)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false), got {text!r}")


def _number(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text.strip())
        if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
            raise ValueError(f"expected a number in [{low:g}, {high:g}], got {text!r}")
        return value

    return parse


def _enum(cls: type[E]) -> Callable[[str], E]:
    def parse(text: str) -> E:
        wanted = text.strip().lower()
        for member in cls:
            if member.value == wanted or member.name.lower() == wanted:
                return member
        choices = ", ".join(m.value for m in cls)
        raise ValueError(f"expected one of {choices}, got {text!r}")

    return parse


def _optional_int(low: int, high: int) -> Callable[[str], int | None]:
    inner = _number(int, low, high)

    def parse(text: str) -> int | None:
        if text.strip().lower() in {"", "none", "unlimited"}:
            return None
        return int(inner(text))

    return parse


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def expand_path(raw: str | os.PathLike[str]) -> Path:
    """``raw`` as a ``Path`` with ``~`` expanded.

    Raises:
        ValueError: ``~user`` names no user, or there is no home directory.
    """
    try:
        return Path(raw).expanduser()
    except RuntimeError:
        raise ValueError(f"cannot expand the '~' of {str(raw)[:100]!r}") from None


def check_headers(value: object) -> Mapping[str, str] | None:
    """Validate the ``headers`` option: names and values of visible ASCII text (values may
    hold spaces), which is what an HTTP header can carry. Values are never echoed.

    Raises:
        ConfigurationError: the value cannot be sent as headers.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "headers", f"must be a mapping of header name to value, not {type(value).__name__}"
        )
    for name, text in value.items():
        if not isinstance(name, str) or not name or not all("!" <= c <= "~" for c in name):
            raise ConfigurationError(
                "headers", f"{str(name)[:60]!r} is not a header name (visible ASCII, no spaces)"
            )
        if not isinstance(text, str) or not all(" " <= c <= "~" for c in text):
            raise ConfigurationError(
                "headers",
                f"the value of {name!r} must be ASCII text without control characters",
            )
    return value


def check_callback(name: str, value: object) -> Any:
    """``value`` when it is callable or ``None``.

    Raises:
        ConfigurationError: it is something else.
    """
    if value is not None and not callable(value):
        raise ConfigurationError(name, f"must be callable, not {type(value).__name__}")
    return value


_IPV4_STYLE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
_MOUNT_PATTERN = re.compile(r"(all|http|https)(://\S*)?")


def _split_url(text: str, schemes: tuple[str, ...], *, echo: bool = True) -> SplitResult:
    """Parse an absolute URL as httpx will, so that a bad one fails at construction.

    Raises:
        ValueError: the URL has no host, an unknown scheme, a bad port or IP address, spaces...
    """
    shown = f"{text[:100]!r} " if echo else ""
    if not text:
        raise ValueError("must not be empty")
    if _UNSAFE.search(text):
        raise ValueError(f"{shown}must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown}is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"{shown}must start with {' or '.join(s + '://' for s in schemes)}")
    host = parts.hostname
    if not host:
        raise ValueError(f"{shown}has no host name")
    if port == 0:
        raise ValueError(f"{shown}has port 0")
    if _IPV4_STYLE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{shown}has an invalid IPv4 address") from None
    if not host.isascii():
        try:
            host.encode("idna")
        except UnicodeError:
            raise ValueError(f"{shown}has an invalid host name") from None
    return parts


def parse_base_url(text: str) -> str:
    """Validate ``AICM_API_BASE``: ``http(s)://host[:port][/path]``, no credentials or query.

    Raises:
        ValueError: the URL cannot be used (the message says why).
    """
    value = text.strip()
    parts = _split_url(value, ("http", "https"))
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials (user:password@)")
    if parts.query or parts.fragment:
        raise ValueError(f"{value[:100]!r} must not have a query or a fragment")
    return value


def _path_prefix(text: str) -> str:
    value = text.strip()
    if _UNSAFE.search(value) or "?" in value or "#" in value:
        raise ValueError(
            f"{value[:100]!r} must be a URL path (no spaces, control characters, '?' or '#')"
        )
    return value


def _check_proxy_url(url: str, where: str) -> str:
    value = url.strip()
    try:
        parts = _split_url(value, _PROXY_SCHEMES, echo=False)
    except ValueError as exc:
        raise ConfigurationError(
            "proxies", f"{where}the proxy URL {exc} (from the constructor)"
        ) from None
    if parts.scheme.lower().startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise ConfigurationError(
            "proxies",
            f'{where}SOCKS proxies need `pip install "httpx[socks]"` (from the constructor)',
        )
    return value


def check_proxies(value: object) -> str | Mapping[str, str] | None:
    """Validate the ``proxies`` option: one proxy URL, or a map of URL pattern to proxy URL.

    Patterns are ``"http"``, ``"https"``, ``"all"`` (optionally with ``://host``); a ``None``
    proxy means "no proxy" for that pattern. Proxy URLs are never echoed (they may carry a
    password).

    Raises:
        ConfigurationError: the value cannot be used.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return _check_proxy_url(value, "")
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            "proxies",
            f"must be a proxy URL or a mapping of URL pattern to proxy URL, not "
            f"{type(value).__name__} (from the constructor)",
        )
    checked: dict[str, Any] = {}
    for pattern, url in value.items():
        if not isinstance(pattern, str) or not _MOUNT_PATTERN.fullmatch(pattern):
            raise ConfigurationError(
                "proxies",
                f"key {str(pattern)[:60]!r} is not a URL pattern such as 'http', 'https', "
                "'all' or 'https://example.com' (from the constructor)",
            )
        if url is None:
            checked[pattern] = None
            continue
        if not isinstance(url, str):
            raise ConfigurationError(
                "proxies",
                f"[{pattern!r}] must be a proxy URL, not {type(url).__name__} "
                "(from the constructor)",
            )
        checked[pattern] = _check_proxy_url(url, f"[{pattern!r}]: ")
    return checked


def _option(env: str, parse: Callable[[str], Any], default: Any, *, ini: bool = True) -> Any:
    return field(default=default, metadata={"env": env, "parse": parse, "ini": ini})


@dataclass(frozen=True)
class _ConnectionSettings:
    """The options both the tracker and the REST client resolve: where the API is."""

    api_key: ApiKey | None = field(default=None, repr=False, metadata={"env": "AICM_API_KEY"})
    ini_path: Path = field(default=DEFAULT_INI_PATH, metadata={"env": "AICM_INI_PATH"})
    api_base: str = _option("AICM_API_BASE", parse_base_url, DEFAULT_API_BASE)
    api_url: str = _option("AICM_API_URL", _path_prefix, DEFAULT_API_URL)

    @property
    def api_root(self) -> str:
        """The API root (``api_base`` + ``api_url``)."""
        return api_root(self.api_base, self.api_url)


@dataclass(frozen=True)
class TrackerSettings(_ConnectionSettings):
    """Every tracker option, resolved and validated. See ``docs/configuration.md``."""

    delivery_type: DeliveryType = _option(
        "AICM_DELIVERY_TYPE", _enum(DeliveryType), DeliveryType.PERSISTENT_QUEUE
    )
    db_path: Path | None = _option("AICM_DB_PATH", lambda s: expand_path(_text(s)), None)
    timeout: float = _option("AICM_TIMEOUT", _number(float, 0.001, 3600), 10.0)
    max_attempts: int = _option("AICM_MAX_ATTEMPTS", _number(int, 1, 100), 3)
    batch_interval: float = _option("AICM_BATCH_INTERVAL", _number(float, 0, 60), 0.05)
    max_batch_size: int = _option("AICM_MAX_BATCH_SIZE", _number(int, 1, 1000), 1000)
    max_batch_bytes: int = _option("AICM_MAX_BATCH_BYTES", _number(int, 1024, 64 << 20), 4 << 20)
    max_concurrency: int = _option("AICM_MAX_CONCURRENCY", _number(int, 1, 64), 4)
    commit_interval: float = _option("AICM_COMMIT_INTERVAL", _number(float, 0, 1), 0.0)
    max_queue_events: int | None = _option(
        "AICM_MAX_QUEUE_EVENTS", _optional_int(1, 1 << 40), 10_000_000
    )
    max_queue_bytes: int | None = _option(
        "AICM_MAX_QUEUE_BYTES", _optional_int(1024, 1 << 50), 4 << 30
    )
    queue_full_policy: QueueFullPolicy = _option(
        "AICM_QUEUE_FULL_POLICY", _enum(QueueFullPolicy), QueueFullPolicy.BLOCK
    )
    queue_full_timeout: float = _option("AICM_QUEUE_FULL_TIMEOUT", _number(float, 0, 3600), 5.0)
    max_event_age: float = _option(
        "AICM_MAX_EVENT_AGE", _number(float, 1, 10 * 365 * 86400), 7 * 86400.0
    )
    lease_seconds: float = _option("AICM_LEASE_SECONDS", _number(float, 1, 86400), 60.0)
    backoff_base: float = _option("AICM_BACKOFF_BASE", _number(float, 0, 600), 0.5)
    backoff_max: float = _option("AICM_BACKOFF_MAX", _number(float, 0, 86400), 60.0)
    sqlite_synchronous: str = _option(
        "AICM_SQLITE_SYNCHRONOUS",
        lambda s: _enum_text(s, ("NORMAL", "FULL")),
        "NORMAL",
    )
    raise_on_error: bool = _option("AICM_RAISE_ON_ERROR", parse_bool, False)
    limits_enabled: bool = _option("AICM_LIMITS_ENABLED", parse_bool, False)
    close_timeout: float = _option("AICM_CLOSE_TIMEOUT", _number(float, 0, 3600), 5.0)

    @property
    def queue_path(self) -> Path:
        """The durable queue file (``db_path``, else ``queue.db`` beside the INI)."""
        return self.db_path or self.ini_path.expanduser().parent / "queue.db"


@dataclass(frozen=True)
class ClientSettings(_ConnectionSettings):
    """Options of the REST client, resolved and validated."""

    timeout: float = _option("AICM_TIMEOUT", _number(float, 0.001, 3600), 30.0)
    max_attempts: int = _option("AICM_MAX_ATTEMPTS", _number(int, 1, 100), 3)


def _enum_text(text: str, choices: tuple[str, ...]) -> str:
    value = text.strip().upper()
    if value not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
    return value


def api_root(api_base: str, api_url: str) -> str:
    """Join base URL and path prefix: ``https://host`` + ``/api/v1``.

    A base that already ends in the prefix (``http://127.0.0.1:8765/api/v1``, the API root
    ``aicostmanager serve`` prints) names the same API: the prefix is not added twice.
    """
    prefix = api_url.strip()
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    prefix = prefix.rstrip("/")
    base = api_base.rstrip("/")
    if prefix and urlsplit(base).path.endswith(prefix):
        base = base[: -len(prefix)]
    return base + prefix


def resolve_ini_path(
    ini_path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Path:
    """Argument, else ``AICM_INI_PATH``, else ``~/.config/aicostmanager/AICM.INI``."""
    env = os.environ if env is None else env
    raw = ini_path if ini_path is not None else env.get("AICM_INI_PATH") or DEFAULT_INI_PATH
    try:
        return expand_path(raw)
    except (TypeError, ValueError) as exc:
        source = "constructor" if ini_path is not None else "environment"
        raise ConfigurationError("AICM_INI_PATH", f"{exc} (from the {source})") from None


OPTION_ALIASES: Mapping[str, str] = {
    "aicm_api_key": "api_key",
    "aicm_api_base": "api_base",
    "aicm_api_url": "api_url",
}
"""Keyword names (as 0.3 spelled them) of settings fields whose names lack the prefix."""


def setting_overrides(options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword options renamed to settings fields (``aicm_api_key`` -> ``api_key``)."""
    return {OPTION_ALIASES.get(name, name): value for name, value in options.items()}


def deprecated_ini_path(
    ini_path: str | os.PathLike[str] | None, aicm_ini_path: str | os.PathLike[str] | None
) -> str | os.PathLike[str] | None:
    """``ini_path``, else the deprecated ``aicm_ini_path`` spelling (with a warning)."""
    if aicm_ini_path is None:
        return ini_path
    warnings.warn(
        "aicm_ini_path= is deprecated; pass ini_path= (the tracker's spelling)",
        DeprecationWarning,
        stacklevel=3,
    )
    return aicm_ini_path if ini_path is None else ini_path


S = TypeVar("S", TrackerSettings, ClientSettings)


def resolve_settings(
    cls: type[S], overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> S:
    """Resolve the options of ``cls`` (``TrackerSettings`` or ``ClientSettings``): argument >
    ``AICM_*`` environment > ``AICM.INI [tracker]`` > default. ``None`` overrides mean "not
    given".

    Raises:
        ConfigurationError: an option is unknown (in the INI) or malformed (anywhere).
        TypeError: an unknown keyword was given.
    """
    overrides = overrides or {}
    env = os.environ if env is None else env
    ini_section = "tracker"
    known = {f.name: f for f in fields(cls)}
    for name in overrides:
        if name not in known:
            raise TypeError(f"unknown option {name!r}")
    ini_path = resolve_ini_path(overrides.get("ini_path"), env)
    try:
        ini = {k.upper(): v for k, v in read_section(ini_path, ini_section).items()}
    except configparser.Error as exc:
        raise ConfigurationError("AICM_INI_PATH", f"cannot parse {ini_path}: {exc}") from None
    except (UnicodeDecodeError, OSError, ValueError) as exc:
        source = (
            "the constructor"
            if overrides.get("ini_path") is not None
            else "environment"
            if env.get("AICM_INI_PATH")
            else "the default"
        )
        raise ConfigurationError(
            "AICM_INI_PATH", f"cannot read {ini_path}: {_read_error(exc)} (from {source})"
        ) from None
    env_names = {f.metadata["env"] for f in known.values()}
    if "AICM_API_KEY" in ini:
        raise ConfigurationError(
            "AICM_API_KEY",
            f"must not be stored in {ini_path}; pass it to the constructor or set the "
            "environment variable",
        )
    for name in ini:
        if name not in env_names and name not in IGNORED_OPTIONS:
            raise ConfigurationError(name, f"unknown option in [{ini_section}] of {ini_path}")
    values: dict[str, Any] = {"ini_path": ini_path}
    for name, spec in known.items():
        if name == "ini_path":
            continue
        env_name = spec.metadata["env"]
        if overrides.get(name) is not None:
            values[name] = _check_override(cls, name, overrides[name], spec.metadata)
            continue
        if name == "api_key":
            values[name] = clean_api_key(env.get(env_name), "environment")
            continue
        for source, table in (("environment", env), (f"{ini_path}", ini)):
            if source != "environment" and not spec.metadata.get("ini", True):
                continue
            raw = table.get(env_name)
            if raw is None:
                continue
            try:
                values[name] = spec.metadata["parse"](raw)
            except ValueError as exc:
                raise ConfigurationError(env_name, f"{exc} (from {source})") from None
            break
    return cls(**values)


def _read_error(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc)


def _check_override(cls: type[Any], name: str, value: Any, meta: Mapping[str, Any]) -> Any:
    env_name = meta["env"]
    if name == "api_key":
        key = clean_api_key(value, "constructor")
        if key is None:
            raise ConfigurationError(env_name, "must be a non-empty string")
        return key
    parse = meta["parse"]
    if isinstance(value, bool) or isinstance(value, Enum) or isinstance(value, os.PathLike):
        text = value.value if isinstance(value, Enum) else str(value)
    elif isinstance(value, (int, float, str)):
        text = str(value)
    else:
        raise ConfigurationError(env_name, f"unsupported value of type {type(value).__name__}")
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigurationError(env_name, f"{exc} (from the constructor)") from None
