"""The API key never reaches the queue file, the INI, logs, reprs or exception messages."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import anyio
import pytest

from aicostmanager import AsyncCostManagerClient, AsyncTracker, AuthenticationError, Tracker


def _files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file()]


async def test_key_is_nowhere(
    tracker_options: dict[str, Any], api_key: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Persistent and immediate tracking, success and failure: the key is never written or shown."""
    caplog.set_level(logging.DEBUG)
    secret = api_key.rsplit(".", 1)[0]
    texts: list[str] = []
    async with AsyncTracker(**tracker_options) as tracker:
        texts.append(repr(tracker))
        texts.append(repr(tracker.settings))
        await tracker.track("openai::gpt-5-mini", {"input_tokens": 1, "output_tokens": 2})
        with anyio.fail_after(30):
            assert await tracker.flush()
        texts.append(repr(tracker.statistics()))
    immediate = {**tracker_options, "delivery_type": "immediate"}
    async with AsyncTracker(**immediate) as tracker:
        result = await tracker.track("openai::gpt-5-mini", {"input_tokens": 1})
        texts.append(repr(result))
    wrong = {**tracker_options, "aicm_api_key": secret + "x.bad", "db_path": tmp_path / "w.db"}
    wrong["delivery_type"] = "immediate"
    async with AsyncTracker(**wrong) as tracker:
        result = await tracker.track("openai::gpt-5-mini", {"input_tokens": 1})
        # Refused (401) in immediate mode with a queue file: kept, not lost.
        assert (result.status, result.spilled) == ("queued", True)
        assert "401" in (tracker.statistics().last_error or "")
        texts.append(repr(result))
        texts.append(repr(tracker.statistics()))
    async with AsyncCostManagerClient(
        aicm_api_key=secret + "x.bad", aicm_api_base=tracker_options["aicm_api_base"]
    ) as client:
        texts.append(repr(client))
        with pytest.raises(AuthenticationError) as caught:
            await client.list_customers()
        texts.append(str(caught.value))
        texts.append(repr(caught.value))
    texts.append(caplog.text)
    for text in texts:
        assert secret not in text
    files = _files(tmp_path)
    assert any(p.name == "queue.db" for p in files)
    for path in files:
        assert secret.encode() not in path.read_bytes(), path


async def test_queue_file_is_private(tracker_options: dict[str, Any]) -> None:
    """The queue file (and its WAL) is created with mode 0600."""
    async with AsyncTracker(**tracker_options) as tracker:
        await tracker.track("openai::gpt-5-mini", {"input_tokens": 1})
        db = Path(tracker_options["db_path"])
        for path in (db, db.with_name(db.name + "-wal")):
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_sync_tracker_repr_hides_the_key(tracker_options: dict[str, Any], api_key: str) -> None:
    """The sync shim's repr shows no key either."""
    with Tracker(**tracker_options) as tracker:
        assert api_key.rsplit(".", 1)[0] not in repr(tracker)
