"""Which options a tracker takes: ``TrackerOptions`` and ``check_options``.

The options are the fields of the settings table (``_config.TrackerSettings``: one row per
option with its ``AICM_*`` name, parser and default), under their keyword names
(``_config.OPTION_ALIASES``: ``aicm_api_key`` for the ``api_key`` field), plus the
constructor-only options of :data:`CONSTRUCTOR_ONLY`. ``TrackerOptions`` spells the same
names out for type checkers; a test keeps it equal to the table.

Every set-up call that takes tracker options (``AsyncTracker``, ``Tracker``, and each
integration: FastAPI's ``aicm_lifespan``, Django's ``settings.AICM``, Celery's ``setup``,
Streamlit's ``shared_tracker``, the pool's ``init_worker``) checks them with
:func:`check_options`, so every documented option is accepted everywhere and a bad one is
always a ``ConfigurationError``. A new integration does the same::

    from .._options import TrackerOptions, check_options

    def setup(**options: Unpack[TrackerOptions]) -> None:
        checked = check_options(options, "setup()")   # UnknownOptionError on a typo
        ...                                           # values: checked by Tracker(**checked)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import fields
from typing import Any, TypedDict, cast

from ._config import OPTION_ALIASES, TrackerSettings
from ._exceptions import ConfigurationError, UnknownOptionError
from ._types import DeliveryType

__all__ = ("CONSTRUCTOR_ONLY", "TrackerOptions", "check_options", "tracker_option_names")


class TrackerOptions(TypedDict, total=False):
    """Keyword options of ``AsyncTracker`` and ``Tracker`` (see ``docs/configuration.md``).

    Every option left out (or ``None``) comes from the ``AICM_*`` environment, then the
    ``[tracker]`` section of ``AICM.INI``, then the default.
    """

    aicm_api_key: str | None
    aicm_api_base: str | None
    aicm_api_url: str | None
    ini_path: str | os.PathLike[str] | None
    delivery_type: DeliveryType | str | None
    db_path: str | os.PathLike[str] | None
    customer_key: str | None
    context: Mapping[str, Any] | None
    anonymize_fields: Collection[str] | None
    anonymizer: Callable[[Any], Any] | None
    raise_on_error: bool | None
    limits_enabled: bool | None
    on_alert: Callable[[list[Any]], None] | None
    timeout: float | None
    max_attempts: int | None
    batch_interval: float | None
    max_batch_size: int | None
    max_batch_bytes: int | None
    max_concurrency: int | None
    commit_interval: float | None
    max_queue_events: int | None
    max_queue_bytes: int | None
    queue_full_policy: str | None
    queue_full_timeout: float | None
    max_event_age: float | None
    lease_seconds: float | None
    backoff_base: float | None
    backoff_max: float | None
    sqlite_synchronous: str | None
    close_timeout: float | None
    headers: Mapping[str, str] | None
    proxies: str | Mapping[str, str] | None
    transport: Any


CONSTRUCTOR_ONLY = frozenset(
    {"customer_key", "context", "anonymize_fields", "anonymizer", "on_alert", "headers"}
    | {"proxies", "transport"}
)
"""Options with no ``AICM_*`` form: record defaults, callbacks and HTTP plumbing."""

_KEYWORD_OF_FIELD = {field: keyword for keyword, field in OPTION_ALIASES.items()}
_NAMES = (
    frozenset(_KEYWORD_OF_FIELD.get(f.name, f.name) for f in fields(TrackerSettings))
    | CONSTRUCTOR_ONLY
)


def tracker_option_names() -> frozenset[str]:
    """Every keyword a tracker accepts: the settings table's options and the constructor-only."""
    return _NAMES


def check_options(options: object, where: str = "Tracker") -> TrackerOptions:
    """``options`` as ``TrackerOptions`` once every name is a tracker option.

    Values are checked where the tracker is built (``Tracker(**options)``), with the same
    ``ConfigurationError`` naming the option.

    Args:
        options: a mapping of option name to value (keywords, a settings dict).
        where: what was given the options, for the message (``"settings.AICM"``).

    Raises:
        ConfigurationError: ``options`` is not a mapping with string keys.
        UnknownOptionError: a name is not a tracker option (a ``ConfigurationError`` and a
            ``TypeError``).
    """
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise ConfigurationError(where, "must be a mapping of tracker option name to value")
    unknown = sorted(set(options) - _NAMES)
    if unknown:
        raise UnknownOptionError(
            ", ".join(unknown), f"unknown option of {where} (see docs/configuration.md)"
        )
    return cast("TrackerOptions", dict(options))
