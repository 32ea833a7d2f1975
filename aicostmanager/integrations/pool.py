"""``multiprocessing`` pools: one ``Tracker`` per worker process, drained when the worker ends.

::

    from multiprocessing import Pool
    from aicostmanager.integrations.pool import init_worker, worker_tracker

    def task(n):
        worker_tracker().track("openai::gpt-5-mini", {"input_tokens": n}, customer_key="acme")

    if __name__ == "__main__":
        with Pool(4, initializer=init_worker) as pool:
            pool.map(task, range(100))

Pool workers leave through ``os._exit``: ``atexit`` (where a script's ``Tracker`` is drained)
never runs in them, and ``Pool.__exit__`` ends them with SIGTERM. ``init_worker`` creates the
worker's tracker after the fork or spawn and closes it (a drain with its ``close_timeout``)
from ``multiprocessing``'s own exit hook, on a normal exit and on SIGTERM alike. Works with
the ``fork``, ``forkserver`` and ``spawn`` start methods; no extra needed.
"""

from __future__ import annotations

import multiprocessing.util
import signal
from types import FrameType

from typing_extensions import Unpack

from .. import ConfigurationError, Tracker, TrackerClosedError, TrackerOptions

__all__ = ("init_worker", "worker_tracker")

_tracker: Tracker | None = None


def init_worker(**options: Unpack[TrackerOptions]) -> None:
    """Pool initializer: start this worker process's ``Tracker``.

    Pass options with ``functools.partial(init_worker, db_path=...)`` (picklable, so it works
    with ``spawn``); the rest comes from the ``AICM_*`` environment and ``AICM.INI``.

    Raises:
        ConfigurationError: an option is unknown or malformed.
        MissingConfiguration: no API key in the options or the environment.
    """
    global _tracker
    unknown = set(options) - TrackerOptions.__optional_keys__
    if unknown:
        raise ConfigurationError(", ".join(sorted(unknown)), "unknown tracker option")
    if _tracker is not None:
        _tracker.close()
    _tracker = Tracker(**options)
    multiprocessing.util.Finalize(None, _close, args=(_tracker,), exitpriority=100)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # Pool.terminate() (and so `with Pool(...)`) sends SIGTERM: leave through SystemExit,
        # so that multiprocessing's exit hook runs the drain above.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _close(tracker: Tracker) -> None:
    if signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
        # Pool.terminate() may signal a worker that is already draining: let it finish.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    tracker.close()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    if getattr(multiprocessing.util, "_exiting", False):
        return  # already leaving through the exit hook (and its drain): do not cut it short
    raise SystemExit(128 + signum)


def worker_tracker() -> Tracker:
    """This worker process's ``Tracker`` (started by ``init_worker``).

    Raises:
        TrackerClosedError: ``init_worker`` was not the pool's initializer.
    """
    if _tracker is None:
        raise TrackerClosedError(
            "no tracker in this process: create the pool with initializer=init_worker"
        )
    return _tracker
