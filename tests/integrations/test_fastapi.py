"""FastAPI integration: lifespan, dependency and middleware, in-process and under real servers.

The server tests run ``docs/examples/fastapi_app.py`` in a uvicorn (or gunicorn) process on
127.0.0.1 and drive it with real HTTP; events are read back from the session's local server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import anyio
import httpx
import pytest
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from aicostmanager import ConfigurationError, CostManagerClient, TrackerClosedError
from aicostmanager._scope import current_scope
from aicostmanager.integrations.fastapi import (
    AICMMiddleware,
    ClientsDep,
    TrackerDep,
    aicm_lifespan,
    get_client,
    get_tracker,
    tracking_scope_dependency,
)
from aicostmanager.server import LocalServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


# ---- helpers ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _app_env(local_server: LocalServer, api_key: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICM_")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        AICM_API_KEY=api_key,
        AICM_API_BASE=local_server.url,
        AICM_INI_PATH=str(tmp / "AICM.INI"),
        AICM_DB_PATH=str(tmp / "queue.db"),
        AICM_BATCH_INTERVAL="0.01",
        AICM_BACKOFF_BASE="0.05",
        AICM_BACKOFF_MAX="0.5",
        AICM_TIMEOUT="10",
    )
    env.update(extra)
    return env


class AppProcess:
    """``docs/examples/fastapi_app.py`` served by uvicorn or gunicorn in a child process."""

    def __init__(self, env: dict[str, str], server: str = "uvicorn", workers: int = 1) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bind = ["--host", "127.0.0.1", "--port", str(self.port)]
        if server == "uvicorn":
            command = [sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES)]
            command += ["fastapi_app:app", *bind, "--workers", str(workers), "--no-access-log"]
        else:
            command = [sys.executable, "-m", "gunicorn", "--chdir", str(EXAMPLES), "--preload"]
            command += ["-k", "uvicorn.workers.UvicornWorker", "-w", str(workers)]
            command += ["-b", f"127.0.0.1:{self.port}", "fastapi_app:app"]
        self.workers = workers
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def output(self) -> str:
        """Everything the server printed so far."""
        with self._changed:
            return "".join(self.lines)

    def wait_started(self, timeout: float = 60) -> None:
        """Wait until every worker reported its startup complete."""

        def started() -> bool:
            done = sum("Application startup complete" in line for line in self.lines)
            return done >= self.workers or self.process.poll() is not None

        with self._changed:
            assert self._changed.wait_for(started, timeout), self.output()
        assert self.process.poll() is None, self.output()

    def terminate(self, timeout: float = 60) -> None:
        """SIGTERM, then check every worker shut down gracefully (its lifespan drained)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the app did not stop on SIGTERM:\n{self.output()}") from None
        finally:
            assert self.process.stdout is not None
            self.process.stdout.close()
        # uvicorn re-raises the signal after its graceful shutdown.
        assert code in (0, -signal.SIGTERM), self.output()
        stopped = self.output().count("Application shutdown complete")
        assert stopped == self.workers, self.output()


@contextlib.contextmanager
def serving(env: dict[str, str], server: str = "uvicorn", workers: int = 1) -> Iterator[AppProcess]:
    """Run the example app until the block ends, then stop it with SIGTERM."""
    app = AppProcess(env, server, workers)
    try:
        app.wait_started()
        yield app
    finally:
        app.terminate()


def _events(local_server: LocalServer, api_key: str, tmp: Path) -> dict[str, str | None]:
    """``response_id -> customer_key`` of every event of this key on the local server."""
    with CostManagerClient(
        aicm_api_key=api_key, aicm_api_base=local_server.url, ini_path=str(tmp / "c.ini")
    ) as client:
        return {e.response_id: e.customer_key for e in client.iter_usage_events()}


async def _wait_for_events(
    local_server: LocalServer, api_key: str, tmp: Path, ids: set[str], timeout: float = 30
) -> dict[str, str | None]:
    """Poll the local server until every id in ``ids`` is there (or fail at the deadline)."""
    with anyio.fail_after(timeout):
        while True:
            events = await anyio.to_thread.run_sync(_events, local_server, api_key, tmp)
            if ids <= events.keys():
                return events
            await anyio.sleep(0.2)


async def _post_all(url: str, customers: list[str]) -> dict[str, str]:
    """POST /chat once per customer, all at once; returns ``response_id -> customer``."""
    found: dict[str, str] = {}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(customer: str) -> None:
            response = await client.post("/chat", headers={"x-customer": customer})
            assert response.status_code == 200, response.text
            found[response.json()["response_id"]] = customer

        async with anyio.create_task_group() as tg:
            for customer in customers:
                tg.start_soon(one, customer)
    return found


# ---- real servers -----------------------------------------------------------------------------


async def test_200_concurrent_requests_record_200_events_each_with_its_customer(
    local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """200 concurrent requests for 20 customers give exactly 200 events, each its own customer."""
    customers = [f"customer-{i % 20}" for i in range(200)]
    with serving(_app_env(local_server, api_key, tmp_path, AICM_CLOSE_TIMEOUT="30")) as app:
        expected = await _post_all(app.url, customers)
    assert len(expected) == 200
    events = await _wait_for_events(local_server, api_key, tmp_path, set(expected))
    assert events == expected


async def test_sigterm_under_load_loses_no_answered_event(
    local_server: LocalServer, api_key: str, tmp_path: Path, admin: Any
) -> None:
    """SIGTERM mid-load: every 2xx-answered event is delivered, at the latest on the next start."""
    key_id = api_key.rsplit(".", 1)[1]
    fault = admin.add_fault(path="/track", api_key_id=key_id, status=503)
    answered: dict[str, str] = {}
    app = AppProcess(_app_env(local_server, api_key, tmp_path, AICM_CLOSE_TIMEOUT="1"))
    try:
        app.wait_started()
        signalled = anyio.Event()

        async def load(worker: int, client: httpx.AsyncClient) -> None:
            for i in range(10_000):
                customer = f"c{(worker + i) % 20}"
                try:
                    response = await client.post("/chat", headers={"x-customer": customer})
                except httpx.TransportError:
                    return  # the server has stopped accepting connections
                if response.status_code == 200:
                    answered[response.json()["response_id"]] = customer
                if len(answered) >= 100 and not signalled.is_set():
                    signalled.set()
                    app.process.send_signal(signal.SIGTERM)

        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for worker in range(16):
                        tg.start_soon(load, worker, client)
        assert signalled.is_set()
    finally:
        app.terminate()
    assert len(answered) >= 100
    assert _events(local_server, api_key, tmp_path) == {}  # the fault kept everything on disk

    admin.remove_fault(fault)
    with serving(_app_env(local_server, api_key, tmp_path, AICM_CLOSE_TIMEOUT="30")):
        events = await _wait_for_events(local_server, api_key, tmp_path, set(answered))
    assert {rid: events[rid] for rid in answered} == answered


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn-preload"])
async def test_two_workers_share_the_queue_file(
    local_server: LocalServer, api_key: str, tmp_path: Path, server: str
) -> None:
    """Two worker processes (uvicorn --workers 2, gunicorn --preload) each track on one file."""
    customers = [f"customer-{i % 10}" for i in range(100)]
    env = _app_env(local_server, api_key, tmp_path, AICM_CLOSE_TIMEOUT="30")
    with serving(env, server.split("-")[0], workers=2) as app:
        expected = await _post_all(app.url, customers)
    events = await _wait_for_events(local_server, api_key, tmp_path, set(expected))
    assert events == expected
    assert "Traceback" not in app.output()


def test_importing_the_app_starts_nothing(
    local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """Importing the app (what gunicorn --preload does before forking) opens no file or thread."""
    code = (
        "import sys, threading\n"
        f"sys.path.insert(0, {str(EXAMPLES)!r})\n"
        "import fastapi_app\n"
        "print(threading.active_count())\n"
    )
    env = _app_env(local_server, api_key, tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"]
    assert not (tmp_path / "queue.db").exists()


# ---- in-process (TestClient runs the lifespan) --------------------------------------------------


@pytest.fixture
def options(local_server: LocalServer, api_key: str, tmp_path: Path) -> dict[str, Any]:
    """Tracker options for a fresh key and queue file on the local server."""
    return {
        "aicm_api_key": api_key,
        "aicm_api_base": local_server.url,
        "ini_path": tmp_path / "AICM.INI",
        "db_path": tmp_path / "queue.db",
        "batch_interval": 0.005,
        "close_timeout": 30,
    }


def test_inner_lifespan_runs_inside_the_tracker_and_shares_state(
    options: dict[str, Any], local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """The app's own lifespan sees the running tracker; its state reaches requests."""
    seen: list[str] = []

    @contextlib.asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await app.state.aicm_tracker.track("openai::gpt-5-mini", {"input_tokens": 1})
        seen.append("startup")
        yield {"greeting": "hello"}
        seen.append("shutdown")
        await app.state.aicm_tracker.track("openai::gpt-5-mini", {"input_tokens": 2})

    app = FastAPI(lifespan=aicm_lifespan(own, **options))

    @app.get("/")
    async def index(request: Request, tracker: TrackerDep) -> dict[str, Any]:
        return {
            "greeting": request.state.greeting,
            "same": tracker is request.app.state.aicm_tracker,
        }

    with TestClient(app) as client:
        assert client.get("/").json() == {"greeting": "hello", "same": True}
    assert seen == ["startup", "shutdown"]
    assert not hasattr(app.state, "aicm_tracker")
    # Both events (the last one tracked during shutdown) were drained before the app stopped.
    assert len(_events(local_server, api_key, tmp_path)) == 2


def test_registered_clients_reach_routes_and_are_closed(options: dict[str, Any]) -> None:
    """Clients built from the tracker are handed to routes and closed at shutdown."""

    class FakeClient:
        def __init__(self, tracker: Any) -> None:
            self.tracker = tracker
            self.closed = False

        async def aclose(self) -> None:
            self.closed = True

    made: list[FakeClient] = []

    def build(tracker: Any) -> dict[str, Any]:
        made.append(FakeClient(tracker))
        return {"llm": made[-1]}

    app = FastAPI(lifespan=aicm_lifespan(clients=build, **options))

    @app.get("/")
    async def index(
        clients: ClientsDep, tracker: TrackerDep, llm: Annotated[Any, Depends(get_client("llm"))]
    ) -> dict[str, bool]:
        return {"same": clients["llm"] is llm, "tracker": llm.tracker is tracker}

    @app.get("/missing")
    async def missing(other: Annotated[Any, Depends(get_client("other"))]) -> None:
        raise AssertionError("unreachable")

    with TestClient(app) as client:
        assert client.get("/").json() == {"same": True, "tracker": True}
        assert not made[0].closed
        with pytest.raises(KeyError, match="other"):
            client.get("/missing")
    assert made[0].closed


def test_tracker_dependency_without_the_lifespan_says_how_to_fix_it() -> None:
    """A route asking for the tracker in an app without aicm_lifespan gets a clear error."""
    app = FastAPI()

    @app.get("/")
    async def index(tracker: TrackerDep) -> None:
        raise AssertionError("unreachable")

    with TestClient(app) as client, pytest.raises(TrackerClosedError, match="aicm_lifespan"):
        client.get("/")


def test_middleware_binds_each_request_and_survives_a_failing_function() -> None:
    """The middleware binds per HTTP request; a raising function leaves it unbound; WS pass."""

    async def customer(request: Request) -> str | None:
        if request.headers.get("x-customer") == "boom":
            raise RuntimeError("lookup failed")
        return request.headers.get("x-customer")

    app = FastAPI()
    app.add_middleware(AICMMiddleware, customer_key=customer, context=lambda r: {"p": r.url.path})

    @app.get("/{anything}")
    async def index() -> dict[str, Any]:
        scope = current_scope()
        return {"customer": scope.customer_key, "context": scope.context}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"customer": current_scope().customer_key})
        await websocket.close()

    with TestClient(app) as client:
        with client.websocket_connect("/ws", headers={"x-customer": "acme"}) as websocket:
            assert websocket.receive_json() == {"customer": None}  # passed through untouched
        assert client.get("/a", headers={"x-customer": "acme"}).json() == {
            "customer": "acme",
            "context": {"p": "/a"},
        }
        assert client.get("/b", headers={"x-customer": "boom"}).json() == {
            "customer": None,
            "context": None,
        }
    assert not issubclass(AICMMiddleware, BaseHTTPMiddleware)


def test_plain_starlette_app_gets_the_tracker_and_the_customer(
    options: dict[str, Any], local_server: LocalServer, api_key: str, tmp_path: Path
) -> None:
    """A Starlette app (no FastAPI) uses the same lifespan, middleware and get_tracker()."""

    async def chat(request: Request) -> JSONResponse:
        result = await get_tracker(request).track("openai::gpt-5-mini", {"input_tokens": 3})
        return JSONResponse({"response_id": result.response_id})

    app = Starlette(
        lifespan=aicm_lifespan(**options),
        middleware=[Middleware(AICMMiddleware, customer_key=lambda r: r.headers.get("x-org"))],
        routes=[Route("/chat", chat, methods=["POST"])],
    )
    with TestClient(app) as client:
        rid = client.post("/chat", headers={"x-org": "umbrella"}).json()["response_id"]
    assert _events(local_server, api_key, tmp_path) == {rid: "umbrella"}


def test_bad_arguments_fail_at_the_call_site() -> None:
    """Unknown options, a non-callable inner/clients, or a middleware without functions raise."""
    with pytest.raises(ConfigurationError, match="bogus"):
        aicm_lifespan(bogus=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        aicm_lifespan(inner=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        aicm_lifespan(clients=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AICMMiddleware(FastAPI())
    with pytest.raises(TypeError):
        tracking_scope_dependency(customer_key="x-org")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        get_client(3)  # type: ignore[arg-type]
