"""Option precedence (argument > environment > INI > default) and clear configuration errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aicostmanager import (
    AsyncTracker,
    ConfigurationError,
    DeliveryType,
    MissingConfiguration,
    QueueFullPolicy,
)
from aicostmanager._config import TrackerSettings, resolve_settings


def _ini(path: Path, **values: str) -> Path:
    lines = ["[tracker]"] + [f"{key} = {value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_precedence_argument_environment_ini_default(tmp_path: Path) -> None:
    """Each option is taken from the first source that sets it."""
    ini = _ini(
        tmp_path / "AICM.INI", AICM_TIMEOUT="3", AICM_BATCH_INTERVAL="0.2", AICM_MAX_BATCH_SIZE="10"
    )
    env = {"AICM_TIMEOUT": "7", "AICM_BATCH_INTERVAL": "0.4"}
    settings = resolve_settings(TrackerSettings, {"ini_path": ini, "timeout": 1.5}, env=env)
    assert settings.timeout == 1.5  # argument
    assert settings.batch_interval == 0.4  # environment beats INI
    assert settings.max_batch_size == 10  # INI beats default
    assert settings.max_concurrency == 4  # default


def test_ini_path_from_environment(tmp_path: Path) -> None:
    """AICM_INI_PATH selects the INI file; the queue defaults to queue.db beside it."""
    ini = _ini(tmp_path / "custom.ini", AICM_DELIVERY_TYPE="IMMEDIATE")
    settings = resolve_settings(TrackerSettings, {}, env={"AICM_INI_PATH": str(ini)})
    assert settings.delivery_type is DeliveryType.IMMEDIATE
    assert settings.queue_path == tmp_path / "queue.db"


@pytest.mark.parametrize(
    ("source", "name", "value"),
    [
        ("env", "AICM_TIMEOUT", "soon"),
        ("env", "AICM_TIMEOUT", "-1"),
        ("env", "AICM_MAX_BATCH_SIZE", "5000"),
        ("env", "AICM_DELIVERY_TYPE", "carrier-pigeon"),
        ("env", "AICM_RAISE_ON_ERROR", "perhaps"),
        ("ini", "AICM_QUEUE_FULL_POLICY", "explode"),
        ("ini", "AICM_MAX_QUEUE_EVENTS", "0"),
        ("ini", "AICM_BACKOFF_BASE", "nan"),
        ("ini", "AICM_SQLITE_SYNCHRONOUS", "OFF"),
        ("ini", "AICM_NOT_AN_OPTION", "1"),
        ("ini", "AICM_API_KEY", "sk-in-ini"),
    ],
)
def test_malformed_or_unknown_values_name_the_option(
    tmp_path: Path, source: str, name: str, value: str
) -> None:
    """A bad value anywhere raises ConfigurationError naming the option and its source."""
    ini = tmp_path / "AICM.INI"
    env: dict[str, str] = {}
    if source == "ini":
        _ini(ini, **{name: value})
    else:
        env[name] = value
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(TrackerSettings, {"ini_path": ini}, env=env)
    assert caught.value.option == name
    assert name in str(caught.value)
    assert value not in str(caught.value) or name != "AICM_API_KEY"


@pytest.mark.parametrize(
    ("option", "value"),
    [("timeout", 0), ("max_batch_size", 0), ("delivery_type", "nope"), ("max_concurrency", 1000)],
)
def test_bad_constructor_values(tmp_path: Path, option: str, value: Any) -> None:
    """Constructor arguments are validated like every other source."""
    with pytest.raises(ConfigurationError, match=f"AICM_{option.upper()}"):
        AsyncTracker(aicm_api_key="sk-x.1", ini_path=tmp_path / "AICM.INI", **{option: value})  # type: ignore[misc]


def test_unknown_keyword_is_a_type_error(tmp_path: Path) -> None:
    """A misspelt option fails at once."""
    with pytest.raises(TypeError, match="unknown option"):
        AsyncTracker(aicm_api_key="sk-x.1", ini_path=tmp_path / "AICM.INI", batchsize=3)  # type: ignore[call-arg]


def test_legacy_options_are_accepted_and_ignored(tmp_path: Path) -> None:
    """INI files written for the 0.3 SDK still load."""
    ini = _ini(
        tmp_path / "AICM.INI",
        AICM_POLL_INTERVAL="0.1",
        AICM_MAX_RETRIES="5",
        AICM_LOG_LEVEL="DEBUG",
    )
    settings = resolve_settings(TrackerSettings, {"ini_path": ini}, env={})
    assert settings.delivery_type is DeliveryType.PERSISTENT_QUEUE


def test_enums_and_booleans(tmp_path: Path) -> None:
    """Enums are case-insensitive; booleans accept 1/true/yes/on and 0/false/no/off."""
    env = {
        "AICM_QUEUE_FULL_POLICY": "DROP_OLDEST",
        "AICM_RAISE_ON_ERROR": "Yes",
        "AICM_LIMITS_ENABLED": "off",
    }
    settings = resolve_settings(TrackerSettings, {"ini_path": tmp_path / "none.ini"}, env=env)
    assert settings.queue_full_policy is QueueFullPolicy.DROP_OLDEST
    assert settings.raise_on_error is True and settings.limits_enabled is False


def test_missing_api_key(tmp_path: Path) -> None:
    """No key anywhere: MissingConfiguration naming AICM_API_KEY."""
    with pytest.raises(MissingConfiguration, match="AICM_API_KEY"):
        AsyncTracker(ini_path=tmp_path / "AICM.INI")


async def test_construction_writes_nothing(tmp_path: Path, tracker_options: dict[str, Any]) -> None:
    """Building and running a tracker never writes the INI file (nor creates it)."""
    ini = tmp_path / "AICM.INI"
    async with AsyncTracker(**tracker_options) as tracker:
        await tracker.track("openai::gpt-5-mini", {"input_tokens": 1})
    assert not ini.exists()
    _ini(ini, AICM_TIMEOUT="4")
    before = ini.read_bytes()
    async with AsyncTracker(**tracker_options):
        pass
    assert ini.read_bytes() == before


def test_settings_repr_hides_the_key(tmp_path: Path) -> None:
    """The resolved settings never show the API key."""
    settings = resolve_settings(
        TrackerSettings, {"ini_path": tmp_path / "x.ini", "api_key": "sk-secret-value.1"}, env={}
    )
    assert settings.api_key is not None
    assert settings.api_key.reveal() == "sk-secret-value.1"
    assert "sk-secret-value" not in repr(settings)
