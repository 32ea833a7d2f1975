"""Fixtures of the framework-callback tests: the fake providers and what the server stored.

The fake provider server and ``read_stored`` are the wrapper tests' (``tests/wrappers``):
the real framework libraries are pointed at the same fakes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest
from wrappers.fake_provider import FakeProvider

from aicostmanager import _seen

# LiteLLM fetches its price map from the internet at import unless told to use its own copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds (frameworks that report from their own threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.01)


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    """The fake provider server for the whole session."""
    server = FakeProvider()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_ids() -> Iterator[None]:
    """Each test starts with an empty response-id registry."""
    _seen.clear()
    yield
    _seen.clear()
