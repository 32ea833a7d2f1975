"""No framework is imported until its integration module is; a missing extra names its install."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

FRAMEWORKS = (
    "fastapi",
    "starlette",
    "streamlit",
    "django",
    "celery",
    "uvicorn",
    "gunicorn",
    "opentelemetry",
    "langchain_core",
    "litellm",
    "agents",
    "pydantic_ai",
)


def _run(code: str, blocked: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    blocker = (
        "import sys\n"
        f"BLOCKED = {set(blocked)!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'blocked {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", blocker + code], capture_output=True, text=True, timeout=60
    )


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nprint(' '.join(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))\n"
    done = _run(code)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_integrations_package_imports_no_framework() -> None:
    """`import aicostmanager.integrations` (and the pool helper) load no web framework."""
    assert _loaded_after("import aicostmanager, aicostmanager.integrations") == set()
    assert _loaded_after("import aicostmanager.integrations.pool") == set()


@pytest.mark.parametrize(
    ("module", "framework", "others"),
    [
        ("fastapi", "starlette", {"streamlit", "django", "celery", "uvicorn"}),
        ("streamlit", "streamlit", {"fastapi", "django", "celery", "uvicorn"}),
    ],
)
def test_each_module_imports_only_its_framework(
    module: str, framework: str, others: set[str]
) -> None:
    """An integration module imports its own framework and no other."""
    loaded = _loaded_after(f"import aicostmanager.integrations.{module}")
    assert framework in loaded
    assert not loaded & others


@pytest.mark.parametrize(
    ("module", "blocked"),
    [
        ("fastapi", ("fastapi", "starlette")),
        ("streamlit", ("streamlit",)),
        ("django", ("django",)),
        ("celery", ("celery",)),
    ],
)
def test_missing_extra_names_the_install_line(module: str, blocked: tuple[str, ...]) -> None:
    """Without its framework, an integration fails at import with the exact pip command."""
    done = _run(f"import aicostmanager.integrations.{module}", blocked)
    assert done.returncode != 0
    assert f"aicostmanager.integrations.{module} needs " in done.stderr
    assert f"pip install 'aicostmanager[{module}]'" in done.stderr


@pytest.mark.parametrize("module", ["fastapi", "streamlit", "pool"])
def test_integration_modules_export_what_they_list(module: str) -> None:
    """Each integration lists its public names in a sorted __all__; each has a docstring."""
    mod = importlib.import_module(f"aicostmanager.integrations.{module}")
    assert isinstance(mod.__all__, tuple) and list(mod.__all__) == sorted(mod.__all__)
    for name in mod.__all__:
        value = getattr(mod, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


LLM_FRAMEWORKS = [
    ("otel", "opentelemetry", "otel"),
    ("langchain", "langchain_core", "langchain"),
    ("litellm", "litellm", "litellm"),
    ("openai_agents", "agents", "openai-agents"),
]


@pytest.mark.parametrize(("module", "framework", "extra"), LLM_FRAMEWORKS)
def test_llm_framework_integrations_load_only_their_framework(
    module: str, framework: str, extra: str
) -> None:
    """Each LLM-framework integration imports its framework only, or names its install line."""
    loaded = _loaded_after(f"import aicostmanager.integrations.{module}")
    assert framework in loaded
    assert not loaded & ({m for _, m, _ in LLM_FRAMEWORKS} - {framework, "opentelemetry"})
    done = _run(f"import aicostmanager.integrations.{module}", (framework,))
    assert done.returncode != 0
    assert f"pip install 'aicostmanager[{extra}]'" in done.stderr
    mod = importlib.import_module(f"aicostmanager.integrations.{module}")
    assert list(mod.__all__) == sorted(mod.__all__)
    for name in mod.__all__:
        assert inspect.getdoc(getattr(mod, name)), name
