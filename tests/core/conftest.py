"""Fixtures for the SDK core tests: a tracker pointed at the session's local server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AICM_* variable of the developer's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("AICM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AICM_INI_PATH", str(tmp_path / "default" / "AICM.INI"))
    yield


AddFault = Callable[..., str]
"""The ``fault`` fixture: ``fault(**rule)`` adds a fault rule scoped to the test's key."""


@pytest.fixture
def fault(admin: Any, api_key: str) -> Iterator[AddFault]:
    """Add fault rules scoped to this test's key; they are removed after the test."""
    added: list[str] = []

    def add(**rule: Any) -> str:
        rule_id: str = admin.add_fault(api_key_id=key_id(api_key), **rule)
        added.append(rule_id)
        return rule_id

    yield add
    live = {rule["id"] for rule in admin.faults()}
    for rule_id in added:
        if rule_id in live:
            admin.remove_fault(rule_id)


def key_id(api_key: str) -> str:
    """The id part of an API key."""
    return api_key.rsplit(".", 1)[1]
