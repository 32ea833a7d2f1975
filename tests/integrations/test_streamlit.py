"""Streamlit integration: ``docs/examples/streamlit_app.py`` run by ``AppTest``, for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from aicostmanager import ConfigurationError, CostManagerClient
from aicostmanager.integrations.streamlit import shared_tracker
from aicostmanager.server import LocalServer

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "docs" / "examples" / "streamlit_app.py"


@pytest.fixture
def tracker_env(
    local_server: LocalServer, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The app's tracker settings in the environment; the shared tracker is released after."""
    for name in list(os.environ):
        if name.startswith("AICM_"):
            monkeypatch.delenv(name)
    env = {
        "AICM_API_KEY": api_key,
        "AICM_API_BASE": local_server.url,
        "AICM_INI_PATH": str(tmp_path / "AICM.INI"),
        "AICM_DB_PATH": str(tmp_path / "queue.db"),
        # Nothing goes out while the app runs: only the drain on release/exit delivers.
        "AICM_BATCH_INTERVAL": "30",
        "AICM_CLOSE_TIMEOUT": "30",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    yield env
    st.cache_resource.clear()


def _events(server: LocalServer, api_key: str, tmp: Path) -> dict[str, str | None]:
    with CostManagerClient(
        aicm_api_key=api_key, aicm_api_base=server.url, ini_path=str(tmp / "c.ini")
    ) as client:
        return {e.response_id: e.customer_key for e in client.iter_usage_events()}


def _ask(app: AppTest, customer: str) -> None:
    app.text_input[0].input(customer)
    app.button[0].click()
    app.run(timeout=30)
    assert not app.exception, app.exception


def test_sessions_share_one_tracker_drained_when_released(
    tracker_env: dict[str, str], local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """Two sessions track through one shared Tracker; releasing the cache drains it."""
    sessions = {"acme": AppTest.from_file(str(APP)), "globex": AppTest.from_file(str(APP))}
    expected: dict[str, str | None] = {}
    for customer, app in sessions.items():
        app.run(timeout=30)
        for _ in range(3):
            _ask(app, customer)
        expected.update(dict.fromkeys(app.session_state["tracked"], customer))
    assert len(expected) == 6
    assert (
        sessions["acme"].session_state["tracker_id"]
        == sessions["globex"].session_state["tracker_id"]
    )
    assert shared_tracker() is shared_tracker()
    assert _events(local_server, api_key, tmp_path) == {}  # still queued (batch_interval=30)

    st.cache_resource.clear()  # on_release closes the tracker: a drain with its deadline
    assert _events(local_server, api_key, tmp_path) == expected


def test_tracker_left_open_is_drained_at_exit(
    tracker_env: dict[str, str], local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """A Streamlit process that exits without closing the tracker delivers at exit."""
    script = (
        "from streamlit.testing.v1 import AppTest\n"
        f"app = AppTest.from_file({str(APP)!r})\n"
        "app.run(timeout=30)\n"
        "app.text_input[0].input('initech')\n"
        "app.button[0].click()\n"
        "app.run(timeout=30)\n"
        "assert not app.exception, app.exception\n"
        "print(*app.session_state['tracked'])\n"
    )
    env = {**os.environ, **tracker_env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    tracked = done.stdout.split()
    assert len(tracked) == 1
    assert _events(local_server, api_key, tmp_path) == {tracked[0]: "initech"}


def test_unknown_option_is_refused() -> None:
    """An unknown tracker option fails at the call, before any tracker exists."""
    with pytest.raises(ConfigurationError, match="bogus"):
        shared_tracker(bogus=1)  # type: ignore[call-arg]
