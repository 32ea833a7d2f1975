"""Resolving options: argument > ``AICM_*`` environment > ``AICM.INI [tracker]`` > default.

Pure logic apart from reading the INI file. Every value is parsed and range-checked here, so a
bad value fails at construction with a ``ConfigurationError`` naming the option and where it
came from. The API key is read only from the argument or the environment, never the INI.
"""

from __future__ import annotations

import configparser
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from ._exceptions import ConfigurationError
from ._ini import DEFAULT_INI_PATH, read_section
from ._types import DeliveryType, QueueFullPolicy

__all__ = (
    "ClientSettings",
    "TrackerSettings",
    "api_root",
    "resolve_client_settings",
    "resolve_ini_path",
    "resolve_tracker_settings",
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
        if not math.isfinite(value) or not low <= value <= high:
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


def clean_api_key(value: object, source: str) -> str | None:
    """The API key without surrounding white space (a trailing newline from a secrets file).

    ``None`` or blank gives ``None`` (not set). The message of an error never contains the key.

    Raises:
        ConfigurationError: not a string, or it contains white space, control or non-ASCII
            characters inside (it could not be sent in an HTTP header as is).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(
            "AICM_API_KEY", f"must be a string, not {type(value).__name__} (from the {source})"
        )
    key = value.strip()
    if not key:
        return None
    if not all("!" <= c <= "~" for c in key):  # visible ASCII: what a bearer token may hold
        raise ConfigurationError(
            "AICM_API_KEY",
            f"contains white space, control or non-ASCII characters (from the {source}); "
            "check how the key was copied",
        )
    return key


def _option(env: str, parse: Callable[[str], Any], default: Any, *, ini: bool = True) -> Any:
    return field(default=default, metadata={"env": env, "parse": parse, "ini": ini})


@dataclass(frozen=True)
class TrackerSettings:
    """Every tracker option, resolved and validated. See ``docs/configuration.md``."""

    api_key: str | None = field(default=None, repr=False, metadata={"env": "AICM_API_KEY"})
    ini_path: Path = field(default=DEFAULT_INI_PATH, metadata={"env": "AICM_INI_PATH"})
    api_base: str = _option("AICM_API_BASE", _text, DEFAULT_API_BASE)
    api_url: str = _option("AICM_API_URL", str.strip, DEFAULT_API_URL)
    delivery_type: DeliveryType = _option(
        "AICM_DELIVERY_TYPE", _enum(DeliveryType), DeliveryType.PERSISTENT_QUEUE
    )
    db_path: Path | None = _option("AICM_DB_PATH", lambda s: Path(_text(s)).expanduser(), None)
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
    def api_root(self) -> str:
        """The API root (``api_base`` + ``api_url``)."""
        return api_root(self.api_base, self.api_url)

    @property
    def queue_path(self) -> Path:
        """The durable queue file (``db_path``, else ``queue.db`` beside the INI)."""
        return self.db_path or self.ini_path.expanduser().parent / "queue.db"


@dataclass(frozen=True)
class ClientSettings:
    """Options of the REST client, resolved and validated."""

    api_key: str | None = field(default=None, repr=False, metadata={"env": "AICM_API_KEY"})
    ini_path: Path = field(default=DEFAULT_INI_PATH, metadata={"env": "AICM_INI_PATH"})
    api_base: str = _option("AICM_API_BASE", _text, DEFAULT_API_BASE)
    api_url: str = _option("AICM_API_URL", str.strip, DEFAULT_API_URL)
    timeout: float = _option("AICM_TIMEOUT", _number(float, 0.001, 3600), 30.0)
    max_attempts: int = _option("AICM_MAX_ATTEMPTS", _number(int, 1, 100), 3)

    @property
    def api_root(self) -> str:
        """The API root (``api_base`` + ``api_url``)."""
        return api_root(self.api_base, self.api_url)


def _enum_text(text: str, choices: tuple[str, ...]) -> str:
    value = text.strip().upper()
    if value not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
    return value


def api_root(api_base: str, api_url: str) -> str:
    """Join base URL and path prefix: ``https://host`` + ``/api/v1``."""
    prefix = api_url.strip()
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    return api_base.rstrip("/") + prefix.rstrip("/")


def resolve_ini_path(
    ini_path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> Path:
    """Argument, else ``AICM_INI_PATH``, else ``~/.config/aicostmanager/AICM.INI``."""
    env = os.environ if env is None else env
    raw = ini_path if ini_path is not None else env.get("AICM_INI_PATH") or DEFAULT_INI_PATH
    return Path(raw).expanduser()


S = TypeVar("S", TrackerSettings, ClientSettings)


def _resolve(
    cls: type[S],
    overrides: Mapping[str, Any],
    env: Mapping[str, str] | None,
    ini_section: str,
) -> S:
    env = os.environ if env is None else env
    known = {f.name: f for f in fields(cls)}
    for name in overrides:
        if name not in known:
            raise TypeError(f"unknown option {name!r}")
    ini_path = resolve_ini_path(overrides.get("ini_path"), env)
    try:
        ini = {k.upper(): v for k, v in read_section(ini_path, ini_section).items()}
    except configparser.Error as exc:
        raise ConfigurationError("AICM_INI_PATH", f"cannot parse {ini_path}: {exc}") from None
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


def resolve_tracker_settings(
    overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> TrackerSettings:
    """Resolve tracker options. ``None`` overrides mean "not given".

    Raises:
        ConfigurationError: an option is unknown (in the INI) or malformed (anywhere).
        TypeError: an unknown keyword was given.
    """
    return _resolve(TrackerSettings, overrides or {}, env, "tracker")


def resolve_client_settings(
    overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> ClientSettings:
    """Resolve REST client options (same precedence as the tracker's).

    Raises:
        ConfigurationError: an option is unknown (in the INI) or malformed (anywhere).
        TypeError: an unknown keyword was given.
    """
    return _resolve(ClientSettings, overrides or {}, env, "tracker")
