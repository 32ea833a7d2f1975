"""The fake provider server: one FastAPI app on 127.0.0.1 speaking each provider's wire format.

Each provider has its own module exposing an ``APIRouter`` named ``router``
(``fake_openai``, ``fake_anthropic``, ``fake_gemini``, ``fake_bedrock``); ``build_app`` mounts
every one that exists. ``FakeProvider`` serves the app with uvicorn in a daemon thread on an
ephemeral port (``tests/wrappers/conftest.py`` starts one per session).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

__all__ = ("PROVIDER_MODULES", "FakeProvider", "build_app")

PROVIDER_MODULES = ("fake_openai", "fake_anthropic", "fake_gemini", "fake_bedrock")


def build_app() -> FastAPI:
    """The app with every provider router that is present."""
    app = FastAPI(title="fake LLM providers", openapi_url=None, docs_url=None, redoc_url=None)
    package = __name__.rpartition(".")[0]
    for name in PROVIDER_MODULES:
        try:
            module = importlib.import_module(f"{package}.{name}" if package else name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(name):
                continue
            raise
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    return app


class FakeProvider:
    """The fake provider app served on ``127.0.0.1:<ephemeral port>`` in a daemon thread."""

    def __init__(self) -> None:
        self.app = build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve; returns once connections are accepted."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, http="h11", lifespan="off"
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            finally:
                sock.close()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-provider", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake provider failed to start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(5)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(5)
        self._server = self._thread = None
