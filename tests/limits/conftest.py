"""Fixtures of the limits tests: a per-key API helper, a test token signer, an INI path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from limits_helpers import Api, Signer


@pytest.fixture
def api(api_root: str, api_key: str) -> Iterator[Api]:
    """An :class:`Api` for a fresh key (its own team)."""
    helper = Api(api_root, api_key)
    try:
        yield helper
    finally:
        helper.http.close()


@pytest.fixture
def ini_path(tmp_path: Path) -> Path:
    """A fresh INI file path."""
    return tmp_path / "AICM.INI"


@pytest.fixture(scope="session")
def signer() -> Signer:
    """A test signer (one RSA key per session)."""
    return Signer()
