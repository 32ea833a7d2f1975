"""One API-key value: cleaned once; the tracker, ``queue keys`` and ``queue adopt`` agree."""

from __future__ import annotations

import copy
import json
import pickle
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from aicostmanager import AsyncQueueManager, ConfigurationError, Tracker
from aicostmanager._api_key import ApiKey, api_key_from_env, as_api_key, clean_api_key
from aicostmanager._queue import DurableQueue
from aicostmanager.cli import main

SECRET = "sk-test-secret-text.key-id-1"


def test_only_the_cleaning_function_makes_keys() -> None:
    """``ApiKey(...)`` is refused; ``clean_api_key`` strips, fingerprints and finds the id."""
    with pytest.raises(TypeError, match="clean_api_key"):
        ApiKey(SECRET)
    key = clean_api_key(f"  {SECRET}\n", "environment")
    assert key is not None
    assert key.reveal() == SECRET
    assert key.key_id == "key-id-1"
    assert key.header == {"Authorization": f"Bearer {SECRET}"}
    assert len(key.fingerprint) == 24 and key == as_api_key(SECRET)
    no_dot = as_api_key("no-dot-key")
    assert no_dot is not None and no_dot.key_id is None
    assert clean_api_key("  \n", "environment") is None


def test_key_is_never_shown() -> None:
    """``repr``, ``str``, f-strings and pickling never carry the key's text."""
    key = as_api_key(SECRET)
    assert key is not None
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert "secret-text" not in text and key.fingerprint in text
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(key)
    assert copy.deepcopy({"key": key})["key"] is key
    with pytest.raises(AttributeError):
        key.fingerprint = "x"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["sk bad", "sk-\u00e9", 5])
def test_bad_key_is_a_configuration_error(bad: Any) -> None:
    """A key that could not be sent as a header fails without echoing it."""
    with pytest.raises(ConfigurationError) as caught:
        as_api_key(bad)
    assert caught.value.option == "AICM_API_KEY"
    assert str(bad) not in str(caught.value)


async def test_manager_adopt_cleans_the_key(tmp_path: Path) -> None:
    """``AsyncQueueManager.adopt`` fingerprints the cleaned key (a newline changes nothing)."""
    db = tmp_path / "q.db"
    queue = await DurableQueue.open(db)
    await queue.append([b"{}"], "stale", time.time())
    await queue.close()
    async with AsyncQueueManager(db) as manager:
        assert await manager.adopt(SECRET + "\n") == 1
        assert await manager.keys() == {as_api_key(SECRET).fingerprint: 1}  # type: ignore[union-attr]
        with pytest.raises(ConfigurationError):
            await manager.adopt(" \n")


def _body(response_id: str) -> bytes:
    record = {
        "service_key": "openai::gpt-4o-mini",
        "response_id": response_id,
        "timestamp": time.time(),
        "payload": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    return json.dumps(record).encode()


async def _queue_rows(db: Path, ids: list[str]) -> None:
    queue = await DurableQueue.open(db)
    await queue.append([_body(rid) for rid in ids], "fingerprint-of-a-rotated-key", time.time())
    await queue.close()


def _stored_ids(api_root: str, api_key: str) -> set[str]:
    headers = {"Authorization": f"Bearer {api_key}"}
    page = httpx.get(
        f"{api_root}/usage/events/", params={"limit": 100}, headers=headers, timeout=30
    ).raise_for_status()
    return {event["response_id"] for event in page.json()["results"]}


def test_newline_key_adopt_and_deliver(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api_key: str,
    local_server: Any,
) -> None:
    """With ``AICM_API_KEY`` ending in a newline, keys/adopt/tracker agree; rows are delivered."""
    db = tmp_path / "queue.db"
    ids = [uuid.uuid4().hex for _ in range(3)]
    anyio.run(_queue_rows, db, ids)
    monkeypatch.setenv("AICM_API_KEY", api_key + "\n")
    env_key = api_key_from_env()
    assert env_key is not None

    assert main(["queue", "keys", str(db)]) == 0
    assert capsys.readouterr().out.split() == ["fingerprint-of-a-rotated-key", "3"]
    assert main(["queue", "adopt", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "adopted 3"
    assert main(["queue", "keys", str(db)]) == 0
    assert capsys.readouterr().out.split() == [env_key.fingerprint, "3", "<-", "$AICM_API_KEY"]

    with Tracker(
        aicm_api_base=local_server.url, db_path=db, ini_path=tmp_path / "AICM.INI"
    ) as tracker:
        assert tracker.settings.api_key is not None
        assert tracker.settings.api_key.fingerprint == env_key.fingerprint
        deadline = time.monotonic() + 60
        while not set(ids) <= _stored_ids(local_server.api_root, api_key):
            assert time.monotonic() < deadline, "adopted rows were not delivered"
            tracker.flush(timeout=5)
    assert anyio.run(_pending, db) == 0


async def _pending(db: Path) -> int:
    async with AsyncQueueManager(db) as manager:
        return (await manager.stats()).pending
