"""Every tracker option documented in docs/configuration.md, with a working value for each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def documented_options() -> set[str]:
    """The option names of docs/configuration.md: the table's rows and the constructor-only."""
    text = DOC.read_text()
    names = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
    constructor_only = text.split("Constructor-only options", 1)[1].split("\n\n", 1)[0]
    names |= set(re.findall(r"`([a-z_]+)`", constructor_only))
    return names


def every_option(api_base: str, api_key: str, tmp: Path) -> dict[str, Any]:
    """A value for every documented option (a tracker built with them delivers normally)."""
    values: dict[str, Any] = {
        "aicm_api_key": api_key,
        "aicm_api_base": api_base,
        "aicm_api_url": "/api/v1",
        "ini_path": tmp / "AICM.INI",
        "delivery_type": "persistent_queue",
        "db_path": tmp / "queue.db",
        "timeout": 5.0,
        "max_attempts": 3,
        "batch_interval": 0.01,
        "max_batch_size": 500,
        "max_batch_bytes": 1 << 20,
        "max_concurrency": 2,
        "commit_interval": 0.0,
        "max_queue_events": 100_000,
        "max_queue_bytes": 1 << 30,
        "queue_full_policy": "block",
        "queue_full_timeout": 1.0,
        "max_event_age": 3600.0,
        "lease_seconds": 30.0,
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "sqlite_synchronous": "NORMAL",
        "raise_on_error": False,
        "limits_enabled": False,
        "close_timeout": 10.0,
        "customer_key": "default-customer",
        "context": {"app": "options-test"},
        "anonymize_fields": ["prompt"],
        "anonymizer": lambda value: "***",
        "on_alert": lambda events: None,
        "headers": {"X-Options-Test": "1"},
        "proxies": {"all://proxy-only.invalid": None},
        "transport": None,
    }
    missing = documented_options() - set(values)
    assert not missing, f"documented options without a test value: {sorted(missing)}"
    return values
