"""``track_nowait()`` from any thread or event loop runs its work on the tracker's own loop.

Immediate delivery sends in the background; the send must be handed to the tracker's loop
(thread-safely) whoever calls, be counted while in flight, and be waited for by ``flush()``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncTracker, Tracker

from .conftest import key_id

USAGE = {"input_tokens": 10, "output_tokens": 5}


@pytest.fixture
def immediate_options(tracker_options: dict[str, Any]) -> dict[str, Any]:
    """Immediate delivery without a spill queue."""
    options = {**tracker_options, "delivery_type": "immediate"}
    options.pop("db_path")
    return options


def test_sync_immediate_track_nowait_from_plain_threads(
    immediate_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """Tracker.track_nowait (immediate) from the caller's and other plain threads delivers all."""
    errors: list[BaseException] = []
    with Tracker(**immediate_options) as tracker:
        tracker.track_nowait("openai::gpt-5-mini", USAGE)

        def work() -> None:
            try:
                for _ in range(5):
                    tracker.track_nowait("openai::gpt-5-mini", USAGE)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert tracker.flush(timeout=30)
        stats = tracker.statistics()
    assert stats.delivered == 21 and stats.dropped == 0
    assert admin.stats(key_id(api_key))["accepted"] == 21


async def test_async_immediate_track_nowait_from_a_plain_thread(
    immediate_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """AsyncTracker.track_nowait (immediate) called from a worker thread is sent and flushed."""
    async with AsyncTracker(**immediate_options) as tracker:

        def in_thread() -> list[str]:
            return [tracker.track_nowait("openai::gpt-5-mini", USAGE) for _ in range(3)]

        ids = await anyio.to_thread.run_sync(in_thread)
        assert len(set(ids)) == 3
        assert await tracker.flush(timeout=30)
        assert tracker.statistics().delivered == 3
    assert admin.stats(key_id(api_key))["accepted"] == 3


async def test_async_immediate_track_nowait_from_a_foreign_event_loop(
    immediate_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """Called from the user's own asyncio loop, the send runs on the tracker's loop.

    The user's loop ends right after the call, so a send started on it would be lost.
    """
    async with AsyncTracker(**immediate_options) as tracker:
        tracker_loop = asyncio.get_running_loop()

        def user_program() -> str:
            async def main() -> str:
                assert asyncio.get_running_loop() is not tracker_loop
                return tracker.track_nowait("openai::gpt-5-mini", USAGE, customer_key="own-loop")

            return asyncio.run(main())

        rid = await anyio.to_thread.run_sync(user_program)
        assert await tracker.flush(timeout=30)
        stats = tracker.statistics()
        assert stats.delivered == 1 and stats.dropped == 0, stats
    assert rid
    assert admin.stats(key_id(api_key))["accepted"] == 1


def test_plain_asyncio_app_track_nowait_from_a_thread_then_flush(
    immediate_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """Under a plain asyncio.run app, a thread's track_nowait is sent, and a flush() right
    after it waits for the send (it is counted when handed over, not when the loop sees it)."""

    async def app() -> tuple[bool, int]:
        async with AsyncTracker(**immediate_options) as tracker:
            worker = threading.Thread(
                target=lambda: [tracker.track_nowait("openai::gpt-5-mini", USAGE) for _ in range(3)]
            )
            worker.start()
            worker.join()
            flushed = await tracker.flush(timeout=30)
            return flushed, tracker.statistics().delivered

    assert asyncio.run(app()) == (True, 3)
    assert admin.stats(key_id(api_key))["accepted"] == 3


async def test_persistent_track_nowait_from_a_foreign_event_loop(
    tracker_options: dict[str, Any], admin: Any, api_key: str
) -> None:
    """With the durable queue, track_nowait from another loop commits on the tracker's writer."""
    async with AsyncTracker(**tracker_options) as tracker:

        def user_program() -> None:
            async def main() -> None:
                for _ in range(4):
                    tracker.track_nowait("openai::gpt-5-mini", USAGE)

            asyncio.run(main())

        await anyio.to_thread.run_sync(user_program)
        assert await tracker.flush(timeout=30)
        assert tracker.statistics().delivered == 4
    assert admin.stats(key_id(api_key))["accepted"] == 4


def test_unknown_record_keyword_is_a_type_error(immediate_options: dict[str, Any]) -> None:
    """Record arguments are one TypedDict: an unknown keyword raises TypeError, sends nothing."""
    with Tracker(**immediate_options) as tracker:
        with pytest.raises(TypeError, match="customer"):
            tracker.track_nowait("openai::gpt-5-mini", USAGE, customer="acme")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="track\\(\\)"):
            tracker.track("openai::gpt-5-mini", USAGE, respose_id="x")  # type: ignore[call-arg]
        assert tracker.flush(timeout=30)
        assert tracker.statistics().delivered == 0
