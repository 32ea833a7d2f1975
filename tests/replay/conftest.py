"""Fixtures of the corpus replay: the replay server, plus the wrapper tests' clean environment.

- ``replay`` (session): a :class:`ReplayServer` serving every recording of ``tests/recordings``.
- ``runs`` (session): the corpus replayed lazily, one tracker and fresh API key per call style.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from wrappers.conftest import _clean_environment

from .harness import Runs
from .server import ReplayServer

__all__ = ("_clean_environment", "replay", "runs")


@pytest.fixture(scope="session")
def replay() -> Iterator[ReplayServer]:
    """The replay server for the whole session."""
    server = ReplayServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def runs(
    replay: ReplayServer, local_server: Any, _session_admin: Any, tmp_path_factory: Any
) -> Runs:
    """The corpus replayed lazily: one tracker and fresh API key per call style."""
    return Runs(replay, _session_admin, tmp_path_factory.mktemp("corpus"), local_server.url)
