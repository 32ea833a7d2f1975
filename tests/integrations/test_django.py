"""The Django integration on the example project (docs/examples/django_app).

In-process through Django's test clients (sync and async handlers), then as real server
processes (runserver with its autoreloader, gunicorn --preload with 2 workers, uvicorn ASGI)
driven over HTTP, counting exactly the events the local server stored, customer by customer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from aicostmanager import ConfigurationError, UnknownOptionError, tracking_scope
from aicostmanager.server import LocalServer

from ._all_options import every_option
from ._process_helpers import (
    EXAMPLES,
    child_env,
    events,
    free_port,
    spawn,
    stop_group,
    wait_for,
)

pytest.importorskip("django")

import django
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, Client, override_settings

from aicostmanager.integrations import django as aicm

PROJECT = EXAMPLES / "django_app"


@pytest.fixture(scope="module", autouse=True)
def _django_project() -> None:
    """Set Django up with the example project's settings (without leaving
    DJANGO_SETTINGS_MODULE in the environment of other tests' child processes)."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "aicm_demo.settings"
    try:
        django.setup()
    finally:
        del os.environ["DJANGO_SETTINGS_MODULE"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AICM_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("AICM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AICM_INI_PATH", str(tmp_path / "default" / "AICM.INI"))


@pytest.fixture
def aicm_settings(local_server: LocalServer, api_key: str, tmp_path: Path) -> Iterator[str]:
    """Point the project's tracker at a fresh key and queue file; close it afterwards."""
    options = {
        "aicm_api_key": api_key,
        "aicm_api_base": local_server.url,
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "batch_interval": 0.005,
        "backoff_base": 0.05,
    }
    aicm.shutdown()
    with override_settings(AICM=options):
        try:
            yield api_key
        finally:
            aicm.shutdown(5)


def _by_rid(api_root: str, api_key: str) -> dict[str, Any]:
    return {e["response_id"]: e["customer_key"] for e in events(api_root, api_key)}


def test_test_client_sync_and_async_views(aicm_settings: str, api_root: str) -> None:
    """Under the sync handler, sync and async views each record one event for its customer."""
    client = Client()
    expected = {}
    for i, view in enumerate(["sync", "async", "nowait"] * 2):
        rid, customer = uuid.uuid4().hex, f"cust-{i % 2}"
        response = client.get(f"/chat/{view}", {"rid": rid}, headers={"X-Customer-Key": customer})
        assert response.status_code == 200
        assert response.json()["response_id"] == rid
        expected[rid] = customer
    assert aicm.get_tracker().flush(10)
    assert _by_rid(api_root, aicm_settings) == expected


async def test_async_client_concurrent_customers_stay_apart(
    aicm_settings: str, api_root: str
) -> None:
    """Under the async handler, 30 concurrent requests for 5 customers keep their own customer."""
    client = AsyncClient()
    expected = {uuid.uuid4().hex: f"acme-{i % 5}" for i in range(30)}
    views = ["sync", "async", "nowait"]

    async def one(i: int, rid: str, customer: str) -> None:
        response = await client.get(
            f"/chat/{views[i % 3]}", {"rid": rid}, headers={"X-Customer-Key": customer}
        )
        assert response.status_code == 200

    await asyncio.gather(*(one(i, r, c) for i, (r, c) in enumerate(expected.items())))
    assert await asyncio.to_thread(aicm.get_tracker().flush, 10)
    assert _by_rid(api_root, aicm_settings) == expected


def test_default_customer_is_the_authenticated_user() -> None:
    """customer_from_user returns the user's pk when authenticated and None otherwise."""
    from django.test import RequestFactory

    class User:
        pk = 42
        is_authenticated = True

    request = RequestFactory().get("/")
    assert aicm.customer_from_user(request) is None
    request.user = User()
    assert aicm.customer_from_user(request) == "42"
    request.user.is_authenticated = False
    assert aicm.customer_from_user(request) is None


async def test_async_middleware_reads_the_user_without_blocking() -> None:
    """In async mode the default customer comes from `await request.auser()`."""
    from django.test import RequestFactory

    from aicostmanager import tracking_scope

    class User:
        pk = 7
        is_authenticated = True

    async def auser() -> User:
        return User()

    async def view(request: Any) -> Any:
        with tracking_scope() as scope:
            return scope.customer_key

    with override_settings(AICM_CUSTOMER_KEY=None):  # the example project reads a header
        middleware = aicm.AICMMiddleware(view)
    request = RequestFactory().get("/")
    request.auser = auser
    assert asyncio.iscoroutinefunction(middleware)
    assert await middleware(request) == "7"


def _boom(request: Any) -> str:
    raise RuntimeError("customer lookup failed")


@override_settings(AICM_CUSTOMER_KEY=_boom, AICM_CONTEXT=lambda request: {"path": request.path})
def test_failing_customer_function_never_breaks_the_request(
    aicm_settings: str, api_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A customer function that raises is logged; the view still runs and tracks."""
    rid = uuid.uuid4().hex
    response = Client().get("/chat/sync", {"rid": rid})
    assert response.status_code == 200
    assert "could not read the customer" in caplog.text
    assert aicm.get_tracker().flush(10)
    assert _by_rid(api_root, aicm_settings) == {rid: None}


async def test_async_customer_and_context_functions(aicm_settings: str, api_root: str) -> None:
    """`async def` customer/context functions are awaited in async mode; context is recorded."""

    async def customer(request: Any) -> str:
        return "async-" + request.GET["who"]

    async def context(request: Any) -> dict[str, str]:
        return {"route": request.path}

    rid = uuid.uuid4().hex
    with override_settings(AICM_CUSTOMER_KEY=customer, AICM_CONTEXT=context):
        response = await AsyncClient().get("/chat/async", {"rid": rid, "who": "bob"})
    assert response.status_code == 200
    assert await asyncio.to_thread(aicm.get_tracker().flush, 10)
    (event,) = events(api_root, aicm_settings)
    assert (event["customer_key"], event["context"]) == ("async-bob", {"route": "/chat/async"})


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        ("AICM", ["not", "a", "dict"], ConfigurationError, "settings.AICM: must be a mapping"),
        ("AICM", {"aicm_api_key": "k", "colour": "red"}, UnknownOptionError, "colour: unknown"),
        ("AICM_CUSTOMER_KEY", "aicm_demo.views.SERVICE", ImproperlyConfigured, "be a function"),
        ("AICM_CONTEXT", "aicm_demo.views.no_such_function", ImproperlyConfigured, "no_such"),
    ],
)
def test_bad_settings_fail_at_ready(
    name: str, value: Any, error: type[Exception], message: str
) -> None:
    """A malformed setting fails in AppConfig.ready(): tracker options with the SDK's
    ``ConfigurationError``, the request functions with ``ImproperlyConfigured``."""
    from django.apps import apps

    with override_settings(**{name: value}), pytest.raises(error) as info:
        apps.get_app_config("aicostmanager").ready()
    assert message in str(info.value)


def test_settings_accept_every_documented_option(
    local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """``settings.AICM`` with every option of docs/configuration.md gives a working tracker."""
    aicm.shutdown()
    with override_settings(AICM=every_option(local_server.url, api_key, tmp_path)):
        try:
            tracker = aicm.get_tracker()
            assert tracker.settings.max_batch_bytes == 1 << 20
            assert tracker.track("openai::gpt-4o-mini", {"input_tokens": 1}).ok
            assert tracker.flush(timeout=30)
            assert tracker.statistics().delivered == 1
        finally:
            aicm.shutdown(5)


def test_wrapper_without_tracker_uses_the_django_tracker(aicm_settings: str, api_root: str) -> None:
    """A client wrapped without ``tracker=`` (as in a view) tracks through Django's tracker."""
    from aicostmanager import ServiceWrapper

    class Sdk:
        def complete(self, model: str) -> dict[str, Any]:
            return {"id": f"resp-{model}", "usage": {"input_tokens": 3, "output_tokens": 4}}

    client = ServiceWrapper(Sdk(), vendor="openai")  # before anything started a tracker
    assert client.aicm_recorder.tracker is aicm.get_tracker()
    assert ServiceWrapper(Sdk(), vendor="openai").aicm_recorder.tracker is aicm.get_tracker()
    with tracking_scope(customer_key="view-customer"):
        client.complete(model="gpt-4o-mini")
    assert aicm.get_tracker().flush(timeout=30)
    assert _by_rid(api_root, aicm_settings) == {"resp-gpt-4o-mini": "view-customer"}


# ---- real server processes --------------------------------------------------------------

SERVERS = {
    "runserver-autoreload": lambda port: [
        sys.executable, str(PROJECT / "manage.py"), "runserver", f"127.0.0.1:{port}"
    ],
    "gunicorn-preload": lambda port: [
        sys.executable, "-m", "gunicorn", "--preload", "-w", "2", "--threads", "4",
        "-b", f"127.0.0.1:{port}", "aicm_demo.wsgi:application",
    ],
    "uvicorn-asgi": lambda port: [
        sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "aicm_demo.asgi:application",
    ],
}  # fmt: skip


def _holders(root: psutil.Process, db: Path) -> set[int]:
    """Pids of ``root`` and its descendants that have the queue file open."""
    pids = set()
    for proc in [root, *root.children(recursive=True)]:
        try:
            if any(f.path.startswith(str(db)) for f in proc.open_files()):
                pids.add(proc.pid)
        except psutil.NoSuchProcess:  # noqa: PERF203 - a worker may exit meanwhile
            continue
    return pids


@pytest.mark.parametrize("server", list(SERVERS))
def test_real_server_counts_each_request_once_per_customer(
    server: str, local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """Over real HTTP, 60 requests for 6 customers give exactly 60 events with their customer,
    delivered by the drain at exit (a 30 s batch linger holds them back until then).

    The process we start (reloader parent, gunicorn master) never opens the queue file:
    only the processes serving requests start a tracker.
    """
    port, log = free_port(), tmp_path / "server.log"
    env = child_env(api_key, local_server.url, tmp_path, PROJECT, AICM_BATCH_INTERVAL="30")
    env["DJANGO_SETTINGS_MODULE"] = "aicm_demo.settings"
    proc = spawn(SERVERS[server](port), env, log)
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, f"{server} to answer", proc, log)
        expected = {uuid.uuid4().hex: f"cust-{i % 6}" for i in range(60)}
        views = ["sync", "async", "nowait"]

        async def drive() -> None:
            limit = asyncio.Semaphore(8)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:

                async def one(i: int, rid: str, customer: str) -> None:
                    async with limit:
                        response = await client.get(
                            f"/chat/{views[i % 3]}",
                            params={"rid": rid},
                            headers={"X-Customer-Key": customer},
                        )
                    assert response.status_code == 200, response.text

                await asyncio.gather(*(one(i, r, c) for i, (r, c) in enumerate(expected.items())))

        asyncio.run(drive())
        holders = _holders(psutil.Process(proc.pid), tmp_path / "queue.db")
        if server != "uvicorn-asgi":
            assert holders and proc.pid not in holders
    finally:
        # Ctrl-C for runserver (a plain process dies on SIGTERM without running atexit);
        # the servers made for production handle SIGTERM gracefully.
        stop_group(proc, signal.SIGINT if server.startswith("runserver") else signal.SIGTERM)
    assert _by_rid(local_server.api_root, api_key) == expected


@pytest.mark.parametrize(("framework", "module"), [("django", "django"), ("celery", "celery")])
def test_frameworks_load_only_with_their_module(framework: str, module: str) -> None:
    """`import aicostmanager` loads no framework; without it, the module names the extra."""
    code = (
        "import sys\n"
        "import aicostmanager, aicostmanager.integrations\n"
        f"assert {framework!r} not in sys.modules, 'imported too early'\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] == {framework!r}:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        f"    import aicostmanager.integrations.{module}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"pip install 'aicostmanager[{framework}]'" in out.stdout
