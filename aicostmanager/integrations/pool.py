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
worker's tracker (the process tracker, which wrappers built without ``tracker=`` use too)
after the fork or spawn; it is closed (a drain with its ``close_timeout``) from
``multiprocessing``'s own exit hook, on a normal exit and on SIGTERM alike (both handled in
``aicostmanager._process_tracker``). Works with the ``fork``, ``forkserver`` and ``spawn``
start methods; no extra needed.
"""

from __future__ import annotations

import os

from typing_extensions import Unpack

from .. import Tracker, TrackerClosedError, TrackerOptions
from .._options import check_options
from .._process_tracker import configure_process_tracker, exit_on_sigterm, process_tracker

__all__ = ("init_worker", "worker_tracker")

_worker_pid = 0


def init_worker(**options: Unpack[TrackerOptions]) -> None:
    """Pool initializer: start this worker process's ``Tracker``.

    Pass options with ``functools.partial(init_worker, db_path=...)`` (picklable, so it works
    with ``spawn``); the rest comes from the ``AICM_*`` environment and ``AICM.INI``.

    Raises:
        ConfigurationError: an option is unknown or malformed.
        MissingConfiguration: no API key in the options or the environment.
    """
    global _worker_pid
    configure_process_tracker(check_options(options, "init_worker()"), where="init_worker()")
    process_tracker()
    exit_on_sigterm()
    _worker_pid = os.getpid()


def worker_tracker() -> Tracker:
    """This worker process's ``Tracker`` (started by ``init_worker``).

    Raises:
        TrackerClosedError: ``init_worker`` was not the pool's initializer.
    """
    if _worker_pid != os.getpid():
        raise TrackerClosedError(
            "no tracker in this process: create the pool with initializer=init_worker"
        )
    return process_tracker()
