"""One anyio ``BlockingPortal`` per process, for the sync shims.

The portal's event loop runs in a daemon thread started on first use and started again in a
child after ``fork`` (the pid changes). At interpreter exit, registered shutdown hooks (sync
trackers draining their queues, with deadlines) run first, then the portal stops. A daemon
thread is used on purpose: a non-daemon thread would be joined before ``atexit`` hooks run and
the interpreter would wait forever.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future

from anyio.from_thread import BlockingPortal

__all__ = ("add_shutdown_hook", "get_portal", "in_portal_thread", "remove_shutdown_hook")

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_thread: threading.Thread | None = None
_pid: int | None = None
_hooks: list[Callable[[], None]] = []


def _run(ready: Future[BlockingPortal]) -> None:
    import anyio

    async def main() -> None:
        async with BlockingPortal() as portal:
            ready.set_result(portal)
            await portal.sleep_until_stopped()

    try:
        anyio.run(main, backend="asyncio")
    except BaseException as exc:  # pragma: no cover - only if the loop cannot start
        if not ready.done():
            ready.set_exception(exc)


def get_portal() -> BlockingPortal:
    """Return this process's portal, starting it (again, after fork) if needed.

    Raises:
        RuntimeError: called from the portal's own event loop, where blocking would deadlock.
    """
    global _portal, _thread, _pid
    if in_portal_thread():
        raise RuntimeError(
            "a blocking aicostmanager API was called from the SDK's own event loop; "
            "use the async API (AsyncTracker / AsyncCostManagerClient) there"
        )
    pid = os.getpid()
    portal = _portal
    if portal is not None and _pid == pid:
        return portal
    with _lock:
        if _portal is None or _pid != pid:
            if _pid != pid:
                _hooks.clear()
            ready: Future[BlockingPortal] = Future()
            thread = threading.Thread(
                target=_run, args=(ready,), name="aicostmanager-portal", daemon=True
            )
            thread.start()
            _portal = ready.result()
            _thread = thread
            _pid = pid
        return _portal


def in_portal_thread() -> bool:
    """True when running inside the portal's event-loop thread."""
    thread = _thread
    return thread is not None and _pid == os.getpid() and threading.current_thread() is thread


def add_shutdown_hook(hook: Callable[[], None]) -> None:
    """Run ``hook`` (a blocking call with its own deadline) at interpreter exit."""
    with _lock:
        _hooks.append(hook)


def remove_shutdown_hook(hook: Callable[[], None]) -> None:
    """Forget a hook added by ``add_shutdown_hook`` (no-op when absent)."""
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)


@atexit.register
def _shutdown() -> None:
    global _portal
    if _pid != os.getpid():
        return
    with _lock:
        hooks = list(reversed(_hooks))
        _hooks.clear()
    for hook in hooks:
        try:
            hook()
        except Exception:  # noqa: PERF203 - one failing hook must not stop the others
            import logging

            logging.getLogger("aicostmanager").exception("shutdown hook failed")
    portal = _portal
    _portal = None
    if portal is not None:
        try:
            portal.call(portal.stop)
        except RuntimeError:
            pass
