"""``serve --workers N``: a pre-fork supervisor, N server processes accepting on one socket.

The supervisor binds the listening socket, prepares everything once (schema, keys, the price
catalogue, frozen out of the garbage collector's sight so its pages stay shared), then forks
``N`` workers. Each worker builds its own app and database connections after the fork and
serves the inherited socket with uvicorn; the kernel spreads the connections over the
processes waiting in ``accept``. Nothing travels to a worker through the environment or the
command line: API keys never appear in ``ps`` nor ``/proc/<pid>/environ``.

A worker that dies is replaced (after :data:`RESTART_DELAY` when it lived less than that, so a
worker crashing at start-up does not spin). A worker that dies before every worker has started
once aborts the start: the problem is in the configuration, not in one process. ``SIGINT`` or
``SIGTERM`` to the supervisor stops every worker gracefully (``SIGKILL`` after
:data:`STOP_TIMEOUT` seconds). On Linux a worker also gets ``SIGTERM`` when the supervisor dies
(even by ``SIGKILL``). POSIX only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType

import uvicorn

__all__ = ("RESTART_DELAY", "STOP_TIMEOUT", "NotifyingServer", "run_workers")

RESTART_DELAY = 1.0
"""Seconds before replacing a worker that lived less than this."""
STOP_TIMEOUT = 10.0
"""Seconds the workers get to stop before they are killed."""

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal a process gets when its parent dies
_THREAD_JOIN = 5.0  # seconds a leftover thread may take to end before the fork


class NotifyingServer(uvicorn.Server):
    """uvicorn's server, calling ``on_started`` once it listens (not before, not on failure)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_started()


def _say(message: str) -> None:
    sys.stderr.write(f"aicostmanager serve: {message}\n")
    sys.stderr.flush()


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _note(fd: int) -> None:
    os.write(fd, b".")


def _stop_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when the supervisor dies (Linux), even by
    SIGKILL, so no worker keeps serving on its own; exit now if it is already gone."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


def _worker(
    sock: socket.socket, ready: int, make_server: Callable[[], uvicorn.Config], parent: int
) -> None:
    """The body of a forked worker; never returns."""
    status = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (*_STOP_SIGNALS, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        _stop_with(parent)
        server = NotifyingServer(make_server(), lambda: _note(ready))
        asyncio.run(server.serve(sockets=[sock]))
        status = 0 if server.started else 3
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


class _Supervisor:
    def __init__(
        self, count: int, sock: socket.socket, make_config: Callable[[], uvicorn.Config]
    ) -> None:
        self.count, self.sock, self.make_config = count, sock, make_config
        self.children: dict[int, float] = {}  # pid -> start time (monotonic)
        self.due: list[float] = []  # restart times of workers to replace
        self.stopping = False
        self.all_started = False  # every worker listened once: the configuration works
        self.ready_r, self.ready_w = os.pipe()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.ready_r, False)
        os.set_blocking(self.wake_r, False)

    def spawn(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(self.ready_r)
            os.close(self.wake_r)
            os.close(self.wake_w)
            _worker(self.sock, self.ready_w, self.make_config, parent)
        self.children[pid] = time.monotonic()

    def reap(self) -> bool:
        """Collect dead workers and schedule their replacement; False when one died before
        every worker had started once."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            started = self.children.pop(pid, None)
            if started is None or self.stopping:
                continue
            if not self.all_started:
                _say(f"worker {pid} {_describe(status)} while starting (see the log above)")
                return False
            lived = time.monotonic() - started
            delay = RESTART_DELAY if lived < RESTART_DELAY else 0.0
            _say(f"worker {pid} {_describe(status)}; starting a new one")
            self.due.append(time.monotonic() + delay)
        return True

    def stop(self) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.children:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid:
                self.children.pop(pid, None)
                continue
            if time.monotonic() > deadline:
                for pid in self.children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                deadline = float("inf")
            self.wait(0.05)

    def wait(self, timeout: float | None) -> list[int]:
        """Wait for a signal or a ready worker; returns the ready notes and signals read."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.ready_r, selectors.EVENT_READ, "ready")
            selector.register(self.wake_r, selectors.EVENT_READ, "wake")
            events = selector.select(timeout)
        notes: list[int] = []
        for key, _ in events:
            try:
                data = os.read(key.fd, 4096)
            except BlockingIOError:
                continue
            if key.data == "ready":
                notes.extend([-1] * len(data))
            else:
                notes.extend(data)
        return notes

    def run(self, on_ready: Callable[[], None]) -> int:
        for _ in range(self.count):
            self.spawn()
        ready = 0
        while True:
            timeout = max(0.0, min(self.due) - time.monotonic()) if self.due else None
            for note in self.wait(timeout):
                if note == -1:
                    ready += 1
                elif note in {int(s) for s in _STOP_SIGNALS}:
                    self.stop()
                    return 0 if self.all_started else 1
            if not self.all_started and ready >= self.count:
                self.all_started = True
                on_ready()
            if not self.reap():
                self.stop()
                return 1
            now = time.monotonic()
            for when in [t for t in self.due if t <= now]:
                self.due.remove(when)
                self.spawn()


def _noop(signum: int, frame: FrameType | None) -> None:
    """Signals only wake the supervisor (through the wakeup fd); the loop handles them."""


def run_workers(
    count: int,
    sock: socket.socket,
    make_config: Callable[[], uvicorn.Config],
    on_ready: Callable[[], None],
) -> int:
    """Serve ``sock`` with ``count`` forked workers until SIGINT or SIGTERM; the exit status.

    ``make_config`` runs in each worker, after the fork, and returns the uvicorn configuration
    (with the app) it serves. ``on_ready`` runs in the supervisor once every worker listens.
    Must be called from the main thread; other threads should be ending (they are joined, a
    few seconds at most, so that none is copied into a worker half-way through).
    """
    for thread in threading.enumerate():  # e.g. a closed SQLite connection's thread, ending
        if thread is not threading.main_thread():
            thread.join(_THREAD_JOIN)
    supervisor = _Supervisor(count, sock, make_config)
    previous = {s: signal.getsignal(s) for s in (*_STOP_SIGNALS, signal.SIGCHLD)}
    old_fd = signal.set_wakeup_fd(supervisor.wake_w)
    for signum in previous:
        signal.signal(signum, _noop)
    try:
        return supervisor.run(on_ready)
    finally:
        signal.set_wakeup_fd(old_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for fd in (supervisor.ready_r, supervisor.ready_w, supervisor.wake_r, supervisor.wake_w):
            os.close(fd)
