"""Fixtures of the corpus replay: the replay server, plus the wrapper tests' clean environment.

- ``replay`` (session): a :class:`ReplayServer` serving every recording of ``tests/recordings``.
- ``tracker_options`` (from ``tests/conftest.py``): a tracker on a fresh API key and queue file.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wrappers.conftest import _clean_environment

from .server import ReplayServer

__all__ = ("_clean_environment", "replay")


@pytest.fixture(scope="session")
def replay() -> Iterator[ReplayServer]:
    """The replay server for the whole session."""
    server = ReplayServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
