"""The sync twins are generated from the async classes and stay current; each mirrors its class."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from aicostmanager._blocking import AsyncResource, BlockingTwin

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import gen_sync_twins  # noqa: E402


def test_generated_twins_are_current() -> None:
    """`scripts/gen_sync_twins.py --check` finds every generated block up to date."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_sync_twins.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("twin", gen_sync_twins.TWINS, ids=lambda twin: twin.name)
def test_twin_mirrors_its_async_class(twin: gen_sync_twins.Twin) -> None:
    """Same constructor, and every public async member has a blocking one of the same shape."""
    module_name, class_name = twin.source.split(":")
    source = getattr(importlib.import_module(module_name), class_name)
    target = importlib.import_module(twin.target.removesuffix(".py").replace("/", "."))
    sync = getattr(target, twin.name)
    assert issubclass(source, AsyncResource) and issubclass(sync, BlockingTwin)
    if twin.type_var is None:  # a generic twin base is never built itself
        assert inspect.signature(sync.__init__) == inspect.signature(source.__init__)
    for name, member in inspect.getmembers(source):
        if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        mirror = getattr(sync, "close" if name == "aclose" else name, None)
        assert mirror is not None, f"{twin.name}.{name} is missing"
        if inspect.isfunction(member) and name != "aclose":
            assert not inspect.iscoroutinefunction(mirror), name
            params = list(inspect.signature(member).parameters.values())
            assert list(inspect.signature(mirror).parameters.values()) == params, name
