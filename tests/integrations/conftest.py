"""Fixtures of the framework-callback tests: the fake providers and what the server stored.

The fake provider server and ``read_stored`` are the wrapper tests' (``tests/wrappers``):
the real framework libraries are pointed at the same fakes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wrappers.fake_provider import FakeProvider

from aicostmanager import _seen


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
