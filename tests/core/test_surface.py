"""The public surface and the import layering of DESIGN §2."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import aicostmanager
from aicostmanager import AsyncTracker, Tracker

PACKAGE = Path(aicostmanager.__file__).parent
OPTIONAL = {"fastapi", "uvicorn", "starlette", "genai_prices", "cryptography", "jwt"}
PROVIDERS = {"openai", "anthropic", "google", "boto3", "botocore", "fireworks"}


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(("aicostmanager", *path.relative_to(PACKAGE).with_suffix("").parts[:-1]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return found


def _core_files() -> list[Path]:
    outer = {"server", "wrappers", "integrations", "cli"}
    return [
        p
        for p in PACKAGE.rglob("*.py")
        if p.relative_to(PACKAGE).parts[0] not in outer and p.name != "__init__.py"
    ]


def test_core_never_imports_outer_layers_or_providers() -> None:
    """No core module imports server/, wrappers/, integrations/, cli or a provider SDK."""
    for path in _core_files():
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in PROVIDERS, (path, name)
            for outer in ("server", "wrappers", "integrations", "cli"):
                assert not name.startswith(f"aicostmanager.{outer}"), (path, name)


@pytest.mark.parametrize(("library", "owner"), [("httpx", "_http.py"), ("aiosqlite", "_queue.py")])
def test_one_module_per_io_library(library: str, owner: str) -> None:
    """Only _http.py imports httpx and only _queue.py imports aiosqlite in the core."""
    importers = {
        str(p.relative_to(PACKAGE))
        for p in _core_files()
        if any(n.split(".")[0] == library for n in _imports(p))
    }
    assert importers == {owner}


def test_pure_modules_do_no_io() -> None:
    """The pure-logic modules import no I/O library."""
    for name in (
        "_backoff.py",
        "_wire.py",
        "_record.py",
        "_types.py",
        "_exceptions.py",
        "_scope.py",
    ):
        tops = {n.split(".")[0] for n in _imports(PACKAGE / name)}
        assert not tops & {"httpx", "aiosqlite", "sqlite3", "anyio"}, name


def test_import_without_extras() -> None:
    """`import aicostmanager` works when no optional package can be imported."""
    blocker = (
        "import sys\n"
        f"BLOCKED = {sorted(OPTIONAL | PROVIDERS)!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'blocked {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import aicostmanager\n"
        "from aicostmanager import AsyncTracker, Tracker, AsyncCostManagerClient\n"
        "print('ok', len(aicostmanager.__all__))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_server_extra_missing_gives_install_line() -> None:
    """Importing the server without its extra names the exact install command."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'fastapi', 'uvicorn', 'genai_prices'}:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import aicostmanager.server\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "aicostmanager[server]" in out.stdout


def test_all_is_sorted_resolvable_and_documented() -> None:
    """__all__ is a sorted tuple; each name resolves and has a docstring."""
    names = aicostmanager.__all__
    assert isinstance(names, tuple) and list(names) == sorted(names)
    for name in names:
        value = getattr(aicostmanager, name)
        if name == "__version__":
            continue
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


@pytest.mark.parametrize("module", ["aicostmanager.models", "aicostmanager.server"])
def test_public_submodules_export_what_they_list(module: str) -> None:
    """Public subpackages list their names in __all__ and every listed name resolves."""
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), (module, name)


TRACKER_SURFACE = {
    "check_limits",
    "flush",
    "scope",
    "set_context",
    "set_customer_key",
    "settings",
    "statistics",
    "track",
    "track_batch",
    "track_nowait",
}
"""The public members docs/sync-and-async.md lists for both trackers (plus aclose / close)."""


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_tracker_sync_twin_has_the_same_methods() -> None:
    """Every public AsyncTracker method has a Tracker twin with the same parameters."""
    skipped = {"aclose"}
    for name, member in inspect.getmembers(AsyncTracker):
        if name.startswith("_") or name in skipped or isinstance(member, property):
            continue
        twin = getattr(Tracker, name, None)
        assert twin is not None, name
        assert (
            inspect.signature(twin).parameters.keys() == inspect.signature(member).parameters.keys()
        ), name
    assert hasattr(Tracker, "close")


def test_tracker_surface_is_what_the_docs_list() -> None:
    """Both trackers expose exactly the documented members: no plumbing methods."""
    assert _public(AsyncTracker) == TRACKER_SURFACE | {"aclose"}
    assert _public(Tracker) == TRACKER_SURFACE | {"close"}
    page = (PACKAGE.parent / "docs" / "sync-and-async.md").read_text()
    for name in TRACKER_SURFACE | {"aclose", "close"}:
        assert f"{name}(" in page or f"`{name}`" in page, name


def test_record_arguments_are_one_typed_dict() -> None:
    """track/track_nowait of both trackers take the record arguments as **Unpack[RecordArgs]."""
    from aicostmanager._record import RecordArgs

    for cls in (AsyncTracker, Tracker):
        for name in ("track", "track_nowait"):
            params = list(inspect.signature(getattr(cls, name)).parameters.values())
            assert [p.name for p in params] == ["self", "service_key", "usage", "record"], name
            assert params[-1].kind is inspect.Parameter.VAR_KEYWORD
            assert params[-1].annotation == "Unpack[RecordArgs]", (cls, name)
    assert set(RecordArgs.__annotations__) == {
        "response_id",
        "timestamp",
        "customer_key",
        "context",
        "anonymize_fields",
        "anonymizer",
    }
