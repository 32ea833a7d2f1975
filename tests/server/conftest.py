"""Fixtures of the server tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_helpers import Api


@pytest.fixture
def api(api_root: str, api_key: str) -> Iterator[Api]:
    """A client with a fresh key (its own team)."""
    client = Api(api_root, api_key)
    try:
        yield client
    finally:
        client.close()
