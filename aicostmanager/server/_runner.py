"""``LocalServer``: the server in a daemon thread of this process (tests, demo, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from types import TracebackType

import uvicorn

from ._config import ServerConfig, check_testing_host
from .app import create_app

__all__ = ("LocalServer",)

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


def _temporary_sqlite_file(owner: object) -> str:
    """A SQLite file in a fresh temporary directory, removed when ``owner`` is collected."""
    tmpdir = tempfile.mkdtemp(prefix="aicm-server-")
    weakref.finalize(owner, shutil.rmtree, tmpdir, True)
    return f"{tmpdir}/server.db"


# The database of a LocalServer made without one. The test suite's PostgreSQL plugin
# (tests/_postgres.py) replaces it to give every such server a fresh PostgreSQL database.
_default_database: Callable[[object], str] = _temporary_sqlite_file


class LocalServer:
    """Run the local server with uvicorn in a daemon thread.

    ``stop()`` then ``start()`` again reuses the same port, database and (in testing mode) the
    same fault rules and counters, which simulates an outage.

    Args:
        host: interface to listen on.
        port: TCP port; 0 picks a free one (kept across restarts).
        db: SQLite file or ``postgresql://`` URL (:attr:`ServerConfig.db`); None uses a
            temporary SQLite file removed when the object is collected.
        db_path: deprecated alias of ``db``.
        api_keys: keys accepted from the start.
        testing: mount the ``/_testing`` admin API and fault injection.
        api_prefix: path prefix of the API root.
        unsafe_testing: allow ``testing`` on a non-loopback ``host``.
        readers: read connections (:attr:`ServerConfig.readers`).
        read_time_limit: seconds a read may run (:attr:`ServerConfig.read_time_limit`).

    Raises:
        ValueError: ``testing`` on a non-loopback ``host`` without ``unsafe_testing``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        db: str | None = None,
        api_keys: Sequence[str] = (),
        testing: bool = True,
        api_prefix: str = "/api/v1",
        unsafe_testing: bool = False,
        readers: int = 4,
        read_time_limit: float = 10.0,
        *,
        db_path: str | None = None,
    ) -> None:
        check_testing_host(host, testing, unsafe_testing)
        if db is None:
            db = db_path
        if db is None:
            db = _default_database(self)
        self.host = host
        self._port = port
        self.config = ServerConfig(
            db=str(db),
            api_keys=tuple(api_keys),
            api_prefix=api_prefix,
            testing=testing,
            readers=readers,
            read_time_limit=read_time_limit,
        )
        self.app = create_app(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The TCP port (known once started, even when 0 was asked)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self.host}:{self._port}"

    @property
    def api_root(self) -> str:
        """``url`` + API prefix."""
        return self.url + self.config.api_prefix

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()``."""
        return self._thread is not None and self._thread.is_alive()

    def _bind(self) -> socket.socket:
        # With the protocol named, asyncio sets TCP_NODELAY on accepted connections (it checks
        # ``sock.proto``); without it every answer on a reused connection waited ~40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                sock.bind((self.host, self._port))
                break
            except OSError:
                # After stop() the old listening socket may need a moment to be released.
                if self._port == 0 or time.monotonic() > deadline:
                    sock.close()
                    raise
                time.sleep(0.05)
        sock.listen(2048)
        sock.setblocking(False)
        self._port = sock.getsockname()[1]
        return sock

    def start(self) -> None:
        """Start serving; returns once the server accepts connections.

        Raises:
            RuntimeError: already running, or the server failed to start.
            OSError: the port cannot be bound.
        """
        if self.running:
            raise RuntimeError("LocalServer is already running")
        testing = getattr(self.app.state, "testing", None)
        if testing is not None:
            testing.stopping = False
        sock = self._bind()
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            http="h11",
            lifespan="on",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._error = None

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            except BaseException as exc:  # reported by start()
                self._error = exc
            finally:
                sock.close()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=f"aicm-server-{self._port}", daemon=True)
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("local server failed to start") from self._error
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving (hung requests are aborted); returns within a few seconds."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        testing = getattr(self.app.state, "testing", None)
        if testing is not None:
            testing.stopping = True
        server.should_exit = True
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT)
        self._server = None
        self._thread = None
        self._loop = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalServer {self.url} {state}>"
