"""Configuration that cannot work fails at construction with ``ConfigurationError``.

The API base URL, the proxies and the INI file are checked when the tracker (or client) is
made, never later inside the delivery worker; retries keep a floor on their spacing.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicostmanager import AsyncCostManagerClient, AsyncTracker, ConfigurationError, Tracker

KEY = "sk-test.abc123"

BAD_BASES = [
    "http://localhost:99999",
    "http://[::1",
    "ftp://x",
    "http://",
    "http://:80",
    "localhost:8000",
    "http://exa mple.com",
    "http://999.1.1.1",
    "http://h:0",
    "http://h:-1",
    "http://user:pw@h",
    "http://h/?q=1",
    "http://☃..com",
]


def _options(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"aicm_api_key": KEY, "ini_path": tmp_path / "AICM.INI", **extra}


@pytest.mark.parametrize("base", BAD_BASES)
@pytest.mark.parametrize("source", ["constructor", "environment", "ini"])
def test_malformed_api_base_fails_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str, source: str
) -> None:
    """A malformed AICM_API_BASE raises ConfigurationError naming the option and its source."""
    options = _options(tmp_path)
    if source == "constructor":
        options["aicm_api_base"] = base
        where = "(from the constructor)"
    elif source == "environment":
        monkeypatch.setenv("AICM_API_BASE", base)
        where = "(from environment)"
    else:
        (tmp_path / "AICM.INI").write_text(f"[tracker]\nAICM_API_BASE = {base}\n")
        where = f"(from {tmp_path / 'AICM.INI'})"
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(**options)
    assert info.value.option == "AICM_API_BASE"
    assert where in str(info.value)


@pytest.mark.parametrize("base", ["http://localhost:99999", "http://[::1"])
def test_malformed_api_base_fails_before_the_sync_tracker_starts(tmp_path: Path, base: str) -> None:
    """The sync Tracker refuses the same URLs at construction (no portal, no worker)."""
    with pytest.raises(ConfigurationError, match="AICM_API_BASE"):
        Tracker(**_options(tmp_path, aicm_api_base=base))


@pytest.mark.parametrize("base", ["http://localhost:99999", "http://[::1", "ftp://x"])
def test_malformed_api_base_fails_at_client_construction(tmp_path: Path, base: str) -> None:
    """The REST client shares the check."""
    with pytest.raises(ConfigurationError, match="AICM_API_BASE"):
        AsyncCostManagerClient(aicm_api_key=KEY, aicm_api_base=base, ini_path=tmp_path / "x")


def test_credentials_in_the_api_base_are_not_echoed(tmp_path: Path) -> None:
    """A base URL with user:password is refused without repeating the password."""
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(**_options(tmp_path, aicm_api_base="https://me:hunter2@example.com"))
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:8000",
        "https://example.com/prefix/",
        "http://[::1]:8080",
        "https://bücher.de",
        "HTTPS://EXAMPLE.COM",
        " https://example.com ",
    ],
)
def test_accepted_api_bases_are_urls_httpx_can_use(base: str, tmp_path: Path) -> None:
    """Whatever the check accepts, httpx parses too (so the worker never meets a bad URL)."""
    tracker = AsyncTracker(**_options(tmp_path, aicm_api_base=base))
    httpx.URL(tracker.settings.api_root + "/track")
    assert tracker.settings.api_base == base.strip()


@pytest.mark.parametrize("prefix", ["/api v1", "/api/v1?x=1", "/api\x00v1"])
def test_malformed_api_url_prefix(tmp_path: Path, prefix: str) -> None:
    """AICM_API_URL must be a plain path."""
    with pytest.raises(ConfigurationError, match="AICM_API_URL"):
        AsyncTracker(**_options(tmp_path, aicm_api_url=prefix))


# ---- proxies --------------------------------------------------------------------------------

BAD_PROXIES: list[Any] = [
    "not a url",
    "ftp://proxy:3128",
    "http://proxy:99999",
    "http://[::1",
    42,
    ["http://proxy:3128"],
    {"https": 3},
    {"gopher": "http://proxy:3128"},
    {"https": "http://[::1"},
    {3: "http://proxy:3128"},
    *([] if importlib.util.find_spec("socksio") else ["socks5://proxy:1080"]),
]


@pytest.mark.parametrize("proxies", BAD_PROXIES, ids=repr)
def test_bad_proxies_fail_at_construction(tmp_path: Path, proxies: Any) -> None:
    """A bad ``proxies`` value is a ConfigurationError at construction, not a ValueError later."""
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(**_options(tmp_path, proxies=proxies))
    assert info.value.option == "proxies"
    assert "(from the constructor)" in str(info.value)


@pytest.mark.parametrize("proxies", ["not a url", {"https": 3}, 42], ids=repr)
def test_bad_proxies_fail_at_client_construction(tmp_path: Path, proxies: Any) -> None:
    """The REST client refuses the same proxies values with ConfigurationError."""
    with pytest.raises(ConfigurationError, match="proxies"):
        AsyncCostManagerClient(aicm_api_key=KEY, ini_path=tmp_path / "x", proxies=proxies)


def test_proxy_password_is_not_echoed(tmp_path: Path) -> None:
    """The error for a bad proxy URL does not repeat its credentials."""
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(**_options(tmp_path, proxies={"https": "http://me:s3cret@proxy:99999"}))
    assert "s3cret" not in str(info.value)


async def test_good_proxies_are_accepted(tmp_path: Path) -> None:
    """One URL, a map of patterns, and None (no proxy for a pattern) all start a tracker."""
    for proxies in (
        "http://user:pw@proxy.internal:3128",
        {"https": "http://proxy:3128", "all://*.internal": None, "http": "https://p:8443"},
    ):
        async with AsyncTracker(
            **_options(tmp_path, proxies=proxies, delivery_type="immediate")
        ) as tracker:
            assert tracker.statistics().delivered == 0


# ---- the INI file ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["undecodable", "directory", "under-a-file", "symlink-loop"])
def test_unusable_ini_file_is_a_configuration_error(tmp_path: Path, kind: str) -> None:
    """An INI that is not UTF-8, a directory or cannot be opened raises ConfigurationError."""
    ini = tmp_path / "AICM.INI"
    if kind == "undecodable":
        ini.write_bytes(b"[tracker]\nAICM_TIMEOUT = \xff\xfe\n")
    elif kind == "directory":
        ini.mkdir()
    elif kind == "under-a-file":
        (tmp_path / "file").write_text("x")
        ini = tmp_path / "file" / "AICM.INI"
    else:
        ini.symlink_to(ini)
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(aicm_api_key=KEY, ini_path=ini)
    assert info.value.option == "AICM_INI_PATH"
    assert str(ini) in str(info.value) and "(from the constructor)" in str(info.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_ini_file_is_a_configuration_error(tmp_path: Path) -> None:
    """An INI without read permission raises ConfigurationError, not PermissionError."""
    ini = tmp_path / "AICM.INI"
    ini.write_text("[tracker]\n")
    ini.chmod(0)
    try:
        with pytest.raises(ConfigurationError, match="permission denied"):
            AsyncTracker(aicm_api_key=KEY, ini_path=ini)
    finally:
        ini.chmod(0o600)


def test_unusable_ini_from_the_environment_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error names where the INI path came from."""
    monkeypatch.setenv("AICM_INI_PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"directory \(from environment\)"):
        AsyncTracker(aicm_api_key=KEY)
    with pytest.raises(ConfigurationError, match="AICM_INI_PATH"):
        AsyncCostManagerClient(aicm_api_key=KEY)


# ---- retry spacing --------------------------------------------------------------------------


def test_retry_spacing_has_a_floor_outside_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """backoff_base=0 / backoff_max=0 still waits MIN_RETRY_DELAY between attempts."""
    from aicostmanager._backoff import MIN_RETRY_DELAY, Backoff

    monkeypatch.delenv("AICM_TESTING_INSTANT_RETRIES", raising=False)
    assert MIN_RETRY_DELAY >= 0.05
    for backoff in (Backoff(0, 0), Backoff(0.001, 0.01), Backoff(0.5, 60)):
        assert min(backoff.delay(n) for n in range(1, 200)) >= MIN_RETRY_DELAY
    tracker_backoff = Backoff(0.0, 0.0)
    assert tracker_backoff.delay(1) == tracker_backoff.delay(30) == MIN_RETRY_DELAY


def test_instant_retries_need_the_testing_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """AICM_TESTING_INSTANT_RETRIES=1 (docs/testing.md) lets backoff_base=0 wait nothing."""
    from aicostmanager._backoff import Backoff

    monkeypatch.setenv("AICM_TESTING_INSTANT_RETRIES", "1")
    assert Backoff(0, 0).delay(5) == 0.0
    assert Backoff(0.5, 1.0).delay(3) <= 1.0


BAD_HEADERS: list[Any] = [
    {"X-Team": "caf\u00e9"},
    {"X-Team": "a\r\nInjected: 1"},
    {"bad name": "x"},
    {"X-Count": 3},
    ["X-Team", "x"],
]


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=repr)
def test_bad_headers_fail_at_construction(tmp_path: Path, headers: Any) -> None:
    """Headers that HTTP cannot carry are a ConfigurationError at construction, for the
    tracker and the client, and a value is never echoed."""
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(**_options(tmp_path, headers=headers))
    assert info.value.option == "headers"
    assert "caf\u00e9" not in str(info.value) and "Injected" not in str(info.value)
    with pytest.raises(ConfigurationError, match="headers"):
        AsyncCostManagerClient(aicm_api_key=KEY, ini_path=tmp_path / "x", headers=headers)


@pytest.mark.parametrize("option", ["on_alert", "anonymizer"])
def test_callbacks_must_be_callable(tmp_path: Path, option: str) -> None:
    """``on_alert`` and ``anonymizer`` are checked at construction, not when first used."""
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(**_options(tmp_path, limits_enabled=True, **{option: 5}))
    assert info.value.option == option


def test_unknown_user_in_a_path_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``~nosuchuser/...`` as the queue or INI path is a ConfigurationError, not RuntimeError."""
    with pytest.raises(ConfigurationError) as info:
        AsyncTracker(**_options(tmp_path, db_path="~aicm-no-such-user-9/q.db"))
    assert info.value.option == "AICM_DB_PATH"
    monkeypatch.setenv("AICM_DB_PATH", "~aicm-no-such-user-9/q.db")
    with pytest.raises(ConfigurationError, match="AICM_DB_PATH"):
        AsyncTracker(**_options(tmp_path))
    with pytest.raises(ConfigurationError, match="AICM_INI_PATH"):
        AsyncTracker(**{**_options(tmp_path), "ini_path": "~aicm-no-such-user-9/AICM.INI"})
