"""Every option in docs/configuration.md is accepted by the trackers and each integration."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncTracker, ConfigurationError, Tracker, TrackerOptions
from aicostmanager._process_tracker import close_process_tracker, configure_process_tracker
from aicostmanager.server import LocalServer

from ._all_options import documented_options, every_option


@pytest.fixture
def options(local_server: LocalServer, api_key: str, tmp_path: Path) -> dict[str, Any]:
    """Every documented option with a working value, on a fresh key and queue file."""
    return every_option(local_server.url, api_key, tmp_path)


@pytest.fixture
def _fresh_process_tracker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process tracker is closed and unconfigured before and after the test."""
    from aicostmanager.integrations import pool

    monkeypatch.setattr(pool, "_worker_pid", 0)
    configure_process_tracker({})
    close_process_tracker()
    yield
    close_process_tracker(timeout=10)
    configure_process_tracker({})


def _delivers(tracker: Tracker) -> None:
    result = tracker.track("openai::gpt-4o-mini", {"input_tokens": 1, "output_tokens": 1})
    assert result.ok
    assert tracker.flush(timeout=30)
    assert tracker.statistics().delivered == 1


def test_docs_and_tracker_options_agree() -> None:
    """docs/configuration.md documents exactly the options ``TrackerOptions`` declares."""
    assert documented_options() == set(TrackerOptions.__optional_keys__)


async def test_async_tracker_accepts_every_option(options: dict[str, Any]) -> None:
    """``AsyncTracker(**every documented option)`` starts and delivers."""
    async with AsyncTracker(**options) as tracker:
        assert (await tracker.track("openai::gpt-4o-mini", {"input_tokens": 1})).ok
        with anyio.fail_after(30):
            assert await tracker.flush()
    assert tracker.settings.max_batch_bytes == 1 << 20


def test_tracker_accepts_every_option(options: dict[str, Any]) -> None:
    """``Tracker(**every documented option)`` starts and delivers."""
    with Tracker(**options) as tracker:
        _delivers(tracker)


async def test_fastapi_lifespan_accepts_every_option(options: dict[str, Any]) -> None:
    """``aicm_lifespan(**every documented option)`` runs its tracker."""
    pytest.importorskip("fastapi")
    from aicostmanager.integrations.fastapi import aicm_lifespan

    async with aicm_lifespan(**options)(object()) as state:
        assert state["aicm_tracker"].settings.max_batch_bytes == 1 << 20


@pytest.mark.usefixtures("_fresh_process_tracker")
def test_celery_setup_accepts_every_option(options: dict[str, Any]) -> None:
    """Celery's ``setup(**every documented option)`` configures the tracker it hands out."""
    pytest.importorskip("celery")
    from aicostmanager.integrations import celery

    celery.setup(**options)
    _delivers(celery.get_tracker())
    celery.shutdown()


@pytest.mark.usefixtures("_fresh_process_tracker")
def test_streamlit_accepts_every_option(options: dict[str, Any]) -> None:
    """Streamlit's ``shared_tracker(name, **every documented option)`` starts and delivers."""
    st = pytest.importorskip("streamlit")
    from aicostmanager.integrations.streamlit import shared_tracker

    st.cache_resource.clear()
    try:
        _delivers(shared_tracker("options-test", **options))
    finally:
        st.cache_resource.clear()


@pytest.mark.usefixtures("_fresh_process_tracker")
def test_pool_init_worker_accepts_every_option(options: dict[str, Any]) -> None:
    """The pool's ``init_worker(**every documented option)`` starts the worker's tracker."""
    from aicostmanager.integrations.pool import init_worker, worker_tracker

    previous = signal.getsignal(signal.SIGTERM)
    try:
        init_worker(**options)
        _delivers(worker_tracker())
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("integration", ["celery", "streamlit", "pool", "fastapi"])
def test_unknown_option_is_a_configuration_error(integration: str) -> None:
    """A misspelt option is a ``ConfigurationError`` naming it, in every integration."""
    pytest.importorskip(integration if integration != "pool" else "multiprocessing")
    with pytest.raises(ConfigurationError, match="max_batch_byte"):
        if integration == "celery":
            from aicostmanager.integrations.celery import setup

            setup(max_batch_byte=1)  # type: ignore[call-arg]
        elif integration == "streamlit":
            from aicostmanager.integrations.streamlit import shared_tracker

            shared_tracker(max_batch_byte=1)  # type: ignore[call-arg]
        elif integration == "pool":
            from aicostmanager.integrations.pool import init_worker

            init_worker(max_batch_byte=1)  # type: ignore[call-arg]
        else:
            from aicostmanager.integrations.fastapi import aicm_lifespan

            aicm_lifespan(max_batch_byte=1)  # type: ignore[call-arg]
