"""One options table: ``TrackerOptions`` is the settings table plus the constructor-only options."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from aicostmanager import AsyncTracker, ConfigurationError, TrackerOptions, UnknownOptionError
from aicostmanager._config import OPTION_ALIASES, TrackerSettings
from aicostmanager._options import CONSTRUCTOR_ONLY, check_options, tracker_option_names


def test_tracker_options_equal_the_settings_table() -> None:
    """Every settings field (by its keyword name) and every constructor-only option, no more."""
    keyword = {field: name for name, field in OPTION_ALIASES.items()}
    table = {keyword.get(f.name, f.name) for f in fields(TrackerSettings)}
    assert set(TrackerOptions.__optional_keys__) == table | CONSTRUCTOR_ONLY
    assert tracker_option_names() == table | CONSTRUCTOR_ONLY
    assert "max_batch_bytes" in TrackerOptions.__optional_keys__
    assert not table & CONSTRUCTOR_ONLY


def test_unknown_option_is_one_error_type(tmp_path: Path) -> None:
    """A misspelt option is ``UnknownOptionError``: a ``ConfigurationError`` and a ``TypeError``."""
    with pytest.raises(UnknownOptionError, match="^colour: unknown option of setup") as caught:
        check_options({"colour": "red", "timeout": 1}, "setup()")
    assert isinstance(caught.value, ConfigurationError) and isinstance(caught.value, TypeError)
    with pytest.raises(UnknownOptionError, match="max_batch_byte"):
        AsyncTracker(aicm_api_key="sk.x", max_batch_byte=1)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="must be a mapping"):
        check_options(["timeout"], "settings.AICM")


def test_max_batch_bytes_is_accepted_and_checked(tmp_path: Path) -> None:
    """The documented ``max_batch_bytes`` reaches the settings; a bad value names it."""
    options = {"aicm_api_key": "sk.x", "ini_path": tmp_path / "AICM.INI"}
    tracker = AsyncTracker(**options, max_batch_bytes=1 << 20)  # type: ignore[arg-type]
    assert tracker.settings.max_batch_bytes == 1 << 20
    for bad in (10, 10**400):  # 10**400 once escaped as an OverflowError
        with pytest.raises(ConfigurationError) as caught:
            AsyncTracker(**options, max_batch_bytes=bad)  # type: ignore[arg-type]
        assert caught.value.option == "AICM_MAX_BATCH_BYTES"


def test_client_ini_path_spelling(tmp_path: Path) -> None:
    """The REST clients take ``ini_path=``; ``aicm_ini_path=`` still works, with a warning."""
    from aicostmanager import AsyncCostManagerClient, CostManagerClient

    ini = tmp_path / "AICM.INI"
    ini.write_text("[tracker]\nAICM_API_BASE = http://ini.test\n")
    client = AsyncCostManagerClient(aicm_api_key="sk.1", ini_path=ini)
    assert client.ini_path == ini and client.api_root == "http://ini.test/api/v1"
    with pytest.warns(DeprecationWarning, match="ini_path="):
        old = AsyncCostManagerClient(aicm_api_key="sk.1", aicm_ini_path=ini)
    assert old.ini_path == ini
    with pytest.warns(DeprecationWarning, match="ini_path="):
        sync = CostManagerClient(aicm_api_key="sk.1", aicm_ini_path=ini)
    assert sync.api_root == "http://ini.test/api/v1"
    sync.close()
