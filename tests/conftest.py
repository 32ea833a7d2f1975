"""Server fixtures shared by every test directory (owned by the server helper).

- ``local_server`` (session): a :class:`LocalServer` in testing mode on a temporary database.
- ``api_key`` (function): a fresh API key, i.e. a fresh team, so tests are isolated.
- ``api_root``: the server's API root URL.
- ``admin``: a small client of the ``/_testing`` admin API.

The ``_postgres`` plugin runs these servers on PostgreSQL when ``AICM_TEST_BACKEND=postgresql``
(fixtures ``postgres_cluster``, ``postgres_url``, ``server_db``; marker ``sqlite_only``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicostmanager.server import LocalServer

pytest_plugins = ("_postgres",)


class Admin:
    """Client of the test admin API of one :class:`LocalServer`."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self._http = httpx.Client(base_url=server.url + "/_testing", timeout=30)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return None if response.status_code == 204 else response.json()

    def new_api_key(self, team_uuid: str | None = None) -> tuple[str, str]:
        """Mint a key (new team unless ``team_uuid``); returns ``(key, key_id)``."""
        body = {"team_uuid": team_uuid} if team_uuid else None
        data = self._ok(self._http.post("/api-keys", json=body))
        return data["api_key"], data["api_key_id"]

    def new_api_key_info(self, team_uuid: str | None = None) -> dict[str, str]:
        """Mint a key; returns ``{"api_key", "api_key_id", "team_uuid"}``."""
        body = {"team_uuid": team_uuid} if team_uuid else None
        data: dict[str, str] = self._ok(self._http.post("/api-keys", json=body))
        return data

    def add_fault(self, **rule: Any) -> str:
        """Add a fault rule (fields of the FaultRule); returns its id."""
        rule_id: str = self._ok(self._http.post("/faults", json=rule))["id"]
        return rule_id

    def faults(self) -> list[dict[str, Any]]:
        """The live fault rules."""
        rules: list[dict[str, Any]] = self._ok(self._http.get("/faults"))
        return rules

    def remove_fault(self, rule_id: str) -> None:
        """Remove one fault rule."""
        self._ok(self._http.delete(f"/faults/{rule_id}"))

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._ok(self._http.delete("/faults"))

    def stats(self, api_key_id: str | None = None) -> dict[str, int]:
        """``/track`` counters of one key (or all keys)."""
        params = {"api_key_id": api_key_id} if api_key_id else None
        data: dict[str, int] = self._ok(self._http.get("/stats", params=params))
        return data

    def poison(self, response_ids: list[str], reason: str = "poison record") -> None:
        """Make these response ids always fail."""
        self._ok(self._http.post("/poison", json={"response_ids": response_ids, "reason": reason}))

    def set_clock(self, offset_seconds: float) -> None:
        """Shift the server clock (absolute offset in seconds)."""
        self._ok(self._http.post("/clock", json={"offset_seconds": offset_seconds}))


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    """A local server in testing mode on a temporary database, for the whole session."""
    server = LocalServer(testing=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _session_admin(local_server: LocalServer) -> Iterator[Admin]:
    admin = Admin(local_server)
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture
def admin(_session_admin: Admin) -> Admin:
    """The admin API client of ``local_server``."""
    return _session_admin


@pytest.fixture
def api_root(local_server: LocalServer) -> str:
    """The API root URL of ``local_server`` (``http://127.0.0.1:<port>/api/v1``)."""
    return local_server.api_root


@pytest.fixture
def api_key(admin: Admin) -> str:
    """A fresh API key (its own team) on ``local_server``."""
    return admin.new_api_key()[0]


@pytest.fixture
def tracker_options(local_server: LocalServer, api_key: str, tmp_path: Path) -> dict[str, Any]:
    """Options of a fast-retrying tracker on a fresh key and a fresh queue file."""
    return {
        "aicm_api_key": api_key,
        "aicm_api_base": local_server.url,
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "batch_interval": 0.005,
        "timeout": 5.0,
    }
